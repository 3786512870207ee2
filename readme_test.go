package revoke

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's quick start is Example_quickStart, which go test runs with
// its output checked: this test keeps the two identical, so the README shows
// code that runs as written.
func TestREADMEQuickStart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("example_jwt_test.go")
	require.NoError(t, err)

	_, body, ok := strings.Cut(string(src), "\t// README quick start begins\n")
	require.True(t, ok)
	body, _, ok = strings.Cut(body, "\t// README quick start ends\n")
	require.True(t, ok)
	lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	want := "```go\n" + strings.Join(lines, "\n") + "\n```"

	_, section, ok := strings.Cut(string(readme), "## Quick start\n")
	require.True(t, ok)
	require.Contains(t, section, want, "README.md's quick start differs from Example_quickStart")
}
