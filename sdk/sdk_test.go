package sdk_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/sdk"
	"github.com/oftp2/connector/sdk/sdktest"
)

// memKeys is an in-memory sdk.Keys used to check the Keys wire path and
// the conformance suite itself.
type memKeys struct {
	keys  map[string]crypto.Signer
	certs map[string]*x509.Certificate
}

func newMemKeys(t *testing.T) *memKeys {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := &memKeys{keys: map[string]crypto.Signer{"rsa": rsaKey, "ec": ecKey}, certs: map[string]*x509.Certificate{}}
	for id, k := range m.keys {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: id}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		m.certs[id], _ = x509.ParseCertificate(der)
	}
	return m
}

func (m *memKeys) Certificate(_ context.Context, id string) ([]*x509.Certificate, error) {
	c, ok := m.certs[id]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", id, sdk.ErrNotFound)
	}
	return []*x509.Certificate{c}, nil
}

func (m *memKeys) Sign(_ context.Context, id string, digest []byte, h crypto.Hash, pss bool) ([]byte, error) {
	k, ok := m.keys[id]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", id, sdk.ErrNotFound)
	}
	var opts crypto.SignerOpts = h
	if pss {
		opts = &rsa.PSSOptions{Hash: h, SaltLength: rsa.PSSSaltLengthEqualsHash}
	}
	return k.Sign(rand.Reader, digest, opts)
}

func (m *memKeys) Decrypt(_ context.Context, id string, wrapped []byte, oaep bool, h crypto.Hash) ([]byte, error) {
	k, ok := m.keys[id].(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %q cannot decrypt: %w", id, sdk.ErrUnsupported)
	}
	if !oaep {
		// This key refuses PKCS #1 v1.5, as some KMS keys do.
		return nil, fmt.Errorf("PKCS #1 v1.5 decryption: %w", sdk.ErrUnsupported)
	}
	return rsa.DecryptOAEP(h.New(), nil, k, wrapped, nil)
}

func TestKeysOverGRPC(t *testing.T) {
	keys := newMemKeys(t)
	cfg := sdktest.KeysConfig{KeyIDs: []string{"rsa", "ec"}, Unsupported: []string{"decrypt-pkcs1v15"}}
	cfg.Keys = keys
	sdktest.RunKeys(t, cfg)
	rp := sdktest.ServeGRPC(t, sdk.Plugin{Name: "keys.mem", Keys: keys})
	cfg.Keys = rp.Keys()
	sdktest.RunKeys(t, cfg)

	// The crypto.Signer adapter over the wire, checked with the standard library.
	s, err := sdk.NewKeySigner(context.Background(), rp.Keys(), "rsa")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("EERP"))
	sig, err := s.Sign(nil, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(s.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig, nil); err != nil {
		t.Errorf("PSS signature from KeySigner: %v", err)
	}
	cek := []byte("0123456789abcdef0123456789abcdef")
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, s.Public().(*rsa.PublicKey), cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Decrypt(nil, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256})
	if err != nil || string(got) != string(cek) {
		t.Errorf("KeySigner.Decrypt = %q, %v", got, err)
	}
	if _, err := s.Decrypt(nil, wrapped, nil); !errors.Is(err, sdk.ErrUnsupported) || !sdk.IsPermanent(err) {
		t.Errorf("refused PKCS #1 v1.5: %v", err)
	}
}

// failingSink returns the error it is told to, to check what crosses the wire.
type failingSink struct{ err error }

func (f failingSink) Open(context.Context, sdk.FileMeta) (sdk.SinkWriter, error) { return nil, f.err }

func TestErrorsCrossTheWire(t *testing.T) {
	base := errors.New("bucket unreachable")
	for _, tc := range []struct {
		name   string
		err    error
		advice sdk.Advice
		is     error
		attr   string
	}{
		{"retryable", sdk.Retryable(base), sdk.AdviceRetry, nil, ""},
		{"permanent", sdk.Permanent(base), sdk.AdvicePermanent, nil, ""},
		{"plain", base, sdk.AdviceUnknown, nil, ""},
		{"exists", fmt.Errorf("a/b: %w", sdk.ErrExists), sdk.AdvicePermanent, sdk.ErrExists, ""},
		{"exists-retryable", sdk.Retryable(sdk.ErrExists), sdk.AdviceRetry, sdk.ErrExists, ""},
		{"not-found", sdk.ErrNotFound, sdk.AdvicePermanent, sdk.ErrNotFound, ""},
		{"not-configured", sdk.ErrNotConfigured, sdk.AdvicePermanent, sdk.ErrNotConfigured, ""},
		{"config", &sdk.ConfigError{Attribute: "bucket", Message: "no such bucket"}, sdk.AdvicePermanent, nil, "bucket"},
		{"cancelled-inside", fmt.Errorf("upload: %w", context.Canceled), sdk.AdviceUnknown, context.Canceled, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := sdktest.ServeGRPC(t, sdk.Plugin{Name: "sink.fail", Sink: failingSink{tc.err}})
			_, err := rp.Sink().Open(context.Background(), sdk.FileMeta{ObjectName: "x"})
			if err == nil {
				t.Fatal("no error")
			}
			if got := sdk.AdviceOf(err); got != tc.advice {
				t.Errorf("advice %v, want %v (%v)", got, tc.advice, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v does not match %v", err, tc.is)
			}
			var ce *sdk.ConfigError
			if tc.attr != "" && (!errors.As(err, &ce) || ce.Attribute != tc.attr) {
				t.Errorf("%v is not a ConfigError for %q", err, tc.attr)
			}
			if !strings.Contains(err.Error(), strings.TrimPrefix(tc.err.Error(), "configuration attribute \"bucket\": ")) {
				t.Errorf("message %q lost %q", err, tc.err)
			}
		})
	}
}

// watchSource offers files through Watch only.
type watchSource struct{ files []sdk.OutgoingFile }

func (w watchSource) List(context.Context) ([]sdk.OutgoingFile, error) { return w.files, nil }
func (w watchSource) Open(context.Context, string, int64) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}
func (w watchSource) Ack(context.Context, string, sdk.Receipt) error     { return nil }
func (w watchSource) Nack(context.Context, string, sdk.NackReason) error { return nil }
func (w watchSource) Watch(ctx context.Context, fn func(sdk.OutgoingFile) error) error {
	for _, f := range w.files {
		if err := fn(f); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestDescribeAndWatch(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	files := []sdk.OutgoingFile{
		{ID: "1", Meta: sdk.FileMeta{DatasetName: "A", DateTime: when, Ticker: 12, Format: sdk.FormatFixed, RecordSize: 128, Signed: true, CipherSuite: 2, Attributes: map[string]string{"k": "v"}}},
		{ID: "2", Meta: sdk.FileMeta{DatasetName: "B"}},
	}
	p := sdk.Plugin{
		Name: "source.watch", Version: "2.1.0", Source: watchSource{files},
		Schema: sdk.ConfigSchema{Attributes: []sdk.Attribute{
			{Name: "interval", Type: sdk.TypeNumber, Default: 30.0},
			{Name: "tags", Type: sdk.TypeMapString, Sensitive: true},
		}},
	}
	rp := sdktest.ServeGRPC(t, p)
	info, err := rp.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "source.watch" || info.Version != "2.1.0" || !info.Capabilities.Source || !info.Capabilities.Watch || info.Capabilities.Sink {
		t.Errorf("Describe = %+v", info)
	}
	if len(info.Schema.Attributes) != 2 || info.Schema.Attributes[0].Default != 30.0 || !info.Schema.Attributes[1].Sensitive {
		t.Errorf("schema = %+v", info.Schema)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []sdk.OutgoingFile
	err = rp.Source().(sdk.Watcher).Watch(ctx, func(f sdk.OutgoingFile) error {
		got = append(got, f)
		if len(got) == len(files) {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Watch ended with %v", err)
	}
	if len(got) != 2 || !got[0].Meta.DateTime.Equal(when) || got[0].Meta.Ticker != 12 || got[0].Meta.RecordSize != 128 ||
		!got[0].Meta.Signed || got[0].Meta.CipherSuite != 2 || got[0].Meta.Attributes["k"] != "v" || got[1].ID != "2" {
		t.Errorf("watched %+v", got)
	}
	// A capability the plugin lacks is a permanent ErrUnsupported.
	if _, err := rp.Sink().Open(context.Background(), sdk.FileMeta{}); !errors.Is(err, sdk.ErrUnsupported) || !sdk.IsPermanent(err) {
		t.Errorf("Sink on a source-only plugin: %v", err)
	}
}

func TestServeRejectsInvalidPlugins(t *testing.T) {
	for _, p := range []sdk.Plugin{
		{Name: "", Sink: failingSink{}},
		{Name: "none"},
		{Name: "bad-type", Sink: failingSink{}, Schema: sdk.ConfigSchema{Attributes: []sdk.Attribute{{Name: "a", Type: "int"}}}},
		{Name: "dup", Sink: failingSink{}, Schema: sdk.ConfigSchema{Attributes: []sdk.Attribute{{Name: "a", Type: "string"}, {Name: "a", Type: "bool"}}}},
	} {
		if err := sdk.RegisterServices(nil, p); err == nil {
			t.Errorf("plugin %+v accepted", p)
		}
	}
}

func TestLoggerWritesHostFormat(t *testing.T) {
	var b strings.Builder
	sdk.Logger(&b, 0).Warn("disk almost full", "free_mb", 12)
	line := b.String()
	for _, want := range []string{`"@level":"warn"`, `"@message":"disk almost full"`, `"@timestamp":"`, `"free_mb":12`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %s lacks %s", line, want)
		}
	}
}
