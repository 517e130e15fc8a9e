package localfs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
	"github.com/oftp2/connector/sdk/sdktest"
)

// storageFor reads a directory the way a user would: visible files only.
func storageFor(dir string) (fetch func(context.Context, string) (io.ReadCloser, error), visibleNames func(context.Context) ([]string, error)) {
	fetch = func(_ context.Context, name string) (io.ReadCloser, error) {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", name, sdk.ErrNotFound)
		}
		return f, err
	}
	visibleNames = func(context.Context) ([]string, error) {
		var names []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return nil // hidden temporary files are not visible objects
			}
			if !d.IsDir() && !strings.HasSuffix(p, localfs.SidecarSuffix) {
				rel, _ := filepath.Rel(dir, p)
				names = append(names, filepath.ToSlash(rel))
			}
			return nil
		})
		return names, err
	}
	return fetch, visibleNames
}

func putter(dir string) func(context.Context, string, io.Reader) error {
	return func(_ context.Context, name string, r io.Reader) error {
		// Outbox producers write atomically too: temp name, then rename.
		tmp := filepath.Join(dir, ".put-"+name)
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(dir, name))
	}
}

func configJSON(t *testing.T, dir string) string {
	b, err := json.Marshal(map[string]any{"path": dir, "sidecar": true})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConformanceInProcess(t *testing.T) {
	sinkDir, outbox := t.TempDir(), t.TempDir()
	sink, err := localfs.Open(localfs.Options{Path: sinkDir, Sidecar: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	fetch, vis := storageFor(sinkDir)
	sdktest.RunSink(t, sdktest.SinkConfig{Sink: sink.Sink(), Fetch: fetch, Visible: vis})

	src, err := localfs.Open(localfs.Options{Path: outbox, Sidecar: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sdktest.RunSource(t, sdktest.SourceConfig{Source: src.Source(), Put: putter(outbox)})
}

func TestConformanceGRPC(t *testing.T) {
	sinkDir, outbox := t.TempDir(), t.TempDir()
	rp := sdktest.ServeGRPC(t, localfs.New())
	sdktest.Configure(t, rp, configJSON(t, sinkDir))
	fetch, vis := storageFor(sinkDir)
	sdktest.RunSink(t, sdktest.SinkConfig{Sink: rp.Sink(), Fetch: fetch, Visible: vis})

	rs := sdktest.ServeGRPC(t, localfs.New())
	sdktest.Configure(t, rs, configJSON(t, outbox))
	sdktest.RunSource(t, sdktest.SourceConfig{Source: rs.Source(), Put: putter(outbox)})
}

// The same suite with file bytes in pipes passed over a socket pair (the
// data plane) instead of gRPC chunks.
func TestConformanceDataPlane(t *testing.T) {
	sinkDir, outbox := t.TempDir(), t.TempDir()
	rp := sdktest.ServeGRPCDataPlane(t, localfs.New())
	sdktest.Configure(t, rp, configJSON(t, sinkDir))
	fetch, vis := storageFor(sinkDir)
	sdktest.RunSink(t, sdktest.SinkConfig{Sink: rp.Sink(), Fetch: fetch, Visible: vis})

	rs := sdktest.ServeGRPCDataPlane(t, localfs.New())
	sdktest.Configure(t, rs, configJSON(t, outbox))
	sdktest.RunSource(t, sdktest.SourceConfig{Source: rs.Source(), Put: putter(outbox)})
}

func TestConformancePluginProcess(t *testing.T) {
	bin := sdktest.BuildPlugin(t, "github.com/oftp2/connector/plugins/localfs")
	sinkDir, outbox := t.TempDir(), t.TempDir()

	rp := sdktest.Launch(t, exec.Command(bin))
	info := sdktest.Configure(t, rp, configJSON(t, sinkDir))
	if info.Name != localfs.Name || !info.Capabilities.Sink || !info.Capabilities.Source || info.Capabilities.Keys {
		t.Errorf("Describe = %+v", info)
	}
	if !rp.DataPlane() {
		t.Error("the plugin process did not take the data plane")
	}
	fetch, vis := storageFor(sinkDir)
	sdktest.RunSink(t, sdktest.SinkConfig{Sink: rp.Sink(), Fetch: fetch, Visible: vis})

	rs := sdktest.Launch(t, exec.Command(bin))
	sdktest.Configure(t, rs, configJSON(t, outbox))
	sdktest.RunSource(t, sdktest.SourceConfig{Source: rs.Source(), Put: putter(outbox)})
}
