#!/usr/bin/env bash
# The whole test suite, as the README's quick start runs it and as CI runs it (.ci/run).
# It installs or builds what the tests need (pinned versions), starts every service the
# tests talk to on 127.0.0.1, and stops them again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

STATICCHECK_VERSION=v0.8.2
FUZZTIME=${FUZZTIME:-8s}

step() { printf '\n==> %s\n' "$*"; }

# Services and tools the tests need are provided by scripts/deps.d/*.sh: each file
# installs what it needs (pinned) and may register a cleanup with on_exit.
cleanups=()
on_exit() { cleanups+=("$1"); }
cleanup() { for ((i=${#cleanups[@]}-1; i>=0; i--)); do eval "${cleanups[i]}" || true; done; }
trap cleanup EXIT
for dep in scripts/deps.d/*.sh; do
  [ -e "$dep" ] || continue
  step "dependencies: $(basename "$dep")"
  # shellcheck disable=SC1090
  source "$dep"
done

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
go run "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" ./...

step "go test -race"
go test -race -timeout 25m ./...

step "fuzz (${FUZZTIME} per target)"
# scripts/fuzz-targets.txt lists "package-dir FuzzName" lines.
while read -r pkg target; do
  case "$pkg" in ''|\#*) continue ;; esac
  echo "-- $pkg $target"
  go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg"
done < scripts/fuzz-targets.txt

step "all tests passed"
