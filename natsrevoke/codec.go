package natsrevoke

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jwtrevoke/revoke"
)

// Wire format, version 1.
//
// Each record is one message on the subject "<SubjectPrefix>.v1". The format
// version is the last subject token, so a consumer can tell a format it does
// not know from its subject alone; the payload carries no header of its own.
// The payload is exactly 16 bytes, little-endian:
//
//	offset  size  field
//	0       8     fingerprint (uint64, never 0)
//	8       4     deadline, Unix seconds (uint32, never 0; the engine's deadlines end in 2106)
//	12      4     value (uint32: 0, or the cutoff second of a cutoff record)
//
// The message id (header Nats-Msg-Id) is the payload in lowercase hex, 32
// characters, so the stream's duplicate window collapses retries of the same
// record, and the same revocation made on two replicas at once. A stream
// that allows per-message TTLs also gets a Nats-TTL header: the time left
// until the deadline plus a minute for clock skew, so that the stream holds
// live records only. Messages on another version's subject, or whose
// payload is not 16 bytes or has a zero fingerprint or deadline, are refused
// by [DecodeRecord] (counted in Stats.Rejected and logged, never applied).
const (
	// FormatVersion is the subject token of the wire format this package
	// writes and reads: records are published on "<SubjectPrefix>.v1".
	FormatVersion = "v1"
	// RecordSize is the payload size of one record.
	RecordSize = 16
)

// EncodeRecord appends the 16-byte payload of r to dst. r must be a record
// an engine produced (Deadline in (0, 2^32)); it panics otherwise, which is
// a programmer error. Safe for concurrent use; allocates only if dst is
// short.
func EncodeRecord(dst []byte, r revoke.Record) []byte {
	if r.Deadline <= 0 || r.Deadline > 1<<32-1 {
		panic(fmt.Sprintf("natsrevoke: record deadline %d out of range", r.Deadline))
	}
	dst = binary.LittleEndian.AppendUint64(dst, r.Fingerprint)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Deadline))
	return binary.LittleEndian.AppendUint32(dst, r.Value)
}

// DecodeRecord parses the payload of a message published on a subject whose
// last token is version. It fails with an error wrapping [ErrBadMessage]
// for any version but [FormatVersion], a payload that is not [RecordSize]
// bytes, or a zero fingerprint or deadline. It never panics and does not
// allocate on success. Safe for concurrent use.
func DecodeRecord(version string, payload []byte) (revoke.Record, error) {
	if version != FormatVersion {
		return revoke.Record{}, fmt.Errorf("%w: unknown format version %q", ErrBadMessage, version)
	}
	if len(payload) != RecordSize {
		return revoke.Record{}, fmt.Errorf("%w: payload of %d bytes, want %d", ErrBadMessage, len(payload), RecordSize)
	}
	r := revoke.Record{
		Fingerprint: binary.LittleEndian.Uint64(payload[0:8]),
		Deadline:    int64(binary.LittleEndian.Uint32(payload[8:12])),
		Value:       binary.LittleEndian.Uint32(payload[12:16]),
	}
	if r.Fingerprint == 0 || r.Deadline == 0 {
		return revoke.Record{}, fmt.Errorf("%w: zero fingerprint or deadline", ErrBadMessage)
	}
	return r, nil
}

// msgID is the message id of a record: its payload in hex.
func msgID(payload []byte) string { return hex.EncodeToString(payload) }

// subjectVersion returns the last token of subject.
func subjectVersion(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}
