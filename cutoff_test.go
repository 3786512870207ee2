package revoke

import (
	"errors"
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

// withMillisecondPrecision makes golang-jwt write fractional NumericDates,
// as an issuer following the README's recipe does.
func withMillisecondPrecision(t *testing.T) {
	old := jwt.TimePrecision
	jwt.TimePrecision = time.Millisecond
	t.Cleanup(func() { jwt.TimePrecision = old })
}

// tokenAtMs signs a token of (auth, sub) issued at iat, written with the
// current jwt.TimePrecision.
func tokenAtMs(t *testing.T, alg testAlg, sub string, iat time.Time) string {
	return alg.sign(t, &jwt.RegisteredClaims{Issuer: "auth", Subject: sub,
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(time.Now().Add(10 * time.Minute))})
}

// Finding (issue 10): cutoffs held to the second, so "sign out my other
// devices, keep me signed in here" refused the new token too when it was
// issued in the cutoff's second. Cutoffs now hold to the millisecond; a
// whole-second iat in the cutoff's second stays refused (fail safe).
func TestCutoffMilliseconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withMillisecondPrecision(t)
		hs := algByName(t, "HS256")
		time.Sleep(5*time.Second + 437*time.Millisecond)
		cut := time.Now()
		sec := time.Unix(cut.Unix(), 0)
		cases := []struct {
			name    string
			iat     time.Time
			refused bool
		}{
			{"a millisecond before", cut.Add(-time.Millisecond), true},
			{"at the cutoff", cut, true},
			{"a millisecond after", cut.Add(time.Millisecond), false},
			{"later in the same second", cut.Add(500 * time.Millisecond), false},
			{"the previous second", sec.Add(-time.Second), true},
			{"the next second", sec.Add(time.Second), false},
		}
		for _, op := range []string{"subject", "all"} {
			e := newTestEngine(t, Config{})
			v := hs.verifier(e)
			if op == "subject" {
				require.NoError(t, e.RevokeSubject("auth", "alice", cut))
			} else {
				require.NoError(t, e.RevokeAll(cut))
			}
			time.Sleep(time.Second) // every iat above lies in the past
			for _, c := range cases {
				_, err := v.Parse(tokenAtMs(t, hs, "alice", c.iat))
				if c.refused {
					assert.ErrorIs(t, err, ErrRevoked, "%s/%s", op, c.name)
				} else {
					assert.NoError(t, err, "%s/%s", op, c.name)
				}
			}
			// A whole-second iat in the cutoff's second: refused.
			jwt.TimePrecision = time.Second
			_, err := v.Parse(tokenAtMs(t, hs, "alice", sec))
			assert.ErrorIs(t, err, ErrRevoked, "%s/whole-second iat in the cutoff's second", op)
			jwt.TimePrecision = time.Millisecond
		}
	})
}

// The README's recipe: t := time.Now(); RevokeSubject(iss, sub, t); issue the
// new token with an iat after t's millisecond. The new token is accepted at
// once, the old ones (same second included) are refused.
func TestSignOutOtherDevicesKeepThisOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withMillisecondPrecision(t)
		hs := algByName(t, "HS256")
		e := newTestEngine(t, Config{})
		v := hs.verifier(e)
		time.Sleep(200 * time.Millisecond)
		phone := tokenAtMs(t, hs, "alice", time.Now())
		time.Sleep(100 * time.Millisecond)
		laptop := tokenAtMs(t, hs, "alice", time.Now())
		time.Sleep(time.Millisecond)

		now := time.Now()
		require.NoError(t, e.RevokeSubject("auth", "alice", now))
		time.Sleep(time.Millisecond)
		fresh := tokenAtMs(t, hs, "alice", now.Add(time.Millisecond))
		require.Equal(t, now.Unix(), time.Now().Unix(), "all in one second")

		_, err := v.Parse(fresh)
		assert.NoError(t, err, "the device that asked stays signed in")
		for name, old := range map[string]string{"phone": phone, "laptop": laptop} {
			_, err := v.Parse(old)
			assert.ErrorIs(t, err, ErrSubjectRevoked, name)
		}
	})
}

// A seconds record without its millis record (an engine or file from before
// millisecond cutoffs, a replica that got the seconds record first) refuses
// the whole second: fail safe.
func TestCutoffSecondsRecordAloneRefusesTheWholeSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withMillisecondPrecision(t)
		hs := algByName(t, "HS256")
		time.Sleep(3*time.Second + 100*time.Millisecond)
		cut := time.Now()
		e := newTestEngine(t, Config{})
		v := hs.verifier(e)
		deadline := cut.Unix() + 1 + int64(e.cfg.MaxTTL/time.Second)
		require.NoError(t, e.Apply(Record{Fingerprint: compositeFingerprint(kindSubjectCutoff, "auth", "alice"),
			Deadline: deadline, Value: uint32(cut.Unix())}))
		time.Sleep(time.Second)
		_, err := v.Parse(tokenAtMs(t, hs, "alice", cut.Add(800*time.Millisecond)))
		assert.ErrorIs(t, err, ErrSubjectRevoked, "the whole second is refused")
		_, err = v.Parse(tokenAtMs(t, hs, "alice", time.Unix(cut.Unix()+1, 0)))
		assert.NoError(t, err, "the next second is not")

		// The millis record arriving later narrows it to the millisecond.
		ms := cut.UnixMilli()
		require.NoError(t, e.Apply(Record{Fingerprint: cutoffMillisFingerprint(kindSubjectCutoffMillis, "auth", "alice", ms>>millisEpochBits),
			Deadline: deadline, Value: uint32(ms&(1<<millisEpochBits-1)) + 1}))
		_, err = v.Parse(tokenAtMs(t, hs, "alice", cut.Add(800*time.Millisecond)))
		assert.NoError(t, err)
		_, err = v.Parse(tokenAtMs(t, hs, "alice", cut))
		assert.ErrorIs(t, err, ErrSubjectRevoked)
	})
}

// Cutoffs in one second that straddles two millisecond epochs, and merges
// of successive cutoffs, read back exactly.
func TestCutoffMillisEpochBoundaryAndMerge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withMillisecondPrecision(t)
		hs := algByName(t, "HS256")
		now := time.Now().UnixMilli()
		boundary := now >> millisEpochBits << millisEpochBits // the last epoch start, < 12.5 days ago
		require.NotZero(t, boundary%1000, "the boundary must fall inside a second for this test")
		at := func(ms int64) time.Time { return time.UnixMilli(ms) }
		for _, c := range []struct {
			name     string
			cutoffs  []int64 // applied in order
			accepted []int64
			refused  []int64
		}{
			{"cutoff just after the boundary", []int64{boundary + 5},
				[]int64{boundary + 6, boundary + 500}, []int64{boundary - 1, boundary, boundary + 5}},
			{"cutoff just before the boundary", []int64{boundary - 3},
				[]int64{boundary - 2, boundary + 1}, []int64{boundary - 4, boundary - 3}},
			{"later cutoff wins, earlier one never lowers it", []int64{boundary - 100, boundary + 50, boundary - 50},
				[]int64{boundary + 51}, []int64{boundary - 100, boundary, boundary + 50}},
		} {
			e := newTestEngine(t, Config{})
			v := hs.verifier(e)
			for _, ms := range c.cutoffs {
				require.NoError(t, e.RevokeSubject("auth", "alice", at(ms)))
			}
			for _, ms := range c.accepted {
				_, err := v.Parse(tokenAtMs(t, hs, "alice", at(ms)))
				assert.NoError(t, err, "%s: iat %d ms after the boundary", c.name, ms-boundary)
			}
			for _, ms := range c.refused {
				_, err := v.Parse(tokenAtMs(t, hs, "alice", at(ms)))
				assert.ErrorIs(t, err, ErrSubjectRevoked, "%s: iat %d ms after the boundary", c.name, ms-boundary)
			}
		}
	})
}

// Finding (issue 10): a token without iat was refused while a cutoff was
// held and accepted again once it was forgotten. iat is now required by
// default; with IssuedAtOptional, an iat-less token counts as issued at
// exp - MaxTTL, so the verdict of a cutoff never changes while the token
// lives.
func TestIssuedAtOptionalIsSound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		const maxTTL = time.Hour
		e := newTestEngine(t, Config{MaxTTL: maxTTL, Leeway: 5 * time.Second})
		strict := hs.verifier(e)
		lenient := hs.verifierWith(VerifierConfig{Engine: e, IssuedAtOptional: true})
		time.Sleep(time.Second)
		cut := time.Now()
		// iat-less tokens expiring from 1 minute to 2 hours after the cutoff:
		// those beyond MaxTTL are refused as too long-lived at first.
		var tokens []string
		for exp := time.Minute; exp <= 2*maxTTL; exp += 7 * time.Minute {
			tokens = append(tokens, hs.sign(t, &jwt.RegisteredClaims{Issuer: "auth", Subject: "alice",
				ExpiresAt: jwt.NewNumericDate(cut.Add(exp))}))
		}
		_, err := strict.Parse(tokens[0])
		assert.ErrorIs(t, err, jwt.ErrTokenRequiredClaimMissing, "iat is required by default")
		require.NoError(t, e.RevokeSubject("auth", "alice", cut))

		revoked := make([]bool, len(tokens))
		for step := 0; step < 200; step++ {
			for i, tok := range tokens {
				_, err := lenient.Parse(tok)
				switch {
				case errors.Is(err, ErrRevoked):
					revoked[i] = true
				case err == nil:
					assert.False(t, revoked[i], "token %d accepted at +%v after being refused as revoked", i, time.Since(cut))
				}
			}
			time.Sleep(time.Minute)
		}
		assert.True(t, revoked[0], "an iat-less token alive at the cutoff is refused")
	})
}

// The fast path skips the cutoff probes until a cutoff was ever stored; a
// cutoff that arrives by Apply (replication) or by recovery from Dir must
// switch them on.
func TestCutoffsHeldByEveryPath(t *testing.T) {
	hs := algByName(t, "HS256")
	token := hs.sign(t, claims("auth", "alice", "j", time.Hour))
	time.Sleep(1100 * time.Millisecond) // the token's iat second is over
	src := newTestEngine(t, Config{})
	var recs []Record
	src.SetObserver(func(r Record) error { recs = append(recs, r); return nil })
	require.NoError(t, src.RevokeSubject("auth", "alice", time.Now()))
	require.Len(t, recs, 2, "a millis record and a seconds record")

	t.Run("Apply", func(t *testing.T) {
		e := newTestEngine(t, Config{})
		v := hs.verifier(e)
		_, err := v.Parse(token)
		require.NoError(t, err)
		for _, r := range recs {
			require.NoError(t, e.Apply(r))
		}
		_, err = v.Parse(token)
		assert.ErrorIs(t, err, ErrSubjectRevoked)
	})
	t.Run("recovery", func(t *testing.T) {
		dir := t.TempDir()
		e, err := New(Config{Dir: dir})
		require.NoError(t, err)
		for _, r := range recs {
			require.NoError(t, e.Apply(r))
		}
		require.NoError(t, e.Close())
		e = newTestEngine(t, Config{Dir: dir})
		_, err = hs.verifier(e).Parse(token)
		assert.ErrorIs(t, err, ErrSubjectRevoked)
	})
}
