// Package filesec adds the OFTP 2.0 security services to sessions of package oftp:
// file signing, compression and encryption (RFC 5024 §6, CMS), signed EERP/NERP
// (§5.3.13-5.3.14), secure authentication (§4.2.3-4.2.4) and the exchange of
// certificates between partners in ODETTE_CERTIFICATE_* virtual files.
//
// A Security value holds our keys, the partners' certificates and policies, and a
// trust store. Install plugs it into oftp.Options as OutgoingTransform,
// IncomingTransform, Authenticator, EndResponseSigner and EndResponseVerifier.
//
// # Streaming
//
// Outgoing files are protected on the fly: the session reads the transmitted octets
// from a pipe fed by a goroutine that reads the source and writes SignedData,
// CompressedData and EnvelopedData layers, the last two each on a goroutine of its
// own (cms.NewFileWriter), so that compression, the slowest step, does not also carry
// hashing and encryption; memory stays at a few buffers whatever the file size. The price is that the transmitted size is not known before SFID:
// SFIDFSIZ carries an upper estimate (it is an allocation hint; EFID carries the
// exact count), and a secured file cannot resume at a restart point because a new
// content key and IV give different octets: a transfer that breaks is sent again
// from the start. With Config.SpoolDir the protected form is written to a spool file
// first instead (disk space and one pass over the file before SFID), which gives the
// exact size and restartable sends; the spool is found again by the file's identity
// (keep the Stamp when sending again) and removed once its end response verified.
//
// Receiving does not resume secured files: the verifying pipeline cannot continue
// from a partial file, so a broken transfer is aborted and received again from the
// start.
//
// Incoming files are verified on the fly as well: the sink returned by
// TransformIncoming feeds the received octets through a pipe to a goroutine that
// decompresses, verifies and strips V record prefixes into the next sink while
// another decrypts ahead of it (cms.NewFileReader).
// Nothing is committed before the whole structure verified; any failure aborts the
// next sink and answers EFNA 21/22/23.
//
// # Receipts
//
// The hash of every file sent with SFIDSIGN=Y is remembered (in memory, bounded) under
// its identity (dataset name, date, time, originator, destination) so that the end
// response can be checked when it comes, in this session or a later one while the
// process runs. Likewise the hash of a received file is kept until its end response
// is signed.
package filesec
