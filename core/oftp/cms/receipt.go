package cms

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// ReceiptKind says whether a receipt is an EERP or a NERP.
type ReceiptKind uint8

// Receipt kinds.
const (
	EERP ReceiptKind = iota + 1
	NERP
)

func (k ReceiptKind) String() string {
	switch k {
	case EERP:
		return "EERP"
	case NERP:
		return "NERP"
	}
	return fmt.Sprintf("ReceiptKind(%d)", uint8(k))
}

// Field widths of the signed receipt fields (RFC 5024 §5.3.13, §5.3.14).
const (
	dsnWidth  = 26
	dateWidth = 8
	timeWidth = 10
	idWidth   = 25
	// EERPSignedLen and NERPSignedLen are the signed lengths without the hash.
	EERPSignedLen = dsnWidth + dateWidth + timeWidth + 2*idWidth
	NERPSignedLen = EERPSignedLen + idWidth
	// maxReceiptContent bounds the signed content we read back: the fixed part, a
	// SHA-512 hash and slack for peers that pad.
	maxReceiptContent = 1 << 10
)

// Receipt holds the fields of an EERP or NERP that its signature covers.
//
// Our reading of RFC 5024 §5.3.13 and §5.3.14 ("Signature = Sign{EERPDSN EERPDATE
// EERPTIME EERPDEST EERPORIG EERPHSH}", "each field is taken in its entirety,
// including any padding", "the envelope must contain the original data"): the signed
// content is the plain concatenation, without separators or length fields, of
//
//	EERP: DSN X(26) ‖ DATE 9(8) ‖ TIME 9(10) ‖ DEST X(25) ‖ ORIG X(25) ‖ HSH (94 + h octets)
//	NERP: DSN X(26) ‖ DATE 9(8) ‖ TIME 9(10) ‖ DEST X(25) ‖ ORIG X(25) ‖ CREA X(25) ‖ HSH (119 + h)
//
// with X fields left-justified and space-padded exactly as they appear in the command,
// and HSH the raw hash octets (HSHL itself is not signed). EERPUSER, the reserved
// fields, NERPREAS and NERPREAST are not covered. The content is carried as an
// attached SignedData with eContentType id-data.
type Receipt struct {
	Kind ReceiptKind
	// DatasetName is EERPDSN / NERPDSN.
	DatasetName string
	// Date (CCYYMMDD) and Time (HHMMSScccc) are those of the original SFID.
	Date string
	Time string
	// Destination is EERPDEST / NERPDEST: the file's originator, where the receipt goes.
	Destination string
	// Originator is EERPORIG / NERPORIG: the file's final recipient.
	Originator string
	// Creator is NERPCREA, the location that created a NERP; unused for EERP.
	Creator string
	// FileHash is EERPHSH / NERPHSH: the hash of the virtual file as transmitted.
	FileHash []byte
}

func padField(name, v string, width int) (string, error) {
	if len(v) > width {
		return "", fmt.Errorf("cms: receipt %s %q longer than %d octets", name, v, width)
	}
	return v + strings.Repeat(" ", width-len(v)), nil
}

func digitsField(name, v string, width int) (string, error) {
	if len(v) != width {
		return "", fmt.Errorf("cms: receipt %s %q is not %d digits", name, v, width)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", fmt.Errorf("cms: receipt %s %q is not %d digits", name, v, width)
		}
	}
	return v, nil
}

// SignedContent returns the octets the receipt's signature covers.
func (r *Receipt) SignedContent() ([]byte, error) {
	if r.Kind != EERP && r.Kind != NERP {
		return nil, fmt.Errorf("cms: receipt kind %v", r.Kind)
	}
	var sb strings.Builder
	for _, f := range []struct {
		name, v string
		width   int
		digits  bool
	}{
		{"DSN", r.DatasetName, dsnWidth, false},
		{"DATE", r.Date, dateWidth, true},
		{"TIME", r.Time, timeWidth, true},
		{"DEST", r.Destination, idWidth, false},
		{"ORIG", r.Originator, idWidth, false},
	} {
		var s string
		var err error
		if f.digits {
			s, err = digitsField(f.name, f.v, f.width)
		} else {
			s, err = padField(f.name, f.v, f.width)
		}
		if err != nil {
			return nil, err
		}
		sb.WriteString(s)
	}
	if r.Kind == NERP {
		s, err := padField("CREA", r.Creator, idWidth)
		if err != nil {
			return nil, err
		}
		sb.WriteString(s)
	}
	if len(r.FileHash) > 0xffff {
		return nil, errors.New("cms: receipt hash too long")
	}
	return append([]byte(sb.String()), r.FileHash...), nil
}

// ParseReceiptContent splits signed receipt content back into fields; trailing spaces
// of X fields are removed. Whatever follows the fixed fields is the hash.
func ParseReceiptContent(kind ReceiptKind, b []byte) (Receipt, error) {
	fixed := EERPSignedLen
	if kind == NERP {
		fixed = NERPSignedLen
	} else if kind != EERP {
		return Receipt{}, fmt.Errorf("cms: receipt kind %v", kind)
	}
	if len(b) < fixed {
		return Receipt{}, fmt.Errorf("cms: signed %v content of %d octets, need at least %d", kind, len(b), fixed)
	}
	take := func(n int) string {
		s := string(b[:n])
		b = b[n:]
		return strings.TrimRight(s, " ")
	}
	r := Receipt{Kind: kind}
	r.DatasetName = take(dsnWidth)
	r.Date = take(dateWidth)
	r.Time = take(timeWidth)
	r.Destination = take(idWidth)
	r.Originator = take(idWidth)
	if kind == NERP {
		r.Creator = take(idWidth)
	}
	r.FileHash = append([]byte(nil), b...)
	return r, nil
}

// ReceiptSigner signs EERPs and NERPs as the final recipient of a file.
type ReceiptSigner struct {
	// Suite is the SFIDCIPH of the file being acknowledged; its hash is used.
	Suite       Suite
	Key         crypto.Signer
	Certificate *x509.Certificate
	Rand        io.Reader
	Clock       func() time.Time
}

// Sign returns the EERPSIG / NERPSIG value for r: a DER SignedData with the signed
// content attached.
func (s ReceiptSigner) Sign(r Receipt) ([]byte, error) {
	if !s.Suite.Valid() {
		return nil, &UnsupportedSuiteError{Code: s.Suite.Code()}
	}
	if len(r.FileHash) != s.Suite.Hash().Size() {
		return nil, fmt.Errorf("cms: %v file hash of %d octets, %v needs %d", r.Kind, len(r.FileHash), s.Suite, s.Suite.Hash().Size())
	}
	content, err := r.SignedContent()
	if err != nil {
		return nil, err
	}
	return SignBytes(content, SignOptions{
		Signers: []Signer{{Key: s.Key, Certificate: s.Certificate, Hash: s.Suite.Hash()}},
		Rand:    s.Rand, Clock: s.Clock,
	})
}

// ReceiptCheck is what the originator of a file knows when a signed receipt for it
// arrives.
type ReceiptCheck struct {
	// Suite is the SFIDCIPH of the original SFID.
	Suite Suite
	// Trusted are the final recipient's certificates.
	Trusted []*x509.Certificate
	// SentHash is the suite hash of the file as transmitted, stored at send time; when
	// nil the file hash is not compared.
	SentHash []byte
	// AcceptSHA1 accepts a SHA-1 file hash and a SHA-1 signature from partners known
	// to send them whatever the suite says; SentHashSHA1 must then hold the SHA-1 of
	// the transmitted file. Receipts accepted this way are marked in the verdict.
	AcceptSHA1   bool
	SentHashSHA1 []byte
}

// ReceiptVerdict describes a receipt that verified.
type ReceiptVerdict struct {
	Signer *x509.Certificate
	// FileHashAlgorithm and SignatureHash are the algorithms the partner used.
	FileHashAlgorithm crypto.Hash
	SignatureHash     crypto.Hash
	// SHA1Fallback is set when the receipt was accepted only because of AcceptSHA1.
	SHA1Fallback bool
	SigningTime  time.Time
}

// VerifyReceipt checks a signed EERP or NERP: the signature must come from a trusted
// certificate, the signed content must equal the receipt's fields, and the file hash
// must be that of the file we sent. r holds the fields exactly as received in the
// command (peers that swap DEST and ORIG also sign them swapped); correlating the
// receipt with the file sent is the caller's job. Failures are *Error with FailReceipt.
func VerifyReceipt(r Receipt, signature []byte, c ReceiptCheck) (*ReceiptVerdict, error) {
	op := "verify " + r.Kind.String()
	fail := func(err error) (*ReceiptVerdict, error) {
		return nil, &Error{Failure: FailReceipt, Op: op, Err: err}
	}
	if len(signature) == 0 {
		return fail(ErrNotSigned)
	}
	if !c.Suite.Valid() {
		return fail(&UnsupportedSuiteError{Code: c.Suite.Code()})
	}
	want, err := r.SignedContent()
	if err != nil {
		return fail(err)
	}
	content, sig, err := VerifyBytes(signature, VerifyOptions{Trusted: c.Trusted, MaxContent: maxReceiptContent})
	if err != nil {
		return fail(err)
	}
	if !bytes.Equal(content, want) {
		signed, perr := ParseReceiptContent(r.Kind, content)
		if perr != nil {
			return fail(fmt.Errorf("%w: %v", ErrReceiptMismatch, perr))
		}
		return fail(fmt.Errorf("%w: signed %s", ErrReceiptMismatch, describeDiff(r, signed)))
	}
	v := &ReceiptVerdict{Signer: sig.Certificate, SignatureHash: sig.Hash, SigningTime: sig.SigningTime}
	suiteHash := c.Suite.Hash()
	if sig.Hash != suiteHash {
		if !(c.AcceptSHA1 && sig.Hash == crypto.SHA1) {
			return fail(fmt.Errorf("%w: signature uses %v, %v requires %v", ErrUnsupportedAlgorithm, sig.Hash, c.Suite, suiteHash))
		}
		v.SHA1Fallback = true
	}
	switch {
	case len(r.FileHash) == suiteHash.Size():
		v.FileHashAlgorithm = suiteHash
		if c.SentHash != nil && subtle.ConstantTimeCompare(r.FileHash, c.SentHash) != 1 {
			return fail(ErrFileHashMismatch)
		}
	case c.AcceptSHA1 && len(r.FileHash) == sha1.Size:
		v.FileHashAlgorithm = crypto.SHA1
		v.SHA1Fallback = true
		if c.SentHashSHA1 == nil || subtle.ConstantTimeCompare(r.FileHash, c.SentHashSHA1) != 1 {
			return fail(ErrFileHashMismatch)
		}
	default:
		return fail(fmt.Errorf("%w: hash of %d octets, %v gives %d", ErrFileHashMismatch, len(r.FileHash), suiteHash, suiteHash.Size()))
	}
	return v, nil
}

func describeDiff(want, got Receipt) string {
	var d []string
	add := func(name, a, b string) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %q, receipt says %q", name, b, a))
		}
	}
	add("DSN", want.DatasetName, got.DatasetName)
	add("DATE", want.Date, got.Date)
	add("TIME", want.Time, got.Time)
	add("DEST", want.Destination, got.Destination)
	add("ORIG", want.Originator, got.Originator)
	add("CREA", want.Creator, got.Creator)
	if !bytes.Equal(want.FileHash, got.FileHash) {
		d = append(d, "file hash differs")
	}
	if len(d) == 0 {
		return "content differs in padding"
	}
	return strings.Join(d, "; ")
}

// FileHasher computes the EERP/NERP file hash of a virtual file as transmitted (after
// signing, compression and encryption). Write the transmitted octets to it.
type FileHasher struct {
	h    hash.Hash
	sha1 hash.Hash
}

// NewFileHasher hashes with the suite's hash, and also with SHA-1 when alsoSHA1 is
// set (for ReceiptCheck.AcceptSHA1).
func NewFileHasher(s Suite, alsoSHA1 bool) (*FileHasher, error) {
	if !s.Valid() {
		return nil, &UnsupportedSuiteError{Code: s.Code()}
	}
	f := &FileHasher{h: s.Hash().New()}
	if alsoSHA1 && s.Hash() != crypto.SHA1 {
		f.sha1 = sha1.New()
	}
	return f, nil
}

// Write hashes p; it never fails.
func (f *FileHasher) Write(p []byte) (int, error) {
	f.h.Write(p)
	if f.sha1 != nil {
		f.sha1.Write(p)
	}
	return len(p), nil
}

// Sum returns the suite hash of what was written.
func (f *FileHasher) Sum() []byte { return f.h.Sum(nil) }

// SumSHA1 returns the SHA-1 of what was written, or nil when not requested.
func (f *FileHasher) SumSHA1() []byte {
	if f.sha1 == nil {
		if f.h.Size() == sha1.Size {
			return f.h.Sum(nil)
		}
		return nil
	}
	return f.sha1.Sum(nil)
}
