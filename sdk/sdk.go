package sdk

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
	"time"
)

// Sink stores files received from partners.
type Sink interface {
	// Open starts a new object described by meta. ctx bounds the whole
	// upload: when it is cancelled, the writer fails and nothing is stored.
	Open(ctx context.Context, meta FileMeta) (SinkWriter, error)
}

// SinkWriter receives one file's bytes. Exactly one of Commit or Abort ends
// it; a writer is used by one goroutine at a time.
type SinkWriter interface {
	io.Writer
	// Commit is the durability point: once it returns nil, the object is
	// stored under meta.ObjectName and survives a crash. Commit is
	// create-only: if an object of that name exists, it returns an error
	// matching ErrExists and leaves the existing object untouched.
	Commit(ctx context.Context) (ObjectRef, error)
	// Abort discards everything written; no partial object stays visible.
	Abort(ctx context.Context) error
}

// Source offers files to send to partners.
type Source interface {
	// List returns the files ready to be sent.
	List(ctx context.Context) ([]OutgoingFile, error)
	// Open reads the file id from byte offset on (a restart position).
	Open(ctx context.Context, id string, offset int64) (io.ReadCloser, error)
	// Ack records that the partner confirmed delivery (EERP). The file is not
	// offered again.
	Ack(ctx context.Context, id string, receipt Receipt) error
	// Nack records a negative end response (NERP) or a permanent refusal.
	// The file is not offered again.
	Nack(ctx context.Context, id string, reason NackReason) error
}

// Watcher is an optional Source feature: it pushes files as they appear, so
// the connector need not poll List.
type Watcher interface {
	// Watch sends each new file to fn until ctx ends or fn returns an error.
	Watch(ctx context.Context, fn func(OutgoingFile) error) error
}

// Keys performs private key operations for signing and decryption. The
// connector computes digests and unwraps content keys through it; private keys
// never leave the plugin.
type Keys interface {
	// Certificate returns the certificate chain of keyID, leaf first.
	Certificate(ctx context.Context, keyID string) ([]*x509.Certificate, error)
	// Sign signs a digest computed with hash. pss selects RSASSA-PSS over
	// PKCS #1 v1.5 for RSA keys; it is ignored for other key types.
	Sign(ctx context.Context, keyID string, digest []byte, hash crypto.Hash, pss bool) ([]byte, error)
	// Decrypt unwraps a content-encryption key: RSAES-OAEP with hash when oaep
	// is set, PKCS #1 v1.5 otherwise.
	Decrypt(ctx context.Context, keyID string, wrappedKey []byte, oaep bool, hash crypto.Hash) ([]byte, error)
}

// Format is the OFTP virtual file format (SFIDFMT).
type Format string

// The OFTP file formats.
const (
	FormatFixed        Format = "F"
	FormatVariable     Format = "V"
	FormatUnstructured Format = "U"
	FormatText         Format = "T"
)

// FileMeta is the OFTP description of a virtual file (the SFID fields) plus
// the object name the connector's pipeline chose for it.
type FileMeta struct {
	// Partner is the configured name of the trading partner.
	Partner string
	// DatasetName is the virtual file dataset name (SFIDDSN).
	DatasetName string
	// DateTime is the virtual file's date and time stamp (SFIDDATE/SFIDTIME)
	// and Ticker its counter (the cccc of SFIDTIME, 0 before OFTP 2.0).
	DateTime time.Time
	Ticker   uint16
	// UserData is SFIDUSER.
	UserData string
	// Originator and Destination are the ODETTE identification codes of the
	// file's originator (SFIDORIG) and final recipient (SFIDDEST).
	Originator  string
	Destination string
	// Format and RecordSize describe the original file (SFIDFMT, SFIDLRECL).
	Format     Format
	RecordSize int
	// Size is the size in bytes as transmitted, OriginalSize before signing,
	// compression and encryption; -1 or 0 when unknown.
	Size         int64
	OriginalSize int64
	// Description is SFIDDESC (OFTP 2.0).
	Description string
	// Security: SFIDSEC, SFIDCOMP, SFIDENV, SFIDCIPH and SFIDSIGN.
	Encrypted              bool
	Signed                 bool
	Compressed             bool
	Enveloped              bool
	CipherSuite            int
	SignedReceiptRequested bool
	// ObjectName is where the sink stores the file, chosen by the pipeline.
	// It is a relative, slash-separated name.
	ObjectName string
	// Attributes carries pipeline-defined extra metadata.
	Attributes map[string]string
}

// ObjectRef identifies a committed object.
type ObjectRef struct {
	// Name is the object name as stored.
	Name string
	// Location is a sink-specific address (a path, a URL).
	Location string
	// Size is the number of bytes stored and SHA256Hex their digest.
	Size      int64
	SHA256Hex string
	// CommittedAt is when the object became durable.
	CommittedAt time.Time
}

// OutgoingFile is a file a Source offers for sending.
type OutgoingFile struct {
	// ID is the source's handle for Open, Ack and Nack.
	ID   string
	Meta FileMeta
}

// Receipt describes a positive end-to-end response (EERP).
type Receipt struct {
	ReceivedAt time.Time
	// Reason is free text for the log and the source's records.
	Reason string
	// SignedEERP holds the partner's signed receipt (CMS), when one was sent.
	SignedEERP []byte
}

// NackReason describes a negative end-to-end response (NERP) or a refusal.
type NackReason struct {
	// Code is the NERP/SFNA/EFNA reason code, 0 when not from the partner.
	Code int
	// Text explains the reason for the user.
	Text string
	// Permanent tells whether sending again can succeed.
	Permanent bool
}

// Plugin is what Serve runs: a name, a version, a configuration schema and
// the capabilities the plugin has. Nil capabilities are not offered.
type Plugin struct {
	// Name is a namespaced identifier such as "sink.localfs".
	Name    string
	Version string
	Schema  ConfigSchema
	// Configure receives the user's configuration as JSON, decoded by the
	// connector against Schema. Return a *ConfigError to point at an attribute.
	Configure func(ctx context.Context, configJSON []byte) error
	Sink      Sink
	Source    Source
	Keys      Keys
}

// Info is what a plugin says about itself.
type Info struct {
	Name         string
	Version      string
	Capabilities Capabilities
	Schema       ConfigSchema
}

// Capabilities lists what a plugin offers.
type Capabilities struct {
	Sink   bool
	Source bool
	// Watch is set when the Source also implements Watcher.
	Watch bool
	Keys  bool
}

// Info describes p as the connector sees it.
func (p Plugin) Info() Info {
	_, watch := p.Source.(Watcher)
	return Info{
		Name:    p.Name,
		Version: p.Version,
		Capabilities: Capabilities{
			Sink: p.Sink != nil, Source: p.Source != nil, Watch: p.Source != nil && watch, Keys: p.Keys != nil,
		},
		Schema: p.Schema,
	}
}

// ConfigSchema declares the attributes of a plugin's configuration block.
type ConfigSchema struct {
	Attributes []Attribute
}

// Attribute types a ConfigSchema may use.
const (
	TypeString     = "string"
	TypeNumber     = "number"
	TypeBool       = "bool"
	TypeListString = "list(string)"
	TypeMapString  = "map(string)"
)

// Attribute is one configuration attribute.
type Attribute struct {
	Name string
	// Type is one of TypeString, TypeNumber, TypeBool, TypeListString, TypeMapString.
	Type        string
	Required    bool
	Sensitive   bool
	Description string
	// Default is used when the attribute is absent; nil for none. It must
	// encode to JSON.
	Default any
}
