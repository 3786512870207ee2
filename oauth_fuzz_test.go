package revoke

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzOAuthEndpoints sends arbitrary methods, content types, client
// credentials and bodies to both endpoints: neither panics, every answer is
// one of the documented ones with Cache-Control: no-store, and nothing the
// fuzzer makes up revokes the one live token or shows it active (it cannot
// sign, so only the seed token itself verifies).
func FuzzOAuthEndpoints(f *testing.F) {
	hs := algByName(f, "HS256")
	e := newTestEngine(f, Config{})
	v := hs.verifier(e)
	live := hs.sign(f, claims("iss", "alice", "live", time.Hour))
	auth := ClientSecretBasic(rfcClients)
	revocation, err := RevocationHandler(RevocationConfig{Verifier: v, ClientAuth: auth})
	require.NoError(f, err)
	introspection, err := IntrospectionHandler(IntrospectionConfig{Verifier: v, ClientAuth: auth})
	require.NoError(f, err)

	f.Add("POST", "application/x-www-form-urlencoded", rfcBasic, "token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token")
	f.Add("POST", "application/x-www-form-urlencoded; charset=utf-8", rfcBasic, "token="+live[:len(live)-2])
	f.Add("POST", "application/x-www-form-urlencoded", basic(rfcClientID, "x"), "token=a&token=b")
	f.Add("GET", "", "", "")
	f.Add("POST", "multipart/form-data; boundary=x", rfcBasic, "--x\r\n")
	f.Add("POST", "application/x-www-form-urlencoded", rfcBasic, "token=%zz")
	f.Fuzz(func(t *testing.T, method, contentType, authorization, body string) {
		if strings.Contains(body, live) {
			t.Skip() // the fuzzer was handed the live token: revoking it is right
		}
		for _, h := range []http.Handler{revocation, introspection} {
			r, err := http.NewRequest(method, "/", strings.NewReader(body))
			if err != nil {
				t.Skip()
			}
			r.Header.Set("Content-Type", contentType)
			r.Header.Set("Authorization", authorization)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Contains(t, []int{200, 400, 401, 405}, w.Code)
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			if h == introspection && w.Code == 200 {
				assert.JSONEq(t, `{"active":false}`, w.Body.String())
			}
		}
		_, err := v.Parse(live)
		require.NoError(t, err, "the live token must stay valid")
	})
}
