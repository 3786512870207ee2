package natsprom

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke/natsrevoke"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCollector gives every Stats field its own value, scrapes through a
// registry and promhttp, and checks each series.
func TestCollector(t *testing.T) {
	st := natsrevoke.Stats{
		Queued: 1, Published: 2, Duplicates: 3, PublishFailures: 4, Retries: 5, QueueFull: 6,
		Applied: 7, SkippedExpired: 8, Rejected: 9, ApplyErrors: 10, ConsumerErrors: 11, Resubscribes: 12,
		StartSeq: 13, LastSeq: 14, SavedSeq: 15, Pending: 16,
		LastTimestamp: time.Unix(17, 500_000_000), Lag: 1500 * time.Millisecond,
		Attached: true, AttachFailures: 19, Outbox: 20, Replayed: 21, OutboxErrors: 22,
		RefusedDeadline: 23, BadMAC: 24, Unsigned: 25, StreamResets: 26, StreamCreated: time.Unix(27, 0),
	}
	calls := 0
	c := NewCollector(func() natsrevoke.Stats { calls++; return st })
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))

	want := map[string]float64{
		"revoke_replication_queued": 1, "revoke_replication_published_total": 2,
		"revoke_replication_duplicates_total": 3, "revoke_replication_publish_failures_total": 4,
		"revoke_replication_publish_retries_total": 5, "revoke_replication_queue_full_total": 6,
		"revoke_replication_applied_total": 7, "revoke_replication_skipped_expired_total": 8,
		"revoke_replication_rejected_total": 9, "revoke_replication_apply_errors_total": 10,
		"revoke_replication_consumer_errors_total": 11, "revoke_replication_resubscribes_total": 12,
		"revoke_replication_start_sequence": 13, "revoke_replication_last_sequence": 14,
		"revoke_replication_saved_sequence": 15, "revoke_replication_pending": 16,
		"revoke_replication_last_timestamp_seconds": 17.5, "revoke_replication_lag_seconds": 1.5,
		"revoke_replication_attached": 1, "revoke_replication_attach_failures_total": 19,
		"revoke_replication_outbox": 20, "revoke_replication_outbox_replayed": 21,
		"revoke_replication_outbox_errors_total": 22, "revoke_replication_refused_deadline_total": 23,
		"revoke_replication_bad_mac_total": 24, "revoke_replication_unsigned_total": 25,
		"revoke_replication_stream_resets_total": 26, "revoke_replication_stream_created_timestamp_seconds": 27,
	}
	require.Len(t, want, len(series))
	var expected strings.Builder
	for _, m := range series {
		typ := "gauge"
		if m.typ == prometheus.CounterValue {
			typ = "counter"
		}
		assert.Equal(t, strings.HasSuffix(m.name, "_total"), typ == "counter", m.name)
		v, ok := want[m.name]
		require.True(t, ok, m.name)
		fmt.Fprintf(&expected, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", m.name, m.help, m.name, typ, m.name, v)
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected.String())))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
	calls = 0
	_, err = reg.Gather()
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "one Stats call per scrape")

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), "\nrevoke_replication_pending 16\n")
	assert.Contains(t, string(body), "\nrevoke_replication_lag_seconds 1.5\n")

	st.LastTimestamp, st.StreamCreated, st.Attached = time.Time{}, time.Time{}, false
	for _, m := range series {
		switch m.name {
		case "revoke_replication_last_timestamp_seconds", "revoke_replication_stream_created_timestamp_seconds", "revoke_replication_attached":
			assert.Zero(t, m.value(&st), m.name)
		}
	}
}

func TestNewCollectorNilPanics(t *testing.T) {
	assert.Panics(t, func() { NewCollector(nil) })
}
