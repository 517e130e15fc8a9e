package wire

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the committed fuzz seed corpus")

// gfield is one row of an RFC field table, transcribed from RFC 5024 §5.3 and RFC 2204
// §5.3 (1.4 rows from PROTOCOL.md §4) independently of the encoder. n is the length;
// varDec and varBin mean "given by the preceding 9(3) or U(2) length field".
type gfield struct {
	name string
	n    int
	typ  string
}

const (
	varDec = -1
	varBin = -2
)

var (
	layoutSSRM = []gfield{{"SSRMCMD", 1, "F X(1)"}, {"SSRMMSG", 17, "F X(17)"}, {"SSRMCR", 1, "F X(1)"}}
	ssidHead   = []gfield{{"SSIDCMD", 1, "F X(1)"}, {"SSIDLEV", 1, "F 9(1)"}, {"SSIDCODE", 25, "V X(25)"},
		{"SSIDPSWD", 8, "V X(8)"}, {"SSIDSDEB", 5, "V 9(5)"}, {"SSIDSR", 1, "F X(1)"}, {"SSIDCMPR", 1, "F X(1)"},
		{"SSIDREST", 1, "F X(1)"}, {"SSIDSPEC", 1, "F X(1)"}, {"SSIDCRED", 3, "V 9(3)"}}
	layoutSSID20 = cat(ssidHead, []gfield{{"SSIDAUTH", 1, "F X(1)"}, {"SSIDRSV1", 4, "F X(4)"},
		{"SSIDUSER", 8, "V X(8)"}, {"SSIDCR", 1, "F X(1)"}})
	layoutSSID1x = cat(ssidHead, []gfield{{"SSIDRSV1", 5, "F X(5)"}, {"SSIDUSER", 8, "V X(8)"}, {"SSIDCR", 1, "F X(1)"}})

	sfidTail1x = []gfield{{"SFIDUSER", 8, "V X(8)"}, {"SFIDDEST", 25, "V X(25)"}, {"SFIDORIG", 25, "V X(25)"},
		{"SFIDFMT", 1, "F X(1)"}, {"SFIDLRECL", 5, "V 9(5)"}, {"SFIDFSIZ", 7, "V 9(7)"}, {"SFIDREST", 9, "V 9(9)"}}
	layoutSFID20 = []gfield{{"SFIDCMD", 1, "F X(1)"}, {"SFIDDSN", 26, "V X(26)"}, {"SFIDRSV1", 3, "F X(3)"},
		{"SFIDDATE", 8, "V 9(8)"}, {"SFIDTIME", 10, "V 9(10)"}, {"SFIDUSER", 8, "V X(8)"}, {"SFIDDEST", 25, "V X(25)"},
		{"SFIDORIG", 25, "V X(25)"}, {"SFIDFMT", 1, "F X(1)"}, {"SFIDLRECL", 5, "V 9(5)"}, {"SFIDFSIZ", 13, "V 9(13)"},
		{"SFIDOSIZ", 13, "V 9(13)"}, {"SFIDREST", 17, "V 9(17)"}, {"SFIDSEC", 2, "F 9(2)"}, {"SFIDCIPH", 2, "F 9(2)"},
		{"SFIDCOMP", 1, "F 9(1)"}, {"SFIDENV", 1, "F 9(1)"}, {"SFIDSIGN", 1, "F X(1)"}, {"SFIDDESCL", 3, "V 9(3)"},
		{"SFIDDESC", varDec, "V T(n)"}}
	layoutSFID14 = cat([]gfield{{"SFIDCMD", 1, "F X(1)"}, {"SFIDDSN", 26, "V X(26)"}, {"SFIDRSV1", 3, "F X(3)"},
		{"SFIDDATE", 8, "V 9(8)"}, {"SFIDTIME", 10, "V 9(10)"}}, sfidTail1x)
	layoutSFID13 = cat([]gfield{{"SFIDCMD", 1, "F X(1)"}, {"SFIDDSN", 26, "V X(26)"}, {"SFIDRSV1", 9, "F X(9)"},
		{"SFIDDATE", 6, "V X(6)"}, {"SFIDTIME", 6, "V X(6)"}}, sfidTail1x)

	layoutSFPA20 = []gfield{{"SFPACMD", 1, "F X(1)"}, {"SFPAACNT", 17, "V 9(17)"}}
	layoutSFPA1x = []gfield{{"SFPACMD", 1, "F X(1)"}, {"SFPAACNT", 9, "V 9(9)"}}
	layoutSFNA20 = []gfield{{"SFNACMD", 1, "F X(1)"}, {"SFNAREAS", 2, "F 9(2)"}, {"SFNARRTR", 1, "F X(1)"},
		{"SFNAREASL", 3, "V 9(3)"}, {"SFNAREAST", varDec, "V T(n)"}}
	layoutSFNA1x = []gfield{{"SFNACMD", 1, "F X(1)"}, {"SFNAREAS", 2, "F 9(2)"}, {"SFNARRTR", 1, "F X(1)"}}
	layoutCDT    = []gfield{{"CDTCMD", 1, "F X(1)"}, {"CDTRSV1", 2, "F X(2)"}}
	layoutEFID20 = []gfield{{"EFIDCMD", 1, "F X(1)"}, {"EFIDRCNT", 17, "V 9(17)"}, {"EFIDUCNT", 17, "V 9(17)"}}
	layoutEFID1x = []gfield{{"EFIDCMD", 1, "F X(1)"}, {"EFIDRCNT", 9, "V 9(9)"}, {"EFIDUCNT", 12, "V 9(12)"}}
	layoutEFPA   = []gfield{{"EFPACMD", 1, "F X(1)"}, {"EFPACD", 1, "F X(1)"}}
	layoutEFNA20 = []gfield{{"EFNACMD", 1, "F X(1)"}, {"EFNAREAS", 2, "F 9(2)"}, {"EFNAREASL", 3, "V 9(3)"},
		{"EFNAREAST", varDec, "V T(n)"}}
	layoutEFNA1x = []gfield{{"EFNACMD", 1, "F X(1)"}, {"EFNAREAS", 2, "F 9(2)"}}
	layoutESID20 = []gfield{{"ESIDCMD", 1, "F X(1)"}, {"ESIDREAS", 2, "F 9(2)"}, {"ESIDREASL", 3, "V 9(3)"},
		{"ESIDREAST", varDec, "V T(n)"}, {"ESIDCR", 1, "F X(1)"}}
	layoutESID1x = []gfield{{"ESIDCMD", 1, "F X(1)"}, {"ESIDREAS", 2, "F 9(2)"}, {"ESIDCR", 1, "F X(1)"}}
	layoutCD     = []gfield{{"CDCMD", 1, "F X(1)"}}
	layoutRTR    = []gfield{{"RTRCMD", 1, "F X(1)"}}
	layoutSECD   = []gfield{{"SECDCMD", 1, "F X(1)"}}
	layoutAUCH   = []gfield{{"AUCHCMD", 1, "F X(1)"}, {"AUCHCHLL", 2, "V U(2)"}, {"AUCHCHAL", varBin, "V U(n)"}}
	layoutAURP   = []gfield{{"AURPCMD", 1, "F X(1)"}, {"AURPRSP", 20, "V U(20)"}}

	eerpTail     = []gfield{{"EERPUSER", 8, "V X(8)"}, {"EERPDEST", 25, "V X(25)"}, {"EERPORIG", 25, "V X(25)"}}
	layoutEERP14 = cat([]gfield{{"EERPCMD", 1, "F X(1)"}, {"EERPDSN", 26, "V X(26)"}, {"EERPRSV1", 3, "F X(3)"},
		{"EERPDATE", 8, "V 9(8)"}, {"EERPTIME", 10, "V 9(10)"}}, eerpTail)
	layoutEERP20 = cat(layoutEERP14, []gfield{{"EERPHSHL", 2, "V U(2)"}, {"EERPHSH", varBin, "V U(n)"},
		{"EERPSIGL", 2, "V U(2)"}, {"EERPSIG", varBin, "V U(n)"}})
	layoutEERP13 = cat([]gfield{{"EERPCMD", 1, "F X(1)"}, {"EERPDSN", 26, "V X(26)"}, {"EERPRSV1", 9, "F X(9)"},
		{"EERPDATE", 6, "V X(6)"}, {"EERPTIME", 6, "V X(6)"}}, eerpTail)
	layoutNERP14 = []gfield{{"NERPCMD", 1, "F X(1)"}, {"NERPDSN", 26, "V X(26)"}, {"NERPRSV1", 6, "F X(6)"},
		{"NERPDATE", 8, "V 9(8)"}, {"NERPTIME", 10, "V 9(10)"}, {"NERPDEST", 25, "V X(25)"},
		{"NERPORIG", 25, "V X(25)"}, {"NERPCREA", 25, "V X(25)"}, {"NERPREAS", 2, "F 9(2)"}}
	layoutNERP20 = cat(layoutNERP14, []gfield{{"NERPREASL", 3, "V 9(3)"}, {"NERPREAST", varDec, "V T(n)"},
		{"NERPHSHL", 2, "V U(2)"}, {"NERPHSH", varBin, "V U(n)"}, {"NERPSIGL", 2, "V U(2)"}, {"NERPSIG", varBin, "V U(n)"}})
)

func cat(a ...[]gfield) []gfield {
	var out []gfield
	for _, x := range a {
		out = append(out, x...)
	}
	return out
}

type goldenCase struct {
	name   string
	title  string
	levels []Level // the levels whose layout this frame has; the first is used to encode
	cmd    Command
	layout []gfield // nil for DATA (annotated from its subrecords)
	digest string   // the STB from PROTOCOL.md §11/§12, when the digest has this frame
}

var (
	stamp20 = Stamp{Date: "20240131", Time: "1200000001"}
	// A 1.3 frame carries YYMMDD HHMMSS; Decode widens it to the 2.0 form.
	stamp13 = Stamp{Date: "20240131", Time: "1200000000"}
	hashSHA = []byte{0xfe, 0xb0, 0x20, 0x5d, 0xdc, 0x88, 0x22, 0x0b, 0xb0, 0x61, 0x3e, 0xd1, 0xd2, 0x2a,
		0x45, 0x6a, 0x0e, 0xc9, 0x7b, 0xa4}
	// Stand-in bytes for a CMS SignedData: the codec carries them opaquely.
	fakeSignature = append([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02},
		bytes.Repeat([]byte{0xa5, 0x5a, 0x00, 0xff}, 12)...)
	fakeChallenge = append([]byte{0x30, 0x82, 0x00, 0x29, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03},
		bytes.Repeat([]byte{0x11, 0x22, 0x33}, 10)...)
	aurpResponse = []byte("0123456789abcdefghij")
	levels1x     = []Level{Level14, Level13, Level12}
	levels13     = []Level{Level13, Level12}
	levels20     = []Level{Level20}
)

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "ssrm", title: "SSRM, all levels (RFC 5024 §5.3.1)", levels: allLevels, cmd: SSRM{}, layout: layoutSSRM,
			digest: "10000017494f444554544520465450205245414459200d"},
		{name: "ssid_v20", title: "SSID at 2.0 (RFC 5024 §5.3.2)", levels: levels20,
			cmd: SSID{Level: Level20, ID: "O0013ALPHA", Password: "ALPHAPWD", BufferSize: 99999, Mode: ModeBoth,
				Compression: true, Restart: true, Credit: 999}, layout: layoutSSID20,
			digest: "1000004158354f30303133414c504841202020202020202020202020202020414c50484150574439393939394259594e3939394e2020202020202020202020200d"},
		{name: "ssid_v20_auth", title: "SSID at 2.0 with secure authentication and user data", levels: levels20,
			cmd: SSID{Level: Level20, ID: "O0013BRAVO", Password: "BRAVOPWD", BufferSize: 4096, Mode: ModeReceiver,
				Restart: true, Credit: 64, SecureAuth: true, User: "USER-01"}, layout: layoutSSID20},
		{name: "ssid_v14", title: "SSID at 1.4: octets 47-51 are SSIDRSV1", levels: levels1x,
			cmd: SSID{Level: Level14, ID: "O0013ALPHA", Password: "ALPHAPWD", BufferSize: 1024, Mode: ModeSender,
				Credit: 7}, layout: layoutSSID1x},
		{name: "ssid_v13", title: "SSID at 1.3 with SSIDLEV 2 (RFC 5024 value)", levels: levels13,
			cmd: SSID{Level: Level13, ID: "O0013ALPHA", Password: "ALPHAPWD", BufferSize: 128, Mode: ModeBoth,
				Compression: true, Credit: 1}, layout: layoutSSID1x},
		{name: "ssid_v12", title: "SSID with SSIDLEV 1 (RFC 2204's own value for 1.3)", levels: levels13,
			cmd: SSID{Level: Level12, ID: "O0013ALPHA", Password: "", BufferSize: 2048, Mode: ModeBoth,
				Restart: true, Credit: 10}, layout: layoutSSID1x},

		{name: "sfid_v20", title: "SFID at 2.0, plain U file (PROTOCOL.md §11.4)", levels: levels20,
			cmd: SFID{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013BRAVO", Originator: "O0013ALPHA",
				Format: FormatUnstructured, FileSize: 1, OriginalSize: 1}, layout: layoutSFID20,
			digest: "100000a9485445535446494c452e444154202020202020202020202020202020202032303234303133313132303030303030303120202020202020204f30303133425241564f2020202020202020202020202020204f30303133414c504841202020202020202020202020202020553030303030303030303030303030303030313030303030303030303030303130303030303030303030303030303030303030303030304e303030"},
		{name: "sfid_v20_desc", title: "SFID at 2.0: signed, compressed and encrypted V file, restart, UTF-8 SFIDDESC", levels: levels20,
			cmd: SFID{DatasetName: "DELFOR.2024-01(A)", Stamp: Stamp{Date: "20991231", Time: "2359599999"}, User: "U&SER/1",
				Destination: "O0013BRAVO", Originator: "O0013ALPHA", Format: FormatVariable, MaxRecordSize: 65535,
				FileSize: 9999999999999, OriginalSize: 12345, RestartPos: 99999999999999999, Security: 3, Cipher: 2,
				Compressed: true, Enveloped: true, SignedReceipt: true,
				Description: "Lieferabruf für Werk Köln – Größe ≤ 12 MiB, 日本語"}, layout: layoutSFID20},
		{name: "sfid_v14", title: "SFID at 1.4 (PROTOCOL.md §12.7)", levels: []Level{Level14},
			cmd: SFID{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013BRAVO", Originator: "O0013ALPHA",
				Format: FormatUnstructured, FileSize: 1}, layout: layoutSFID14,
			digest: "10000084485445535446494c452e444154202020202020202020202020202020202032303234303133313132303030303030303120202020202020204f30303133425241564f2020202020202020202020202020204f30303133414c50484120202020202020202020202020202055303030303030303030303031303030303030303030"},
		{name: "sfid_v13", title: "SFID at 1.3/1.2, RFC 2204 layout (PROTOCOL.md §12.8)", levels: levels13,
			cmd: SFID{DatasetName: "TESTFILE.DAT", Stamp: stamp13, Destination: "O0013BRAVO", Originator: "O0013ALPHA",
				Format: FormatUnstructured, FileSize: 1}, layout: layoutSFID13,
			digest: "10000084485445535446494c452e444154202020202020202020202020202020202020202020202032343031333131323030303020202020202020204f30303133425241564f2020202020202020202020202020204f30303133414c50484120202020202020202020202020202055303030303030303030303031303030303030303030"},
		{name: "sfid_v13_fixed", title: "SFID at 1.3, F file with restart, 1.x maximum sizes", levels: levels13,
			cmd: SFID{DatasetName: "ORDERS", Stamp: Stamp{Date: "19991231", Time: "2359590000"}, User: "BATCH",
				Destination: "O0013BRAVO", Originator: "O0013ALPHA", Format: FormatFixed, MaxRecordSize: 80,
				FileSize: 9999999, RestartPos: 999999999}, layout: layoutSFID13},

		{name: "sfpa_v20", title: "SFPA at 2.0 (PROTOCOL.md §11.5)", levels: levels20, cmd: SFPA{}, layout: layoutSFPA20,
			digest: "10000016323030303030303030303030303030303030"},
		{name: "sfpa_v20_restart", title: "SFPA at 2.0 with an answer count", levels: levels20,
			cmd: SFPA{AnswerCount: 12345678901234567}, layout: layoutSFPA20},
		{name: "sfpa_v1x", title: "SFPA at 1.x (PROTOCOL.md §12.9)", levels: levels1x, cmd: SFPA{}, layout: layoutSFPA1x,
			digest: "1000000e32303030303030303030"},

		{name: "sfna_v20", title: "SFNA at 2.0 with text (PROTOCOL.md §12.4)", levels: levels20,
			cmd: SFNA{Reason: SFNADuplicateFile, Text: "Duplicate file"}, layout: layoutSFNA20,
			digest: "100000193331334e3031344475706c69636174652066696c65"},
		{name: "sfna_v20_notext", title: "SFNA at 2.0 without text, retry later", levels: levels20,
			cmd: SFNA{Reason: SFNACipherNotSupported, Retry: true}, layout: layoutSFNA20},
		{name: "sfna_v1x", title: "SFNA at 1.x", levels: levels1x,
			cmd: SFNA{Reason: SFNAAccessMethodFailure, Retry: true}, layout: layoutSFNA1x},

		{name: "data_u", title: "DATA, U file, one record (PROTOCOL.md §11.6)", levels: allLevels,
			cmd:    DATA{Payload: mustHexPayload("0c48656c6c6f204f465450322088776f726c64210d0a")},
			digest: "1000001b440c48656c6c6f204f465450322088776f726c64210d0a"},
		{name: "data_f", title: "DATA, F file LRECL 4, two records (PROTOCOL.md §12.1)", levels: allLevels,
			cmd: DATA{Payload: mustHexPayload("84414141418442424242")}, digest: "1000000f4484414141418442424242"},
		{name: "data_compressed", title: "DATA with buffer compression (PROTOCOL.md §12.2)", levels: allLevels,
			cmd: DATA{Payload: mustHexPayload("4a208158")}, digest: "10000009444a208158"},
		{name: "data_empty_record", title: "DATA holding one empty record (PROTOCOL.md §12.3)", levels: allLevels,
			cmd: DATA{Payload: []byte{0x80}}, digest: "100000064480"},

		{name: "cdt", title: "CDT, all levels", levels: allLevels, cmd: CDT{}, layout: layoutCDT},
		{name: "efid_v20", title: "EFID at 2.0 (PROTOCOL.md §11.7)", levels: levels20, cmd: EFID{UnitCount: 20},
			layout: layoutEFID20, digest: "100000275430303030303030303030303030303030303030303030303030303030303030303230"},
		{name: "efid_v20_max", title: "EFID at 2.0, largest counts", levels: levels20,
			cmd: EFID{RecordCount: 99999999999999999, UnitCount: 99999999999999999}, layout: layoutEFID20},
		{name: "efid_v1x", title: "EFID at 1.x (PROTOCOL.md §12.9)", levels: levels1x, cmd: EFID{UnitCount: 20},
			layout: layoutEFID1x, digest: "1000001a54303030303030303030303030303030303030303230"},
		{name: "efid_v1x_max", title: "EFID at 1.x, largest counts 9(9) and 9(12)", levels: levels1x,
			cmd: EFID{RecordCount: 999999999, UnitCount: 999999999999}, layout: layoutEFID1x},
		{name: "efpa", title: "EFPA asking for the turn (PROTOCOL.md §11.8)", levels: allLevels,
			cmd: EFPA{ChangeDirection: true}, layout: layoutEFPA, digest: "100000063459"},
		{name: "efna_v20", title: "EFNA at 2.0 with UTF-8 text", levels: levels20,
			cmd: EFNA{Reason: EFNAInvalidSignature, Text: "Signatur ungültig"}, layout: layoutEFNA20},
		{name: "efna_v1x", title: "EFNA at 1.x", levels: levels1x, cmd: EFNA{Reason: EFNAInvalidByteCount}, layout: layoutEFNA1x},

		{name: "esid_v20", title: "ESID at 2.0, normal end (PROTOCOL.md §11.13)", levels: levels20, cmd: ESID{},
			layout: layoutESID20, digest: "1000000b4630303030300d"},
		{name: "esid_v20_text", title: "ESID at 2.0 with text (PROTOCOL.md §12.5)", levels: levels20,
			cmd: ESID{Reason: ESIDInvalidPassword, Text: "Invalid password"}, layout: layoutESID20,
			digest: "1000001b463034303136496e76616c69642070617373776f72640d"},
		{name: "esid_v1x", title: "ESID at 1.x (PROTOCOL.md §12.6)", levels: levels1x, cmd: ESID{}, layout: layoutESID1x,
			digest: "100000084630300d"},
		{name: "cd", title: "CD, all levels (PROTOCOL.md §11.9)", levels: allLevels, cmd: CD{}, layout: layoutCD,
			digest: "1000000552"},
		{name: "rtr", title: "RTR, all levels (PROTOCOL.md §11.11)", levels: allLevels, cmd: RTR{}, layout: layoutRTR,
			digest: "1000000550"},
		{name: "secd", title: "SECD, 2.0 (PROTOCOL.md §12.13)", levels: levels20, cmd: SECD{}, layout: layoutSECD,
			digest: "100000054a"},
		{name: "auch", title: "AUCH, 2.0: the challenge is opaque CMS bytes", levels: levels20,
			cmd: AUCH{Challenge: fakeChallenge}, layout: layoutAUCH},
		{name: "aurp", title: "AURP, 2.0", levels: levels20, cmd: AURP{Response: aurpResponse}, layout: layoutAURP},

		{name: "eerp_v20", title: "EERP at 2.0, unsigned (PROTOCOL.md §11.10)", levels: levels20,
			cmd:    EERP{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013ALPHA", Originator: "O0013BRAVO"},
			layout: layoutEERP20,
			digest: "10000072455445535446494c452e444154202020202020202020202020202020202032303234303133313132303030303030303120202020202020204f30303133414c5048412020202020202020202020202020204f30303133425241564f20202020202020202020202020202000000000"},
		{name: "eerp_v20_signed", title: "EERP at 2.0 with hash and signature (PROTOCOL.md §12.11)", levels: levels20,
			cmd: EERP{DatasetName: "TESTFILE.DAT", Stamp: stamp20, User: "RCPT", Destination: "O0013ALPHA",
				Originator: "O0013BRAVO", Hash: hashSHA, Signature: fakeSignature}, layout: layoutEERP20},
		{name: "eerp_v14", title: "EERP at 1.4", levels: []Level{Level14},
			cmd:    EERP{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013ALPHA", Originator: "O0013BRAVO"},
			layout: layoutEERP14},
		{name: "eerp_v13", title: "EERP at 1.3/1.2, RFC 2204 layout (PROTOCOL.md §12.10)", levels: levels13,
			cmd:    EERP{DatasetName: "TESTFILE.DAT", Stamp: stamp13, Destination: "O0013ALPHA", Originator: "O0013BRAVO"},
			layout: layoutEERP13,
			digest: "1000006e455445535446494c452e444154202020202020202020202020202020202020202020202032343031333131323030303020202020202020204f30303133414c5048412020202020202020202020202020204f30303133425241564f202020202020202020202020202020"},

		{name: "nerp_v20", title: "NERP at 2.0 with text, unsigned", levels: levels20,
			cmd: NERP{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013ALPHA", Originator: "O0013BRAVO",
				Creator: "O0013CHARLIE", Reason: NERPProcessingFailed, Text: "Datei konnte nicht verarbeitet werden"},
			layout: layoutNERP20},
		{name: "nerp_v20_signed", title: "NERP at 2.0 with hash and signature", levels: levels20,
			cmd: NERP{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013ALPHA", Originator: "O0013BRAVO",
				Creator: "O0013BRAVO", Reason: NERPInvalidSignature, Text: "Signature not valid", Hash: hashSHA,
				Signature: fakeSignature}, layout: layoutNERP20},
		{name: "nerp_v14", title: "NERP at 1.4 (ends after NERPREAS)", levels: []Level{Level14},
			cmd: NERP{DatasetName: "TESTFILE.DAT", Stamp: stamp20, Destination: "O0013ALPHA", Originator: "O0013BRAVO",
				Creator: "O0013BRAVO", Reason: NERPSizeIncompatible}, layout: layoutNERP14},
	}
}

func mustHexPayload(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// annotated is one field line of a golden file.
type annotated struct {
	name  string
	pos   int
	n     int
	typ   string
	bytes []byte
}

// splitLayout cuts oeb along an RFC field table. It does not use the codec, so a golden
// file checked against it is checked against the RFC table.
func splitLayout(layout []gfield, oeb []byte) ([]annotated, error) {
	var out []annotated
	pos := 0
	var prev []byte
	for _, f := range layout {
		n := f.n
		typ := f.typ
		switch n {
		case varDec:
			v, err := strconv.Atoi(string(prev))
			if err != nil {
				return nil, fmt.Errorf("%s: length field %q: %v", f.name, prev, err)
			}
			n = v
		case varBin:
			if len(prev) != 2 {
				return nil, fmt.Errorf("%s: no U(2) length before it", f.name)
			}
			n = int(prev[0])<<8 | int(prev[1])
		}
		if f.n < 0 {
			typ = strings.Replace(typ, "(n)", fmt.Sprintf("(%d)", n), 1)
			if n == 0 {
				prev = nil
				continue // an absent variable field has no line
			}
		}
		if pos+n > len(oeb) {
			return nil, fmt.Errorf("%s at %d+%d runs past the %d octets", f.name, pos, n, len(oeb))
		}
		out = append(out, annotated{name: f.name, pos: pos, n: n, typ: typ, bytes: oeb[pos : pos+n]})
		prev = oeb[pos : pos+n]
		pos += n
	}
	if pos != len(oeb) {
		return nil, fmt.Errorf("layout covers %d octets, frame has %d", pos, len(oeb))
	}
	return out, nil
}

// splitData annotates the subrecords of a DATA buffer.
func splitData(oeb []byte) ([]annotated, error) {
	out := []annotated{{name: "DATACMD", pos: 0, n: 1, typ: "F X(1)", bytes: oeb[:1]}}
	for pos := 1; pos < len(oeb); {
		h := oeb[pos]
		n := int(h & 0x3F)
		out = append(out, annotated{name: fmt.Sprintf("SUBHDR(EoR=%d,CF=%d,count=%d)", h>>7, (h>>6)&1, n),
			pos: pos, n: 1, typ: "U(1)", bytes: oeb[pos : pos+1]})
		pos++
		if h&0x40 != 0 {
			n = 1
		}
		if pos+n > len(oeb) {
			return nil, fmt.Errorf("subrecord at %d runs past the buffer", pos-1)
		}
		if n > 0 {
			name := "SUBREC"
			if h&0x40 != 0 {
				name = "SUBREC(repeated)"
			}
			out = append(out, annotated{name: name, pos: pos, n: n, typ: fmt.Sprintf("U(%d)", n), bytes: oeb[pos : pos+n]})
		}
		pos += n
	}
	return out, nil
}

func (c goldenCase) split(oeb []byte) ([]annotated, error) {
	if c.layout == nil {
		return splitData(oeb)
	}
	return splitLayout(c.layout, oeb)
}

const goldenWrap = 32

func renderGolden(c goldenCase, fields []annotated) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# %s\n", c.title)
	fmt.Fprintf(&sb, "# one line per field: hex octets  # FIELD pos len type (pos is the offset in the exchange buffer)\n")
	for _, f := range fields {
		for i := 0; i < len(f.bytes) || i == 0; i += goldenWrap {
			chunk := f.bytes[i:min(i+goldenWrap, len(f.bytes))]
			h := hex.EncodeToString(chunk)
			if i == 0 {
				fmt.Fprintf(&sb, "%-64s # %s %d %d %s", h, f.name, f.pos, f.n, f.typ)
				if printable(f.bytes) && len(f.bytes) > 1 {
					fmt.Fprintf(&sb, " %q", f.bytes)
				}
				sb.WriteByte('\n')
			} else {
				fmt.Fprintf(&sb, "%s\n", h)
			}
		}
	}
	return sb.String()
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

// parseGolden reads a golden file: the frame and its field annotations. Lines without
// a comment continue the previous field.
func parseGolden(text string) ([]byte, []annotated, error) {
	var frame []byte
	var fields []annotated
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		h, comment, hasComment := strings.Cut(line, "#")
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(h), " ", ""))
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		frame = append(frame, b...)
		if !hasComment {
			if len(fields) == 0 {
				return nil, nil, fmt.Errorf("line %d: continuation without a field", i+1)
			}
			fields[len(fields)-1].bytes = append(fields[len(fields)-1].bytes, b...)
			continue
		}
		parts := strings.Fields(comment)
		if len(parts) < 4 {
			return nil, nil, fmt.Errorf("line %d: annotation %q is not FIELD pos len type", i+1, comment)
		}
		pos, err1 := strconv.Atoi(parts[1])
		n, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("line %d: bad pos/len in %q", i+1, comment)
		}
		typ := parts[3]
		if len(parts) > 4 && !strings.HasPrefix(parts[4], "\"") {
			typ += " " + parts[4]
		}
		fields = append(fields, annotated{name: parts[0], pos: pos, n: n, typ: typ, bytes: b})
	}
	return frame, fields, nil
}

func TestGoldenFrames(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			if seen[c.name] {
				t.Fatalf("duplicate golden name %s", c.name)
			}
			seen[c.name] = true
			path := filepath.Join("testdata", "golden", c.name+".hex")
			enc, err := Encode(nil, c.cmd, c.levels[0])
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if *update {
				fields, err := c.split(enc)
				if err != nil {
					t.Fatalf("encoded frame does not fit the RFC table: %v", err)
				}
				if err := os.WriteFile(path, []byte(renderGolden(c, fields)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			frame, fields, err := parseGolden(string(text))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			// The annotations must be contiguous and agree with the RFC table.
			want, err := c.split(frame)
			if err != nil {
				t.Fatalf("%s: golden bytes do not fit the RFC table: %v", path, err)
			}
			if len(want) != len(fields) {
				t.Fatalf("%s: %d annotated fields, the RFC table gives %d", path, len(fields), len(want))
			}
			for i, f := range fields {
				w := want[i]
				if f.name != w.name || f.pos != w.pos || f.n != w.n || f.typ != w.typ || !bytes.Equal(f.bytes, w.bytes) {
					t.Errorf("%s: line for %s %d %d %s (%d octets) disagrees with the RFC table: %s %d %d %s",
						path, f.name, f.pos, f.n, f.typ, len(f.bytes), w.name, w.pos, w.n, w.typ)
				}
			}
			if c.digest != "" {
				stb := AppendSTH(nil, len(frame))
				stb = append(stb, frame...)
				if got := hex.EncodeToString(stb); got != c.digest {
					t.Errorf("golden differs from PROTOCOL.md:\n got %s\nwant %s", got, c.digest)
				}
			}
			if !bytes.Equal(enc, frame) {
				t.Errorf("Encode at %s:\n got %x\nwant %x", c.levels[0], enc, frame)
			}
			for _, lvl := range c.levels {
				got, err := Decode(frame, lvl)
				if err != nil {
					t.Errorf("Decode at %s: %v", lvl, err)
					continue
				}
				if !reflect.DeepEqual(got, c.cmd) {
					t.Errorf("Decode at %s:\n got %#v\nwant %#v", lvl, got, c.cmd)
				}
				again, err := Encode(nil, got, lvl)
				if err != nil || !bytes.Equal(again, frame) {
					t.Errorf("Encode at %s: %x, %v", lvl, again, err)
				}
			}
		})
	}
	// Every command of every level has a golden frame.
	codes := map[byte]bool{}
	for _, c := range goldenCases() {
		codes[c.cmd.Code()] = true
	}
	for _, code := range []byte("IXJASH23DCT45FRENP") {
		if !codes[code] {
			t.Errorf("no golden frame for %s", CommandName(code))
		}
	}
}
