// Command chi is the revoke example for go-chi/chi: the core's net/http
// middleware plugs straight into chi's r.Use.
//
//	go run ./chi
//	T=$(curl -s -XPOST localhost:8080/login -d '{"user":"alice"}' | jq -r .access_token)
//	curl -s localhost:8080/me -H "Authorization: Bearer $T"          # 200
//	curl -s -XPOST localhost:8080/logout -H "Authorization: Bearer $T"
//	curl -s localhost:8080/me -H "Authorization: Bearer $T"          # 401 the token is revoked
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
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

func newRouter(a *exampleauth.Auth) http.Handler {
	r := chi.NewRouter()
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ User string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.User == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"user":"..."}`})
			return
		}
		token, err := a.Login(req.User)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"access_token": token})
	})
	r.Group(func(r chi.Router) {
		r.Use(revoke.Middleware(a.Verifier)) // 401 for a missing, invalid, expired or revoked token
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			sub, _ := token(r).Claims.GetSubject()
			writeJSON(w, http.StatusOK, map[string]string{"user": sub})
		})
		r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
			if err := a.Engine.RevokeToken(token(r)); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
		})
		r.Post("/logout-all", func(w http.ResponseWriter, r *http.Request) {
			c := token(r).Claims
			iss, _ := c.GetIssuer()
			sub, _ := c.GetSubject()
			if err := a.Engine.RevokeSubject(iss, sub, time.Now()); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "logged out everywhere"})
		})
	})
	return r
}

// token is the token the middleware verified for this request.
func token(r *http.Request) *jwt.Token {
	tok, _ := revoke.TokenFromContext(r.Context())
	return tok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
