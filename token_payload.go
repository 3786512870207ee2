package revoke

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// The signed-payload reader. The revocation checks need five facts of a
// token: its issuer, jti and subject (for its keys) and its iat and exp (for
// cutoffs, expiry and retention). They are read from the token's signed
// payload itself — the bytes between the two dots, base64url-decoded — and
// never from the claims value the caller parsed into: two claims types may
// read the same payload differently (a struct field of its own named jti, an
// embedded jwt.RegisteredClaims shadowed by an outer field, a type that hides
// iat), and a key that depended on the claims type would let a token revoked
// through one type pass through another.
//
// encoding/json matches struct fields case-insensitively (Unicode simple
// folding: "JTI", "Jti" and "\u017fub" all fill a field tagged jti or sub)
// and lets the last duplicate win, while MapClaims sees only the exact
// names. A payload in which a registered time or identity claim (iss, sub,
// jti, iat, exp, nbf) appears twice, or under another case, would give two
// readers two answers, so it is refused as malformed. The exact-case members
// are then the only ones any reader can see.
//
// The reader scans the top-level members of the object once, left to right,
// without allocating when the payload fits payloadBufSize (the decoded bytes
// live in the caller's stack buffer and the facts slice into them).

// payloadBufSize is the stack buffer for a decoded payload; larger payloads
// are decoded into the heap.
const payloadBufSize = 1024

// tokenFacts are the claims the revocation layer needs, read from the signed
// payload. iss, sub and jti are spans of the decoded payload (offsets, not
// slices, so that the payload buffer can stay on the caller's stack).
type tokenFacts struct {
	iss, sub, jti span
	// expMs and iatMs are exp and iat in Unix milliseconds, rounded down.
	expMs, iatMs   int64
	hasExp, hasIat bool
}

// span is the range [lo, hi) of a string in the decoded payload.
type span struct{ lo, hi int }

func (s span) of(p []byte) []byte { return p[s.lo:s.hi] }
func (s span) empty() bool        { return s.hi == s.lo }

// claim bits, one per registered name the reader watches.
const (
	claimIss = 1 << iota
	claimSub
	claimJTI
	claimIat
	claimExp
	claimNbf
)

var watchedClaims = [...]struct {
	name, folded string
	bit          int
}{
	{"iss", "ISS", claimIss}, {"sub", "SUB", claimSub}, {"jti", "JTI", claimJTI},
	{"iat", "IAT", claimIat}, {"exp", "EXP", claimExp}, {"nbf", "NBF", claimNbf},
}

// maxClaimSeconds bounds the numeric dates accepted (about year 33658), so
// that conversions to milliseconds and time.Time cannot overflow.
const maxClaimSeconds = 1e12

var (
	errPayloadSegments = fmt.Errorf("revoke: token has no payload segment: %w", jwt.ErrTokenMalformed)
	errPayloadBase64   = fmt.Errorf("revoke: payload is not base64url: %w", jwt.ErrTokenMalformed)
	errPayloadJSON     = fmt.Errorf("revoke: payload is not a JSON object: %w", jwt.ErrTokenMalformed)
	errPayloadDepth    = fmt.Errorf("revoke: payload nests arrays or objects more than %d deep: %w", maxPayloadDepth, jwt.ErrTokenMalformed)
	errPayloadUTF8     = fmt.Errorf("revoke: a registered claim is not valid UTF-8: %w", jwt.ErrTokenMalformed)
	errClaimString     = fmt.Errorf("revoke: iss, sub and jti must be strings: %w: %w", jwt.ErrTokenMalformed, jwt.ErrInvalidType)
	errClaimNumber     = fmt.Errorf("revoke: iat, exp and nbf must be numbers within ±1e12 seconds: %w: %w", jwt.ErrTokenMalformed, jwt.ErrInvalidType)
)

// payloadSegment returns the payload segment of a compact JWS.
func payloadSegment(raw string) (string, bool) {
	_, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return "", false
	}
	seg, _, ok := strings.Cut(rest, ".")
	return seg, ok
}

// headerScanMin is the length of a header segment from which
// checkHeaderDepth decodes it: shorter ones cannot nest deep enough to
// matter (and typical headers, alg, kid and typ, are well under it).
const headerScanMin = 256

var errHeaderDepth = fmt.Errorf("revoke: header nests arrays or objects more than %d deep: %w", maxPayloadDepth, jwt.ErrTokenMalformed)

// checkHeaderDepth refuses a header that nests arrays or objects deeper
// than maxPayloadDepth, before golang-jwt decodes it (it decodes the header
// first, signed or not). Other defects are left to golang-jwt. buf is
// scratch space; a longer header is decoded into the heap.
func checkHeaderDepth(raw string, buf []byte) error {
	seg, _, _ := strings.Cut(raw, ".")
	if len(seg) < headerScanMin {
		return nil
	}
	seg = strings.TrimRight(seg, "=\r\n")
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := base64.RawURLEncoding.Decode(buf[:n], []byte(seg))
	if err != nil {
		return nil
	}
	if i, ok := skipValue(buf[:n], skipSpace(buf[:n], 0)); !ok && i < 0 {
		return errHeaderDepth
	}
	return nil
}

// readToken decodes the payload of raw into buf (or the heap when it does
// not fit), reads the facts from it and returns it. The error wraps
// [jwt.ErrTokenMalformed].
func (f *tokenFacts) readToken(raw string, buf []byte) ([]byte, error) {
	seg, ok := payloadSegment(raw)
	if !ok {
		return nil, errPayloadSegments
	}
	// golang-jwt decodes with RawURLEncoding, or URLEncoding with padding
	// when WithPaddingAllowed: both skip \r and \n, and give the same bytes
	// as RawURLEncoding of the segment without its padding (and the line
	// breaks around it, which padded decoding allows after the padding).
	seg = strings.TrimRight(seg, "=\r\n")
	n := base64.RawURLEncoding.DecodedLen(len(seg))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := base64.RawURLEncoding.Decode(buf[:n], []byte(seg))
	if err != nil {
		return nil, errPayloadBase64
	}
	p := buf[:n]
	return p, f.readPayload(p)
}

// readPayload reads the facts from a decoded payload, which it may modify
// (escaped strings are unescaped in place).
func (f *tokenFacts) readPayload(p []byte) error {
	*f = tokenFacts{}
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return errPayloadJSON
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return f.finish(p, i+1)
	}
	seen := 0
	for {
		if i >= len(p) || p[i] != '"' {
			return errPayloadJSON
		}
		ks, ke, esc, next, ok := scanString(p, i)
		if !ok {
			return errPayloadJSON
		}
		bit, exact := classifyKey(p[ks:ke], esc)
		i = skipSpace(p, next)
		if i >= len(p) || p[i] != ':' {
			return errPayloadJSON
		}
		i = skipSpace(p, i+1)
		if bit != 0 {
			if !exact || seen&bit != 0 {
				return fmt.Errorf("revoke: claim %q appears twice or in another case: %w", watchedName(bit), jwt.ErrTokenMalformed)
			}
			seen |= bit
			var err error
			if i, err = f.readMember(p, i, bit); err != nil {
				return err
			}
		} else if i, ok = skipValue(p, i); !ok {
			if i < 0 {
				return errPayloadDepth
			}
			return errPayloadJSON
		}
		i = skipSpace(p, i)
		if i >= len(p) {
			return errPayloadJSON
		}
		switch p[i] {
		case ',':
			i = skipSpace(p, i+1)
		case '}':
			return f.finish(p, i+1)
		default:
			return errPayloadJSON
		}
	}
}

// finish accepts only white space after the object.
func (f *tokenFacts) finish(p []byte, i int) error {
	if skipSpace(p, i) != len(p) {
		return errPayloadJSON
	}
	return nil
}

func watchedName(bit int) string {
	for _, c := range watchedClaims {
		if c.bit == bit {
			return c.name
		}
	}
	return "?"
}

// readMember reads the value at p[i:] of the watched claim bit and returns
// the index after it.
func (f *tokenFacts) readMember(p []byte, i, bit int) (int, error) {
	switch bit {
	case claimIss, claimSub, claimJTI:
		if i >= len(p) || p[i] != '"' {
			return 0, errClaimString
		}
		s, e, esc, next, ok := scanString(p, i)
		if !ok {
			return 0, errPayloadJSON
		}
		if esc {
			v, ok := unescapeInPlace(p[s:e])
			if !ok {
				return 0, errPayloadJSON
			}
			e = s + len(v)
			if !utf8.Valid(p[s:e]) {
				// encoding/json would replace the bad bytes with U+FFFD:
				// refuse rather than guess which spelling a caller hashes.
				return 0, errPayloadUTF8
			}
		}
		switch bit {
		case claimIss:
			f.iss = span{s, e}
		case claimSub:
			f.sub = span{s, e}
		default:
			f.jti = span{s, e}
		}
		return next, nil
	default:
		ms, rem, next, ok := scanMillis(p, i)
		if !ok {
			return 0, errClaimNumber
		}
		switch bit {
		case claimIat:
			f.iatMs, f.hasIat = ms, true // rounded down: more cutoffs cover it
		case claimExp:
			if rem {
				// golang-jwt converts a fraction through float64, which can
				// land a little above its decimal value: round up past it,
				// so that the token is retained at least as long as any
				// parser accepts it.
				ms++
			}
			f.expMs, f.hasExp = ms, true
		}
		return next, nil
	}
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && p[i] <= ' ' && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// strSpecial marks the bytes scanString must look at inside a string: the
// quote, the backslash, control characters (invalid) and non-ASCII bytes.
var strSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// scanString scans the JSON string starting at p[i] == '"'. It returns the
// bounds of its contents, whether they hold an escape or a non-ASCII byte,
// and the index after the closing quote.
func scanString(p []byte, i int) (start, end int, escaped bool, next int, ok bool) {
	start = i + 1
	for j := start; j < len(p); j++ {
		c := p[j]
		if !strSpecial[c] {
			continue
		}
		switch {
		case c == '"':
			return start, j, escaped, j + 1, true
		case c == '\\':
			escaped = true
			j++ // the escaped byte; \uXXXX digits are plain bytes
		case c < 0x20:
			return 0, 0, false, 0, false
		default:
			escaped = true // non-ASCII: the slow paths check it
		}
	}
	return 0, 0, false, 0, false
}

// classifyKey returns the watched claim a member name stands for under
// encoding/json's case-insensitive matching (0 for none), and whether it is
// that claim's exact name.
func classifyKey(k []byte, escaped bool) (bit int, exact bool) {
	if !escaped {
		if len(k) == 3 {
			switch uint32(k[0]) | uint32(k[1])<<8 | uint32(k[2])<<16 {
			case 'i' | 's'<<8 | 's'<<16:
				return claimIss, true
			case 's' | 'u'<<8 | 'b'<<16:
				return claimSub, true
			case 'j' | 't'<<8 | 'i'<<16:
				return claimJTI, true
			case 'i' | 'a'<<8 | 't'<<16:
				return claimIat, true
			case 'e' | 'x'<<8 | 'p'<<16:
				return claimExp, true
			case 'n' | 'b'<<8 | 'f'<<16:
				return claimNbf, true
			}
		}
		// ASCII folds to ASCII one to one: an ASCII name of another length
		// can fold to no watched name.
		if len(k) != 3 && isASCII(k) {
			return 0, false
		}
	}
	return classifyFolded(k, escaped)
}

func isASCII(k []byte) bool {
	for _, c := range k {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// classifyFolded is classifyKey's slow path: names with escapes, non-ASCII
// runes, or three ASCII letters in another case.
func classifyFolded(k []byte, escaped bool) (bit int, exact bool) {
	name := k
	if escaped {
		// Unescape a copy: a name folding to a watched one is at most 3
		// runes, each at most a 6-byte \u escape (the runes that fold to
		// ASCII letters are in the BMP).
		if len(k) > 3*6 {
			return 0, false
		}
		var tmp [3 * 6]byte
		u, ok := unescapeInPlace(append(tmp[:0], k...))
		if !ok {
			return 0, false
		}
		name = u
	}
	// Fold as encoding/json does (fold.go: ASCII upper case, other runes to
	// the smallest rune of their simple-folding orbit).
	var buf [3]byte
	n := 0
	for i := 0; i < len(name); {
		r, size := rune(name[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(name[i:])
			r = foldRune(r)
		} else if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		i += size
		if r >= utf8.RuneSelf || n == len(buf) {
			return 0, false // folds to something no watched name folds to
		}
		buf[n] = byte(r)
		n++
	}
	if n != 3 {
		return 0, false
	}
	for _, c := range watchedClaims {
		if string(buf[:]) == c.folded {
			return c.bit, string(name) == c.name
		}
	}
	return 0, false
}

// foldRune is encoding/json's: the smallest rune of r's simple-folding
// orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// unescapeInPlace decodes the JSON escapes of a string's contents in place,
// as encoding/json does (a lone or invalid surrogate becomes U+FFFD), and
// returns the shorter result.
func unescapeInPlace(s []byte) ([]byte, bool) {
	w := 0
	for r := 0; r < len(s); {
		c := s[r]
		if c != '\\' {
			s[w] = c
			w++
			r++
			continue
		}
		if r+1 >= len(s) {
			return nil, false
		}
		switch e := s[r+1]; e {
		case '"', '\\', '/':
			s[w] = e
		case 'b':
			s[w] = '\b'
		case 'f':
			s[w] = '\f'
		case 'n':
			s[w] = '\n'
		case 'r':
			s[w] = '\r'
		case 't':
			s[w] = '\t'
		case 'u':
			rr, ok := hex4(s, r+2)
			if !ok {
				return nil, false
			}
			r += 6
			if utf16.IsSurrogate(rr) {
				if rr2, ok := hex4(s, r+2); ok && r+1 < len(s) && s[r] == '\\' && s[r+1] == 'u' {
					if dec := utf16.DecodeRune(rr, rr2); dec != unicode.ReplacementChar {
						w += utf8.EncodeRune(s[w:], dec)
						r += 6
						continue
					}
				}
				rr = unicode.ReplacementChar
			}
			w += utf8.EncodeRune(s[w:], rr)
			continue
		default:
			return nil, false
		}
		w++
		r += 2
	}
	return s[:w], true
}

// hex4 reads the four hex digits of a \u escape at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanMillis reads the JSON number at p[i:] as Unix seconds and returns it
// in milliseconds, rounded down, and whether it has a non-zero fraction of a
// second. The common form (digits, optionally a fraction) is converted
// exactly; others go through strconv.ParseFloat.
func scanMillis(p []byte, i int) (ms int64, rem bool, next int, ok bool) {
	// The common form: 1 to 13 digits, no sign, an optional fraction, no
	// exponent.
	j := i
	var sec int64
	for j < len(p) && j-i < 14 {
		c := p[j] - '0'
		if c > 9 {
			break
		}
		sec = sec*10 + int64(c)
		j++
	}
	if n := j - i; n > 0 && n < 14 && (p[i] != '0' || n == 1) && sec <= maxClaimSeconds {
		var frac int64
		if j < len(p) && p[j] == '.' {
			j++
			start := j
			for j < len(p) && p[j]-'0' <= 9 {
				if k := j - start; k < 3 {
					frac = frac*10 + int64(p[j]-'0')
				}
				rem = rem || p[j] != '0'
				j++
			}
			if j == start {
				return 0, false, 0, false
			}
			for k := min(j-start, 3); k < 3; k++ {
				frac *= 10
			}
		}
		if j == len(p) || (p[j] != 'e' && p[j] != 'E') {
			return sec*1000 + frac, rem, j, true
		}
	}
	return scanMillisFloat(p, i)
}

// scanMillisFloat is scanMillis for the other forms (a sign, an exponent,
// many digits), through strconv.ParseFloat.
func scanMillisFloat(p []byte, i int) (ms int64, rem bool, next int, ok bool) {
	j := i
	if j < len(p) && p[j] == '-' {
		j++
	}
	digits := j
	for j < len(p) && '0' <= p[j] && p[j] <= '9' {
		j++
	}
	if j == digits || (p[digits] == '0' && j-digits > 1) {
		return 0, false, 0, false
	}
	if j < len(p) && p[j] == '.' {
		j++
		fracStart := j
		for j < len(p) && '0' <= p[j] && p[j] <= '9' {
			j++
		}
		if j == fracStart {
			return 0, false, 0, false
		}
	}
	if j < len(p) && (p[j] == 'e' || p[j] == 'E') {
		j++
		if j < len(p) && (p[j] == '+' || p[j] == '-') {
			j++
		}
		expDigits := j
		for j < len(p) && '0' <= p[j] && p[j] <= '9' {
			j++
		}
		if j == expDigits {
			return 0, false, 0, false
		}
	}
	x, err := strconv.ParseFloat(string(p[i:j]), 64)
	if err != nil || math.IsNaN(x) || math.Abs(x) > maxClaimSeconds {
		return 0, false, 0, false
	}
	return int64(math.Floor(x * 1000)), x != math.Trunc(x), j, true
}

// maxPayloadDepth bounds the nesting of arrays and objects in a member's
// value. The Verifier reads the payload before golang-jwt decodes it, and
// golang-jwt decodes the claims before it checks the signature: without a
// bound, an unsigned 8 KiB payload of nested arrays cost golang-jwt about 80
// times a typical parse (and ~6000 allocations) on anyone's request. Claims
// of real issuers nest a few levels (Keycloak's resource_access: 3).
const maxPayloadDepth = 32

// skipValue skips the JSON value at p[i:] and returns the index after it,
// or false; the index is -1 when the value nests deeper than
// maxPayloadDepth. It only has to find the value's end, safely on any
// input: encoding/json validates the payload of a token that is accepted.
func skipValue(p []byte, i int) (int, bool) {
	depth := 0
	for i < len(p) {
		switch c := p[i]; c {
		case '"':
			_, _, _, next, ok := scanString(p, i)
			if !ok {
				return 0, false
			}
			i = next
		case '{', '[':
			if depth == maxPayloadDepth {
				return -1, false
			}
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return 0, false
			}
			depth--
			i++
		case ',', ':':
			if depth == 0 {
				return 0, false
			}
			i++
		default:
			if isSpace(c) {
				if depth == 0 {
					return i, true
				}
				i++
				continue
			}
			// A number or a literal: up to the next delimiter.
			start := i
			for i < len(p) && !isSpace(p[i]) && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ':' && p[i] != '"' && p[i] != '{' && p[i] != '[' {
				i++
			}
			if i == start {
				return 0, false
			}
		}
		if depth == 0 {
			return i, true
		}
	}
	return 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
