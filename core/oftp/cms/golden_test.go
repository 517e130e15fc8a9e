package cms

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.hex from the current writer")

// readHex reads an annotated hex file: "#" starts a comment, whitespace is ignored.
func readHex(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// TestCompressedDataGolden pins the exact encoding of a CompressedData (our writer is
// deterministic for it) against the annotated bytes in testdata, and reads them back.
func TestCompressedDataGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewCompressedWriter(&buf, CompressOptions{Level: 9})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "hello OFTP\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	const path = "testdata/compressed-hello.hex"
	if *updateGolden {
		if err := os.WriteFile(path, []byte(hex.Dump(buf.Bytes())), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote", path, "; annotate it by hand")
	}
	want := readHex(t, path)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoding changed:\n got %x\nwant %x", buf.Bytes(), want)
	}
	cr, err := NewCompressedReader(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(cr)
	if err != nil || string(got) != "hello OFTP\n" {
		t.Fatalf("read back %q, %v", got, err)
	}
}
