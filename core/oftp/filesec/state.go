package filesec

import (
	"bytes"
	"crypto/x509"
	"sort"
	"strings"
	"sync"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// filePurposes are the purposes a partner certificate can serve in OFTP sessions.
var filePurposes = []certs.Purpose{
	certs.PurposeFileEncryption, certs.PurposeFileSigning,
	certs.PurposeReceiptSigning, certs.PurposeSessionAuthentication,
}

// certEntry is one partner certificate and what it is used for.
type certEntry struct {
	cert     *x509.Certificate
	purposes map[certs.Purpose]bool
	// replaces are retired once this certificate has been confirmed by use (a
	// signature or challenge that verified with it), during a REPLACE roll-over.
	replaces []*certEntry
}

// partnerState is a Partner with its current certificates; guarded by Security.mu.
type partnerState struct {
	cfg     *Partner
	entries []*certEntry
}

func newPartnerState(p *Partner) *partnerState {
	ps := &partnerState{cfg: p}
	specific := map[certs.Purpose][]*x509.Certificate{
		certs.PurposeFileEncryption:        p.EncryptionCertificates,
		certs.PurposeFileSigning:           p.SigningCertificates,
		certs.PurposeReceiptSigning:        p.ReceiptCertificates,
		certs.PurposeSessionAuthentication: p.AuthCertificates,
	}
	general := map[certs.Purpose]bool{}
	for _, pu := range filePurposes {
		if len(specific[pu]) == 0 {
			general[pu] = true
		}
	}
	if len(general) > 0 {
		for _, c := range p.Certificates {
			ps.add(c, general)
		}
	}
	for _, pu := range filePurposes {
		for _, c := range specific[pu] {
			ps.add(c, map[certs.Purpose]bool{pu: true})
		}
	}
	return ps
}

// add records c for purposes, merging with an entry for the same certificate.
func (p *partnerState) add(c *x509.Certificate, purposes map[certs.Purpose]bool) *certEntry {
	for _, e := range p.entries {
		if bytes.Equal(e.cert.Raw, c.Raw) {
			for k := range purposes {
				e.purposes[k] = true
			}
			return e
		}
	}
	e := &certEntry{cert: c, purposes: map[certs.Purpose]bool{}}
	for k := range purposes {
		e.purposes[k] = true
	}
	p.entries = append(p.entries, e)
	return e
}

func (p *partnerState) list(purpose certs.Purpose) []*x509.Certificate {
	var out []*x509.Certificate
	for _, e := range p.entries {
		if e.purposes[purpose] {
			out = append(out, e.cert)
		}
	}
	return out
}

// confirm retires the certificates a confirmed replacement stands for. It reports
// the retired certificates.
func (p *partnerState) confirm(c *x509.Certificate) []*x509.Certificate {
	var e *certEntry
	for _, x := range p.entries {
		if bytes.Equal(x.cert.Raw, c.Raw) {
			e = x
			break
		}
	}
	if e == nil || len(e.replaces) == 0 {
		return nil
	}
	var retired []*x509.Certificate
	keep := p.entries[:0]
	for _, x := range p.entries {
		gone := false
		for _, r := range e.replaces {
			if x == r {
				gone = true
				break
			}
		}
		if gone {
			retired = append(retired, x.cert)
		} else {
			keep = append(keep, x)
		}
	}
	p.entries = keep
	e.replaces = nil
	return retired
}

func sortNewestFirst(cs []*x509.Certificate) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].NotBefore.After(cs[j].NotBefore) })
}

// fileKey is the identity of a virtual file (RFC 5024 §1.5.2) as seen from its
// originator: dataset name, stamp, originator and destination.
type fileKey struct {
	dsn, date, time, orig, dest string
}

func keyOf(dsn, date, tm, orig, dest string) fileKey {
	t := func(s string) string { return strings.TrimRight(s, " ") }
	return fileKey{t(dsn), t(date), t(tm), t(orig), t(dest)}
}

// fileRecord is what we remember about a file with SFIDSIGN=Y.
type fileRecord struct {
	suite cms.Suite
	hash  []byte // suite hash of the transmitted octets
	sha1  []byte // SHA-1 of them, for partners with SHA1Receipts
	// signedReceipt is the SFIDSIGN of the file.
	signedReceipt bool
	partner       *partnerState
}

// memo is a bounded map of file records; the oldest entries go first.
type memo struct {
	mu    sync.Mutex
	m     map[fileKey]*fileRecord
	order []fileKey
	max   int
}

func newMemo(max int) *memo { return &memo{m: map[fileKey]*fileRecord{}, max: max} }

func (m *memo) put(k fileKey, r *fileRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; !ok {
		m.order = append(m.order, k)
	}
	m.m[k] = r
	for len(m.order) > m.max {
		delete(m.m, m.order[0])
		m.order = m.order[1:]
	}
}

func (m *memo) get(k fileKey) *fileRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k]
}
