package promrevoke

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCollectorScrape runs an engine with a directory through revocations,
// evictions and a snapshot in a synctest bubble, then scrapes it through
// promhttp and checks every series.
func TestCollectorScrape(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		e, err := revoke.New(revoke.Config{Dir: dir, Capacity: 1024, Shards: 4})
		require.NoError(t, err)
		defer e.Close()
		now := time.Now()
		for i := range 5 {
			require.NoError(t, e.Revoke(fmt.Sprintf("short-%d", i), now.Add(2*time.Second)))
		}
		for i := range 3 {
			require.NoError(t, e.Revoke(fmt.Sprintf("long-%d", i), now.Add(time.Hour)))
		}
		require.NoError(t, e.Snapshot())
		time.Sleep(10 * time.Second) // the short ones are evicted
		synctest.Wait()

		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(NewCollector(e)))
		st := e.Stats()
		require.Equal(t, 3, st.Entries)
		require.Equal(t, uint64(5), st.Evictions)
		require.Equal(t, uint64(1), st.Snapshots)
		require.NotZero(t, st.JournalRecords)

		want := fmt.Sprintf(`
# HELP revoke_entries Revocations held: tokens, subject and global cutoffs, until their deadline.
# TYPE revoke_entries gauge
revoke_entries 3
# HELP revoke_evictions_total Entries evicted at their deadline.
# TYPE revoke_evictions_total counter
revoke_evictions_total 5
# HELP revoke_memory_bytes Memory held by the tables, the expiry wheels and the bloom filter.
# TYPE revoke_memory_bytes gauge
revoke_memory_bytes %d
# HELP revoke_filter_bytes Size of the bloom filter.
# TYPE revoke_filter_bytes gauge
revoke_filter_bytes %d
# HELP revoke_filter_false_positive_ratio Estimated share of unrevoked keys that pass the bloom filter and need a table lookup.
# TYPE revoke_filter_false_positive_ratio gauge
revoke_filter_false_positive_ratio %s
# HELP revoke_filter_rebuilds_total Bloom filter rebuilds.
# TYPE revoke_filter_rebuilds_total counter
revoke_filter_rebuilds_total %d
# HELP revoke_shards Shards of the engine.
# TYPE revoke_shards gauge
revoke_shards 4
# HELP revoke_journal_bytes Size of the current journal file (0 without a directory).
# TYPE revoke_journal_bytes gauge
revoke_journal_bytes %d
# HELP revoke_journal_records_total Records appended to the journal.
# TYPE revoke_journal_records_total counter
revoke_journal_records_total %d
# HELP revoke_journal_fsyncs_total Successful fsyncs of the journal.
# TYPE revoke_journal_fsyncs_total counter
revoke_journal_fsyncs_total %d
# HELP revoke_journal_error 1 while the journal is stopped by a write or fsync error: every revocation fails until the engine is reopened.
# TYPE revoke_journal_error gauge
revoke_journal_error 0
# HELP revoke_snapshots_total Snapshots written.
# TYPE revoke_snapshots_total counter
revoke_snapshots_total 1
# HELP revoke_snapshot_failures_total Snapshots that failed.
# TYPE revoke_snapshot_failures_total counter
revoke_snapshot_failures_total 0
# HELP revoke_last_snapshot_timestamp_seconds Unix time of the last snapshot written, 0 if none.
# TYPE revoke_last_snapshot_timestamp_seconds gauge
revoke_last_snapshot_timestamp_seconds %s
`, st.Bytes, st.FilterBytes, fmtFloat(st.FilterFalsePositiveRate), st.FilterRebuilds,
			st.JournalBytes, st.JournalRecords, st.JournalFsyncs,
			fmtFloat(float64(st.LastSnapshot.UnixNano())/1e9))
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want)))
		assert.Equal(t, len(engineMetrics), testutil.CollectAndCount(NewCollector(e)))
		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems, "names and units follow the Prometheus conventions")

		// The same through promhttp, as a Prometheus server scrapes it.
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		for _, m := range engineMetrics {
			assert.Contains(t, string(body), "\n"+m.Name+" ", m.Name)
		}
		assert.Contains(t, string(body), "revoke_entries 3\n")
		assert.Contains(t, string(body), "revoke_evictions_total 5\n")
	})
}

// fmtFloat formats v as the Prometheus text format does.
func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// TestEngineValues gives every Stats field its own value and checks that
// each lands in its own series.
func TestEngineValues(t *testing.T) {
	st := revoke.Stats{
		Entries: 1, Evictions: 2, Bytes: 3, FilterBytes: 4, FilterFalsePositiveRate: 0.5,
		FilterRebuilds: 6, Shards: 7, JournalBytes: 8, JournalRecords: 9, JournalFsyncs: 10,
		JournalErr: errors.New("disk full"), Snapshots: 12, SnapshotFailures: 13,
		LastSnapshot: time.Unix(14, 500_000_000),
	}
	want := map[string]float64{
		"revoke_entries": 1, "revoke_evictions_total": 2, "revoke_memory_bytes": 3,
		"revoke_filter_bytes": 4, "revoke_filter_false_positive_ratio": 0.5,
		"revoke_filter_rebuilds_total": 6, "revoke_shards": 7, "revoke_journal_bytes": 8,
		"revoke_journal_records_total": 9, "revoke_journal_fsyncs_total": 10,
		"revoke_journal_error": 1, "revoke_snapshots_total": 12,
		"revoke_snapshot_failures_total": 13, "revoke_last_snapshot_timestamp_seconds": 14.5,
	}
	got := engineValues(st)
	require.Len(t, want, len(engineMetrics))
	for i, m := range engineMetrics {
		assert.Equal(t, want[m.Name], got[i], m.Name)
		isCounter := strings.HasSuffix(m.Name, "_total")
		assert.Equal(t, isCounter, m.Type == prometheus.CounterValue, "%s: counters and only counters end in _total", m.Name)
	}

	st.JournalErr, st.LastSnapshot = nil, time.Time{}
	got = engineValues(st)
	assert.Zero(t, got[10], "no journal error")
	assert.Zero(t, got[13], "no snapshot yet")
}

func TestNewCollectorNilEnginePanics(t *testing.T) {
	assert.Panics(t, func() { NewCollector(nil) })
}

// TestServeMetricsMatch: "revoke serve" writes the engine's series with a
// writer of its own (the core cannot depend on client_golang); its table
// must name each series as the Collector does, with the same help and type.
func TestServeMetricsMatch(t *testing.T) {
	src, err := os.ReadFile("../cmd/revoke/metrics.go")
	require.NoError(t, err)
	for _, m := range engineMetrics {
		typ := "gauge"
		if m.Type == prometheus.CounterValue {
			typ = "counter"
		}
		assert.Contains(t, string(src), fmt.Sprintf("{%q, %q, %q,", m.Name, m.Help, typ), m.Name)
	}
	assert.Equal(t, len(engineMetrics), strings.Count(string(src), `{"revoke_`), "no series of its own")
}
