package cms

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// ediData returns n octets of EDIFACT interchanges shaped like automotive traffic:
// DELFOR schedules, DESADV despatch advices and INVOIC invoices between a few dozen
// parties about a few hundred part numbers, with dates, quantities and order numbers
// varying as they do in real files. It is what the default compression level was
// chosen on (see DefaultCompressionLevel).
func ediData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5024))
	parts := make([]int, 300)
	for i := range parts {
		parts[i] = r.IntN(1e7)
	}
	parties := make([]int64, 25)
	for i := range parties {
		parties[i] = r.Int64N(1e13)
	}
	names := []string{"ACME AUTOMOTIVE GMBH", "NORDIC PARTS AB", "SOCIETE GENERALE DE PIECES", "TOKAI SEISAKUSHO", "MIDLANDS FORGINGS LTD"}
	cities := []string{"STUTTGART", "GOTEBORG", "LYON", "NAGOYA", "BIRMINGHAM", "WOLFSBURG"}
	items := []string{"BRACKET", "SHAFT", "HOUSING", "GASKET", "BOLT M8"}
	part := func() int { return parts[r.IntN(len(parts))] }
	party := func() int64 { return parties[r.IntN(len(parties))] }
	qty := func() int {
		return []int{10, 20, 25, 50, 100, 120, 200, 250, 400, 500, 1000, 1200, 2000}[r.IntN(13)] * (1 + r.IntN(4))
	}
	date := func() string { return fmt.Sprintf("2026%02d%02d", 1+r.IntN(12), 1+r.IntN(28)) }
	var b bytes.Buffer
	b.Grow(n + 4096)
	for msg := 1; b.Len() < n; msg++ {
		fmt.Fprintf(&b, "UNB+UNOC:3+%013d:14+%013d:14+%s:%02d%02d+%d'", party(), party(), date()[2:], r.IntN(24), r.IntN(60), msg)
		switch r.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "UNH+%d+DELFOR:D:96A:UN:A01051'BGM+241+%d+9'DTM+137:%s:102'", msg, r.IntN(1e8), date())
			fmt.Fprintf(&b, "NAD+BY+%d::92++%s+INDUSTRIESTRASSE %d+%s++%05d+DE'",
				party()%1e6, names[r.IntN(len(names))], r.IntN(200), cities[r.IntN(len(cities))], r.IntN(99999))
			for range 2 + r.IntN(6) {
				fmt.Fprintf(&b, "LIN+++%c%07d:IN'PIA+1+%d:SA'LOC+11+W%02d'", 'A'+r.IntN(3), part(), part()/10, r.IntN(40))
				for range 3 + r.IntN(10) {
					fmt.Fprintf(&b, "QTY+1:%d:PCE'SCC+%d'DTM+2:%s:102'", qty(), 1+r.IntN(4), date())
				}
			}
		case 1:
			fmt.Fprintf(&b, "UNH+%d+DESADV:D:96A:UN:A01052'BGM+351+%d+9'DTM+11:%s%02d%02d:203'", msg, r.IntN(1e8), date(), r.IntN(24), r.IntN(60))
			fmt.Fprintf(&b, "MEA+AAX+AAB+KGM:%d.%d'NAD+CZ+%d::92'NAD+CN+%d::92'TDT+12++30+31+%d'",
				r.IntN(30000), r.IntN(10), party()%1e6, party()%1e6, r.IntN(1e6))
			for l := range 1 + r.IntN(8) {
				fmt.Fprintf(&b, "CPS+%d++1'PAC+%d++%d'QTY+52:%d'PCI+17'GIN+ML+%09d'LIN+++%07d:IN'QTY+12:%d:PCE'RFF+ON:%d'",
					l+1, 1+r.IntN(40), r.IntN(1e4), r.IntN(500), r.IntN(1e9), part(), qty(), 4500000000+r.IntN(1e4))
			}
		default:
			fmt.Fprintf(&b, "UNH+%d+INVOIC:D:96A:UN'BGM+380+INV%08d+9'DTM+137:%s:102'CUX+2:EUR:4'", msg, r.IntN(1e8), date())
			fmt.Fprintf(&b, "NAD+SU+%d::9++%s'NAD+BY+%d::9++%s'", party(), names[r.IntN(len(names))], party(), names[r.IntN(len(names))])
			for l := range 1 + r.IntN(20) {
				fmt.Fprintf(&b, "LIN+%d++%013d:EN'IMD+F++:::PART %s %d'QTY+47:%d'MOA+203:%d.%02d'PRI+AAA:%d.%04d'TAX+7+VAT+++:::19+S'",
					l+1, 4000000000000+int64(part()), items[r.IntN(len(items))], part()%1000, qty(), r.IntN(1e6), r.IntN(100), r.IntN(1000), r.IntN(10000))
			}
			fmt.Fprintf(&b, "UNS+S'MOA+77:%d.%02d'", r.IntN(1e7), r.IntN(100))
		}
		fmt.Fprintf(&b, "UNT+%d+%d'UNZ+1+%d'\n", 10+r.IntN(100), msg, msg)
	}
	return b.Bytes()[:n]
}

var ediBench = sync.OnceValue(func() []byte { return ediData(16<<20, 1) })

// BenchmarkCompressionLevel compresses EDIFACT traffic at each zlib level and reports
// the compressed size in percent of the input next to the speed:
//
//	go test -run '^$' -bench CompressionLevel ./core/oftp/cms/
func BenchmarkCompressionLevel(b *testing.B) {
	data := ediBench()
	for _, level := range []int{1, 2, 3, 4, 5, 6, 9} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var out countingWriter
			zw, _ := zlib.NewWriterLevel(&out, level)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				out.n = 0
				zw.Reset(&out)
				zw.Write(data)
				zw.Close()
			}
			b.ReportMetric(100*float64(out.n)/float64(len(data)), "%-of-input")
		})
	}
}

// BenchmarkDecompressionLevel inflates what each level produced: the receiver's cost.
func BenchmarkDecompressionLevel(b *testing.B) {
	data := ediBench()
	for _, level := range []int{1, 4, 6} {
		var comp bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&comp, level)
		zw.Write(data)
		zw.Close()
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			buf := make([]byte, 64<<10)
			for b.Loop() {
				zr, err := zlib.NewReader(bytes.NewReader(comp.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// TestCompressionLevel: zero selects DefaultCompressionLevel, a configured level
// reaches zlib through FileWriter, and levels zlib does not know are refused.
func TestCompressionLevel(t *testing.T) {
	data := ediData(1<<20, 2)
	compressed := func(level int) []byte {
		p := Protection{Compress: true, CompressionLevel: level}
		return protect(t, data, p)
	}
	def, five, one, nine := compressed(0), compressed(DefaultCompressionLevel), compressed(1), compressed(9)
	if !bytes.Equal(def, five) {
		t.Fatal("level 0 does not compress like DefaultCompressionLevel")
	}
	if !(len(nine) < len(def) && len(def) < len(one)) {
		t.Fatalf("sizes: level 9 %d, default %d, level 1 %d octets", len(nine), len(def), len(one))
	}
	for _, wire := range [][]byte{def, one, nine} {
		got, _, err := open(wire, Verification{Compressed: true})
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
	}
	if _, err := NewCompressedWriter(io.Discard, CompressOptions{Level: 10}); err == nil {
		t.Fatal("level 10 accepted")
	}
}
