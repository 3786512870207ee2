package promrevoke

import (
	"github.com/jwtrevoke/revoke"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a [prometheus.Collector] over [revoke.Engine.Stats]: each
// scrape reads the engine's figures once and reports them as the series
// listed in the package documentation.
//
// A Collector is safe for concurrent use (the Prometheus registry may
// scrape it from several goroutines). A scrape costs one Engine.Stats call,
// O(shards) read locks, none of them on the request path.
type Collector struct {
	e     *revoke.Engine
	descs [len(engineMetrics)]*prometheus.Desc
}

// A metric names one series a collector of this package exports, with its
// help text and type.
type metric struct {
	Name, Help string
	Type       prometheus.ValueType
}

// engineMetrics are the series of a [Collector], in order, named by the
// Prometheus conventions: a `revoke_` prefix, base units (bytes, seconds),
// `_total` on counters.
var engineMetrics = [...]metric{
	{"revoke_entries", "Revocations held: tokens, subject and global cutoffs, until their deadline.", prometheus.GaugeValue},
	{"revoke_evictions_total", "Entries evicted at their deadline.", prometheus.CounterValue},
	{"revoke_memory_bytes", "Memory held by the tables, the expiry wheels and the bloom filter.", prometheus.GaugeValue},
	{"revoke_filter_bytes", "Size of the bloom filter.", prometheus.GaugeValue},
	{"revoke_filter_false_positive_ratio", "Estimated share of unrevoked keys that pass the bloom filter and need a table lookup.", prometheus.GaugeValue},
	{"revoke_filter_rebuilds_total", "Bloom filter rebuilds.", prometheus.CounterValue},
	{"revoke_shards", "Shards of the engine.", prometheus.GaugeValue},
	{"revoke_journal_bytes", "Size of the current journal file (0 without a directory).", prometheus.GaugeValue},
	{"revoke_journal_records_total", "Records appended to the journal.", prometheus.CounterValue},
	{"revoke_journal_fsyncs_total", "Successful fsyncs of the journal.", prometheus.CounterValue},
	{"revoke_journal_error", "1 while the journal is stopped by a write or fsync error: every revocation fails until the engine is reopened.", prometheus.GaugeValue},
	{"revoke_snapshots_total", "Snapshots written.", prometheus.CounterValue},
	{"revoke_snapshot_failures_total", "Snapshots that failed.", prometheus.CounterValue},
	{"revoke_last_snapshot_timestamp_seconds", "Unix time of the last snapshot written, 0 if none.", prometheus.GaugeValue},
}

// NewCollector returns a Collector over e; register it with
// prometheus.MustRegister or a registry of your own. It panics if e is nil
// (a programmer error).
func NewCollector(e *revoke.Engine) *Collector {
	if e == nil {
		panic("promrevoke: NewCollector: nil Engine")
	}
	c := &Collector{e: e}
	for i, m := range engineMetrics {
		c.descs[i] = prometheus.NewDesc(m.Name, m.Help, nil, nil)
	}
	return c
}

// Describe sends the descriptors of the series of engineMetrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads [revoke.Engine.Stats] once and sends one sample per series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for i, v := range engineValues(c.e.Stats()) {
		ch <- prometheus.MustNewConstMetric(c.descs[i], engineMetrics[i].Type, v)
	}
}

// engineValues returns the values of the series of engineMetrics for st,
// in the same order.
func engineValues(st revoke.Stats) [len(engineMetrics)]float64 {
	journalErr := 0.0
	if st.JournalErr != nil {
		journalErr = 1
	}
	lastSnapshot := 0.0
	if !st.LastSnapshot.IsZero() {
		lastSnapshot = float64(st.LastSnapshot.UnixNano()) / 1e9
	}
	return [...]float64{
		float64(st.Entries),
		float64(st.Evictions),
		float64(st.Bytes),
		float64(st.FilterBytes),
		st.FilterFalsePositiveRate,
		float64(st.FilterRebuilds),
		float64(st.Shards),
		float64(st.JournalBytes),
		float64(st.JournalRecords),
		float64(st.JournalFsyncs),
		journalErr,
		float64(st.Snapshots),
		float64(st.SnapshotFailures),
		lastSnapshot,
	}
}
