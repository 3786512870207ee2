package revoke

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// The parts shared by the OAuth 2.0 endpoints [RevocationHandler] (RFC 7009)
// and [IntrospectionHandler] (RFC 7662): client authentication, the form
// request and the error responses of RFC 6749 §5.2.

// ClientAuthFunc authenticates the client (or protected resource) calling an
// OAuth endpoint, from the request whose form has already been parsed
// (r.PostForm holds the body parameters, for client_secret_post). It returns
// the client's identifier, or an error if the client is not authenticated:
// the endpoint then answers 401 invalid_client with a WWW-Authenticate
// challenge, and the error's text is not sent. It is called once per request,
// possibly concurrently. [ClientSecretBasic] is one for HTTP Basic.
type ClientAuthFunc func(r *http.Request) (clientID string, err error)

// ClientSecretBasic returns a [ClientAuthFunc] for the client_secret_basic
// method of RFC 6749 §2.3.1: "Authorization: Basic" with the client id and
// secret, each form-urlencoded before the base64. secret looks a client's
// secret up (ok false for an unknown client); the comparison takes the same
// time whatever the secrets. Fit for tests, demos and a handful of clients
// known at start-up; anything else should hash its secrets and write its own
// ClientAuthFunc.
func ClientSecretBasic(secret func(clientID string) (string, bool)) ClientAuthFunc {
	return func(r *http.Request) (string, error) {
		if len(r.Header.Values("Authorization")) != 1 {
			return "", ErrClientAuth
		}
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", ErrClientAuth
		}
		id, err1 := url.QueryUnescape(user)
		pw, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || id == "" {
			return "", ErrClientAuth
		}
		want, known := secret(id)
		// Compare digests: equal lengths, so the time taken says nothing
		// of the secret's length; an unknown client costs the same.
		got, exp := sha256.Sum256([]byte(pw)), sha256.Sum256([]byte(want))
		if subtle.ConstantTimeCompare(got[:], exp[:]) != 1 || !known {
			return "", ErrClientAuth
		}
		return id, nil
	}
}

// DefaultOAuthRealm is the realm of the WWW-Authenticate challenge sent to a
// client that failed authentication, unless the config names another.
const DefaultOAuthRealm = "oauth"

// maxOAuthForm bounds an endpoint's request body: a form with a token of
// DefaultMaxTokenSize and a few parameters fits many times over.
const maxOAuthForm = 64 << 10

// oauthRequest is the validated form of a revocation or introspection
// request.
type oauthRequest struct {
	client string
	token  string
	hint   string
}

// readOAuthRequest checks the method and the form, authenticates the client
// and returns the request's parameters; on failure it has written the error
// response and returns false.
func readOAuthRequest(w http.ResponseWriter, r *http.Request, auth ClientAuthFunc, realm string) (oauthRequest, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return oauthRequest{}, false
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return oauthRequest{}, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOAuthForm)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body is not a valid form")
		return oauthRequest{}, false
	}
	client, err := auth(r)
	if err != nil {
		challenge := "Basic"
		if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && isToken68Scheme(scheme) {
			challenge = scheme // RFC 6749 §5.2: match the scheme the client used
		}
		w.Header().Set("WWW-Authenticate", challenge+" realm="+quoteAuthParam(realm))
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return oauthRequest{}, false
	}
	// RFC 6749 §3.2: parameters must not be sent more than once.
	for _, name := range [...]string{"token", "token_type_hint"} {
		if len(r.PostForm[name]) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the parameter "+name+" is repeated")
			return oauthRequest{}, false
		}
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the parameter token is missing")
		return oauthRequest{}, false
	}
	return oauthRequest{client: client, token: token, hint: r.PostForm.Get("token_type_hint")}, true
}

// isToken68Scheme reports whether s is a plausible auth-scheme (an RFC 7230
// token of letters, digits and '-'), safe to echo in a header.
func isToken68Scheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// writeOAuthError writes an RFC 6749 §5.2 error response.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeOAuthJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
}

// writeOAuthJSON writes v as JSON with the headers every response of the
// endpoints carries: no cache may keep it (RFC 6749 §5.1, RFC 7662 §4).
func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
