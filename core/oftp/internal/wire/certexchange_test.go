package wire

import (
	"errors"
	"testing"
)

// The certificate exchange names carry '_' and must be sent verbatim in SFID, EERP and
// NERP; any other name with '_' stays refused.
func TestCertificateExchangeNames(t *testing.T) {
	for _, name := range []string{"ODETTE_CERTIFICATE_REQUEST", "ODETTE_CERTIFICATE_DELIVER", "ODETTE_CERTIFICATE_REPLACE"} {
		stamp := Stamp{Date: "20261127", Time: "0301020001"}
		cmds := []Command{
			SFID{DatasetName: name, Stamp: stamp, Destination: "DEST", Originator: "ORIG", Format: FormatUnstructured},
			EERP{DatasetName: name, Stamp: stamp, Destination: "ORIG", Originator: "DEST"},
			NERP{DatasetName: name, Stamp: stamp, Destination: "ORIG", Originator: "DEST", Creator: "DEST", Reason: 99},
		}
		for _, c := range cmds {
			oeb, err := Encode(nil, c, Level20)
			if err != nil {
				t.Fatalf("%s %s: %v", c.Name(), name, err)
			}
			got, err := Decode(oeb, Level20)
			if err != nil {
				t.Fatalf("%s %s: decode: %v", c.Name(), name, err)
			}
			var dsn string
			switch v := got.(type) {
			case SFID:
				dsn = v.DatasetName
			case EERP:
				dsn = v.DatasetName
			case NERP:
				dsn = v.DatasetName
			}
			if dsn != name {
				t.Errorf("%s: dataset name %q, want %q", c.Name(), dsn, name)
			}
		}
	}
	_, err := Encode(nil, SFID{DatasetName: "MY_FILE", Stamp: Stamp{Date: "20261127", Time: "0301020001"},
		Destination: "DEST", Originator: "ORIG", Format: FormatUnstructured}, Level20)
	if !errors.Is(err, ErrCharacterSet) {
		t.Fatalf("MY_FILE: got %v, want ErrCharacterSet", err)
	}
}
