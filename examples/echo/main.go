// Command echo is the revoke example for labstack/echo: an echo middleware
// that verifies the bearer token with revoke's Verifier and keeps the token
// in the echo context.
//
//	go run ./echo
//	T=$(curl -s -XPOST localhost:8080/login -d '{"user":"alice"}' -H 'Content-Type: application/json' | jq -r .access_token)
//	curl -s localhost:8080/me -H "Authorization: Bearer $T"          # 200
//	curl -s -XPOST localhost:8080/logout -H "Authorization: Bearer $T"
//	curl -s localhost:8080/me -H "Authorization: Bearer $T"          # 401 the token is revoked
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/examples/internal/exampleauth"
	"github.com/labstack/echo/v4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	a, err := exampleauth.New()
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	log.Printf("listening on http://%s", *addr)
	srv := &http.Server{Addr: *addr, Handler: newRouter(a), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// tokenKey is the echo context key of the verified token.
const tokenKey = "revoke.token"

// requireToken lets a request through only with a valid, unrevoked bearer
// token, which handlers then find with c.Get(tokenKey).
func requireToken(v *revoke.Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			scheme, token, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || token == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="api"`)
				return c.JSON(http.StatusUnauthorized, map[string]string{"error": "a bearer token is required"})
			}
			tok, err := v.Parse(token)
			if err != nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
				return c.JSON(http.StatusUnauthorized, map[string]string{"error": exampleauth.Describe(err)})
			}
			c.Set(tokenKey, tok)
			return next(c)
		}
	}
}

func newRouter(a *exampleauth.Auth) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.POST("/login", func(c echo.Context) error {
		var req struct {
			User string `json:"user"`
		}
		if err := c.Bind(&req); err != nil || req.User == "" {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": `send {"user":"..."}`})
		}
		token, err := a.Login(req.User)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"access_token": token})
	})
	authed := e.Group("", requireToken(a.Verifier))
	authed.GET("/me", func(c echo.Context) error {
		sub, _ := c.Get(tokenKey).(*jwt.Token).Claims.GetSubject()
		return c.JSON(http.StatusOK, map[string]string{"user": sub})
	})
	authed.POST("/logout", func(c echo.Context) error {
		if err := a.Engine.RevokeToken(c.Get(tokenKey).(*jwt.Token)); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "logged out"})
	})
	authed.POST("/logout-all", func(c echo.Context) error {
		claims := c.Get(tokenKey).(*jwt.Token).Claims
		iss, _ := claims.GetIssuer()
		sub, _ := claims.GetSubject()
		if err := a.Engine.RevokeSubject(iss, sub, time.Now()); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "logged out everywhere"})
	})
	return e
}
