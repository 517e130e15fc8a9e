package localfs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
)

// BenchmarkSinkWrite streams 64 MiB per operation in 1 MiB writes and
// commits (SHA-256, fsync, link, directory fsync).
func BenchmarkSinkWrite(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	st, err := localfs.Open(localfs.Options{Path: dir, Sidecar: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w, err := st.Sink().Open(ctx, sdk.FileMeta{ObjectName: "bench.bin"})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.Remove(filepath.Join(dir, "bench.bin"))
		_ = os.Remove(filepath.Join(dir, "bench.bin"+localfs.SidecarSuffix))
		b.StartTimer()
	}
}
