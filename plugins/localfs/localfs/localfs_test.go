package localfs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
)

func TestCleanName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a":                      true,
		"acme/2026/INV.edi":      true,
		"ünïcode name.txt":       true,
		"":                       false,
		"/etc/passwd":            false,
		"../escape":              false,
		"a/../../b":              false,
		"a//b":                   false,
		"a/./b":                  false,
		".hidden":                false,
		"a/.oftp-tmp-x":          false,
		"a\\b":                   false,
		"a\nb":                   false,
		"a/":                     false,
		strings.Repeat("x", 256): false,
	} {
		_, err := localfs.CleanName(name)
		if (err == nil) != ok {
			t.Errorf("CleanName(%q) error = %v, want ok=%v", name, err, ok)
		}
		if err != nil && !sdk.IsPermanent(err) {
			t.Errorf("CleanName(%q) error is not permanent", name)
		}
	}
}

func commit(t *testing.T, s sdk.Sink, meta sdk.FileMeta, body string) (sdk.ObjectRef, error) {
	t.Helper()
	ctx := context.Background()
	w, err := s.Open(ctx, meta)
	if err != nil {
		return sdk.ObjectRef{}, err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return sdk.ObjectRef{}, err
	}
	return w.Commit(ctx)
}

func TestSinkPermissionsAndSidecar(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	st, err := localfs.Open(localfs.Options{Path: dir, Sidecar: true, Perm: 0o600, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	meta := sdk.FileMeta{DatasetName: "DELFOR", Originator: "O0013000000ACME", ObjectName: "acme/DELFOR.edi", SignedReceiptRequested: true}
	ref, err := commit(t, st.Sink(), meta, "payload")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Location != filepath.Join(dir, "acme", "DELFOR.edi") || !ref.CommittedAt.Equal(now) {
		t.Errorf("ref = %+v", ref)
	}
	fi, err := os.Stat(ref.Location)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored file mode %v, %v", fi.Mode(), err)
	}
	b, err := os.ReadFile(ref.Location + localfs.SidecarSuffix)
	if err != nil {
		t.Fatal(err)
	}
	var side struct {
		Meta   sdk.FileMeta
		Object sdk.ObjectRef
	}
	if err := json.Unmarshal(b, &side); err != nil {
		t.Fatal(err)
	}
	if side.Meta.DatasetName != "DELFOR" || !side.Meta.SignedReceiptRequested || side.Object.SHA256Hex != ref.SHA256Hex {
		t.Errorf("sidecar = %s", b)
	}
	// A name that would collide with sidecars is refused.
	if _, err := commit(t, st.Sink(), sdk.FileMeta{ObjectName: "x" + localfs.SidecarSuffix}, "x"); err == nil {
		t.Error("object named like a sidecar accepted")
	}
	// No hidden temporaries stay behind.
	entries, _ := os.ReadDir(filepath.Join(dir, "acme"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temporary %s", e.Name())
		}
	}
}

func TestSinkWithoutSidecar(t *testing.T) {
	dir := t.TempDir()
	st, err := localfs.Open(localfs.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := commit(t, st.Sink(), sdk.FileMeta{ObjectName: "f"}, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f"+localfs.SidecarSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sidecar written although disabled: %v", err)
	}
}

func TestSinkRefusesSymlinkEscape(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	st, err := localfs.Open(localfs.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := commit(t, st.Sink(), sdk.FileMeta{ObjectName: "evil/x"}, "x"); err == nil {
		t.Error("write through a symlink leaving the directory succeeded")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files written outside the directory: %v", entries)
	}
}

func TestConfigure(t *testing.T) {
	p := localfs.New()
	ctx := context.Background()
	if _, err := p.Sink.Open(ctx, sdk.FileMeta{ObjectName: "x"}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Errorf("Open before Configure: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "a", "b")
	cfg, _ := json.Marshal(map[string]any{"path": missing})
	var ce *sdk.ConfigError
	if err := p.Configure(ctx, cfg); !errors.As(err, &ce) || ce.Attribute != "path" || !strings.Contains(ce.Message, "create_dirs") {
		t.Errorf("missing directory: %v", err)
	}
	cfg, _ = json.Marshal(map[string]any{"path": missing, "create_dirs": true, "permissions": "0644"})
	if err := p.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("create_dirs did not create %s: %v", missing, err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ json, attr string }{
		{`{"path": "` + file + `"}`, "path"},
		{`{"path": "/tmp", "permissions": "0400"}`, "permissions"},
		{`{"path": "/tmp", "permissions": 640}`, "permissions"},
		{`{"path": "/tmp", "sidecar": "no"}`, "sidecar"},
		{`{}`, "path"},
	} {
		err := p.Configure(ctx, []byte(tc.json))
		if !errors.As(err, &ce) || ce.Attribute != tc.attr {
			t.Errorf("Configure(%s) = %v, want a ConfigError for %q", tc.json, err, tc.attr)
		}
	}
	if err := p.Configure(ctx, []byte(`{`)); !errors.As(err, &ce) {
		t.Errorf("malformed JSON: %v", err)
	}
}

func TestSourceUsesSidecarAndRecordsOutcome(t *testing.T) {
	dir := t.TempDir()
	st, err := localfs.Open(localfs.Options{Path: dir, Sidecar: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	// A file received by a sink can be forwarded: its sidecar describes it.
	if _, err := commit(t, st.Sink(), sdk.FileMeta{DatasetName: "ORDERS", Destination: "O0013000000PARTNER", ObjectName: "orders.edi"}, "UNB"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := st.Source().List(ctx)
	if err != nil || len(files) != 2 {
		t.Fatalf("List = %+v, %v", files, err)
	}
	if files[0].ID != "orders.edi" || files[0].Meta.DatasetName != "ORDERS" || files[0].Meta.Destination != "O0013000000PARTNER" || files[0].Meta.Size != 3 {
		t.Errorf("sidecar not used: %+v", files[0])
	}
	if files[1].ID != "plain.txt" || files[1].Meta.DatasetName != "plain.txt" || files[1].Meta.Size != 5 {
		t.Errorf("plain file: %+v", files[1])
	}
	if err := st.Source().Ack(ctx, "orders.edi", sdk.Receipt{Reason: "EERP received"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"orders.edi", "orders.edi" + localfs.SidecarSuffix, "orders.edi.receipt.json"} {
		if _, err := os.Stat(filepath.Join(dir, localfs.SentDir, f)); err != nil {
			t.Errorf("sent/%s: %v", f, err)
		}
	}
	if err := st.Source().Nack(ctx, "plain.txt", sdk.NackReason{Code: 12, Text: "invalid record length", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	reason, err := os.ReadFile(filepath.Join(dir, localfs.FailedDir, "plain.txt.reason.json"))
	if err != nil || !strings.Contains(string(reason), "invalid record length") {
		t.Errorf("failed reason %s, %v", reason, err)
	}
	// A second file of the same name retired later keeps both.
	if err := os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("again"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Source().Nack(ctx, "plain.txt", sdk.NackReason{Text: "again"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, localfs.FailedDir))
	if len(entries) != 4 {
		t.Errorf("failed/ holds %d entries, want two files with their reasons", len(entries))
	}
	if files, _ := st.Source().List(ctx); len(files) != 0 {
		t.Errorf("retired files still listed: %+v", files)
	}
	for _, id := range []string{"../etc/passwd", "sent/orders.edi", ".hidden"} {
		if _, err := st.Source().Open(ctx, id, 0); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestOpenSweepsStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "acme"), 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "acme", ".oftp-tmp-INV-abc")
	fresh := filepath.Join(dir, ".oftp-tmp-ORD-def")
	keep := filepath.Join(dir, "acme", "old-but-real.edi")
	for _, f := range []string{stale, fresh, keep} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, f := range []string{stale, keep} {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	st, err := localfs.Open(localfs.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary kept: %v", err)
	}
	for _, f := range []string{fresh, keep} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
}

func TestCorruptSidecarSkipsOnlyThatFile(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	st, err := localfs.Open(localfs.Options{Path: dir, Sidecar: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, body := range map[string]string{"good.edi": "x", "bad.edi": "y", "bad.edi" + localfs.SidecarSuffix: "{not json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	files, err := st.Source().List(context.Background())
	if err != nil || len(files) != 1 || files[0].ID != "good.edi" {
		t.Fatalf("List = %+v, %v", files, err)
	}
	if !strings.Contains(logs.String(), "bad.edi") {
		t.Errorf("no warning about the corrupt sidecar: %s", logs.String())
	}
}
