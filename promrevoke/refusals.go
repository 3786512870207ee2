package promrevoke

import (
	"errors"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a token is refused, the values of the reason label of
// revoke_refusals_total.
const (
	ReasonRevokedToken  = "revoked_token"  // revoked by Engine.RevokeToken, RevokeID or Revoke
	ReasonSubjectCutoff = "subject_cutoff" // its subject was logged out everywhere (RevokeSubject)
	ReasonGlobalCutoff  = "global_cutoff"  // issued before a RevokeAll cutoff
	ReasonExpired       = "expired"        // past its exp (and the leeway)
	ReasonUnverifiable  = "unverifiable"   // no key could be found: a KeyFunc failure (a JWKS outage, an unknown kid)
	ReasonMissing       = "missing"        // no credentials in the request (middleware, with ErrorHandler)
	ReasonInvalid       = "invalid"        // anything else: malformed, bad signature, claims refused...
)

// reasons lists the label values in the order of Refusals.counters.
var reasons = [...]string{
	ReasonRevokedToken, ReasonSubjectCutoff, ReasonGlobalCutoff,
	ReasonExpired, ReasonUnverifiable, ReasonMissing, ReasonInvalid,
}

// Refusals counts the tokens a [revoke.Verifier] (and so the middleware
// built on it) refuses, by reason, as the counter
// revoke_refusals_total{reason="..."}; it is a [prometheus.Collector].
// Install [Refusals.Observe] as the OnRefuse hook of
// [revoke.VerifierConfig]: the Verifier calls it once per refused token and
// never for an accepted one, so the path of an accepted token is unchanged.
// Requests the middleware refuses before parsing (no credentials) are
// counted with [Refusals.ErrorHandler].
//
// Every reason's series exists from the start at 0, so that rate() sees the
// first refusal. A Refusals is safe for concurrent use.
type Refusals struct {
	vec *prometheus.CounterVec
	// counters are vec's children, resolved once: Observe does no label
	// lookup.
	counters [len(reasons)]prometheus.Counter
}

// NewRefusals returns a Refusals with every reason's counter at 0.
func NewRefusals() *Refusals {
	r := &Refusals{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revoke_refusals_total",
		Help: "Tokens refused by the Verifier, by reason.",
	}, []string{"reason"})}
	for i, reason := range reasons {
		r.counters[i] = r.vec.WithLabelValues(reason)
	}
	return r
}

// Observe counts one refusal for err, a Verifier's error; a nil err is not
// counted. Cost: the errors.Is walk of [Reason] and one atomic add, on the
// refusal path only.
func (r *Refusals) Observe(err error) {
	if err == nil {
		return
	}
	r.counters[reasonIndex(err)].Inc()
}

// Reason returns the reason label of a Verifier's error, or "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	return reasons[reasonIndex(err)]
}

func reasonIndex(err error) int {
	switch {
	case errors.Is(err, revoke.ErrTokenRevoked):
		return 0
	case errors.Is(err, revoke.ErrSubjectRevoked):
		return 1
	case errors.Is(err, revoke.ErrAllRevoked):
		return 2
	case errors.Is(err, jwt.ErrTokenExpired):
		return 3
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return 4
	case errors.Is(err, revoke.ErrMissingToken):
		return 5
	}
	return 6
}

// ErrorHandler returns an error handler for [revoke.WithErrorHandler] that
// counts the refusals the [revoke.Middleware] makes before any token reaches
// the Verifier (no credentials: reason missing; malformed credentials:
// reason invalid), then calls next (nil: [revoke.DefaultErrorHandler] with
// [revoke.DefaultRealm]). The Verifier's own refusals are not counted here:
// its OnRefuse hook counts them, once.
//
//	auth := revoke.Middleware(v, revoke.WithErrorHandler(refusals.ErrorHandler(nil)))
func (r *Refusals) ErrorHandler(next func(http.ResponseWriter, *http.Request, error)) func(http.ResponseWriter, *http.Request, error) {
	if next == nil {
		next = revoke.DefaultErrorHandler(revoke.DefaultRealm)
	}
	return func(w http.ResponseWriter, req *http.Request, err error) {
		if errors.Is(err, revoke.ErrMissingToken) || errors.Is(err, revoke.ErrMalformedCredentials) {
			r.Observe(err)
		}
		next(w, req, err)
	}
}

// Describe sends the descriptor of revoke_refusals_total.
func (r *Refusals) Describe(ch chan<- *prometheus.Desc) { r.vec.Describe(ch) }

// Collect sends one sample per reason.
func (r *Refusals) Collect(ch chan<- prometheus.Metric) { r.vec.Collect(ch) }
