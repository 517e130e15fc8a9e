// Package sdktest is the conformance suite for connector plugins. Every Sink,
// Source and Keys implementation runs it from its own tests, in process and
// through a real plugin process:
//
//	func TestConformance(t *testing.T) {
//		sdktest.RunSink(t, sdktest.SinkConfig{Sink: mySink, Fetch: fetchFromStorage})
//	}
//
// Launch and BuildPlugin start a plugin executable the way the connector does
// (go-plugin, gRPC, mutual TLS) so the same suite checks the wire path.
package sdktest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
)

// DataReader returns a reader of n deterministic pseudo-random bytes derived
// from seed, for streaming large test files without holding them in memory.
func DataReader(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(seedBytes(seed)), n)
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	copy(s[8:], "oftp2-connector-sdktest-data")
	return s
}

// Digest returns the hex SHA-256 of DataReader(seed, n).
func Digest(seed uint64, n int64) string {
	h := sha256.New()
	if _, err := io.Copy(h, DataReader(seed, n)); err != nil {
		panic(err) // reading generated data cannot fail
	}
	return hex.EncodeToString(h.Sum(nil))
}
