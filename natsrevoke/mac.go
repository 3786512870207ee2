package natsrevoke

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// Record authentication (Config.SigningKey).
//
// A publisher with a SigningKey adds the header
//
//	Revoke-Mac: v1=<64 lowercase hex digits>
//
// whose digits are HMAC-SHA256(key, "natsrevoke-mac-v1" 0x00 SubjectPrefix
// 0x00 payload), payload being the 16-byte record of the message. The
// "v1=" prefix versions the MAC scheme independently of the record format;
// a consumer refuses a value of another version, a missing header or a MAC
// that no key of its (SigningKey, VerifyKeys) produces. The subject prefix
// in the MAC binds a record to its issuer's stream: a record signed for one
// stream is refused on another that shares the key. The message id and TTL
// headers are not covered: changing them can only store a record once more
// or delete it from the stream earlier, which a publish permission allows
// anyway.
const (
	macHeader  = "Revoke-Mac"
	macVersion = "v1="
	macDomain  = "natsrevoke-mac-v1"
)

// macer computes and checks record MACs for one subject prefix. Safe for
// concurrent use: each call takes a hash from a pool.
type macer struct {
	prefix string
	sign   *sync.Pool   // of hash.Hash keyed with the SigningKey
	verify []*sync.Pool // SigningKey first, then VerifyKeys
}

// newMacer returns nil when key is empty (no authentication).
func newMacer(prefix string, key []byte, more [][]byte) *macer {
	if len(key) == 0 {
		return nil
	}
	pool := func(k []byte) *sync.Pool {
		k = append([]byte(nil), k...)
		return &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}
	}
	m := &macer{prefix: prefix, sign: pool(key)}
	m.verify = append(m.verify, m.sign)
	for _, k := range more {
		m.verify = append(m.verify, pool(k))
	}
	return m
}

// sum appends the MAC of payload under the pool's key to dst.
func (m *macer) sum(p *sync.Pool, dst, payload []byte) []byte {
	h := p.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(macDomain))
	h.Write([]byte{0})
	h.Write([]byte(m.prefix))
	h.Write([]byte{0})
	h.Write(payload)
	dst = h.Sum(dst)
	p.Put(h)
	return dst
}

// header returns the Revoke-Mac header value for payload.
func (m *macer) header(payload []byte) string {
	var buf [sha256.Size]byte
	return macVersion + hex.EncodeToString(m.sum(m.sign, buf[:0], payload))
}

// valid reports whether v is a Revoke-Mac value that one of the keys
// produced for payload.
func (m *macer) valid(v string, payload []byte) bool {
	if len(v) != len(macVersion)+2*sha256.Size || v[:len(macVersion)] != macVersion {
		return false
	}
	var got, want [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(v[len(macVersion):])); err != nil {
		return false
	}
	for _, p := range m.verify {
		if hmac.Equal(got[:], m.sum(p, want[:0], payload)) {
			return true
		}
	}
	return false
}
