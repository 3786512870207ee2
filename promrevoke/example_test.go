package promrevoke_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/promrevoke"
	"github.com/prometheus/client_golang/prometheus"
)

var secret = []byte("example secret, 32 bytes long...")

// The engine's figures and the Verifier's refusals on one registry.
func Example() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	refusals := promrevoke.NewRefusals()
	v, err := revoke.NewVerifierWithConfig(revoke.VerifierConfig{
		Engine:        e,
		KeyFunc:       func(*jwt.Token) (any, error) { return secret, nil },
		ParserOptions: []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})},
		OnRefuse:      refusals.Observe,
	})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(promrevoke.NewCollector(e), refusals)

	now := time.Now()
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "auth", Subject: "alice", ID: "t1",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString(secret)
	if err := e.RevokeID("auth", "t1", now.Add(time.Hour)); err != nil {
		panic(err)
	}
	_, err = v.Parse(token)
	fmt.Println(promrevoke.Reason(err))

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "revoke_entries":
				fmt.Println(f.GetName(), m.GetGauge().GetValue())
			case "revoke_refusals_total":
				if v := m.GetCounter().GetValue(); v > 0 {
					labels := []string{}
					for _, l := range m.GetLabel() {
						labels = append(labels, l.GetName()+"="+l.GetValue())
					}
					fmt.Println(f.GetName(), strings.Join(labels, ","), v)
				}
			}
		}
	}
	// Output:
	// revoked_token
	// revoke_entries 1
	// revoke_refusals_total reason=revoked_token 1
}
