package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeOAuthAndMetrics drives the handler of "revoke serve": the OAuth
// endpoints with the printed client credentials, a refresh token revoked
// through RFC 7009 taking its session's access token with it, and /metrics.
func TestServeOAuthAndMetrics(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	a, err := newAPI(e)
	require.NoError(t, err)
	var out bytes.Buffer
	srv := httptest.NewServer(a.serveHandler(&out))
	defer srv.Close()
	m := regexp.MustCompile(`-u (revoke-cli):(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	clientID, secret := m[1], m[2]

	w := &walkthrough{base: srv.URL, client: &http.Client{Timeout: 5 * time.Second}, out: &bytes.Buffer{}}
	p, err := w.login("oauth")
	require.NoError(t, err)

	post := func(path, user, pass, token string) (int, string) {
		req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(url.Values{"token": {token}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	active := func(token string) bool {
		code, body := post("/oauth/introspect", clientID, secret, token)
		require.Equal(t, 200, code, body)
		var r struct {
			Active bool `json:"active"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &r))
		return r.Active
	}

	code, _ := post("/oauth/introspect", clientID, "wrong", p.AccessToken)
	assert.Equal(t, 401, code)
	assert.True(t, active(p.AccessToken))
	assert.True(t, active(p.RefreshToken))

	code, body := post("/oauth/revoke", clientID, secret, p.RefreshToken)
	assert.Equal(t, 200, code, body)
	assert.False(t, active(p.RefreshToken))
	assert.False(t, active(p.AccessToken), "the session of the refresh token is revoked")
	_, err = w.step("access token of the revoked session", "GET", "/me", p.AccessToken, nil, 401, "")
	require.NoError(t, err)

	p2, err := w.login("other")
	require.NoError(t, err)
	code, _ = post("/oauth/revoke", clientID, secret, p2.AccessToken)
	assert.Equal(t, 200, code)
	assert.False(t, active(p2.AccessToken))
	assert.True(t, active(p2.RefreshToken), "revoking an access token leaves its refresh token")

	// /metrics: every series once, in the text format, with the engine's values.
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	values := parseTextFormat(t, resp.Body)
	require.Len(t, values, len(engineSeries))
	st := e.Stats()
	assert.Equal(t, float64(st.Entries), values["revoke_entries"])
	assert.GreaterOrEqual(t, values["revoke_entries"], 3.0, "two tokens and a session key")
	assert.Equal(t, float64(st.Shards), values["revoke_shards"])
	assert.Equal(t, float64(st.Bytes), values["revoke_memory_bytes"])
}

// parseTextFormat checks the Prometheus text format line by line (HELP,
// then TYPE, then one sample of each metric) and returns the samples.
func parseTextFormat(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	name := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	values := map[string]float64{}
	sc := bufio.NewScanner(r)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.Zero(t, len(lines)%3, "HELP, TYPE and a sample per series")
	for i := 0; i < len(lines); i += 3 {
		help := strings.SplitN(lines[i], " ", 4)
		typ := strings.Split(lines[i+1], " ")
		sample := strings.Split(lines[i+2], " ")
		require.Len(t, help, 4, lines[i])
		require.Equal(t, []string{"#", "HELP"}, help[:2])
		require.Len(t, typ, 4, lines[i+1])
		require.Equal(t, []string{"#", "TYPE", help[2]}, typ[:3])
		require.Len(t, sample, 2, lines[i+2])
		require.Equal(t, help[2], sample[0])
		require.Regexp(t, name, sample[0])
		assert.Equal(t, strings.HasSuffix(sample[0], "_total"), typ[3] == "counter", sample[0])
		require.Contains(t, []string{"counter", "gauge"}, typ[3])
		v, err := strconv.ParseFloat(sample[1], 64)
		require.NoError(t, err)
		_, dup := values[sample[0]]
		require.False(t, dup, sample[0])
		values[sample[0]] = v
	}
	return values
}
