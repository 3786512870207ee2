package natsrevoke

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPublishDurable: as BenchmarkPublish, with a publishing engine
// that has a Dir (SyncAlways, the default): the engine fsyncs each record
// and, since the outbox, the Replicator keeps it in its outbox file (one
// more fsync, group-committed) before the revoking call returns. Run it on
// the commit before the outbox to see what the outbox costs.
func BenchmarkPublishDurable(b *testing.B) {
	b.Run("mode=sync/callers=64", func(b *testing.B) {
		s := startServer(b, b.TempDir(), 0)
		a := newReplica(b, connect(b, s.ClientURL()), b.TempDir(), Config{Publish: Synchronous})
		var id atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := a.e.Revoke(fmt.Sprintf("k%d", id.Add(1)), expiry()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("mode=queued/callers=64", func(b *testing.B) {
		s := startServer(b, b.TempDir(), 0)
		a := newReplica(b, connect(b, s.ClientURL()), b.TempDir(), Config{QueueLength: 1 << 20})
		var id atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(32)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := a.e.Revoke(fmt.Sprintf("k%d", id.Add(1)), expiry()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		for a.r.Stats().Published < int64(b.N) {
			time.Sleep(100 * time.Microsecond)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
