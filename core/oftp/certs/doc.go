// Package certs loads, validates and explains the X.509 certificates that
// OFTP 2.0 security needs (RFC 5024 §1.7, §10, §11): TLS session
// certificates, the keys used for secure authentication (AUCH/AURP), file
// encryption and signing, and signed end-to-end responses.
//
// A TrustStore holds trusted roots, intermediates and directly trusted
// partner certificates, checks revocation against CRLs, and decides per
// OFTP purpose whether a certificate may be used. Roots can be imported from
// the Odette Trust Service Status List (ParseTSL). Describe produces the text
// a user reads when debugging a partner setup.
//
// Private keys are only ever handed out as crypto.Signer (and, for RSA,
// crypto.Decrypter), so callers work the same way with keys held in a key
// plugin or an HSM.
package certs
