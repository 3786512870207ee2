package main

import (
	"bufio"
	"net/http"
	"strconv"

	"github.com/jwtrevoke/revoke"
)

// /metrics of "revoke serve", in the Prometheus text format (version 0.0.4).
//
// The core module keeps its three dependencies, so this is a small writer of
// its own rather than prometheus/client_golang. It writes the series of the
// promrevoke module's Collector, with the same names, help and types: a
// service that imports the library uses promrevoke; this endpoint only lets
// the demo server be scraped. promrevoke's TestServeMetricsMatch keeps the
// two tables in step.

// A series is one metric of the engine: its name, help, type and value.
type series struct {
	name, help, typ string
	value           func(st *revoke.Stats) float64
}

var engineSeries = [...]series{
	{"revoke_entries", "Revocations held: tokens, subject and global cutoffs, until their deadline.", "gauge",
		func(st *revoke.Stats) float64 { return float64(st.Entries) }},
	{"revoke_evictions_total", "Entries evicted at their deadline.", "counter",
		func(st *revoke.Stats) float64 { return float64(st.Evictions) }},
	{"revoke_memory_bytes", "Memory held by the tables, the expiry wheels and the bloom filter.", "gauge",
		func(st *revoke.Stats) float64 { return float64(st.Bytes) }},
	{"revoke_filter_bytes", "Size of the bloom filter.", "gauge",
		func(st *revoke.Stats) float64 { return float64(st.FilterBytes) }},
	{"revoke_filter_false_positive_ratio", "Estimated share of unrevoked keys that pass the bloom filter and need a table lookup.", "gauge",
		func(st *revoke.Stats) float64 { return st.FilterFalsePositiveRate }},
	{"revoke_filter_rebuilds_total", "Bloom filter rebuilds.", "counter",
		func(st *revoke.Stats) float64 { return float64(st.FilterRebuilds) }},
	{"revoke_shards", "Shards of the engine.", "gauge",
		func(st *revoke.Stats) float64 { return float64(st.Shards) }},
	{"revoke_journal_bytes", "Size of the current journal file (0 without a directory).", "gauge",
		func(st *revoke.Stats) float64 { return float64(st.JournalBytes) }},
	{"revoke_journal_records_total", "Records appended to the journal.", "counter",
		func(st *revoke.Stats) float64 { return float64(st.JournalRecords) }},
	{"revoke_journal_fsyncs_total", "Successful fsyncs of the journal.", "counter",
		func(st *revoke.Stats) float64 { return float64(st.JournalFsyncs) }},
	{"revoke_journal_error", "1 while the journal is stopped by a write or fsync error: every revocation fails until the engine is reopened.", "gauge",
		func(st *revoke.Stats) float64 {
			if st.JournalErr != nil {
				return 1
			}
			return 0
		}},
	{"revoke_snapshots_total", "Snapshots written.", "counter",
		func(st *revoke.Stats) float64 { return float64(st.Snapshots) }},
	{"revoke_snapshot_failures_total", "Snapshots that failed.", "counter",
		func(st *revoke.Stats) float64 { return float64(st.SnapshotFailures) }},
	{"revoke_last_snapshot_timestamp_seconds", "Unix time of the last snapshot written, 0 if none.", "gauge",
		func(st *revoke.Stats) float64 {
			if st.LastSnapshot.IsZero() {
				return 0
			}
			return float64(st.LastSnapshot.UnixNano()) / 1e9
		}},
}

// metricsHandler serves e's Stats, read once per scrape.
func metricsHandler(e *revoke.Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := e.Stats()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b := bufio.NewWriter(w)
		for _, s := range engineSeries {
			b.WriteString("# HELP " + s.name + " " + s.help + "\n")
			b.WriteString("# TYPE " + s.name + " " + s.typ + "\n")
			b.WriteString(s.name + " " + strconv.FormatFloat(s.value(&st), 'g', -1, 64) + "\n")
		}
		_ = b.Flush()
	})
}
