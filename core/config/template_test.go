package config

import (
	"strings"
	"testing"
	"time"
)

func TestNameTemplateExpand(t *testing.T) {
	v := NameValues{
		VirtualFileName: "INVOICE-2026               ", // X(26) padding is dropped
		FileTime:        time.Date(2026, 11, 27, 3, 4, 5, 1234*100000, time.UTC),
		Originator:      "O0013000000PARTNER       ",
		Destination:     "O0013000000ACME",
		UserData:        "EDI     ",
		Now:             time.Date(2027, 1, 2, 13, 14, 15, 0, time.UTC),
		GUID:            "6f1c2a9e-0b7d-4c55-9a3e-2b1f0c9d8e7a",
	}
	tests := []struct{ tmpl, want string }{
		{DefaultObjectName, "INVOICE-2026"},
		{"%VirtualFileName%_%VirtualFileDate%_%Destination%", "INVOICE-2026_202611270304051234_O0013000000ACME"},
		{"%VirtualFileDate:yyyyMMddHHmmssffff%", "202611270304051234"},
		{"%VirtualFileDate:yy/MM/dd%/%VirtualFileName%", "26/11/27/INVOICE-2026"},
		{"%VirtualFileDate:HH.mm.ss.f%", "03.04.05.1"},
		{"%VirtualFileDate:fff%", "123"},
		{"%Originator%/%UserData%/%GUID%", "O0013000000PARTNER/EDI/6f1c2a9e-0b7d-4c55-9a3e-2b1f0c9d8e7a"},
		{"%CurrentTime%", "202701021314150000"},
		{"%CurrentTime:yyyy-MM-dd%", "2027-01-02"},
		{"100%% %VirtualFileName%", "100% INVOICE-2026"},
		{"plain", "plain"},
		{"", ""},
	}
	for _, tt := range tests {
		tmpl, err := ParseNameTemplate(tt.tmpl)
		if err != nil {
			t.Errorf("%q: %v", tt.tmpl, err)
			continue
		}
		if got := tmpl.Expand(v); got != tt.want {
			t.Errorf("%q expands to %q, want %q", tt.tmpl, got, tt.want)
		}
		if tmpl.String() != tt.tmpl {
			t.Errorf("String() = %q", tmpl.String())
		}
	}
}

func TestNameTemplateMacros(t *testing.T) {
	tmpl, err := ParseNameTemplate("%Originator%/%VirtualFileName%_%VirtualFileDate:yyyy%%GUID%")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tmpl.Macros(), ",")
	if got != "Originator,VirtualFileName,VirtualFileDate,GUID" {
		t.Errorf("Macros() = %s", got)
	}
}

func TestNameTemplateErrors(t *testing.T) {
	tests := []struct{ tmpl, err string }{
		{"%FileName%", "unknown macro %FileName%; the macros are %VirtualFileName%, %VirtualFileDate%, %Originator%, %Destination%, %UserData%, %CurrentTime%, %GUID%"},
		{"%originator%", "did you mean %Originator%?"},
		{"%VirtualFileName", "unterminated macro at position 1"},
		{"a%b", "unterminated macro at position 2"},
		{"%Originator:yyyy%", "macro %Originator% takes no format"},
		{"%VirtualFileDate:hh%", `"hh" is not a supported date field`},
		{"%VirtualFileDate:yyy%", `"yyy" is not a supported date field`},
		{"%VirtualFileDate:fffff%", `"fffff" is not a supported date field`},
		{"%VirtualFileDate:%", "empty date format"},
	}
	for _, tt := range tests {
		_, err := ParseNameTemplate(tt.tmpl)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: error %v, want %q", tt.tmpl, err, tt.err)
		}
	}
}

// The seed's ReceivedFileNameFormat names exactly these macros; a macro
// dropped or renamed here breaks existing users' templates.
func TestSeedMacrosSupported(t *testing.T) {
	for _, m := range []string{"%VirtualFileName%", "%VirtualFileDate%", "%Originator%", "%Destination%", "%UserData%", "%CurrentTime%", "%GUID%", "%VirtualFileDate:yyyyMMddHHmmssffff%"} {
		if _, err := ParseNameTemplate(m); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}

func BenchmarkNameTemplateExpand(b *testing.B) {
	tmpl, err := ParseNameTemplate("%Originator%/%VirtualFileName%_%VirtualFileDate:yyyyMMdd-HHmmss.ffff%_%GUID%")
	if err != nil {
		b.Fatal(err)
	}
	v := NameValues{
		VirtualFileName: "INVOICE-2026", FileTime: time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC),
		Originator: "O0013000000PARTNER", GUID: "6f1c2a9e-0b7d-4c55-9a3e-2b1f0c9d8e7a",
	}
	n := len(tmpl.Expand(v))
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		_ = tmpl.Expand(v)
	}
}
