package revoke

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// IntrospectionConfig configures [IntrospectionHandler]. Verifier and
// ClientAuth are required; every other zero field means its documented
// default.
type IntrospectionConfig struct {
	// Verifier parses, verifies and checks each token presented: a token is
	// active exactly when the Verifier accepts it. Required.
	Verifier *Verifier

	// ClientAuth authenticates the protected resource calling the endpoint.
	// Required: RFC 7662 §2.1 requires authorization, or else the endpoint
	// is a token-scanning oracle (§4).
	ClientAuth ClientAuthFunc

	// NewClaims returns a fresh claims value to parse each token into.
	// Default: [jwt.MapClaims].
	NewClaims func() jwt.Claims

	// Active, if set, is asked about each token the Verifier accepts, with
	// the authenticated caller's id; false answers active false, without
	// saying why (RFC 7662 §2.2). It is the place for checks of your own: a
	// session revoked under a key of its own, a caller that may not learn
	// about this token. Default: every token the Verifier accepts is active
	// for every authenticated caller.
	Active func(clientID string, tok *jwt.Token) bool

	// Members, if set, may add, change or delete members of the response
	// for an active token after the standard ones have been filled in from
	// the token's claims: scope, client_id, username, token_type, exp, iat,
	// nbf, sub, aud, iss and jti, those the token's payload has, as
	// encoding/json decodes them with UseNumber (numbers are
	// [json.Number]). "active" is
	// set afterwards and cannot be changed.
	Members func(tok *jwt.Token, resp map[string]any)

	// Realm is named in the WWW-Authenticate challenge sent to a caller
	// that failed authentication. Default [DefaultOAuthRealm].
	Realm string
}

// introspectionMembers are the members of RFC 7662 §2.2 copied from an
// active token's claims.
var introspectionMembers = [...]string{
	"scope", "client_id", "username", "token_type",
	"exp", "iat", "nbf", "sub", "aud", "iss", "jti",
}

// IntrospectionHandler returns the token introspection endpoint of RFC
// 7662: a POST of the form parameters token and, optionally,
// token_type_hint (ignored: the token is a JWT whatever its type), from an
// authenticated caller.
//
// A token is active when the Verifier accepts it: a revoked (by token,
// subject or global cutoff), expired, not yet valid, malformed or
// badly signed token, and one that IntrospectionConfig.Active refuses, gives
// {"active":false} and nothing else. An active token gives "active": true
// and the standard members present in its claims (see
// IntrospectionConfig.Members). Errors are those of [RevocationHandler]: 400
// invalid_request, 405, and 401 invalid_client with WWW-Authenticate. Every
// response carries Cache-Control: no-store and Pragma: no-cache, so that no
// cache between the endpoint and its caller keeps a token active after its
// revocation (§4).
//
// The handler is safe for concurrent use; a request costs one
// [Verifier.ParseWithClaims] and, for an active token, a second decoding of
// its payload. Config mistakes return an error wrapping [ErrInvalidConfig].
func IntrospectionHandler(cfg IntrospectionConfig) (http.Handler, error) {
	if cfg.Verifier == nil {
		return nil, fmt.Errorf("%w: IntrospectionConfig.Verifier is nil", ErrInvalidConfig)
	}
	if cfg.ClientAuth == nil {
		return nil, fmt.Errorf("%w: IntrospectionConfig.ClientAuth is nil (RFC 7662 requires caller authentication)", ErrInvalidConfig)
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultOAuthRealm
	}
	return &introspectionHandler{cfg: cfg}, nil
}

type introspectionHandler struct{ cfg IntrospectionConfig }

var inactive = map[string]any{"active": false}

func (h *introspectionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ok := readOAuthRequest(w, r, h.cfg.ClientAuth, h.cfg.Realm)
	if !ok {
		return
	}
	var claims jwt.Claims = jwt.MapClaims{}
	if h.cfg.NewClaims != nil {
		claims = h.cfg.NewClaims()
	}
	tok, err := h.cfg.Verifier.ParseWithClaims(req.token, claims)
	if err != nil || (h.cfg.Active != nil && !h.cfg.Active(req.client, tok)) {
		writeOAuthJSON(w, http.StatusOK, inactive)
		return
	}
	resp, err := standardMembers(h.cfg.Verifier.parser, tok.Raw)
	if err != nil {
		// Unreachable for a token the parser accepted; say nothing then.
		writeOAuthJSON(w, http.StatusOK, inactive)
		return
	}
	if h.cfg.Members != nil {
		h.cfg.Members(tok, resp)
	}
	resp["active"] = true
	writeOAuthJSON(w, http.StatusOK, resp)
}

// standardMembers returns the members of introspectionMembers found in the
// payload of raw, a token that p has verified: the signed JSON itself, so
// each member reads as the issuer wrote it (whatever claims type it was
// parsed into).
func standardMembers(p *jwt.Parser, raw string) (map[string]any, error) {
	parts := strings.SplitN(raw, ".", 3)
	if len(parts) != 3 {
		return nil, jwt.ErrTokenMalformed
	}
	payload, err := p.DecodeSegment(parts[1])
	if err != nil {
		return nil, err
	}
	var all map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // numbers come back exactly as the token has them
	if err := dec.Decode(&all); err != nil {
		return nil, err
	}
	resp := make(map[string]any, len(introspectionMembers)+1)
	for _, name := range introspectionMembers {
		if v, ok := all[name]; ok && v != nil {
			resp[name] = v
		}
	}
	return resp, nil
}
