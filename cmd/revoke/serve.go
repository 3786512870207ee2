package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jwtrevoke/revoke"
)

func init() {
	register(command{
		name:    "serve",
		summary: "run the example API (login, logout, logout-all, refresh) for curl",
		run:     runServe,
	})
}

const serveHelp = `usage: revoke serve [-addr host:port]

Runs the example API of "revoke demo" until interrupted. Tokens are HS256 with a
random key, revocations live in memory. Try it with curl (and jq):

  A=http://127.0.0.1:8080
  # log in: an access token (5 min) and a refresh token (24 h)
  curl -s -XPOST $A/login -d '{"user":"alice","device":"laptop"}' | tee /tmp/pair.json
  T=$(jq -r .access_token /tmp/pair.json); R=$(jq -r .refresh_token /tmp/pair.json)
  curl -s $A/me -H "Authorization: Bearer $T"                    # 200
  # rotate the refresh token; the old one is used up
  curl -s -XPOST $A/refresh -d "{\"refresh_token\":\"$R\"}" | tee /tmp/pair2.json
  T2=$(jq -r .access_token /tmp/pair2.json)
  curl -s -XPOST $A/refresh -d "{\"refresh_token\":\"$R\"}"      # 400 invalid_grant: reuse detected, session revoked
  curl -s $A/me -H "Authorization: Bearer $T2"                   # 401 the session is revoked
  # log out (this session) and log out everywhere (every token of the user)
  curl -s -XPOST $A/login -d '{"user":"alice"}' | tee /tmp/pair3.json
  T3=$(jq -r .access_token /tmp/pair3.json)
  curl -s -XPOST $A/logout -H "Authorization: Bearer $T3"        # 200
  curl -s $A/me -H "Authorization: Bearer $T3"                   # 401 the token is revoked
  curl -s -XPOST $A/logout-all -H "Authorization: Bearer <another access token of alice>"
  # sign out every other device and stay signed in here: a new pair for this one
  curl -s -XPOST $A/logout-others -H "Authorization: Bearer <an access token of alice>"

Token responses carry Cache-Control: no-store; every 401 a WWW-Authenticate
challenge; refresh failures are 400 invalid_grant (RFC 6749 §5.2).

Flags:`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	if code, done := parseFlags(fs, args, serveHelp, stdout, stderr); done {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serveAPI(ctx, *addr, stdout, nil); err != nil {
		fmt.Fprintln(stderr, "revoke serve:", err)
		return 1
	}
	return 0
}

// serveAPI runs the example API on addr until ctx is done, then shuts it
// down. It sends the address it listens on to ready, if not nil.
func serveAPI(ctx context.Context, addr string, stdout io.Writer, ready chan<- string) error {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		return err
	}
	defer e.Close()
	a, err := newAPI(e)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.serveHandler(stdout), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "example API listening on http://%s (see \"revoke serve --help\"); Ctrl-C to stop\n", ln.Addr())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
