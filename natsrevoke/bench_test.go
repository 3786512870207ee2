package natsrevoke

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/require"
)

// Benchmarks run against an in-process nats-server on loopback with file
// storage in a temp dir (the server's default sync: every 2 minutes, so an
// ack means "written to the OS", not fsynced). Publishing engines are
// memory-only, so the figures are the adapter's and the server's, not the
// engine's fsync.

func expiry() time.Time { return time.Now().Add(time.Hour) }

// benchSyncParallel publishes synchronously from 64 goroutines (32 per
// core), against a server that fsyncs every message if syncAlways.
func benchSyncParallel(b *testing.B, syncAlways bool) {
	s := startServerSync(b, b.TempDir(), 0, syncAlways)
	a := newReplica(b, connect(b, s.ClientURL()), "", Config{Publish: Synchronous})
	var id atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // 64 goroutines on 2 cores
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
}

// BenchmarkPublish: revocations per second through the observer until the
// stream acknowledged them all.
func BenchmarkPublish(b *testing.B) {
	b.Run("mode=sync/callers=1", func(b *testing.B) {
		s := startServer(b, b.TempDir(), 0)
		a := newReplica(b, connect(b, s.ClientURL()), "", Config{Publish: Synchronous})
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := a.e.Revoke(fmt.Sprintf("k%d", i), expiry()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	for _, syncAlways := range []bool{false, true} {
		name := "mode=sync/callers=64"
		if syncAlways {
			name += "/server=syncalways"
		}
		b.Run(name, func(b *testing.B) { benchSyncParallel(b, syncAlways) })
	}
	for _, syncAlways := range []bool{false, true} {
		name := "mode=queued"
		if syncAlways {
			name += "/server=syncalways"
		}
		b.Run(name, func(b *testing.B) { benchQueued(b, syncAlways) })
	}
}

// benchQueued publishes b.N revocations in Queued mode and waits for every
// acknowledgement.
func benchQueued(b *testing.B, syncAlways bool) {
	s := startServerSync(b, b.TempDir(), 0, syncAlways)
	a := newReplica(b, connect(b, s.ClientURL()), "", Config{QueueLength: 1 << 20})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := a.e.Revoke(fmt.Sprintf("k%d", i), expiry()); err != nil {
			b.Fatal(err)
		}
	}
	for a.r.Stats().Published < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkApply: a new replica catches up on a stream of 100 000 live
// records (NATSREVOKE_BENCH_RECORDS to change); records applied per
// second, from New to CaughtUp.
func BenchmarkApply(b *testing.B) {
	n := 100_000
	if v := os.Getenv("NATSREVOKE_BENCH_RECORDS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	s := startServer(b, b.TempDir(), 0)
	js := connect(b, s.ClientURL())
	pub := newReplica(b, js, "", Config{QueueLength: n})
	for i := range n {
		require.NoError(b, pub.e.Revoke(fmt.Sprintf("k%d", i), expiry()))
	}
	require.Eventually(b, func() bool { return pub.r.Stats().Published == int64(n) }, 10*time.Minute, time.Millisecond)
	info, err := js.Stream(b.Context(), DefaultStream)
	require.NoError(b, err)
	stored := float64(info.CachedInfo().State.Bytes) / float64(n)
	sentBytes := float64(js.Conn().Stats().OutBytes) / float64(n)
	for _, tc := range []struct {
		name string
		ecfg func(b *testing.B) revoke.Config
	}{
		{"engine=memory", func(*testing.B) revoke.Config { return revoke.Config{Capacity: n} }},
		{"engine=dir-syncalways", func(b *testing.B) revoke.Config { return revoke.Config{Capacity: n, Dir: b.TempDir()} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var elapsed time.Duration
			var received uint64
			for range b.N {
				start := time.Now()
				djs := connect(b, s.ClientURL())
				d := newReplicaEngine(b, djs, tc.ecfg(b), Config{})
				caughtUp(b, d)
				elapsed += time.Since(start)
				require.EqualValues(b, n, d.r.Stats().Applied)
				d.stop()
				received += djs.Conn().Stats().InBytes
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "records/s")
			b.ReportMetric(stored, "stored-B/record")
			b.ReportMetric(sentBytes, "published-B/record")
			b.ReportMetric(float64(received)/float64(n*b.N), "delivered-B/record")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkLag: replica A revokes at a steady 5 000 records/s for 2 s
// (queued mode); the time from A's Revoke returning to B having applied
// the record, p50 and p99. B persists (Dir, SyncAlways), A does not.
func BenchmarkLag(b *testing.B) {
	const rate, total = 5000, 10_000
	s := startServer(b, b.TempDir(), 0)
	a := newReplica(b, connect(b, s.ClientURL()), "", Config{})
	bb := newReplica(b, connect(b, s.ClientURL()), b.TempDir(), Config{})
	// A's observer is wrapped to note when each record left Revoke.
	var mu sync.Mutex
	sent := make(map[uint64]time.Time, total)
	lags := make([]time.Duration, 0, total*b.N)
	a.e.SetObserver(func(rec revoke.Record) error {
		mu.Lock()
		sent[rec.Fingerprint] = time.Now()
		mu.Unlock()
		return a.r.observe(rec)
	})
	fn := func(rec revoke.Record) {
		now := time.Now()
		mu.Lock()
		if t0, ok := sent[rec.Fingerprint]; ok {
			lags = append(lags, now.Sub(t0))
			delete(sent, rec.Fingerprint)
		}
		mu.Unlock()
	}
	bb.r.onApply.Store(&fn)
	b.ResetTimer()
	for it := range b.N {
		tick := time.NewTicker(time.Millisecond)
		for i := 0; i < total; {
			<-tick.C
			for range rate / 1000 {
				require.NoError(b, a.e.Revoke(fmt.Sprintf("k%d-%d", it, i), expiry()))
				i++
			}
		}
		tick.Stop()
		require.Eventually(b, func() bool { mu.Lock(); defer mu.Unlock(); return len(sent) == 0 }, time.Minute, time.Millisecond)
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}
