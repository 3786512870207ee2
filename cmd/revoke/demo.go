package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jwtrevoke/revoke"
)

func init() {
	register(command{
		name:    "demo",
		summary: "run the example API on a free local port and walk through JWT logout against it",
		run:     runDemo,
	})
}

const demoHelp = `usage: revoke demo

Starts the example API (see "revoke serve --help") on a free 127.0.0.1 port and
walks through it as a user would: log in, log out, log out everywhere, sign out
the other devices while staying signed in, refresh-token rotation and reuse
detection. Prints each step; exits 0 if every step behaved as expected, 1
otherwise.`

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	if code, done := parseFlags(fs, args, demoHelp, stdout, stderr); done {
		return code
	}
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		fmt.Fprintln(stderr, "revoke demo:", err)
		return 1
	}
	defer e.Close()
	a, err := newAPI(e)
	if err != nil {
		fmt.Fprintln(stderr, "revoke demo:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "revoke demo:", err)
		return 1
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "example API listening on %s (in-memory revocation engine)\n", base)
	w := &walkthrough{base: base, client: &http.Client{Timeout: 10 * time.Second}, out: stdout}
	if err := w.run(); err != nil {
		fmt.Fprintf(stdout, "\nFAILED: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nall %d steps behaved as expected\n", w.steps)
	return 0
}

// walkthrough plays a user of the example API and checks every answer.
type walkthrough struct {
	base   string
	client *http.Client
	out    io.Writer
	steps  int
}

type reply struct {
	status int
	body   map[string]string
}

// call sends one request and decodes the JSON object it answers with.
func (w *walkthrough) call(method, path, bearer string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, body: map[string]string{}}
	// A body that is not a JSON object of strings leaves r.body empty: the
	// status check then speaks for it.
	_ = json.NewDecoder(resp.Body).Decode(&r.body)
	return r, nil
}

// step sends a request, prints it with its answer, and checks the status
// and, when want is not empty, that the error description contains want.
func (w *walkthrough) step(what, method, path, bearer string, body any, status int, want string) (reply, error) {
	w.steps++
	r, err := w.call(method, path, bearer, body)
	if err != nil {
		return r, err
	}
	got := fmt.Sprint(r.status)
	if d := r.body["error_description"]; d != "" {
		got += " " + d
	} else if u := r.body["user"]; u != "" {
		got += " user=" + u + " device=" + r.body["device"]
	}
	fmt.Fprintf(w.out, "%2d. %-44s %-17s → %s\n", w.steps, what, method+" "+path, got)
	if r.status != status {
		return r, fmt.Errorf("step %d (%s): status %d, want %d", w.steps, what, r.status, status)
	}
	if want != "" && !strings.Contains(r.body["error_description"], want) {
		return r, fmt.Errorf("step %d (%s): error_description %q, want it to mention %q", w.steps, what, r.body["error_description"], want)
	}
	return r, nil
}

func (w *walkthrough) login(device string) (tokenPair, error) {
	r, err := w.step("log in as alice ("+device+")", "POST", "/login", "", map[string]string{"user": "alice", "device": device}, 200, "")
	if err != nil {
		return tokenPair{}, err
	}
	p := tokenPair{AccessToken: r.body["access_token"], RefreshToken: r.body["refresh_token"], Session: r.body["session"]}
	if p.AccessToken == "" || p.RefreshToken == "" {
		return p, fmt.Errorf("step %d: login returned no tokens", w.steps)
	}
	return p, nil
}

func (w *walkthrough) run() error {
	say := func(s string) { fmt.Fprintf(w.out, "\n%s\n", s) }
	var err error
	check := func(_ reply, e error) {
		if err == nil {
			err = e
		}
	}

	say("# Log out: the access token is revoked at once, not at its exp")
	laptop, err := w.login("laptop")
	if err != nil {
		return err
	}
	check(w.step("who am I", "GET", "/me", laptop.AccessToken, nil, 200, ""))
	check(w.step("log out", "POST", "/logout", laptop.AccessToken, nil, 200, ""))
	check(w.step("the same token after logout", "GET", "/me", laptop.AccessToken, nil, 401, "revoked"))
	check(w.step("its refresh token after logout", "POST", "/refresh", "", map[string]string{"refresh_token": laptop.RefreshToken}, 400, "revoked"))
	if err != nil {
		return err
	}

	say("# Log out everywhere: one cutoff revokes every token alice holds")
	laptop, err = w.login("laptop")
	if err != nil {
		return err
	}
	phone, err := w.login("phone")
	if err != nil {
		return err
	}
	check(w.step("who am I (laptop)", "GET", "/me", laptop.AccessToken, nil, 200, ""))
	check(w.step("who am I (phone)", "GET", "/me", phone.AccessToken, nil, 200, ""))
	check(w.step("log out everywhere (from the laptop)", "POST", "/logout-all", laptop.AccessToken, nil, 200, ""))
	check(w.step("laptop token", "GET", "/me", laptop.AccessToken, nil, 401, "revoked"))
	check(w.step("phone token", "GET", "/me", phone.AccessToken, nil, 401, "revoked"))
	check(w.step("phone refresh token", "POST", "/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}, 400, "revoked"))
	if err != nil {
		return err
	}

	// The API writes iat to the millisecond: a login a millisecond after
	// the cutoff is not covered by it, even within the same second.
	time.Sleep(2 * time.Millisecond)
	say("# Sign out the other devices, stay signed in here (cutoffs hold to the millisecond)")
	laptop, err = w.login("laptop")
	if err != nil {
		return err
	}
	phone, err = w.login("phone")
	if err != nil {
		return err
	}
	r, err := w.step("sign out the others (from the laptop)", "POST", "/logout-others", laptop.AccessToken, nil, 200, "")
	if err != nil {
		return err
	}
	kept := tokenPair{AccessToken: r.body["access_token"], RefreshToken: r.body["refresh_token"]}
	check(w.step("laptop's new token, issued 1 ms after the cutoff", "GET", "/me", kept.AccessToken, nil, 200, ""))
	check(w.step("laptop's old token", "GET", "/me", laptop.AccessToken, nil, 401, "revoked"))
	check(w.step("phone token", "GET", "/me", phone.AccessToken, nil, 401, "revoked"))
	check(w.step("phone refresh token", "POST", "/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}, 400, "revoked"))
	if err != nil {
		return err
	}

	time.Sleep(2 * time.Millisecond)
	say("# Refresh-token rotation: each refresh token works once; reuse revokes the session")
	tablet, err := w.login("tablet")
	if err != nil {
		return err
	}
	r, err = w.step("refresh", "POST", "/refresh", "", map[string]string{"refresh_token": tablet.RefreshToken}, 200, "")
	if err != nil {
		return err
	}
	next := tokenPair{AccessToken: r.body["access_token"], RefreshToken: r.body["refresh_token"]}
	check(w.step("who am I (new access token)", "GET", "/me", next.AccessToken, nil, 200, ""))
	check(w.step("refresh again with the OLD refresh token", "POST", "/refresh", "", map[string]string{"refresh_token": tablet.RefreshToken}, 400, "reuse detected"))
	check(w.step("the new access token, session revoked", "GET", "/me", next.AccessToken, nil, 401, "session is revoked"))
	check(w.step("the new refresh token, session revoked", "POST", "/refresh", "", map[string]string{"refresh_token": next.RefreshToken}, 400, "session is revoked"))
	if err != nil {
		return err
	}

	say("# A race: 8 clients present the same refresh token at once; exactly one wins")
	racer, err := w.login("racer")
	if err != nil {
		return err
	}
	winner, err := w.race(racer.RefreshToken, 8)
	if err != nil {
		return err
	}
	// The seven others were reuses of a token already exchanged: reuse
	// detection revoked the session, so the winner is logged out too. From
	// the server's side the winner may be the thief.
	_, err = w.step("the winner's new token: logged out too", "GET", "/me", winner.AccessToken, nil, 401, "session is revoked")
	if err != nil {
		return err
	}
	fmt.Fprintln(w.out, "\nReuse detection logged the winner out too: a refresh token presented twice means two\n"+
		"parties hold it, and the server cannot tell the legitimate one, so the whole session ends.")
	return nil
}

// race presents one refresh token from n goroutines at once, checks that
// exactly one gets a new pair, and returns it.
func (w *walkthrough) race(refresh string, n int) (tokenPair, error) {
	w.steps++
	statuses := make([]int, n)
	pairs := make([]tokenPair, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r, err := w.call("POST", "/refresh", "", map[string]string{"refresh_token": refresh})
			statuses[i], errs[i] = r.status, err
			pairs[i] = tokenPair{AccessToken: r.body["access_token"], RefreshToken: r.body["refresh_token"]}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return tokenPair{}, err
	}
	ok := 0
	var winner tokenPair
	for i, s := range statuses {
		if s == http.StatusOK {
			ok++
			winner = pairs[i]
		}
	}
	fmt.Fprintf(w.out, "%2d. %-44s %-17s → %v\n", w.steps, fmt.Sprintf("%d concurrent refreshes", n), "POST /refresh", statuses)
	if ok != 1 {
		return tokenPair{}, fmt.Errorf("step %d: %d of %d concurrent refreshes succeeded, want exactly 1", w.steps, ok, n)
	}
	return winner, nil
}

// parseFlags parses a subcommand's flags: --help prints help (then the
// flags) to stdout and ends with status 0; a usage error prints the error
// and the help to stderr and ends with status 2.
func parseFlags(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, to the right stream
	printHelp := func(w io.Writer) {
		fmt.Fprintln(w, help)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return 0, true
		}
		printHelp(stderr)
		return 2, true
	}
	return 0, false
}
