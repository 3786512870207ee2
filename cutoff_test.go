package revoke

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenAt signs a token of (iss, sub) issued at iat (nil: no iat) and
// expiring an hour from now.
func tokenAt(t *testing.T, alg testAlg, iss, sub string, iat *time.Time) string {
	c := &jwt.RegisteredClaims{Issuer: iss, Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(10 * time.Minute))}
	if iat != nil {
		c.IssuedAt = jwt.NewNumericDate(*iat)
	}
	return alg.sign(t, c)
}

func TestCutoffs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		time.Sleep(2500 * time.Millisecond)
		cut := time.Now().Add(-2 * time.Second) // mid-second, to exercise truncation
		before, sameSecondLater, after := cut.Add(-time.Minute), cut.Add(400*time.Millisecond), cut.Add(time.Second)
		require.Equal(t, cut.Unix(), sameSecondLater.Unix())

		cases := []struct {
			name        string
			iss, sub    string
			iat         *time.Time
			bySubject   bool // revoked by RevokeSubject("auth", "alice", cut)
			byRevokeAll bool // revoked by RevokeAll(cut)
		}{
			{"issued before", "auth", "alice", &before, true, true},
			{"issued at the cutoff", "auth", "alice", &cut, true, true},
			{"same second, after the cutoff (fail safe)", "auth", "alice", &sameSecondLater, true, true},
			{"issued in the next second", "auth", "alice", &after, false, false},
			{"other subject", "auth", "bob", &before, false, true},
			{"other issuer", "other", "alice", &before, false, true},
			{"no subject", "auth", "", &before, false, true},
		}
		for _, op := range []string{"subject", "all"} {
			e, err := New(Config{})
			require.NoError(t, err)
			v := hs.verifier(e)
			tokens := make([]string, len(cases))
			for i, c := range cases {
				tokens[i] = tokenAt(t, hs, c.iss, c.sub, c.iat)
			}
			if op == "subject" {
				require.NoError(t, e.RevokeSubject("auth", "alice", cut))
			} else {
				require.NoError(t, e.RevokeAll(cut))
			}
			for i, c := range cases {
				want := c.bySubject
				if op == "all" {
					want = c.byRevokeAll
				}
				_, err := v.Parse(tokens[i])
				if want {
					assert.ErrorIs(t, err, ErrRevoked, "%s/%s", op, c.name)
				} else {
					assert.NoError(t, err, "%s/%s", op, c.name)
				}
			}
			e.Close()
		}
	})
}

func TestCutoffErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := New(Config{Leeway: 10 * time.Second})
		require.NoError(t, err)
		defer e.Close()
		now := time.Now()
		cases := []struct {
			name string
			err  error
			want error
		}{
			{"empty subject", e.RevokeSubject("auth", "", now), ErrEmptyKey},
			{"subject cutoff in the future", e.RevokeSubject("auth", "a", now.Add(11*time.Second)), ErrFutureCutoff},
			{"global cutoff in the future", e.RevokeAll(now.Add(time.Hour)), ErrFutureCutoff},
			{"within the leeway", e.RevokeSubject("auth", "a", now.Add(10*time.Second)), nil},
			{"empty issuer is allowed", e.RevokeSubject("", "a", now), nil},
		}
		for _, c := range cases {
			if c.want == nil {
				assert.NoError(t, c.err, c.name)
			} else {
				assert.ErrorIs(t, c.err, c.want, c.name)
			}
		}
		n := e.Len()
		require.NoError(t, e.RevokeSubject("auth", "old", now.Add(-e.cfg.MaxTTL-20*time.Second)))
		assert.Equal(t, n, e.Len(), "a cutoff older than MaxTTL + Leeway covers no live token: no-op")
	})
}

// A cutoff is kept until the end of its second + MaxTTL + Leeway, and a
// later cutoff merges with an earlier one: larger cutoff, later deadline.
func TestCutoffRetentionAndMerge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		e, err := New(Config{MaxTTL: time.Hour, Leeway: 5 * time.Second})
		require.NoError(t, err)
		defer e.Close()
		v := hs.verifier(e)
		fp := compositeFingerprint(kindSubjectCutoff, "auth", "alice")

		first := time.Now()
		require.NoError(t, e.RevokeSubject("auth", "alice", first))
		r, ok := e.lookup(fp)
		require.True(t, ok)
		assert.Equal(t, uint32(first.Unix()), r.value)
		assert.Equal(t, uint32(first.Unix()+1+3600+5), r.deadline)

		time.Sleep(10 * time.Second)
		mid := time.Now().Add(-time.Second)
		tokMid := tokenAt(t, hs, "auth", "alice", &mid)
		second := time.Now()
		require.NoError(t, e.RevokeSubject("auth", "alice", second))
		require.NoError(t, e.RevokeSubject("auth", "alice", first), "an older cutoff never shortens a newer one")
		r, ok = e.lookup(fp)
		require.True(t, ok)
		assert.Equal(t, uint32(second.Unix()), r.value)
		assert.Equal(t, uint32(second.Unix()+1+3600+5), r.deadline)
		_, err = v.Parse(tokMid)
		assert.ErrorIs(t, err, ErrRevoked)

		// The longest-lived token the cutoff covers: issued in its second,
		// living MaxTTL. It stays revoked up to its exp + Leeway.
		iat := second
		longest := hs.sign(t, &jwt.RegisteredClaims{Subject: "alice", Issuer: "auth",
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(time.Hour))})
		time.Sleep(time.Hour + 4*time.Second - 10*time.Millisecond)
		_, err = v.Parse(longest)
		assert.ErrorIs(t, err, ErrRevoked, "inside exp + leeway")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		_, ok = e.lookup(fp)
		assert.False(t, ok, "forgotten after its deadline")
		_, err = v.Parse(longest)
		assert.ErrorIs(t, err, jwt.ErrTokenExpired, "and every token it covered has expired")
	})
}

func TestRevokeTokenCases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		e, err := New(Config{MaxTTL: time.Hour, Leeway: 10 * time.Second, MaxEntries: 3})
		require.NoError(t, err)
		defer e.Close()
		now := time.Now()
		// Signature verified, claims not validated: RevokeToken judges
		// expiry and lifetime itself.
		parsed := func(c jwt.Claims) *jwt.Token {
			tok, err := jwt.NewParser(jwt.WithoutClaimsValidation()).Parse(hs.sign(t, c), hs.keyFunc())
			require.NoError(t, err)
			return tok
		}
		cases := []struct {
			name         string
			tok          *jwt.Token
			want         error
			wantDeadline int64 // 0: no entry
		}{
			{"with exp", parsed(&jwt.RegisteredClaims{ID: "a", ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}),
				nil, now.Unix() + 60 + 10},
			{"expired long ago: no-op", parsed(&jwt.RegisteredClaims{ID: "b", ExpiresAt: jwt.NewNumericDate(now.Add(-time.Minute))}),
				nil, 0},
			{"expired inside the leeway: kept", parsed(&jwt.RegisteredClaims{ID: "c", ExpiresAt: jwt.NewNumericDate(now.Add(-5 * time.Second))}),
				nil, now.Unix() + 5},
			{"no exp: iat + MaxTTL", parsed(&jwt.RegisteredClaims{ID: "d", IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute))}),
				nil, now.Unix() - 60 + 3600 + 10},
			{"exp beyond MaxTTL", parsed(&jwt.RegisteredClaims{ID: "e", ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Hour))}),
				ErrTTLTooLong, 0},
			{"full", parsed(&jwt.RegisteredClaims{ID: "f", ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}),
				ErrFull, 0},
			{"nil token", nil, ErrEmptyKey, 0},
		}
		for _, c := range cases {
			err := e.RevokeToken(c.tok)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want, c.name)
			} else {
				assert.NoError(t, err, c.name)
			}
			if c.tok == nil {
				continue
			}
			var f tokenFacts
			p, err := f.readToken(c.tok.Raw, make([]byte, payloadBufSize))
			require.NoError(t, err)
			fp, ok := tokenFingerprint(kindKey, c.tok.Raw, p, &f)
			require.True(t, ok)
			r, held := e.lookup(fp)
			if c.wantDeadline == 0 {
				assert.False(t, held, c.name)
			} else if assert.True(t, held, c.name) {
				assert.Equal(t, uint32(c.wantDeadline), r.deadline, c.name)
			}
		}
	})
}
