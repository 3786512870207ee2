package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
cpu: Some CPU
BenchmarkDenyList/size=1M/impl=revoke/case=memory     	1000000000	         0 ns/op	        30.00 B/entry	 4.000 gc-ms	 0 lost-%
BenchmarkDenyList/size=1M/impl=otter/case=memory     	1000000000	         0 ns/op	        150.0 B/entry	 90.00 gc-ms	 0 lost-%
BenchmarkDenyList/size=1M/impl=revoke/case=mix     	30000000	        40.00 ns/op	 0 wrong-%
BenchmarkDenyList/size=1M/impl=revoke/case=mix     	30000000	        50.00 ns/op	 0 wrong-%
BenchmarkDenyList/size=1M/impl=revoke/case=mix     	30000000	        45.00 ns/op	 0 wrong-%
BenchmarkDenyList/size=1M/impl=otter/case=mix     	5000000	       200.0 ns/op	 0 wrong-%
BenchmarkDenyList/size=1M/impl=otter/case=mix-2     	5000000	       100.0 ns/op	 0.5 wrong-%
PASS
`

func TestParseAndTables(t *testing.T) {
	rs, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, rs.cpus)
	assert.Equal(t, []string{"1M"}, rs.sizes)
	assert.Equal(t, "Some CPU", rs.cpuLine)
	m, ok := rs.median(denyName("1M", "revoke", "mix"), 1, "ns/op")
	require.True(t, ok)
	assert.Equal(t, 45.0, m, "median of 40, 50, 45")
	q, _, _, ok := rs.ratio("1M", "otter", "mix", 1, "ns/op")
	require.True(t, ok)
	assert.InDelta(t, 200.0/45, q, 1e-9)

	md := rs.markdown(header{cmd: "go test", date: "today"})
	assert.Contains(t, md, "| ≥ 3× otter on the deny-list mix, 1 goroutine(s) | 1M | 4.44× (200 ns vs 45.0 ns) | yes |")
	assert.Contains(t, md, "| ≥ 4× less memory per entry than otter | 1M | 5.00× (150 vs 30.0 B/entry) | yes |")
	assert.Contains(t, md, "mix: 0.50% of checks answered wrongly")
	assert.NotContains(t, md, "%!")
}

func TestReplaceSectionAndCharts(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("intro\n"+beginMarker+"\nold\n"+endMarker+"\noutro\n"), 0o644))
	rs, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	charts, err := rs.charts(dir)
	require.NoError(t, err)
	assert.Len(t, charts, 2)
	for _, c := range charts {
		st, err := os.Stat(c)
		require.NoError(t, err)
		assert.Positive(t, st.Size())
	}
	require.NoError(t, replaceSection(readme, rs.markdown(header{charts: charts, readmeDir: dir})))
	b, err := os.ReadFile(readme)
	require.NoError(t, err)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, "intro\n"+beginMarker))
	assert.True(t, strings.HasSuffix(s, endMarker+"\noutro\n"))
	assert.NotContains(t, s, "old")
	assert.Contains(t, s, "](ns-per-op-1M.png)")
}
