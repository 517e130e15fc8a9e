package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Executable is a third-party plugin found in a plugin directory.
type Executable struct {
	// Name is the file name, usable as a relative Spec.Path.
	Name string
	Path string
	// SHA256 is the hex checksum to pin in the configuration.
	SHA256 string
}

// Discover lists the executable regular files in dir with their checksums,
// for "connector plugins" and for writing the pins into a configuration.
// Hidden files are ignored.
func Discover(dir string) ([]Executable, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	var out []Executable
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		path := filepath.Join(dir, e.Name())
		sum, err := fileChecksum(path)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", path, err)
		}
		out = append(out, Executable{Name: e.Name(), Path: path, SHA256: sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func fileChecksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
