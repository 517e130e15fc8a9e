package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ParseCRL decodes a CRL in DER or PEM ("X509 CRL") form. It does not check
// the signature; TrustStore.AddCRL does.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	if isPEM(data) {
		rest := data
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				return nil, errors.New("certs: no X509 CRL block in PEM input")
			}
			if block.Type == "X509 CRL" {
				data = block.Bytes
				break
			}
		}
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, &ValidationError{Reason: ReasonCRLInvalid, Name: "CRL", Detail: "cannot be parsed", Err: err}
	}
	return crl, nil
}

// CRLFetcher downloads CRLs from http(s) distribution points and caches them
// until their nextUpdate. Other schemes (ldap) are refused.
type CRLFetcher struct {
	// Client performs the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// MaxSize bounds a downloaded CRL; zero means 10 MiB.
	MaxSize int64
	// Clock decides cache expiry; nil means time.Now.
	Clock func() time.Time

	mu    sync.Mutex
	cache map[string]*x509.RevocationList
}

// Fetch returns the CRL at url, from the cache while it is fresh.
func (f *CRLFetcher) Fetch(ctx context.Context, url string) (*x509.RevocationList, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("certs: CRL distribution point %q: only http and https are supported", url)
	}
	now := time.Now()
	if f.Clock != nil {
		now = f.Clock()
	}
	f.mu.Lock()
	if c, ok := f.cache[url]; ok && !crlStale(c, now) {
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()

	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	max := f.MaxSize
	if max <= 0 {
		max = 10 << 20
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("certs: CRL %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("certs: CRL download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("certs: CRL %s: HTTP %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("certs: CRL %s: %w", url, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("certs: CRL %s: larger than %d bytes", url, max)
	}
	crl, err := ParseCRL(data)
	if err != nil {
		return nil, fmt.Errorf("certs: CRL %s: %w", url, err)
	}
	f.mu.Lock()
	if f.cache == nil {
		f.cache = make(map[string]*x509.RevocationList)
	}
	f.cache[url] = crl
	f.mu.Unlock()
	return crl, nil
}
