package revoke_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

var secret = []byte("example secret, 32 bytes long...")

func keyFunc(*jwt.Token) (any, error) { return secret, nil }

// sign issues an HS256 token for sub, issued at iat, valid for an hour.
func sign(sub, jti string, iat time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "auth", Subject: sub, ID: jti,
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(iat.Add(time.Hour)),
	}).SignedString(secret)
	if err != nil {
		panic(err)
	}
	return s
}

// The README's quick start, as written there (TestREADMEQuickStart keeps the
// two identical): the lines between the two markers are the README's block.
func Example_quickStart() {
	token := sign("alice", "8c1d", time.Now().Add(-time.Minute))
	other := sign("bob", "5f2a", time.Now().Add(-time.Minute))
	refreshToken := sign("carol", "r-77", time.Now().Add(-time.Minute))
	meHandler := http.NotFoundHandler()

	// README quick start begins
	e, err := revoke.New(revoke.Config{Leeway: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		log.Fatal(err) // a configuration mistake: nil keyFunc, a leeway above the engine's...
	}

	// Every request: golang-jwt parses and verifies, then the revocation check.
	tok, err := v.Parse(token)
	fmt.Println("accepted:", err == nil)

	// Logout: this token, until its exp + Leeway.
	if err := e.RevokeToken(tok); err != nil {
		log.Fatal(err)
	}
	_, err = v.Parse(token)
	fmt.Println("after logout:", errors.Is(err, revoke.ErrRevoked))

	// Without the token (an admin tool): its issuer and jti, never the bare jti.
	if err := e.RevokeID("auth", "5f2a", time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	_, err = v.Parse(other) // iss "auth", jti "5f2a"
	fmt.Println("revoked by id:", errors.Is(err, revoke.ErrTokenRevoked))

	// Refresh-token rotation: exactly one caller gets first == true.
	rt, err := v.Parse(refreshToken)
	if err != nil {
		log.Fatal(err)
	}
	first, err := e.ConsumeToken(rt) // first with ErrNotPropagated: you won anyway
	fmt.Println("first use:", first, err)
	if first, _ := e.ConsumeToken(rt); !first {
		// Reuse: the token was copied. Log the subject out everywhere (every
		// token issued so far); a leaked signing key calls for e.RevokeAll.
		if err := e.RevokeSubject("auth", "carol", time.Now()); err != nil {
			log.Fatal(err)
		}
	}
	_, err = v.Parse(refreshToken)
	fmt.Println("carol logged out everywhere:", errors.Is(err, revoke.ErrSubjectRevoked))

	// net/http: ServeMux or any router taking an http.Handler.
	mux := http.NewServeMux()
	mux.Handle("GET /me", revoke.Middleware(v)(meHandler)) // revoke.TokenFromContext(r.Context())
	// README quick start ends

	// Output:
	// accepted: true
	// after logout: true
	// revoked by id: true
	// first use: true <nil>
	// carol logged out everywhere: true
}

// Log out: revoke the token presented, then every later use of it fails.
func ExampleVerifier() {
	e, err := revoke.New(revoke.Config{Leeway: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		panic(err)
	}

	token := sign("alice", "8c1d", time.Now())
	tok, err := v.Parse(token)
	fmt.Println("before logout:", err)

	if err := e.RevokeToken(tok); err != nil { // in the logout handler
		panic(err)
	}
	_, err = v.Parse(token)
	fmt.Println("after logout:", errors.Is(err, revoke.ErrRevoked))
	// Output:
	// before logout: <nil>
	// after logout: true
}

// Log out everywhere: one cutoff revokes every token of the subject issued
// up to now; tokens issued later are not affected.
func ExampleEngine_RevokeSubject() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		panic(err)
	}

	// The issuer writes iat to the millisecond (golang-jwt's default is the
	// second), so that a cutoff and a new token can share a second.
	defer func(p time.Duration) { jwt.TimePrecision = p }(jwt.TimePrecision)
	jwt.TimePrecision = time.Millisecond

	now := time.Now()
	laptop := sign("alice", "", now.Add(-time.Hour+time.Minute))
	phone := sign("alice", "", now.Add(-time.Millisecond))
	bob := sign("bob", "", now.Add(-time.Minute))

	// "Sign out my other devices, keep me signed in here": revoke every
	// token issued up to now, then issue this device's token with an iat
	// after now's millisecond. A whole-second iat in now's second would be
	// refused (fail safe).
	if err := e.RevokeSubject("auth", "alice", now); err != nil {
		panic(err)
	}
	again := sign("alice", "", now.Add(time.Millisecond))
	time.Sleep(2 * time.Millisecond) // its iat must not lie in the future

	for _, t := range []struct{ name, token string }{
		{"laptop", laptop}, {"phone", phone}, {"bob", bob}, {"alice, logged in again", again},
	} {
		_, err := v.Parse(t.token)
		fmt.Printf("%s: revoked=%v\n", t.name, errors.Is(err, revoke.ErrRevoked))
	}
	// Output:
	// laptop: revoked=true
	// phone: revoked=true
	// bob: revoked=false
	// alice, logged in again: revoked=false
}

// Refresh-token rotation with reuse detection: a refresh token works once;
// a second use means it was copied, so the whole subject is logged out.
func ExampleEngine_ConsumeToken() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		panic(err)
	}
	issued := time.Now().Add(-time.Minute)
	refresh := sign("alice", "r-1", issued)
	access := sign("alice", "a-1", issued)

	exchange := func(refreshToken string) string {
		tok, err := v.Parse(refreshToken)
		if err != nil {
			return "refused: " + err.Error()
		}
		first, err := e.ConsumeToken(tok)
		switch {
		case err != nil:
			return "refused: " + err.Error()
		case !first:
			// Reuse: log the subject out everywhere, thief and victim.
			iss, _ := tok.Claims.GetIssuer()
			sub, _ := tok.Claims.GetSubject()
			if err := e.RevokeSubject(iss, sub, time.Now()); err != nil {
				return "refused: " + err.Error()
			}
			return "reuse detected: alice logged out everywhere"
		}
		return "new token pair issued"
	}

	fmt.Println(exchange(refresh))
	fmt.Println(exchange(refresh))
	_, err = v.Parse(access)
	fmt.Println("alice's access token revoked:", errors.Is(err, revoke.ErrRevoked))
	// Output:
	// new token pair issued
	// reuse detected: alice logged out everywhere
	// alice's access token revoked: true
}

// Protect handlers with RFC 6750 bearer tokens.
func ExampleMiddleware() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /me", revoke.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := revoke.TokenFromContext(r.Context())
		sub, _ := tok.Claims.GetSubject()
		fmt.Fprintf(w, "hello %s", sub)
	})))

	get := func(token string) {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, rec.Body.String())
			return
		}
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	token := sign("alice", "m-1", time.Now())
	get("")
	get(token)
	tok, _ := v.Parse(token)
	_ = e.RevokeToken(tok)
	get(token)
	// Output:
	// 401 Bearer realm="api"
	// 200 hello alice
	// 401 Bearer realm="api", error="invalid_token", error_description="the token is revoked"
}
