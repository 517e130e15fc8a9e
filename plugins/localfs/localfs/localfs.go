// Package localfs stores received files in a local directory and offers the
// files of an outbox directory for sending. It is the connector's bundled
// "localfs" plugin; plugins/localfs serves it as a process.
//
// Writes are crash-safe: bytes go to a hidden temporary file in the target
// directory, which is synced and then linked to its final name (create-only:
// an existing object is never replaced) before the directory is synced.
package localfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oftp2/connector/sdk"
)

// Name is the plugin's name in the connector's configuration.
const Name = "localfs"

// Version is the plugin's version.
const Version = "0.1.0"

// SidecarSuffix ends the name of the JSON metadata file kept beside a file.
const SidecarSuffix = ".meta.json"

// Subdirectories of an outbox for acknowledged and refused files.
const (
	SentDir   = "sent"
	FailedDir = "failed"
)

// Options configure a Store.
type Options struct {
	// Path is the directory the store works in.
	Path string
	// CreateDirs creates Path when missing.
	CreateDirs bool
	// Sidecar writes FileMeta as JSON beside each stored file and reads it
	// for outgoing files.
	Sidecar bool
	// Perm is the mode of stored files; 0 means 0o640.
	Perm fs.FileMode
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PollInterval is how often Watch looks for new outbox files; 0 means
	// two seconds.
	PollInterval time.Duration
	// Logger receives warnings (a corrupt sidecar); nil discards them.
	Logger *slog.Logger
	// StaleAfter is the age from which Open removes temporary files left by
	// writers that crashed; 0 means 24 hours, negative disables the sweep.
	// The age guards writers of other processes sharing the directory.
	StaleAfter time.Duration
}

// Store is a directory used as a sink and as a source.
type Store struct {
	opts Options
	root *os.Root
	abs  string
}

// Open opens the directory o.Path as a Store.
func Open(o Options) (*Store, error) {
	if o.Path == "" {
		return nil, &sdk.ConfigError{Attribute: "path", Message: "must not be empty"}
	}
	if o.Perm == 0 {
		o.Perm = 0o640
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, &sdk.ConfigError{Attribute: "path", Message: err.Error()}
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist) && o.CreateDirs:
		if err := os.MkdirAll(abs, 0o750); err != nil {
			return nil, &sdk.ConfigError{Attribute: "path", Message: fmt.Sprintf("cannot create directory: %v", err)}
		}
	case errors.Is(err, fs.ErrNotExist):
		return nil, &sdk.ConfigError{Attribute: "path", Message: fmt.Sprintf("directory %s does not exist (set create_dirs = true to create it)", abs)}
	case err != nil:
		return nil, &sdk.ConfigError{Attribute: "path", Message: err.Error()}
	case !st.IsDir():
		return nil, &sdk.ConfigError{Attribute: "path", Message: fmt.Sprintf("%s is not a directory", abs)}
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, &sdk.ConfigError{Attribute: "path", Message: err.Error()}
	}
	s := &Store{opts: o, root: root, abs: abs}
	if o.StaleAfter >= 0 {
		if o.StaleAfter == 0 {
			o.StaleAfter = 24 * time.Hour
		}
		s.sweep(o.Now().Add(-o.StaleAfter))
	}
	return s, nil
}

// sweep removes temporary files older than before, outside sent/ and failed/.
func (s *Store) sweep(before time.Time) {
	_ = fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p == SentDir || p == FailedDir || (p != "." && strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(before) {
			_ = s.root.Remove(p)
		}
		return nil
	})
}

// Close releases the directory.
func (s *Store) Close() error { return s.root.Close() }

// Dir returns the store's absolute directory.
func (s *Store) Dir() string { return s.abs }

// Sink returns the store as an sdk.Sink.
func (s *Store) Sink() sdk.Sink { return storeSink{s} }

// Source returns the store as an sdk.Source over its top-level files.
func (s *Store) Source() sdk.Source { return storeSource{s} }

// CleanName turns an object name chosen by the pipeline into a safe
// relative path: slash-separated, no empty, ".", ".." or hidden components,
// no absolute paths, no control characters or backslashes.
func CleanName(name string) (string, error) {
	if name == "" {
		return "", sdk.Permanent(errors.New("empty object name"))
	}
	if strings.HasPrefix(name, "/") {
		return "", sdk.Permanent(fmt.Errorf("object name %q is absolute", name))
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		switch {
		case p == "" || p == "." || p == "..":
			return "", sdk.Permanent(fmt.Errorf("object name %q has an empty, \".\" or \"..\" component", name))
		case strings.HasPrefix(p, "."):
			return "", sdk.Permanent(fmt.Errorf("object name %q has a hidden component", name))
		case strings.ContainsAny(p, "\\\x00") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", sdk.Permanent(fmt.Errorf("object name %q contains a backslash or control character", name))
		case len(p) > 255:
			return "", sdk.Permanent(fmt.Errorf("object name %q has a component longer than 255 bytes", name))
		}
	}
	return strings.Join(parts, "/"), nil
}

// config is the JSON form of the plugin's configuration.
type config struct {
	Path        string `json:"path"`
	CreateDirs  bool   `json:"create_dirs"`
	Sidecar     *bool  `json:"sidecar"`
	Permissions string `json:"permissions"`
}

// Schema is the plugin's configuration schema.
func Schema() sdk.ConfigSchema {
	return sdk.ConfigSchema{Attributes: []sdk.Attribute{
		{Name: "path", Type: sdk.TypeString, Required: true, Description: "Directory files are stored in (sink) or sent from (source)."},
		{Name: "create_dirs", Type: sdk.TypeBool, Default: false, Description: "Create the directory when it does not exist."},
		{Name: "sidecar", Type: sdk.TypeBool, Default: true, Description: "Keep the OFTP metadata as NAME" + SidecarSuffix + " beside each file."},
		{Name: "permissions", Type: sdk.TypeString, Default: "0640", Description: "Octal mode of stored files."},
	}}
}

// ParseConfig decodes the plugin's JSON configuration into Options.
func ParseConfig(configJSON []byte) (Options, error) {
	var c config
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Options{}, &sdk.ConfigError{Attribute: te.Field, Message: fmt.Sprintf("must be a %s", te.Type)}
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Options{}, &sdk.ConfigError{Attribute: strings.Trim(name, `"`), Message: "unknown attribute"}
		}
		return Options{}, &sdk.ConfigError{Message: err.Error()}
	}
	o := Options{Path: c.Path, CreateDirs: c.CreateDirs, Sidecar: c.Sidecar == nil || *c.Sidecar}
	if c.Path == "" {
		return Options{}, &sdk.ConfigError{Attribute: "path", Message: "is required"}
	}
	if c.Permissions != "" {
		m, err := strconv.ParseUint(c.Permissions, 8, 32)
		if err != nil || m > 0o777 || m&0o600 != 0o600 {
			return Options{}, &sdk.ConfigError{Attribute: "permissions", Message: fmt.Sprintf("%q is not an octal file mode between 0600 and 0777 that lets the owner read and write", c.Permissions)}
		}
		o.Perm = fs.FileMode(m)
	}
	return o, nil
}

// New returns the localfs plugin. It serves requests once configured and
// logs to stderr (call it before sdk.Serve, which redirects stderr).
func New() sdk.Plugin {
	p := &configurable{log: sdk.Logger(nil, slog.LevelInfo)}
	return sdk.Plugin{
		Name:      Name,
		Version:   Version,
		Schema:    Schema(),
		Configure: p.configure,
		Sink:      configuredSink{p},
		Source:    configuredSource{p},
	}
}

// configurable holds the Store the latest configuration opened.
type configurable struct {
	log   *slog.Logger
	mu    sync.RWMutex
	store *Store
}

func (c *configurable) configure(_ context.Context, configJSON []byte) error {
	o, err := ParseConfig(configJSON)
	if err != nil {
		return err
	}
	o.Logger = c.log
	s, err := Open(o)
	if err != nil {
		return err
	}
	// A replaced store stays open: writers started before still commit
	// through it.
	c.mu.Lock()
	c.store = s
	c.mu.Unlock()
	return nil
}

func (c *configurable) get() (*Store, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.store == nil {
		return nil, sdk.ErrNotConfigured
	}
	return c.store, nil
}
