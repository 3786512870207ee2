package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Token types of the OAuth "token_type_hint" registry (RFC 7009 §4.1.2).
const (
	AccessToken  = "access_token"
	RefreshToken = "refresh_token"
)

// RevocationConfig configures [RevocationHandler]. Verifier and ClientAuth
// are required; every other zero field means its documented default.
type RevocationConfig struct {
	// Verifier parses and verifies each token presented; its engine records
	// the revocation. Only tokens it accepts are revoked: a token that does
	// not verify cannot be used anyway, and revoking an (iss, jti) read from
	// a forged token would let anyone log anyone out. Required.
	Verifier *Verifier

	// ClientAuth authenticates the caller. Required: RFC 7009 §2.1 asks for
	// it, and the unsupported_token_type and unauthorized_client answers
	// would tell an anonymous caller which strings are live tokens.
	ClientAuth ClientAuthFunc

	// NewClaims returns a fresh claims value to parse each token into (as
	// [WithClaims] for the middleware). Default: [jwt.MapClaims].
	NewClaims func() jwt.Claims

	// TokenType returns the type of a verified token, [AccessToken],
	// [RefreshToken] or a type of your own; it is called once per token and
	// passed to OnRevoke. Default: every token is an [AccessToken]. The
	// client's token_type_hint is not trusted: the token itself decides.
	TokenType func(tok *jwt.Token) string

	// Revocable lists the token types this endpoint revokes; a verified
	// token of another type is answered 400 unsupported_token_type (RFC 7009
	// §2.2.1). Default: [AccessToken] and [RefreshToken].
	Revocable []string

	// TokenClient returns the client a token was issued to (its "client_id"
	// or "azp" claim, say). When set, a client may revoke only its own
	// tokens: another client's token is refused with 400
	// unauthorized_client and left alone (RFC 7009 §2.1). Default: nil, any
	// authenticated client may revoke any token it presents.
	TokenClient func(tok *jwt.Token) string

	// OnRevoke, if set, is called for each verified token before the engine
	// records its revocation, with the token's type: revoking a refresh
	// token may revoke the access tokens issued with it (a session key, or
	// [Engine.RevokeSubject]). An error answers 503 and leaves the token
	// unrevoked, so that the client's retry calls OnRevoke again: it must be
	// idempotent. It runs on the request's goroutine, with its context.
	OnRevoke func(ctx context.Context, tok *jwt.Token, tokenType string) error

	// Realm is named in the WWW-Authenticate challenge sent to a client
	// that failed authentication. Default [DefaultOAuthRealm].
	Realm string
}

// RevocationHandler returns the token revocation endpoint of RFC 7009: a
// POST of the form parameters token and, optionally, token_type_hint, from an
// authenticated client.
//
// Responses:
//   - 200 with an empty body when the token is now revoked, and also for a
//     token that is invalid, expired or already revoked (§2.2: the client
//     cannot act on the difference, and an attacker learns nothing); a
//     genuine token that is not valid yet (nbf or iat ahead of the clock)
//     is revoked like a valid one, since it will be accepted later;
//   - 400 invalid_request for a request that is not a POST form or whose
//     token is missing or repeated (405 for another method);
//   - 401 invalid_client with WWW-Authenticate when ClientAuth fails;
//   - 400 unsupported_token_type for a token whose type is not Revocable,
//     400 unauthorized_client for another client's token (with TokenClient);
//   - 503 temporarily_unavailable when the revocation could not be recorded
//     (the engine is full, closed, or its journal failed; OnRevoke failed),
//     or when the token's key could not be found ([jwt.ErrTokenUnverifiable],
//     e.g. a JWKS endpoint down): the token may still be valid, so the
//     client must retry (§2.2.1). A revocation is never answered 200 unless
//     it was recorded.
//
// Every response carries Cache-Control: no-store. Errors are JSON as in RFC
// 6749 §5.2. The handler is safe for concurrent use; a request costs one
// [Verifier.ParseWithClaims] and one [Engine.RevokeToken]. Config mistakes
// return an error wrapping [ErrInvalidConfig].
func RevocationHandler(cfg RevocationConfig) (http.Handler, error) {
	if cfg.Verifier == nil {
		return nil, fmt.Errorf("%w: RevocationConfig.Verifier is nil", ErrInvalidConfig)
	}
	if cfg.ClientAuth == nil {
		return nil, fmt.Errorf("%w: RevocationConfig.ClientAuth is nil (RFC 7009 requires client authentication)", ErrInvalidConfig)
	}
	if cfg.Revocable == nil {
		cfg.Revocable = []string{AccessToken, RefreshToken}
	} else {
		cfg.Revocable = slices.Clone(cfg.Revocable)
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultOAuthRealm
	}
	return &revocationHandler{cfg: cfg}, nil
}

type revocationHandler struct{ cfg RevocationConfig }

func (h *revocationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ok := readOAuthRequest(w, r, h.cfg.ClientAuth, h.cfg.Realm)
	if !ok {
		return
	}
	var claims jwt.Claims = jwt.MapClaims{}
	if h.cfg.NewClaims != nil {
		claims = h.cfg.NewClaims()
	}
	tok, err := h.cfg.Verifier.ParseWithClaims(req.token, claims)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The key could not be had: the token may be genuine and live.
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the token's key is unavailable; retry later")
		return
	case notYetValid(err) && tok != nil && len(tok.Signature) > 0:
		// Genuine (golang-jwt judges the claims only once the signature
		// has verified, and the Verifier's own iat check comes after
		// that) but not valid yet: it will be accepted later, so it must
		// be revoked now, or this 200 would be a revocation dropped.
		verified := *tok
		verified.Valid = true
		tok = &verified
	default:
		// Invalid, expired or already revoked: never accepted again,
		// nothing to do (§2.2).
		writeRevoked(w)
		return
	}
	tokenType := AccessToken
	if h.cfg.TokenType != nil {
		tokenType = h.cfg.TokenType(tok)
	}
	if !slices.Contains(h.cfg.Revocable, tokenType) {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_token_type", "this server does not revoke tokens of this type")
		return
	}
	if h.cfg.TokenClient != nil && h.cfg.TokenClient(tok) != req.client {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "the token was not issued to this client")
		return
	}
	if h.cfg.OnRevoke != nil {
		if err := h.cfg.OnRevoke(r.Context(), tok, tokenType); err != nil {
			writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the revocation could not be recorded; retry later")
			return
		}
	}
	if err := h.cfg.Verifier.e.RevokeToken(tok); err != nil {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the revocation could not be recorded; retry later")
		return
	}
	writeRevoked(w)
}

func writeRevoked(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// notYetValid reports whether err refuses a token only for now: its nbf or
// iat lies ahead (beyond the leeway).
func notYetValid(err error) bool {
	return errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued)
}
