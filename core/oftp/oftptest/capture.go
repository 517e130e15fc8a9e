// Package oftptest holds test partners for OFTP: a raw frame-level peer, and a
// scripted peer that replays byte-exact recordings of real sessions
// (../shared/oftp/captures) against our initiator or responder over real TCP.
package oftptest

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Dir tells who sent a recorded frame.
type Dir byte

const (
	// FromInitiator is a frame the initiator sent ('>' in the capture).
	FromInitiator Dir = '>'
	// FromResponder is a frame the responder sent ('<').
	FromResponder Dir = '<'
)

// Frame is one recorded Stream Transmission Buffer.
type Frame struct {
	Dir  Dir
	N    int    // frame number in the capture
	STB  []byte // STH + exchange buffer
	Note string // the recorder's decode
}

// OEB returns the exchange buffer without the STH.
func (f Frame) OEB() []byte { return f.STB[4:] }

// Capture is a parsed recording.
type Capture struct {
	Name   string
	Header []string // comment lines
	Frames []Frame
}

// Inputs returns the input files named in the header: name -> (size, sha256 hex).
func (c *Capture) Inputs() map[string]struct {
	Size   int64
	SHA256 string
} {
	out := map[string]struct {
		Size   int64
		SHA256 string
	}{}
	for _, h := range c.Header {
		// "# input file small.txt: 300 octets, sha256 3461..."
		rest, ok := strings.CutPrefix(h, "# input file ")
		if !ok {
			continue
		}
		name, rest, ok := strings.Cut(rest, ": ")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 4 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		out[name] = struct {
			Size   int64
			SHA256 string
		}{n, fields[3]}
	}
	return out
}

// CapturesDir finds the recordings: <module root>/../shared/oftp/captures, where the
// module root is the nearest directory above the working directory holding go.mod.
func CapturesDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "..", "shared", "oftp", "captures")
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
				return "", fmt.Errorf("oftptest: captures not found at %s (expected next to the module at ../shared): %w", dir, err)
			}
			return dir, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("oftptest: no go.mod above " + wd)
		}
	}
}

// LoadCapture reads a capture by name (with or without .txt) from CapturesDir.
func LoadCapture(name string) (*Capture, error) {
	dir, err := CapturesDir()
	if err != nil {
		return nil, err
	}
	name = strings.TrimSuffix(name, ".txt")
	return ParseCaptureFile(filepath.Join(dir, name+".txt"))
}

// ParseCaptureFile parses the capture format of captures/README.md.
func ParseCaptureFile(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseCapture(f, path)
}

// ParseCapture parses a capture from r; path names it in errors and gives its Name.
func ParseCapture(r io.Reader, path string) (*Capture, error) {
	c := &Capture{Name: strings.TrimSuffix(filepath.Base(path), ".txt")}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		switch {
		case strings.HasPrefix(s, "#"):
			c.Header = append(c.Header, s)
		case strings.HasPrefix(s, "> "), strings.HasPrefix(s, "< "):
			hexpart, note, _ := strings.Cut(s[2:], " # ")
			b, err := hex.DecodeString(hexpart)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if len(b) < 5 {
				return nil, fmt.Errorf("%s:%d: frame shorter than an STB", path, line)
			}
			n := 0
			if i := strings.Index(note, " #"); i >= 0 {
				fmt.Sscanf(note[i+2:], "%d", &n)
			}
			c.Frames = append(c.Frames, Frame{Dir: Dir(s[0]), N: n, STB: b, Note: note})
		case strings.TrimSpace(s) == "":
		default:
			return nil, fmt.Errorf("%s:%d: unexpected line", path, line)
		}
	}
	return c, sc.Err()
}
