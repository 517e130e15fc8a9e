package wire

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot walks up from the package directory to the directory holding go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// capturesDir locates the shared Accord captures beside the repository. A missing
// directory fails the test: the captures are part of the acceptance evidence.
func capturesDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(moduleRoot(t), "..", "shared", "oftp", "captures")
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) == 0 {
		t.Fatalf("no OFTP captures in %s: check out the shared reference material beside the repository (../shared/oftp/captures)", dir)
	}
	return dir
}

type captureFrame struct {
	no      int
	dir     byte // '>' initiator to responder, '<' back
	stb     []byte
	note    string
	lineNum int
}

type capture struct {
	name   string
	frames []captureFrame
}

func readCaptures(t testing.TB) []capture {
	t.Helper()
	dir := capturesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []capture
	for _, f := range files {
		out = append(out, readCapture(t, f))
	}
	return out
}

func readCapture(t testing.TB, path string) capture {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	c := capture{name: strings.TrimSuffix(filepath.Base(path), ".txt")}
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if len(s) < 2 || (s[:2] != "> " && s[:2] != "< ") {
			continue
		}
		hexpart, note, _ := strings.Cut(s[2:], " # ")
		stb, err := hex.DecodeString(hexpart)
		if err != nil || len(stb) < 5 {
			t.Fatalf("%s:%d: bad frame: %v", path, line, err)
		}
		no := len(c.frames) + 1
		if _, rest, ok := strings.Cut(note, " #"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					no = n
				}
			}
		}
		c.frames = append(c.frames, captureFrame{no: no, dir: s[0], stb: stb, note: note, lineNum: line})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var allLevels = []Level{Level12, Level13, Level14, Level20}
