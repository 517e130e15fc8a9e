package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// record is one decoded record; open marks trailing data without EoR.
type record struct {
	data []byte
	open bool
}

// decodeRecords decodes a sequence of DATA exchange buffers into records.
func decodeRecords(t testing.TB, bufs [][]byte, compression bool) []record {
	t.Helper()
	var recs []record
	var cur []byte
	have := false
	for _, b := range bufs {
		if b[0] != 'D' {
			t.Fatalf("buffer starts with %q", b[0])
		}
		err := DecodeData(b[1:], compression, func(d []byte, eor bool) error {
			cur = append(cur, d...)
			have = true
			if eor {
				recs = append(recs, record{data: cur})
				cur, have = nil, false
			}
			return nil
		})
		if err != nil {
			t.Fatalf("DecodeData(%x): %v", b, err)
		}
	}
	if have {
		recs = append(recs, record{data: cur, open: true})
	}
	return recs
}

func collect(out *[][]byte) func([]byte) error {
	return func(b []byte) error {
		*out = append(*out, bytes.Clone(b))
		return nil
	}
}

// randRecords makes records with runs of equal octets and empty records.
func randRecords(r *rand.Rand, n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		var b []byte
		for len(b) < r.IntN(600) {
			switch r.IntN(3) {
			case 0:
				b = append(b, bytes.Repeat([]byte{byte(r.IntN(4))}, 1+r.IntN(200))...)
			default:
				for k := r.IntN(80); k > 0; k-- {
					b = append(b, byte(r.Uint32()))
				}
			}
		}
		if r.IntN(10) == 0 {
			b = nil
		}
		recs[i] = b
	}
	return recs
}

// TestDataEncoderRoundTrip encodes random records with random Write cuts, for several
// buffer sizes, and checks the buffers: size limits, subrecord rules, the decoded records,
// and that the output does not depend on how Write calls cut the data.
func TestDataEncoderRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 2))
	for _, size := range []int{0, 3, 4, 65, 66, 128, 129, 4096} {
		for _, compress := range []bool{false, true} {
			for iter := 0; iter < 20; iter++ {
				recs := randRecords(r, 1+r.IntN(20))
				whole := encodeRecords(t, size, compress, recs)

				enc := NewDataEncoder(size, compress)
				var cut [][]byte
				var total int64
				for _, rec := range recs {
					total += int64(len(rec))
					p := rec
					for len(p) > 0 {
						k := r.IntN(len(p) + 1)
						if err := enc.Write(p[:k], false, collect(&cut)); err != nil {
							t.Fatal(err)
						}
						p = p[k:]
					}
					if err := enc.Write(nil, true, collect(&cut)); err != nil {
						t.Fatal(err)
					}
				}
				if enc.Records() != int64(len(recs)) || enc.Octets() != total {
					t.Errorf("counters %d/%d, want %d/%d", enc.Records(), enc.Octets(), len(recs), total)
				}
				if err := enc.Flush(collect(&cut)); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("size %d compress %v", size, compress)
				if len(cut) != len(whole) {
					t.Fatalf("%s: %d buffers with cut writes, %d with whole records", name, len(cut), len(whole))
				}
				for i := range cut {
					if !bytes.Equal(cut[i], whole[i]) {
						t.Fatalf("%s: buffer %d depends on the Write cuts:\n%x\n%x", name, i, cut[i], whole[i])
					}
				}
				checkBuffers(t, name, whole, size, compress)
				got := decodeRecords(t, whole, compress)
				if len(got) != len(recs) {
					t.Fatalf("%s: %d records decoded, %d sent", name, len(got), len(recs))
				}
				for i := range recs {
					if !bytes.Equal(got[i].data, recs[i]) || got[i].open {
						t.Fatalf("%s: record %d differs (%d vs %d octets)", name, i, len(got[i].data), len(recs[i]))
					}
				}
			}
		}
	}
}

// checkBuffers verifies the structural rules of our DATA output.
func checkBuffers(t *testing.T, name string, bufs [][]byte, size int, compress bool) {
	t.Helper()
	for i, b := range bufs {
		if len(b) > max(size, 3) || len(b) < 2 {
			t.Fatalf("%s: buffer %d has %d octets (size %d)", name, i, len(b), size)
		}
		// Every buffer but the last is full: at most one octet stays unused, as a
		// subrecord needs its header and one octet.
		if i < len(bufs)-1 && len(b) < max(size, 3)-1 {
			t.Errorf("%s: buffer %d has %d of %d octets", name, i, len(b), size)
		}
		for pos := 1; pos < len(b); {
			h := b[pos]
			n := int(h & 0x3f)
			if h&0x40 != 0 {
				if !compress {
					t.Fatalf("%s: compressed subrecord without compression", name)
				}
				if n < minRun && h&0x80 == 0 {
					t.Errorf("%s: compressed run of %d", name, n)
				}
				if h&0x80 != 0 {
					t.Errorf("%s: EoR on a compressed subrecord", name)
				}
				pos += 2
				continue
			}
			if n == 0 && h != 0x80 {
				t.Errorf("%s: empty subrecord %02x", name, h)
			}
			pos += 1 + n
		}
	}
}

func TestDataEncoderBoundaries(t *testing.T) {
	enc := func(size int, compress bool, writes ...any) [][]byte {
		t.Helper()
		e := NewDataEncoder(size, compress)
		var out [][]byte
		for i := 0; i < len(writes); i += 2 {
			if err := e.Write(writes[i].([]byte), writes[i+1].(bool), collect(&out)); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Flush(collect(&out)); err != nil {
			t.Fatal(err)
		}
		return out
	}
	x := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	hexes := func(b [][]byte) []string {
		var s []string
		for _, v := range b {
			s = append(s, fmt.Sprintf("%x", v))
		}
		return s
	}
	expect := func(name string, got [][]byte, want ...string) {
		t.Helper()
		if fmt.Sprint(hexes(got)) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", name, hexes(got), want)
		}
	}
	xs := func(n int) string { return fmt.Sprintf("%x", x(n)) }
	// An empty record is a lone 0x80 header (PROTOCOL.md §12.3).
	expect("empty record", enc(128, false, []byte{}, true), "4480")
	// A record filling the buffer exactly keeps the buffer until EoR arrives.
	expect("exact fill then EoR", enc(65, false, x(63), false, []byte{}, true), "44bf"+xs(63))
	// More data after a full buffer starts the next one.
	expect("exact fill then more", enc(65, false, x(63), false, x(1), true), "443f"+xs(63), "4481"+xs(1))
	// An empty record after a full buffer goes to the next buffer.
	expect("empty record after full", enc(65, false, x(63), true, []byte{}, true), "44bf"+xs(63), "4480")
	// One octet left: no room for a subrecord, so the next buffer starts.
	expect("one octet left", enc(66, false, x(63), true, x(2), true), "44bf"+xs(63), "4482"+xs(2))
	// Subrecords cut at the buffer end (Accord: 63 x 3F + 3E fill 4096).
	expect("cut at buffer end", enc(6, false, x(7), true), "4404"+xs(4), "4483"+xs(3))
	// Without EoR at the end, Flush sends the open record as it is (c2's last record).
	expect("open record", enc(128, false, x(5), false), "4405"+xs(5))
	// Compression: runs of 4 or more, shorter runs literal, run tail at record end literal.
	expect("runs", enc(128, true, []byte("AAAABBBCDDDDD"), true), "4444418942424243"+"4444444444")
	expect("run at record end", enc(128, true, []byte("AB"+"CCCCCC"), true), "44884142434343434343")
	expect("long run", enc(200, true, x(130), true), "447f787f7884787878"+"78")
	// A compressed subrecord needs two octets: with one left the next buffer starts.
	expect("compressed at boundary", enc(5, true, []byte("AB"), false, x(10), false, []byte("C"), true),
		"44024142", "444a788143")
	// The run tail at the record end is literal, cut over buffers like any literal.
	expect("literal tail over buffers", enc(5, true, []byte("AB"), false, x(10), true),
		"4403414278", "4403787878", "4403787878", "4483787878")
	// Runs do not continue across records.
	expect("run split by EoR", enc(128, true, x(3), true, x(3), true), "4483787878"+"83787878")
	// Flush without EoR compresses a pending run.
	expect("flush pending run", enc(128, true, x(5), false), "444578")
}

func TestDecodeData(t *testing.T) {
	type call struct {
		data string
		eor  bool
	}
	run := func(payload []byte, compression bool) ([]call, error) {
		var calls []call
		err := DecodeData(payload, compression, func(d []byte, eor bool) error {
			calls = append(calls, call{string(d), eor})
			return nil
		})
		return calls, err
	}
	cases := []struct {
		name    string
		payload string
		cmpr    bool
		want    []call
	}{
		{"digest 11.6", "0c48656c6c6f204f465450322088776f726c64210d0a", false,
			[]call{{"Hello OFTP2 ", false}, {"world!\r\n", true}}},
		{"digest 12.1", "84414141418442424242", false, []call{{"AAAA", true}, {"BBBB", true}}},
		{"digest 12.2", "4a208158", true, []call{{"          ", false}, {"X", true}}},
		{"digest 12.3", "80", false, []call{{"", true}}},
		{"empty payload", "", false, nil},
		{"empty subrecords skipped", "000081410000", false, []call{{"A", true}}},
		{"compressed count 0 consumes its octet", "40ff8141", true, []call{{"A", true}}},
		{"compressed count 0 with EoR", "c0ff", true, []call{{"", true}}},
		{"compressed with EoR", "c341", true, []call{{"AAA", true}}},
		{"max compressed", "7f00", true, []call{{string(make([]byte, 63)), false}}},
	}
	for _, c := range cases {
		got, err := run(mustHex(t, c.payload), c.cmpr)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	reason := func(err error) int {
		var de *DecodeError
		if errors.As(err, &de) {
			return de.Reason
		}
		return -1
	}
	for _, c := range []struct {
		payload string
		cmpr    bool
		reason  int
	}{
		{"4a20", false, ReasonInvalidData}, // compression not negotiated
		{"05414243", false, ReasonLength},  // subrecord past the end
		{"4a", true, ReasonLength},         // compressed without its octet
		{"3f", false, ReasonLength},
	} {
		_, err := run(mustHex(t, c.payload), c.cmpr)
		if reason(err) != c.reason {
			t.Errorf("%s: %v, want reason %02d", c.payload, err, c.reason)
		}
	}
	// Errors from fn stop the walk and come back unchanged.
	stop := errors.New("stop")
	calls := 0
	err := DecodeData(mustHex(t, "8141814281434a20"), true, func([]byte, bool) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("fn error: %v after %d calls", err, calls)
	}
	// A callback that writes into an expanded run does not change later runs.
	var seen []string
	err = DecodeData(mustHex(t, "44414441"), true, func(d []byte, _ bool) error {
		seen = append(seen, string(d))
		for i := range d {
			d[i] = 'Z'
		}
		return nil
	})
	if err != nil || fmt.Sprint(seen) != "[AAAA AAAA]" {
		t.Errorf("runs after a writing callback: %q, %v", seen, err)
	}
}

// TestDecodeDataTruncated decodes every prefix of captured and generated payloads: each
// either decodes (it ends on a subrecord boundary) or fails with reason 07.
func TestDecodeDataTruncated(t *testing.T) {
	payloads := [][]byte{mustHex(t, "0c48656c6c6f204f465450322088776f726c64210d0a"), mustHex(t, "4a208158")}
	payloads = append(payloads, encodeRecords(t, 4096, true, [][]byte{runsBin()})[0][1:])
	for _, p := range payloads {
		for n := 0; n <= len(p); n++ {
			err := DecodeData(p[:n], true, func([]byte, bool) error { return nil })
			var de *DecodeError
			if err != nil && (!errors.As(err, &de) || de.Reason != ReasonLength) {
				t.Errorf("prefix %d: %v", n, err)
			}
		}
	}
}

func TestDataNoAllocs(t *testing.T) {
	content := append(bytes.Repeat(runsBin(), 3), bytes.Repeat([]byte("abcdefgh"), 600)...)
	for _, compress := range []bool{false, true} {
		e := NewDataEncoder(4096, compress)
		emit := func([]byte) error { return nil }
		if n := testing.AllocsPerRun(100, func() {
			_ = e.Write(content[:1000], false, emit)
			_ = e.Write(content[1000:], true, emit)
			_ = e.Flush(emit)
		}); n != 0 {
			t.Errorf("DataEncoder (compress %v): %v allocations per file", compress, n)
		}
		var bufs [][]byte
		enc := NewDataEncoder(4096, compress)
		_ = enc.Write(content, true, collect(&bufs))
		_ = enc.Flush(collect(&bufs))
		fn := func([]byte, bool) error { return nil }
		if n := testing.AllocsPerRun(100, func() {
			for _, b := range bufs {
				_ = DecodeData(b[1:], compress, fn)
			}
		}); n != 0 {
			t.Errorf("DecodeData (compress %v): %v allocations per file", compress, n)
		}
	}
}
