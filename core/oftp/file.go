package oftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// Format is the record format of a virtual file (SFIDFMT).
//
// How a local byte stream maps to records, both when sending and when the built-in
// receiver stores a file:
//   - FormatUnstructured, FormatText: the whole file is one record; the octets travel
//     unchanged (CR-LF of text files are data) with End-of-Record on the last subrecord.
//   - FormatFixed: a record every MaxRecordSize octets; the file size should be a
//     multiple of it (a short last record is sent as such, with a warning).
//   - FormatVariable: one record per line. A line ends with LF; an LF and a CR right
//     before it are not transmitted. A receiver that stores V files writes each record
//     followed by CR-LF, so CR-LF terminated files travel byte-identical.
type Format byte

// Record formats.
const (
	FormatFixed        Format = 'F'
	FormatVariable     Format = 'V'
	FormatUnstructured Format = 'U'
	FormatText         Format = 'T'
)

func (f Format) String() string {
	switch f {
	case FormatFixed, FormatVariable, FormatUnstructured, FormatText:
		return string(rune(f))
	}
	return fmt.Sprintf("Format(%d)", byte(f))
}

// Stamp is the virtual file date and time that, with the dataset name and originator,
// identifies a file: Date CCYYMMDD, Time HHMMSScccc (cccc a counter). 1.3 sessions carry
// only YYMMDD/HHMMSS; the full form is kept here.
type Stamp struct {
	Date string
	Time string
}

// Parse reads the stamp (counter ignored) as UTC; the protocol defines no zone.
func (s Stamp) Parse() (time.Time, error) {
	if len(s.Time) < 6 {
		return time.Time{}, fmt.Errorf("oftp: stamp time %q too short", s.Time)
	}
	return time.Parse("20060102150405", s.Date+s.Time[:6])
}

// NewStamp makes the stamp for time t and a sub-second counter (1..9999).
func NewStamp(t time.Time, counter int) Stamp {
	w := wire.NewStamp(t, counter)
	return Stamp(w)
}

// OutgoingFile describes a virtual file to send (the SFID) and where its octets come from.
type OutgoingFile struct {
	DatasetName string // SFIDDSN, up to 26 characters of A-Z 0-9 space / - . & ( )
	// Date is the virtual file date; zero means the session clock. Counter (1..9999)
	// distinguishes files of the same second; zero lets the session pick one.
	Date    time.Time
	Counter int
	// Stamp, when set, is used verbatim instead of Date/Counter (e.g. to resend a file
	// with its original identity after a restart).
	Stamp         Stamp
	UserData      string // SFIDUSER
	Originator    string // SFIDORIG, default Options.SFIDCode
	Destination   string // SFIDDEST, default Options.PartnerSFIDCode
	Format        Format // default Options.VirtualFileFormat
	MaxRecordSize int    // SFIDLRECL: record length for F, maximum for V, 0 for U/T
	// Size is the size as transmitted in octets, -1 or 0 if unknown; OriginalSize the
	// size before security services (2.0). Both are sent rounded up to 1 KiB blocks.
	Size         int64
	OriginalSize int64
	Description  string // SFIDDESC, UTF-8, at most 999 octets (2.0)

	// Security fields (2.0), carried untouched; the octets from Source must already be
	// the CMS structure they announce.
	SecurityLevel int  // SFIDSEC 0 none, 1 encrypted, 2 signed, 3 both
	CipherSuite   int  // SFIDCIPH
	Compressed    bool // SFIDCOMP
	Enveloped     bool // SFIDENV
	SignedReceipt bool // SFIDSIGN

	// RestartPosition proposes where to resume an interrupted transfer, in restart
	// units (see Source). The partner may answer less; 0 sends from the start.
	RestartPosition int64

	// Source yields the octets.
	Source Source
}

// transmittedAsU reports whether the file travels as one unstructured record and
// restarts in 1 KiB blocks, whatever its format (RFC 5024 §5.3.3, secured files).
func transmittedAsU(format Format, enveloped, compressed bool, security int) bool {
	return enveloped || compressed || security != 0 || format == FormatUnstructured || format == FormatText
}

// Source opens the octets of an outgoing file.
//
// Open positions the stream at a restart point expressed in restart units: for files
// transmitted unstructured (U, T, and any file with security services or file
// compression) offset is a byte offset (always a multiple of 1024); for F and V files it
// is a number of whole records to skip. The reader yields the remaining octets in the
// local representation described at Format.
type Source interface {
	Open(ctx context.Context, offset int64) (io.ReadCloser, error)
}

// SkippedOctets may be implemented by a reader from Source.Open for V files opened at a
// record offset: it reports how many octets of record data were skipped, so that EFID
// carries the whole-file octet count after a restart.
type SkippedOctets interface {
	SkippedOctets() int64
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, offset int64) (io.ReadCloser, error)

// Open calls f.
func (f SourceFunc) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	return f(ctx, offset)
}

// FileSource reads a local file for Format (restart units as documented at Source).
type FileSource struct {
	Path          string
	Format        Format
	MaxRecordSize int
	// Unstructured forces byte offsets, for files sent with security services.
	Unstructured bool
}

// Open implements Source.
func (s FileSource) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, err
	}
	if offset == 0 {
		return f, nil
	}
	switch {
	case s.Unstructured || s.Format == FormatUnstructured || s.Format == FormatText || s.Format == 0:
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	case s.Format == FormatFixed:
		if s.MaxRecordSize <= 0 {
			f.Close()
			return nil, fmt.Errorf("%w: F file without record size", ErrInvalidFile)
		}
		if _, err := f.Seek(offset*int64(s.MaxRecordSize), io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	default: // V: skip offset lines
		br := bufio.NewReaderSize(f, 64<<10)
		var skipped int64
		for i := int64(0); i < offset; i++ {
			line, err := br.ReadSlice('\n')
			for errors.Is(err, bufio.ErrBufferFull) {
				skipped += int64(len(line))
				line, err = br.ReadSlice('\n')
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("oftp: restart after record %d of %s: %w", offset, s.Path, err)
			}
			n := len(line) - 1
			if n > 0 && line[n-1] == '\r' {
				n--
			}
			skipped += int64(n)
		}
		return &skippedReader{Reader: br, c: f, skipped: skipped}, nil
	}
}

type skippedReader struct {
	*bufio.Reader
	c       io.Closer
	skipped int64
}

func (r *skippedReader) Close() error         { return r.c.Close() }
func (r *skippedReader) SkippedOctets() int64 { return r.skipped }

// IncomingFile is the SFID of a file the partner offers.
type IncomingFile struct {
	DatasetName   string
	Stamp         Stamp
	UserData      string
	Destination   string
	Originator    string
	Format        Format
	MaxRecordSize int
	Size          int64 // KiB as announced
	OriginalSize  int64 // KiB as announced (2.0)
	Description   string
	SecurityLevel int
	CipherSuite   int
	Compressed    bool
	Enveloped     bool
	SignedReceipt bool
	// RestartPosition is the partner's proposal in restart units (0: from the start).
	RestartPosition int64
	// PartnerSSID is the SSID code of the session partner (the adjacent node).
	PartnerSSID string
	// Level is the session's protocol release.
	Level Version
}

// Unstructured reports whether the file travels as one record with 1 KiB restart blocks.
func (f *IncomingFile) Unstructured() bool {
	return transmittedAsU(f.Format, f.Enveloped, f.Compressed, f.SecurityLevel)
}

// Decision is a Receiver's answer to an offered file.
type Decision struct {
	// Sink stores the file; nil together with a nil error refuses with Refuse.
	Sink Sink
	// RestartPosition is where the transfer resumes (at most the partner's proposal), in
	// restart units; RestartOctets is the file data already held, needed for V files
	// (other formats derive it).
	RestartPosition int64
	RestartOctets   int64
	// Refuse is the SFNA to answer when Sink is nil.
	Refuse *ReasonError
}

// Receiver decides about offered files (the seed's on_accept_file) and opens their sink.
// Returning a *ReasonError (or a Decision with Refuse) answers SFNA with its code and
// retry flag; any other error answers SFNA 99.
type Receiver interface {
	Accept(ctx context.Context, f *IncomingFile) (Decision, error)
}

// ReceiverFunc adapts a function to Receiver.
type ReceiverFunc func(ctx context.Context, f *IncomingFile) (Decision, error)

// Accept calls f.
func (fn ReceiverFunc) Accept(ctx context.Context, f *IncomingFile) (Decision, error) {
	return fn(ctx, f)
}

// Sink stores one incoming file. Nothing is visible to users of the storage before
// Commit returns nil; EFPA is sent only after that. Abort discards the data.
type Sink interface {
	io.Writer
	Commit(ctx context.Context) error
	Abort(ctx context.Context) error
}

// Suspender may be implemented by a Sink that can keep partial data when the session
// breaks mid-file and restart was agreed; it is called instead of Abort.
type Suspender interface {
	Suspend(ctx context.Context) error
}

// RecordEnder may be implemented by a Sink that wants record boundaries of F/V files
// itself; otherwise the session writes CR-LF after every V record.
type RecordEnder interface {
	EndRecord() error
}

// EndResponse is an EERP (Reason 0) or a NERP (Reason > 0) for one virtual file.
type EndResponse struct {
	DatasetName string
	Stamp       Stamp
	UserData    string // EERPUSER
	// Destination is the file's originator (where the response goes); Originator the
	// file's final recipient (who answers); Creator the node that made a NERP.
	Destination string
	Originator  string
	Creator     string
	Reason      int
	Text        string
	// Hash and Signature (2.0) are carried untouched: the hash of the transmitted file
	// and the CMS SignedData over the response, produced by the security layer.
	Hash      []byte
	Signature []byte
}

// Negative reports whether this is a NERP.
func (e *EndResponse) Negative() bool { return e.Reason != 0 }

// IncomingTransform processes an incoming file after acceptance, e.g. CMS decryption and
// signature verification; it wraps the sink that stores the result.
type IncomingTransform interface {
	TransformIncoming(ctx context.Context, f *IncomingFile, next Sink) (Sink, error)
}

// OutgoingTransform processes an outgoing file before SFID, e.g. CMS signing and
// encryption; it returns the file as it will be transmitted (security fields, sizes and
// a Source of the transmitted octets).
type OutgoingTransform interface {
	TransformOutgoing(ctx context.Context, f *OutgoingFile) (*OutgoingFile, error)
}

// SecureAuthenticator performs the cryptography of OFTP 2.0 secure authentication
// (SECD/AUCH/AURP, RFC 5024 §4.2.3): challenges are CMS EnvelopedData built by the
// security layer; the session only moves the octets and compares the responses.
type SecureAuthenticator interface {
	// Challenge returns a challenge for partnerSSID (the AUCH content) and the 20 octets
	// a correct AURP must carry.
	Challenge(ctx context.Context, partnerSSID string) (challenge, expected []byte, err error)
	// Respond decrypts a challenge addressed to us and returns the 20 octets.
	Respond(ctx context.Context, partnerSSID string, challenge []byte) ([]byte, error)
}
