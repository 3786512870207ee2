// Command gin is the revoke example for gin: a gin middleware that verifies
// the bearer token with revoke's Verifier and keeps the token in the gin
// context.
//
//	go run ./gin
//	T=$(curl -s -XPOST localhost:8080/login -d '{"user":"alice"}' | jq -r .access_token)
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

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/examples/internal/exampleauth"
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

// tokenKey is the gin context key of the verified token.
const tokenKey = "revoke.token"

// requireToken lets a request through only with a valid, unrevoked bearer
// token, which handlers then find with c.MustGet(tokenKey).
func requireToken(v *revoke.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="api"`)
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "a bearer token is required"})
			return
		}
		tok, err := v.Parse(token)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": exampleauth.Describe(err)})
			return
		}
		c.Set(tokenKey, tok)
		c.Next()
	}
}

func newRouter(a *exampleauth.Auth) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/login", func(c *gin.Context) {
		var req struct {
			User string `json:"user" binding:"required"`
		}
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": `send {"user":"..."}`})
			return
		}
		token, err := a.Login(req.User)
		if err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"access_token": token})
	})
	authed := r.Group("/", requireToken(a.Verifier))
	authed.GET("/me", func(c *gin.Context) {
		sub, _ := c.MustGet(tokenKey).(*jwt.Token).Claims.GetSubject()
		c.JSON(http.StatusOK, gin.H{"user": sub})
	})
	authed.POST("/logout", func(c *gin.Context) {
		if err := a.Engine.RevokeToken(c.MustGet(tokenKey).(*jwt.Token)); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "logged out"})
	})
	authed.POST("/logout-all", func(c *gin.Context) {
		claims := c.MustGet(tokenKey).(*jwt.Token).Claims
		iss, _ := claims.GetIssuer()
		sub, _ := claims.GetSubject()
		if err := a.Engine.RevokeSubject(iss, sub, time.Now()); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "logged out everywhere"})
	})
	return r
}
