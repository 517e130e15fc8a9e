// Package cms implements the Cryptographic Message Syntax as OFTP 2.0 uses it
// (RFC 5024 §6, RFC 5652, RFC 3274): SignedData, EnvelopedData and CompressedData as
// streaming writers and readers whose memory use does not depend on the file size, the
// OFTP cipher suites, signed EERP/NERP receipts and the secure authentication challenge.
//
// Private keys are only ever used through crypto.Signer and crypto.Decrypter, so they
// may live in a KMS or HSM: this package computes every digest itself.
//
// Readers stream plaintext before the integrity of the whole file is known. A reader
// returns io.EOF only after every layer has been checked to its last octet; any
// failure is returned from Read instead of io.EOF. Consumers must not commit data
// before they have seen io.EOF.
//
// NewFileWriter and NewFileReader run the layers of one file concurrently, handing
// data on through a few pooled buffers; Protection.Sequential and
// Verification.Sequential keep them on the caller's goroutine.
package cms
