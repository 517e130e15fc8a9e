package oftptest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCapturesParse(t *testing.T) {
	dir, err := CapturesDir()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(paths) < 19 {
		t.Fatalf("found %d captures in %s", len(paths), dir)
	}
	for _, p := range paths {
		c, err := ParseCaptureFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Frames) < 3 || c.Frames[0].Dir != FromResponder || c.Frames[0].OEB()[0] != 'I' {
			t.Fatalf("%s: %d frames, first %+v", c.Name, len(c.Frames), c.Frames[0])
		}
		for i, f := range c.Frames {
			if f.N != i+1 {
				t.Fatalf("%s: frame %d numbered %d", c.Name, i+1, f.N)
			}
		}
		if _, err := c.Transfers(); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
	c, err := LoadCapture("a_v20_u_credit")
	if err != nil {
		t.Fatal(err)
	}
	trs, _ := c.Transfers()
	if len(trs) != 2 || len(trs[1].Content()) != 71680 || trs[1].UnitCount != 71680 {
		t.Fatalf("transfers of a: %d", len(trs))
	}
	if in := c.Inputs()["rand70k.bin"]; in.Size != 71680 {
		t.Fatalf("inputs %+v", c.Inputs())
	}
}

// FuzzParseCapture checks that no capture text makes the parser or the transfer
// extraction panic.
func FuzzParseCapture(f *testing.F) {
	dir, err := CapturesDir()
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"c2_v20_format_v100", "b1_v20_bufcomp_u", "f3_v14_nerp"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".txt"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCapture(bytes.NewReader(in), "fuzz.txt")
		if err != nil {
			return
		}
		c.Inputs()
		c.Transfers()
	})
}
