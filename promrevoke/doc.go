// Package promrevoke exports the figures of a [revoke.Engine] and the
// refusals of a [revoke.Verifier] as Prometheus metrics.
//
//	e, _ := revoke.New(revoke.Config{})
//	refusals := promrevoke.NewRefusals()
//	v, _ := revoke.NewVerifierWithConfig(revoke.VerifierConfig{
//		Engine: e, KeyFunc: keyFunc, OnRefuse: refusals.Observe,
//	})
//	prometheus.MustRegister(promrevoke.NewCollector(e), refusals)
//	http.Handle("/metrics", promhttp.Handler())
//
// The series, named by the Prometheus conventions (base units, `_total` on
// counters):
//
//	revoke_entries                          gauge    revocations held (tokens, subject and global cutoffs)
//	revoke_evictions_total                  counter  entries evicted at their deadline
//	revoke_memory_bytes                     gauge    memory of the tables, expiry wheels and bloom filter
//	revoke_filter_bytes                     gauge    size of the bloom filter
//	revoke_filter_false_positive_ratio      gauge    estimated false-positive rate of the filter
//	revoke_filter_rebuilds_total            counter  filter rebuilds
//	revoke_shards                           gauge    shards of the engine
//	revoke_journal_bytes                    gauge    size of the current journal file
//	revoke_journal_records_total            counter  records appended to the journal
//	revoke_journal_fsyncs_total             counter  successful journal fsyncs
//	revoke_journal_error                    gauge    1 while the journal is stopped by an error
//	revoke_snapshots_total                  counter  snapshots written
//	revoke_snapshot_failures_total          counter  snapshots that failed
//	revoke_last_snapshot_timestamp_seconds  gauge    Unix time of the last snapshot, 0 if none
//	revoke_refusals_total{reason}           counter  tokens refused, by reason (see [Refusals])
//
// The engine's series are read from [revoke.Engine.Stats] at scrape time:
// nothing is added to the engine's paths. Refusals are counted by the
// Verifier's OnRefuse hook, which runs only for refused tokens: a token that
// is accepted touches no counter.
package promrevoke
