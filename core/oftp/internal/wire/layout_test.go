package wire

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type rfcRow struct {
	pos  int // -1 where the RFC leaves it blank (after a variable field)
	name string
	typ  string
}

var rfcRowRE = regexp.MustCompile(`^\s*\|\s*(\d*)\s*\|\s*([A-Z]{4}[A-Z0-9]*)\s*\|[^|]*\|\s*([FV] [X9UT]\([0-9n]+\))\s*\|`)

// rfcTables parses the field tables ("| Pos | Field | Description | Format |") of an RFC
// text, grouped by command mnemonic.
func rfcTables(t *testing.T, file string) map[string][]rfcRow {
	t.Helper()
	path := filepath.Join(moduleRoot(t), "..", "shared", "oftp", file)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("RFC text missing (check out ../shared beside the repository): %v", err)
	}
	out := map[string][]rfcRow{}
	for _, line := range strings.Split(string(text), "\n") {
		m := rfcRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pos := -1
		if m[1] != "" {
			pos, _ = strconv.Atoi(m[1])
		}
		cmd := m[2][:4]
		if strings.HasPrefix(m[2], "CD") && len(m[2]) == 5 {
			cmd = "CD"
		}
		if strings.HasPrefix(m[2], "CDT") {
			cmd = "CDT"
		}
		if strings.HasPrefix(m[2], "RTR") {
			cmd = "RTR"
		}
		out[cmd] = append(out[cmd], rfcRow{pos: pos, name: m[2], typ: strings.Join(strings.Fields(m[3]), " ")})
	}
	return out
}

// TestLayoutsMatchRFCTables compares the field tables the golden files are checked
// against with the tables printed in the RFC texts: names, positions and formats.
// 1.4 has no RFC; its tables come from PROTOCOL.md §4 and are not covered here.
func TestLayoutsMatchRFCTables(t *testing.T) {
	rfc5024 := rfcTables(t, "rfc5024.txt")
	rfc2204 := rfcTables(t, "rfc2204.txt")
	check := func(src string, tables map[string][]rfcRow, cmd string, layout []gfield) {
		t.Helper()
		rows := tables[cmd]
		if len(rows) == 0 {
			t.Errorf("%s: no table for %s", src, cmd)
			return
		}
		if len(rows) != len(layout) {
			t.Errorf("%s %s: RFC has %d fields, our table %d", src, cmd, len(rows), len(layout))
			return
		}
		pos, known := 0, true
		for i, f := range layout {
			r := rows[i]
			if r.name != f.name || r.typ != f.typ {
				t.Errorf("%s %s field %d: RFC %s %s, ours %s %s", src, cmd, i, r.name, r.typ, f.name, f.typ)
			}
			if r.pos >= 0 && (!known || r.pos != pos) {
				t.Errorf("%s %s: RFC puts %s at %d, our table at %d (known=%v)", src, cmd, r.name, r.pos, pos, known)
			}
			if f.n < 0 {
				known = false
			}
			pos += f.n
		}
	}
	for cmd, layout := range map[string][]gfield{
		"SSRM": layoutSSRM, "SSID": layoutSSID20, "SFID": layoutSFID20, "SFPA": layoutSFPA20, "SFNA": layoutSFNA20,
		"CDT": layoutCDT, "EFID": layoutEFID20, "EFPA": layoutEFPA, "EFNA": layoutEFNA20, "ESID": layoutESID20,
		"CD": layoutCD, "EERP": layoutEERP20, "NERP": layoutNERP20, "RTR": layoutRTR, "SECD": layoutSECD,
		"AUCH": layoutAUCH, "AURP": layoutAURP,
	} {
		check("RFC 5024", rfc5024, cmd, layout)
	}
	for cmd, layout := range map[string][]gfield{
		"SSRM": layoutSSRM, "SSID": layoutSSID1x, "SFID": layoutSFID13, "SFPA": layoutSFPA1x, "SFNA": layoutSFNA1x,
		"CDT": layoutCDT, "EFID": layoutEFID1x, "EFPA": layoutEFPA, "EFNA": layoutEFNA1x, "ESID": layoutESID1x,
		"CD": layoutCD, "EERP": layoutEERP13, "RTR": layoutRTR,
	} {
		check("RFC 2204", rfc2204, cmd, layout)
	}
	if _, ok := rfc2204["NERP"]; ok {
		t.Error("RFC 2204 unexpectedly defines NERP")
	}
}
