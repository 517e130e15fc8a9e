package wire

// SFNA answer reasons (SFNAREAS, RFC 5024 §5.3.5). EFNA uses the same numbers for the
// same causes, so the EFNA constants below alias these where they overlap.
const (
	SFNAInvalidFilename          = 1
	SFNAInvalidDestination       = 2
	SFNAInvalidOrigin            = 3
	SFNAFormatNotSupported       = 4
	SFNARecordLengthNotSupported = 5
	SFNAFileTooBig               = 6
	SFNAInvalidRecordCount       = 10
	SFNAInvalidByteCount         = 11
	SFNAAccessMethodFailure      = 12
	SFNADuplicateFile            = 13
	SFNADirectionRefused         = 14 // 1.4
	SFNACipherNotSupported       = 15 // 2.0
	SFNAEncryptedNotAllowed      = 16 // 2.0
	SFNAUnencryptedNotAllowed    = 17 // 2.0
	SFNACompressionNotAllowed    = 18 // 2.0
	SFNASignedNotAllowed         = 19 // 2.0
	SFNAUnsignedNotAllowed       = 20 // 2.0
	SFNAUnspecified              = 99
	EFNAInvalidFilename          = SFNAInvalidFilename
	EFNAInvalidDestination       = SFNAInvalidDestination
	EFNAInvalidOrigin            = SFNAInvalidOrigin
	EFNAFormatNotSupported       = SFNAFormatNotSupported
	EFNARecordLengthNotSupported = SFNARecordLengthNotSupported
	EFNAFileTooBig               = SFNAFileTooBig
	EFNAInvalidRecordCount       = SFNAInvalidRecordCount
	EFNAInvalidByteCount         = SFNAInvalidByteCount
	EFNAAccessMethodFailure      = SFNAAccessMethodFailure
	EFNADuplicateFile            = SFNADuplicateFile
	EFNADirectionRefused         = SFNADirectionRefused
	EFNACipherNotSupported       = SFNACipherNotSupported
	EFNAEncryptedNotAllowed      = SFNAEncryptedNotAllowed
	EFNAUnencryptedNotAllowed    = SFNAUnencryptedNotAllowed
	EFNACompressionNotAllowed    = SFNACompressionNotAllowed
	EFNASignedNotAllowed         = SFNASignedNotAllowed
	EFNAUnsignedNotAllowed       = SFNAUnsignedNotAllowed
	EFNAInvalidSignature         = 21 // 2.0
	EFNADecryptionFailure        = 22 // 2.0
	EFNADecompressionFailure     = 23 // 2.0
	EFNAUnspecified              = SFNAUnspecified
)

// ESID reasons (ESIDREAS, RFC 5024 §5.3.11).
const (
	ESIDNormal            = 0
	ESIDUnknownCommand    = 1
	ESIDProtocolViolation = 2
	ESIDUnknownUser       = 3
	ESIDInvalidPassword   = 4
	ESIDEmergencyClose    = 5
	ESIDInvalidData       = 6
	ESIDBufferSizeError   = 7
	ESIDNoResources       = 8
	ESIDTimeout           = 9
	ESIDIncompatibleMode  = 10
	ESIDInvalidChallenge  = 11 // 2.0
	ESIDAuthIncompatible  = 12 // 2.0
	ESIDUnspecified       = 99
)

// NERP reasons (NERPREAS, RFC 5024 §5.3.14); 1.4 and later.
const (
	NERPUnknownUser             = 3
	NERPInvalidPassword         = 4
	NERPSessionUnspecified      = 9 // ESID 99 received
	NERPInvalidFilename         = 11
	NERPInvalidDestination      = 12
	NERPInvalidOrigin           = 13
	NERPFormatNotSupported      = 14
	NERPRecordLengthUnsupported = 15
	NERPFileTooBig              = 16
	NERPInvalidRecordCount      = 20
	NERPInvalidByteCount        = 21
	NERPAccessMethodFailure     = 22
	NERPDuplicateFile           = 23
	NERPDirectionRefused        = 24
	NERPCipherNotSupported      = 25
	NERPEncryptedNotAllowed     = 26
	NERPUnencryptedNotAllowed   = 27
	NERPCompressionNotAllowed   = 28
	NERPSignedNotAllowed        = 29
	NERPUnsignedNotAllowed      = 30
	NERPInvalidSignature        = 31
	NERPDecompressionFailed     = 32
	NERPDecryptionFailed        = 33
	NERPProcessingFailed        = 34
	NERPNotDelivered            = 35
	NERPNotAcknowledged         = 36
	NERPStoppedByOperator       = 50
	NERPSizeIncompatible        = 90
	NERPUnspecified             = 99
)

type reasonInfo struct {
	since Level
	text  string
}

var sfnaReasons = map[int]reasonInfo{
	1:  {Level13, "Invalid filename"},
	2:  {Level13, "Invalid destination"},
	3:  {Level13, "Invalid origin"},
	4:  {Level13, "Storage record format not supported"},
	5:  {Level13, "Maximum record length not supported"},
	6:  {Level13, "File size is too big"},
	10: {Level13, "Invalid record count"},
	11: {Level13, "Invalid byte count"},
	12: {Level13, "Access method failure"},
	13: {Level13, "Duplicate file"},
	14: {Level14, "File direction refused"},
	15: {Level20, "Cipher suite not supported"},
	16: {Level20, "Encrypted file not allowed"},
	17: {Level20, "Unencrypted file not allowed"},
	18: {Level20, "Compression not allowed"},
	19: {Level20, "Signed file not allowed"},
	20: {Level20, "Unsigned file not allowed"},
	99: {Level13, "Unspecified reason"},
}

var efnaOnly = map[int]reasonInfo{
	21: {Level20, "Invalid file signature"},
	22: {Level20, "File decryption failure"},
	23: {Level20, "File decompression failure"},
}

var esidReasons = map[int]reasonInfo{
	0:  {Level13, "Normal session termination"},
	1:  {Level13, "Command not recognised"},
	2:  {Level13, "Protocol violation"},
	3:  {Level13, "User code not known"},
	4:  {Level13, "Invalid password"},
	5:  {Level13, "Local site emergency close down"},
	6:  {Level13, "Command contained invalid data"},
	7:  {Level13, "Exchange Buffer size error"},
	8:  {Level13, "Resources not available"},
	9:  {Level13, "Time out"},
	10: {Level13, "Mode or capabilities incompatible"},
	11: {Level20, "Invalid challenge response"},
	12: {Level20, "Secure authentication requirements incompatible"},
	99: {Level13, "Unspecified Abort code"},
}

// NERP exists from 1.4 on; which subset a 1.4 peer knows is not documented, so every
// RFC 5024 code is allowed at 1.4.
var nerpReasons = map[int]reasonInfo{
	3:  {Level14, "ESID received with reason code 03 (user code not known)"},
	4:  {Level14, "ESID received with reason code 04 (invalid password)"},
	9:  {Level14, "ESID received with reason code 99 (unspecified reason)"},
	11: {Level14, "SFNA(RETRY=N) received with reason code 01 (invalid file name)"},
	12: {Level14, "SFNA(RETRY=N) received with reason code 02 (invalid destination)"},
	13: {Level14, "SFNA(RETRY=N) received with reason code 03 (invalid origin)"},
	14: {Level14, "SFNA(RETRY=N) received with reason code 04 (invalid storage record format)"},
	15: {Level14, "SFNA(RETRY=N) received with reason code 05 (maximum record length not supported)"},
	16: {Level14, "SFNA(RETRY=N) received with reason code 06 (file size too big)"},
	20: {Level14, "SFNA(RETRY=N) received with reason code 10 (invalid record count)"},
	21: {Level14, "SFNA(RETRY=N) received with reason code 11 (invalid byte count)"},
	22: {Level14, "SFNA(RETRY=N) received with reason code 12 (access method failure)"},
	23: {Level14, "SFNA(RETRY=N) received with reason code 13 (duplicate file)"},
	24: {Level14, "SFNA(RETRY=N) received with reason code 14 (file direction refused)"},
	25: {Level14, "SFNA(RETRY=N) received with reason code 15 (cipher suite not supported)"},
	26: {Level14, "SFNA(RETRY=N) received with reason code 16 (encrypted file not allowed)"},
	27: {Level14, "SFNA(RETRY=N) received with reason code 17 (unencrypted file not allowed)"},
	28: {Level14, "SFNA(RETRY=N) received with reason code 18 (compression not allowed)"},
	29: {Level14, "SFNA(RETRY=N) received with reason code 19 (signed file not allowed)"},
	30: {Level14, "SFNA(RETRY=N) received with reason code 20 (unsigned file not allowed)"},
	31: {Level14, "File signature not valid"},
	32: {Level14, "File decompression failed"},
	33: {Level14, "File decryption failed"},
	34: {Level14, "File processing failed"},
	35: {Level14, "Not delivered to recipient"},
	36: {Level14, "Not acknowledged by recipient"},
	50: {Level14, "Transmission stopped by the operator"},
	90: {Level14, "File size incompatible with recipient's protocol version"},
	99: {Level14, "Unspecified reason"},
}

func reasonLookup(cmd byte, code int) (reasonInfo, bool) {
	var r reasonInfo
	var ok bool
	switch cmd {
	case CodeSFNA:
		r, ok = sfnaReasons[code]
	case CodeEFNA:
		if r, ok = sfnaReasons[code]; !ok {
			r, ok = efnaOnly[code]
		}
	case CodeESID:
		r, ok = esidReasons[code]
	case CodeNERP:
		r, ok = nerpReasons[code]
	}
	return r, ok
}

// ReasonText returns the RFC text of a reason code of SFNA, EFNA, ESID or NERP (cmd is the
// command letter), or "" for a code the RFC does not define.
func ReasonText(cmd byte, code int) string {
	r, _ := reasonLookup(cmd, code)
	return r.text
}

// ReasonValid reports whether code is a reason the RFC defines for cmd at level l.
// Encode sends only these; Decode accepts any two digits, so that a peer's newer codes
// reach the session.
func ReasonValid(cmd byte, code int, l Level) bool {
	r, ok := reasonLookup(cmd, code)
	if !ok {
		return false
	}
	n := NormalizeLevel(l)
	return n != 0 && n >= r.since
}

// NERPForSFNA maps an SFNA (retry N) or EFNA reason to the NERP reason that reports it
// upstream (RFC 5024 §5.3.14: SFNA 01-06 and 10-20 add 10). EFNA 21, 22 and 23 have no
// SFNA twin and map to NERP 31, 33 and 32, the NERP codes for the same failures. Unknown
// codes give NERPUnspecified.
func NERPForSFNA(code int) int {
	switch {
	case code >= 1 && code <= 6, code >= 10 && code <= 20:
		return code + 10
	case code == EFNAInvalidSignature:
		return NERPInvalidSignature
	case code == EFNADecryptionFailure:
		return NERPDecryptionFailed
	case code == EFNADecompressionFailure:
		return NERPDecompressionFailed
	}
	return NERPUnspecified
}

// NERPForESID maps the reason of an ESID that ended a relay session to a NERP reason
// (§5.3.14: 03 and 04 keep their number, 99 becomes 09). Other ESID reasons have no
// NERP code and give NERPUnspecified.
func NERPForESID(code int) int {
	switch code {
	case ESIDUnknownUser:
		return NERPUnknownUser
	case ESIDInvalidPassword:
		return NERPInvalidPassword
	case ESIDUnspecified:
		return NERPSessionUnspecified
	}
	return NERPUnspecified
}
