package cms

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/asn1"
	"fmt"

	// Register the hashes the suites and verifiers use.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Cipher is a CMS content-encryption algorithm (always CBC with PKCS #7 padding).
type Cipher uint8

// Content-encryption algorithms. OFTP suites use DES3 and AES256; AES128 and AES192
// are accepted and produced for partners that agreed on them bilaterally.
const (
	DES3 Cipher = iota + 1 // des-ede3-cbc, three distinct 64-bit keys
	AES128
	AES192
	AES256
)

// KeySize returns the key length in octets.
func (c Cipher) KeySize() int {
	switch c {
	case DES3, AES192:
		return 24
	case AES128:
		return 16
	case AES256:
		return 32
	}
	return 0
}

// BlockSize returns the cipher block size in octets.
func (c Cipher) BlockSize() int {
	if c == DES3 {
		return des.BlockSize
	}
	return aes.BlockSize
}

// OID returns the algorithm identifier's object identifier.
func (c Cipher) OID() asn1.ObjectIdentifier {
	switch c {
	case DES3:
		return oidDESEDE3CBC
	case AES128:
		return oidAES128CBC
	case AES192:
		return oidAES192CBC
	case AES256:
		return oidAES256CBC
	}
	return nil
}

func (c Cipher) String() string {
	switch c {
	case DES3:
		return "3DES-EDE-CBC"
	case AES128:
		return "AES-128-CBC"
	case AES192:
		return "AES-192-CBC"
	case AES256:
		return "AES-256-CBC"
	}
	return fmt.Sprintf("Cipher(%d)", uint8(c))
}

func (c Cipher) newBlock(key []byte) (cipher.Block, error) {
	if len(key) != c.KeySize() {
		return nil, fmt.Errorf("cms: %v key of %d octets", c, len(key))
	}
	if c == DES3 {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

func cipherByOID(oid asn1.ObjectIdentifier) (Cipher, bool) {
	for _, c := range []Cipher{DES3, AES128, AES192, AES256} {
		if oid.Equal(c.OID()) {
			return c, true
		}
	}
	return 0, false
}

// Suite is an OFTP cipher suite, the SFIDCIPH value: the content cipher for files and
// challenges, RSA PKCS #1 v1.5 for key transport and signatures, and a hash for
// signatures and the EERP/NERP file hash.
type Suite uint8

// Cipher suites. 01 and 02 are RFC 5024 §10.2 (mandatory); 03 to 06 are the optional
// suites from the list ODETTE maintains (RFC 5024 §10.3). The ODETTE list itself is not
// in our reference material; 03-06 agree with PROTOCOL.md §8.4 and with an independent
// implementation's code list (jskrobak/Oftp4Net, Protocol/CodeLists.cs: TripleDesSha256
// 03, Aes256Sha256 04, TripleDesSha512 05, Aes256Sha512 06).
const (
	SuiteNone         Suite = 0
	Suite3DESSHA1     Suite = 1
	SuiteAES256SHA1   Suite = 2
	Suite3DESSHA256   Suite = 3
	SuiteAES256SHA256 Suite = 4
	Suite3DESSHA512   Suite = 5
	SuiteAES256SHA512 Suite = 6
	maxSuite                = SuiteAES256SHA512
)

// ParseSuite decodes an SFIDCIPH field ("00" to "06").
func ParseSuite(code string) (Suite, error) {
	if len(code) != 2 || code[0] < '0' || code[0] > '9' || code[1] < '0' || code[1] > '9' {
		return 0, fmt.Errorf("cms: cipher suite %q is not two digits", code)
	}
	s := Suite((code[0]-'0')*10 + code[1] - '0')
	if s > maxSuite {
		return 0, &UnsupportedSuiteError{Code: code}
	}
	return s, nil
}

// UnsupportedSuiteError reports an SFIDCIPH value we do not implement; sessions answer
// it with SFNA 15 (cipher suite not supported).
type UnsupportedSuiteError struct{ Code string }

func (e *UnsupportedSuiteError) Error() string {
	return fmt.Sprintf("cms: cipher suite %s not supported", e.Code)
}

// Code returns the two-digit SFIDCIPH value.
func (s Suite) Code() string { return fmt.Sprintf("%02d", uint8(s)) }

// Valid reports whether s is a security suite we implement (not SuiteNone).
func (s Suite) Valid() bool { return s >= Suite3DESSHA1 && s <= maxSuite }

// Hash returns the suite's hash for signatures and receipt file hashes.
func (s Suite) Hash() crypto.Hash {
	switch s {
	case Suite3DESSHA1, SuiteAES256SHA1:
		return crypto.SHA1
	case Suite3DESSHA256, SuiteAES256SHA256:
		return crypto.SHA256
	case Suite3DESSHA512, SuiteAES256SHA512:
		return crypto.SHA512
	}
	return 0
}

// Cipher returns the suite's content-encryption algorithm.
func (s Suite) Cipher() Cipher {
	switch s {
	case Suite3DESSHA1, Suite3DESSHA256, Suite3DESSHA512:
		return DES3
	case SuiteAES256SHA1, SuiteAES256SHA256, SuiteAES256SHA512:
		return AES256
	}
	return 0
}

// CipherOID returns the object identifier of the suite's content-encryption algorithm.
func (s Suite) CipherOID() asn1.ObjectIdentifier { return s.Cipher().OID() }

// HashOID returns the object identifier of the suite's hash.
func (s Suite) HashOID() asn1.ObjectIdentifier { oid, _ := hashOID(s.Hash()); return oid }

func (s Suite) String() string {
	if !s.Valid() {
		return "suite " + s.Code()
	}
	return fmt.Sprintf("suite %s (%v, RSA PKCS#1 v1.5, %v)", s.Code(), s.Cipher(), s.Hash())
}

func hashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	switch h {
	case crypto.SHA1:
		return oidSHA1, true
	case crypto.SHA256:
		return oidSHA256, true
	case crypto.SHA384:
		return oidSHA384, true
	case crypto.SHA512:
		return oidSHA512, true
	}
	return nil, false
}

func hashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if o, _ := hashOID(h); oid.Equal(o) {
			return h, true
		}
	}
	return 0, false
}
