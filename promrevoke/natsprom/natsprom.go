// Package natsprom exports the figures of a natsrevoke.Replicator as
// Prometheus metrics. It is a module of its own, so that promrevoke does not
// bring the NATS client into every build:
//
//	prometheus.MustRegister(natsprom.NewCollector(rep.Stats))
//
// The series, all from natsrevoke.Stats, read once per scrape:
//
//	revoke_replication_attached                       gauge    1 once the stream is found and consumed, 0 while detached
//	revoke_replication_attach_failures_total          counter  attempts to attach that failed
//	revoke_replication_queued                         gauge    records waiting to be published
//	revoke_replication_outbox                         gauge    records kept in the outbox file until acknowledged
//	revoke_replication_outbox_replayed                gauge    outbox records of the previous run published again since start
//	revoke_replication_outbox_errors_total            counter  failed writes to the outbox
//	revoke_replication_published_total                counter  records the stream acknowledged
//	revoke_replication_duplicates_total               counter  of those, recognised as already stored
//	revoke_replication_publish_failures_total         counter  failed publication attempts
//	revoke_replication_publish_retries_total          counter  retry rounds of the queue
//	revoke_replication_queue_full_total               counter  revocations refused with ErrQueueFull
//	revoke_replication_applied_total                  counter  records from the stream merged into the engine
//	revoke_replication_skipped_expired_total          counter  records already expired on arrival
//	revoke_replication_rejected_total                 counter  messages that did not decode
//	revoke_replication_refused_deadline_total         counter  records whose deadline lay too far ahead
//	revoke_replication_bad_mac_total                  counter  records without a valid MAC
//	revoke_replication_unsigned_total                 counter  records applied without a MAC (AcceptUnsigned)
//	revoke_replication_apply_errors_total             counter  failed applies (retried)
//	revoke_replication_consumer_errors_total          counter  errors of the stream subscription
//	revoke_replication_resubscribes_total             counter  consumers created anew
//	revoke_replication_stream_resets_total            counter  times the stream was found replaced and read again
//	revoke_replication_stream_created_timestamp_seconds gauge  creation time of the stream being read (0 while detached)
//	revoke_replication_start_sequence                 gauge    stream sequence consumption started from
//	revoke_replication_last_sequence                  gauge    stream sequence of the last message handled
//	revoke_replication_saved_sequence                 gauge    last sequence saved to the position file
//	revoke_replication_pending                        gauge    stream messages after the last one handled: the lag in records
//	revoke_replication_last_timestamp_seconds         gauge    when the stream stored the last message handled (0 before the first)
//	revoke_replication_lag_seconds                    gauge    how long after that it was handled here
package natsprom

import (
	"time"

	"github.com/jwtrevoke/revoke/natsrevoke"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a [prometheus.Collector] over a Replicator's Stats. It is
// safe for concurrent use; a scrape costs one Stats call (a few atomic
// loads).
type Collector struct {
	stats func() natsrevoke.Stats
	descs [len(series)]*prometheus.Desc
}

type metric struct {
	name, help string
	typ        prometheus.ValueType
	value      func(st *natsrevoke.Stats) float64
}

var series = [...]metric{
	{"revoke_replication_attached", "1 once the Replicator has found its stream and consumes it, 0 while detached.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return boolValue(st.Attached) }},
	{"revoke_replication_attach_failures_total", "Attempts to attach to the stream that failed.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.AttachFailures) }},
	{"revoke_replication_queued", "Records waiting to be published, those being retried included.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Queued) }},
	{"revoke_replication_outbox", "Records kept in the outbox file until the stream acknowledges them.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Outbox) }},
	{"revoke_replication_outbox_replayed", "Outbox records left by the previous run and published again since start.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Replayed) }},
	{"revoke_replication_outbox_errors_total", "Failed writes to the outbox file.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.OutboxErrors) }},
	{"revoke_replication_published_total", "Records the stream acknowledged.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Published) }},
	{"revoke_replication_duplicates_total", "Acknowledged records the stream recognised as already stored.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Duplicates) }},
	{"revoke_replication_publish_failures_total", "Failed publication attempts.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.PublishFailures) }},
	{"revoke_replication_publish_retries_total", "Retry rounds of the publication queue.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Retries) }},
	{"revoke_replication_queue_full_total", "Revocations refused because the publication queue was full.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.QueueFull) }},
	{"revoke_replication_applied_total", "Records from the stream merged into the engine.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Applied) }},
	{"revoke_replication_skipped_expired_total", "Records from the stream already expired on arrival.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.SkippedExpired) }},
	{"revoke_replication_rejected_total", "Stream messages that did not decode.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Rejected) }},
	{"revoke_replication_refused_deadline_total", "Stream records refused: deadline or cutoff further ahead than an engine can produce.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.RefusedDeadline) }},
	{"revoke_replication_bad_mac_total", "Stream records refused for a missing or invalid MAC.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.BadMAC) }},
	{"revoke_replication_unsigned_total", "Stream records applied without a MAC (AcceptUnsigned).", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Unsigned) }},
	{"revoke_replication_apply_errors_total", "Failed applies of stream records (retried).", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.ApplyErrors) }},
	{"revoke_replication_consumer_errors_total", "Errors of the stream subscription.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.ConsumerErrors) }},
	{"revoke_replication_resubscribes_total", "Stream consumers created anew after the old one gave up.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Resubscribes) }},
	{"revoke_replication_stream_resets_total", "Times the stream was found replaced and read again from its start.", prometheus.CounterValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.StreamResets) }},
	{"revoke_replication_stream_created_timestamp_seconds", "Unix time the stream being read was created, 0 while detached.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return unixSeconds(st.StreamCreated) }},
	{"revoke_replication_start_sequence", "Stream sequence consumption started from.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.StartSeq) }},
	{"revoke_replication_last_sequence", "Stream sequence of the last message handled.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.LastSeq) }},
	{"revoke_replication_saved_sequence", "Last stream sequence saved to the position file.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.SavedSeq) }},
	{"revoke_replication_pending", "Stream messages after the last one handled: the lag in records.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return float64(st.Pending) }},
	{"revoke_replication_last_timestamp_seconds", "Unix time the stream stored the last message handled, 0 before the first.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return unixSeconds(st.LastTimestamp) }},
	{"revoke_replication_lag_seconds", "How long after the stream stored the last message handled it was handled here.", prometheus.GaugeValue,
		func(st *natsrevoke.Stats) float64 { return st.Lag.Seconds() }},
}

// NewCollector returns a Collector that reads stats at each scrape: pass
// the Replicator's method value, rep.Stats. It panics if stats is nil (a
// programmer error).
func NewCollector(stats func() natsrevoke.Stats) *Collector {
	if stats == nil {
		panic("natsprom: NewCollector: nil stats")
	}
	c := &Collector{stats: stats}
	for i, m := range series {
		c.descs[i] = prometheus.NewDesc(m.name, m.help, nil, nil)
	}
	return c
}

// Describe sends the descriptors of the series.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the Stats once and sends one sample per series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for i, m := range series {
		ch <- prometheus.MustNewConstMetric(c.descs[i], m.typ, m.value(&st))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t in Unix seconds, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
