#!/usr/bin/env bash
# Performance checks, each printed as a ratio against a baseline measured in the same run
# (raw TCP or TLS copy, SHA-256, AES, zlib, in-process sink). Targets are in
# docs/PERFORMANCE.md. Usage: scripts/bench.sh [quick]   (quick: smaller sizes)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=${1:-}
transfer_x=16          # 16 x 64 MiB = 1 GiB per sub-benchmark
large_size=$((2<<30))  # the secured transfer: 2 GiB
if [ "$quick" = quick ]; then transfer_x=2; large_size=$((256<<20)); fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT

bench() { # package regex benchtime [env...]
  local pkg=$1 re=$2 bt=$3; shift 3
  env "$@" go test -run '^$' -bench "$re" -benchtime "$bt" -benchmem "$pkg" | tee -a "$out"
}

# metric NAME UNIT: the value of UNIT on the benchmark line whose name starts with NAME.
metric() {
  awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$out" | tail -1
}
ratio() { # label numerator denominator target
  awk -v l="$1" -v n="$2" -v d="$3" -v t="$4" 'BEGIN {
    if (n == "" || d == "" || d == 0) { printf "%-58s n/a\n", l; exit }
    r = 100 * n / d
    if (t == "-") { printf "%-58s %6.1f %%\n", l, r; exit }
    printf "%-58s %6.1f %%  (target >= %s %%)%s\n", l, r, t, (r >= t ? "" : "  BELOW TARGET") }'
}

echo "== OFTP transfer, buffer 65535, credit 64, ${transfer_x} x 64 MiB"
bench ./core/oftp '^BenchmarkTransfer$' "${transfer_x}x"
bench ./core/oftp '^BenchmarkTransferMemory$' 2x
echo "== CMS layers next to their primitives"
bench ./core/oftp/cms 'Raw|Writer|Reader' 1s
echo "== Secured (signed, compressed, encrypted) session transfer of $((large_size>>20)) MiB"
bench ./core/oftp/filesec '^BenchmarkLargeTransfer$' 1x FILESEC_BENCH_SIZE=$large_size
echo "== Plugins"
bench ./core/pluginhost 'SinkLocalfsRatio|PluginStart' 4x
bench ./core/pipeline '^BenchmarkReceiveThroughPlugin$' 1x
bench ./cmd/connector '^BenchmarkRunStartup$' 5x

echo
echo "== Ratios (same run)"
ratio "OFTP over TCP / raw TCP copy" "$(metric BenchmarkTransfer/oftp-TCP MB/s)" "$(metric BenchmarkTransfer/raw-TCP MB/s)" 70
ratio "OFTP over TLS / raw TLS copy" "$(metric BenchmarkTransfer/oftp-TLS MB/s)" "$(metric BenchmarkTransfer/raw-TLS MB/s)" 85
ratio "SignedData writer / SHA-256" "$(metric BenchmarkSignedWriterSHA256 MB/s)" "$(metric BenchmarkRawSHA256 MB/s)" -
ratio "EnvelopedData writer / AES-256-CBC" "$(metric BenchmarkEnvelopedWriterAES256 MB/s)" "$(metric BenchmarkRawAES256CBC MB/s)" -
ratio "CompressedData writer / zlib" "$(metric BenchmarkCompressedWriter MB/s)" "$(metric BenchmarkRawZlibCompress MB/s)" -
ratio "Secured session transfer / slowest primitive" "$(metric BenchmarkLargeTransfer %-of-slowest-primitive)" 100 60
echo "Secured session transfer peak RSS: $(metric BenchmarkLargeTransfer peakRSS-MiB) MiB (target <= 64)"
echo "Transfer heap, 8 MiB vs 256 MiB file: $(metric BenchmarkTransferMemory/8MiB B/op) vs $(metric BenchmarkTransferMemory/256MiB B/op) B/op"
ratio "localfs sink alone through a plugin process / in-process" "$(metric BenchmarkSinkLocalfsRatio plugin/in-process)" 1 -
ratio "1 GiB received through the localfs plugin / in-process" "$(metric BenchmarkReceiveThroughPlugin plugin-%-of-inprocess)" 100 90
echo "connector run start-up: $(metric BenchmarkRunStartup ns/op) ns/op (target <= 300 ms)"
