// Package oftp is an ODETTE FTP library: OFTP 2.0 (RFC 5024) and the 1.4, 1.3 and 1.2
// releases, as initiator (Client) and responder (Server), over TCP or TLS.
//
// # Sessions
//
// One goroutine owns a session's state machine (the states of RFC 5024 §9); a second one
// only reads exchange buffers and hands them over one at a time, so a session holds at
// most one received buffer. Outgoing data is read from a Source and cut into DATA buffers
// inside the credit window; incoming data goes to a Sink. Memory per session is bounded by
// the buffer size, not by the file size.
//
// While it sends data the session keeps reading: a partner's abort stops the data at
// once, and any other command (a CDT while credit is left, an EFPA before our EFID) is a
// protocol error, ESID 02 (§9.10, §9.11). Before buffered data goes on the wire and
// before EFID it also waits for a command whose octets have already reached the
// connection, so that an early answer is never taken for a later one; over TLS this sees
// only what has been decrypted.
//
// A Client performs what its caller asks (SendFile, ReceiveFiles, ChangeDirection,
// SendEndResponse, Logoff) when it holds the turn; while the partner holds it, the
// session stores the partner's files through Options.Receiver and answers its end
// responses without help. A Server does the same for every accepted connection and
// sends a partner's Outbox when it gets the turn; it ends the session with ESID 00 when
// it got the turn by an unsolicited CD and has nothing to send, as §3.3.4 wants.
//
// # Negotiation
//
// The lowest level of both sides wins (EnforceProtocolVersion refuses another level with
// ESID 10); an RFC 2204 peer's level "1" is read as 1.3 and answered as "1". Buffer size
// and credit are the smaller of both offers, compression and restart need both sides;
// a responder's credit above our proposal is ESID 10 (§5.3.2 SSIDCRED), a larger buffer
// is simply not used. A responder never answers a level above the proposal; an
// initiator that gets one answers ESID 10. A proposal of a future level (6 to 9) is
// answered with our highest level, as the lowest of both. After the start of the
// session the reader refuses longer buffers from their header (ESID 07): inside a file
// anything above the negotiated buffer size, elsewhere anything above that size or
// 32 KiB for commands, whichever is larger. Secure authentication (SECD/AUCH/AURP) runs when both sides ask for
// it, with the cryptography behind the SecureAuthenticator interface.
//
// # Records and restart
//
// See Format for how local files map to records. Restart positions are records for F
// and V files and 1 KiB blocks for U and T files and for any file with security services
// (RFC 5024 §5.3.3); Source.Open receives the position as a record count or as a byte
// offset. The receiver answers at most the proposal: the built-in DirectoryReceiver
// keeps the partial file of an interrupted transfer in its temporary directory and
// answers how much of it is usable.
//
// # Leniency
//
// Everything we send is checked against the RFC layouts (the codec refuses what breaks
// them). On input we accept, each time with a warning in the log: an ESID in another
// level's layout, a responder's reserved SSID octet 47 that is not a space, a last F/V
// record whose End-of-Record flag is missing when EFID counts it, T files sent as one
// record per line, a DATA buffer one octet over the negotiated size, commands longer
// than a small negotiated buffer, and an ESID followed at once by the partner's close. The Accord captures in ../shared/oftp/captures are
// replayed against both roles in the tests (package oftptest).
//
// # Errors
//
// Every refusal or abort carrying an RFC reason is a *ReasonError (SFNA, EFNA, ESID; Local
// tells who sent it), so errors.As gives the code and errors.Is compares with a template.
// Network failures wrap ErrConnectionLost; descriptions that cannot be sent wrap
// ErrInvalidFile and are found before anything is sent. Cancelling the context of a
// running operation interrupts the session with ESID 05; the inactivity timeout
// (Options.Timeout, 60 s) ends it with ESID 09, also when the partner stops reading.
//
// # Security seams
//
// SFID security fields, and hashes and signatures of EERP/NERP, are carried untouched.
// OutgoingTransform and IncomingTransform let the CMS layer sign, encrypt and compress
// files on the way, EndResponseSigner and EndResponseVerifier handle signed receipts.
package oftp
