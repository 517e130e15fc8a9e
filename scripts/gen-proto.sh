#!/usr/bin/env bash
# Regenerates the plugin wire protocol code in sdk/internal/proto from its .proto files.
#   scripts/gen-proto.sh          regenerate in place
#   scripts/gen-proto.sh --check  fail if the committed code differs from a fresh generation
# protoc comes from Debian (protobuf-compiler); the Go generators are pinned here and
# installed into ./.cache/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.1

bin="$root/.cache/bin"
mkdir -p "$bin"
if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found: apt-get install -y --no-install-recommends protobuf-compiler" >&2
  exit 1
fi
want_go="protoc-gen-go $PROTOC_GEN_GO_VERSION"
if [ ! -x "$bin/protoc-gen-go" ] || [ "$("$bin/protoc-gen-go" --version 2>/dev/null)" != "$want_go" ]; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi
want_grpc="protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"
if [ ! -x "$bin/protoc-gen-go-grpc" ] || [ "$("$bin/protoc-gen-go-grpc" --version 2>/dev/null)" != "$want_grpc" ]; then
  GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi

dir=sdk/internal/proto
out="$dir"
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

PATH="$bin:$PATH" protoc -I "$dir" \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  "$dir"/*.proto

if [ "${1:-}" = "--check" ]; then
  for f in "$out"/*.go; do
    if ! cmp -s "$f" "$dir/$(basename "$f")"; then
      echo "generated code in $dir is stale: run scripts/gen-proto.sh" >&2
      exit 1
    fi
  done
  echo "generated code in $dir is current"
fi
