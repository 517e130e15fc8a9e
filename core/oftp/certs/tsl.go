package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// MaxTSLSize bounds a Trust Service Status List document. Odette's list is a
// few hundred kilobytes.
const MaxTSLSize = 8 << 20

// maxTSLCertificates bounds how many certificates one list may carry.
const maxTSLCertificates = 10000

// TSL is a Trust Service Status List (ETSI TS 102 231 / TS 119 612), the
// format in which Odette publishes the certification authorities accepted
// for OFTP2.
//
// ParseTSL does not verify the list's XML signature (XMLDSig with exclusive
// canonicalisation): obtain the list over a channel you trust.
type TSL struct {
	SchemeName string
	Operator   string
	Type       string
	Sequence   int
	IssuedAt   time.Time
	NextUpdate time.Time
	Services   []TSLService
	// Problems lists entries that were skipped (undecodable certificates).
	Problems []string
}

// TSLService is one trust service of a provider, with the certificates of
// its service digital identity.
type TSLService struct {
	Provider     string
	Name         string
	Type         string // ServiceTypeIdentifier URI
	Status       string // ServiceStatus URI
	StatusSince  time.Time
	Certificates []*x509.Certificate
}

// inactiveStatuses are the ServiceStatus values (last URI segment, TS 102 231
// and TS 119 612) under which a service's certificates must not be trusted.
var inactiveStatuses = map[string]bool{
	"withdrawn":                 true,
	"supervisionceased":         true,
	"supervisionrevoked":        true,
	"accreditationceased":       true,
	"accreditationrevoked":      true,
	"deprecatedatnationallevel": true,
	"deprecatedbynationallaw":   true,
}

// Active reports whether the service's status allows trusting it. Unknown
// status values count as active so that a list using Odette-specific status
// URIs still imports; the status is shown to the user by Describe-like tools.
func (s TSLService) Active() bool {
	st := strings.TrimRight(s.Status, "/")
	if i := strings.LastIndex(st, "/"); i >= 0 {
		st = st[i+1:]
	}
	return !inactiveStatuses[strings.ToLower(st)]
}

// Stale reports whether the list is past its NextUpdate at time at.
func (t *TSL) Stale(at time.Time) bool {
	return !t.NextUpdate.IsZero() && at.After(t.NextUpdate)
}

// Certificates returns the certificates of all active services, without duplicates.
func (t *TSL) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, s := range t.Services {
		if !s.Active() {
			continue
		}
		addNew(&out, s.Certificates)
	}
	return out
}

type tslName struct {
	Lang  string `xml:"lang,attr"`
	Value string `xml:",chardata"`
}

type tslDocument struct {
	XMLName xml.Name `xml:"TrustServiceStatusList"`
	Scheme  struct {
		Sequence   string    `xml:"TSLSequenceNumber"`
		Type       string    `xml:"TSLType"`
		Operator   []tslName `xml:"SchemeOperatorName>Name"`
		SchemeName []tslName `xml:"SchemeName>Name"`
		Issued     string    `xml:"ListIssueDateTime"`
		Next       string    `xml:"NextUpdate>dateTime"`
	} `xml:"SchemeInformation"`
	Providers []struct {
		Names    []tslName `xml:"TSPInformation>TSPName>Name"`
		Services []struct {
			Info struct {
				Type   string    `xml:"ServiceTypeIdentifier"`
				Names  []tslName `xml:"ServiceName>Name"`
				Status string    `xml:"ServiceStatus"`
				Since  string    `xml:"StatusStartingTime"`
				// ServiceHistory is a sibling of ServiceInformation, so
				// superseded identities are not collected.
				Certs []string `xml:"ServiceDigitalIdentity>DigitalId>X509Certificate"`
			} `xml:"ServiceInformation"`
		} `xml:"TSPServices>TSPService"`
	} `xml:"TrustServiceProviderList>TrustServiceProvider"`
}

// pickName prefers the English name, else the first one.
func pickName(names []tslName) string {
	for _, n := range names {
		if strings.EqualFold(n.Lang, "en") {
			return strings.TrimSpace(n.Value)
		}
	}
	if len(names) > 0 {
		return strings.TrimSpace(names[0].Value)
	}
	return ""
}

// ErrTSL marks a document that is not a usable Trust Service Status List.
var ErrTSL = errors.New("certs: invalid TSL")

// ParseTSL reads a Trust Service Status List XML document (at most
// MaxTSLSize bytes) and decodes the X509Certificate elements of every
// service's digital identity. Elements are matched by local name, so both the
// TS 102 231 v2 and TS 119 612 namespaces are accepted.
func ParseTSL(r io.Reader) (*TSL, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxTSLSize+1))
	if err != nil {
		return nil, fmt.Errorf("certs: TSL: %w", err)
	}
	if len(data) > MaxTSLSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTSL, MaxTSLSize)
	}
	var doc tslDocument
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTSL, err)
	}
	t := &TSL{
		SchemeName: pickName(doc.Scheme.SchemeName),
		Operator:   pickName(doc.Scheme.Operator),
		Type:       strings.TrimSpace(doc.Scheme.Type),
	}
	if s := strings.TrimSpace(doc.Scheme.Sequence); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%w: TSLSequenceNumber %q", ErrTSL, s)
		}
		t.Sequence = n
	}
	if t.IssuedAt, err = parseTSLTime(doc.Scheme.Issued); err != nil {
		return nil, fmt.Errorf("%w: ListIssueDateTime: %v", ErrTSL, err)
	}
	if t.NextUpdate, err = parseTSLTime(doc.Scheme.Next); err != nil {
		return nil, fmt.Errorf("%w: NextUpdate: %v", ErrTSL, err)
	}
	total := 0
	for _, p := range doc.Providers {
		provider := pickName(p.Names)
		for _, s := range p.Services {
			svc := TSLService{
				Provider: provider,
				Name:     pickName(s.Info.Names),
				Type:     strings.TrimSpace(s.Info.Type),
				Status:   strings.TrimSpace(s.Info.Status),
			}
			if svc.StatusSince, err = parseTSLTime(s.Info.Since); err != nil {
				t.Problems = append(t.Problems, fmt.Sprintf("%s / %s: StatusStartingTime: %v", provider, svc.Name, err))
			}
			for i, b64 := range s.Info.Certs {
				total++
				if total > maxTSLCertificates {
					return nil, fmt.Errorf("%w: more than %d certificates", ErrTSL, maxTSLCertificates)
				}
				der, err := base64.StdEncoding.DecodeString(stripSpace(b64))
				if err != nil {
					t.Problems = append(t.Problems, fmt.Sprintf("%s / %s: certificate %d: bad base64: %v", provider, svc.Name, i+1, err))
					continue
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					t.Problems = append(t.Problems, fmt.Sprintf("%s / %s: certificate %d: %v", provider, svc.Name, i+1, err))
					continue
				}
				svc.Certificates = append(svc.Certificates, cert)
			}
			t.Services = append(t.Services, svc)
		}
	}
	return t, nil
}

// LoadTSL reads a TSL file; see ParseTSL.
func LoadTSL(path string) (*TSL, error) {
	return loadFile(path, func(data []byte) (*TSL, error) { return ParseTSL(bytes.NewReader(data)) })
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
}

func parseTSLTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised date-time %q", s)
}

// TSLImport summarises what ImportTSL added.
type TSLImport struct {
	Added    int // certificates new to the store
	Services int // active services imported
	Skipped  int // inactive services skipped
}

// ImportTSL adds the certificates of every active service as trust anchors:
// a service digital identity listed by the scheme operator is trusted as it
// is, whether it is a self-signed root or an issuing CA whose chain the list
// also carries.
func (s *TrustStore) ImportTSL(t *TSL) TSLImport {
	var res TSLImport
	for _, svc := range t.Services {
		if !svc.Active() {
			res.Skipped++
			continue
		}
		res.Services++
		s.mu.Lock()
		res.Added += addNew(&s.roots, svc.Certificates)
		s.mu.Unlock()
	}
	if t.Stale(s.Now()) {
		s.opts.Logger.Warn("imported TSL is past its NextUpdate", "operator", t.Operator, "sequence", t.Sequence, "next_update", t.NextUpdate)
	}
	return res
}
