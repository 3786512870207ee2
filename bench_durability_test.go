package revoke

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Durability benchmarks. The 10M-entry cases need about 1 GiB and a few
// seconds each: they run only with REVOKE_BENCH_LARGE=1.
//
//	go test -run '^$' -bench 'Snapshot|SyncAlways' -benchtime 3x .
//	REVOKE_BENCH_LARGE=1 go test -run '^$' -bench 'Snapshot' -benchtime 3x .

func snapshotSizes() []int {
	if os.Getenv("REVOKE_BENCH_LARGE") == "1" {
		return []int{1_000_000, 10_000_000}
	}
	return []int{1_000_000}
}

func sizeName(n int) string {
	if n%1_000_000 == 0 {
		return strconv.Itoa(n/1_000_000) + "M"
	}
	return strconv.Itoa(n)
}

// filledEngine returns an engine in dir holding n live entries, applied in
// memory only (the benchmarks measure snapshots, not journal appends).
func filledEngine(b *testing.B, dir string, n int) *Engine {
	b.Helper()
	e, err := New(Config{Dir: dir, Capacity: n, Sync: SyncNever, SnapshotInterval: -1, SnapshotJournalBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := uint32(time.Now().Add(time.Hour).Unix())
	for range n {
		if err := e.apply(record{fp: nonZero(rng.Uint64()), deadline: base + rng.Uint32N(86400)}, true); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

func reportEntryRate(b *testing.B, entries int) {
	b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(0, "ns/op") // per-snapshot time is in sec/op below
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "sec/op")
}

// cpuMeter measures the process CPU time of the timed parts of a
// benchmark (start and stop it with the timer).
type cpuMeter struct {
	total, since time.Duration
}

func (m *cpuMeter) start() { m.since = processCPU() }
func (m *cpuMeter) stop()  { m.total += processCPU() - m.since }

// report adds CPU seconds per op and what per CPU second: on the shared
// 2-core machine wall time depends on the neighbours, CPU time much less.
func (m *cpuMeter) report(b *testing.B, what string, per int) {
	if m.total <= 0 {
		return
	}
	b.ReportMetric(m.total.Seconds()/float64(b.N), "cpu-sec/op")
	b.ReportMetric(float64(per)*float64(b.N)/m.total.Seconds(), what+"/cpu-s")
}

// BenchmarkSnapshotWrite measures Engine.Snapshot: walk the shards, write
// the temporary file, fsync, rename, fsync the directory.
func BenchmarkSnapshotWrite(b *testing.B) {
	for _, n := range snapshotSizes() {
		b.Run(sizeName(n), func(b *testing.B) {
			e := filledEngine(b, b.TempDir(), n)
			defer e.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := e.Snapshot(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportEntryRate(b, n)
		})
	}
}

// BenchmarkSnapshotLoad measures New on a directory holding a snapshot:
// read, verify, insert every entry, rebuild the filter.
func BenchmarkSnapshotLoad(b *testing.B) {
	for _, n := range snapshotSizes() {
		b.Run(sizeName(n), func(b *testing.B) {
			dir := b.TempDir()
			e := filledEngine(b, dir, n)
			if err := e.Snapshot(); err != nil {
				b.Fatal(err)
			}
			_ = e.Close()
			e = nil
			cfg := Config{Dir: dir, Capacity: n, SnapshotInterval: -1, SnapshotJournalBytes: -1}
			var cpu cpuMeter
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				cpu.start()
				e, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if e.Len() != n {
					b.Fatalf("loaded %d entries, want %d", e.Len(), n)
				}
				b.StopTimer()
				cpu.stop()
				_ = e.Close()
				b.StartTimer()
			}
			b.StopTimer()
			reportEntryRate(b, n)
			cpu.report(b, "entries", n)
		})
	}
}

// BenchmarkSnapshotStream measures WriteTo and ReadFrom through memory.
func BenchmarkSnapshotStream(b *testing.B) {
	n := 1_000_000
	e := filledEngine(b, b.TempDir(), n)
	defer e.Close()
	var buf bytes.Buffer
	if _, err := e.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	b.Run("WriteTo/1M", func(b *testing.B) {
		var out bytes.Buffer
		out.Grow(buf.Len())
		for range b.N {
			out.Reset()
			if _, err := e.WriteTo(&out); err != nil {
				b.Fatal(err)
			}
		}
		reportEntryRate(b, n)
	})
	b.Run("ReadFrom/1M", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			dst, err := New(Config{Capacity: n})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := dst.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = dst.Close()
			b.StartTimer()
		}
		reportEntryRate(b, n)
	})
}

// BenchmarkRevokeSyncAlways measures durable revocations from 1, 8 and 64
// goroutines: each Revoke returns after its record is fsynced, and group
// commit lets concurrent callers share an fsync. ns/op is per revocation.
func BenchmarkRevokeSyncAlways(b *testing.B) {
	for _, goroutines := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			e, err := New(Config{Dir: b.TempDir(), SnapshotInterval: -1, SnapshotJournalBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			exp := time.Now().Add(time.Hour)
			each := (b.N + goroutines - 1) / goroutines
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					key := []byte("g" + strconv.Itoa(g) + "-")
					base := len(key)
					for i := range each {
						key = strconv.AppendInt(key[:base], int64(i), 10)
						if err := e.Revoke(string(key), exp); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(each*goroutines)/b.Elapsed().Seconds(), "revocations/s")
			st := e.Stats()
			b.ReportMetric(float64(st.JournalRecords)/float64(max(st.JournalFsyncs, 1)), "revocations/fsync")
		})
	}
}

// journalOfSingleFrames writes to dir a journal of generation 1 that holds
// size bytes of single-record frames (what sequential SyncAlways
// revocations write) and returns the number of records.
func journalOfSingleFrames(b *testing.B, dir string, size int) int {
	b.Helper()
	h := journalHeader(1, time.Now().Unix())
	const frame = journalFrameHead + recordSize
	n := (size - journalHeaderSize) / frame
	buf := make([]byte, 0, journalHeaderSize+n*frame)
	buf = append(buf, h[:]...)
	rng := rand.New(rand.NewPCG(3, 4))
	base := uint32(time.Now().Add(time.Hour).Unix())
	seed := genSeed(1)
	for range n {
		off := len(buf)
		buf = append(buf, journalFrameMagic...)
		buf = append(buf, make([]byte, journalFrameHead-len(journalFrameMagic)+recordSize)...)
		binary.LittleEndian.PutUint32(buf[off+4:], 1)
		putRecord(buf[off+journalFrameHead:], record{fp: nonZero(rng.Uint64()), deadline: base + rng.Uint32N(86400)})
		sealFrames(buf[off:], seed)
	}
	if err := os.WriteFile(filepath.Join(dir, journalName(1)), buf, 0o600); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkJournalReplay measures New on a directory holding a 64 MiB
// journal of single-record frames, with 32 and 1024 shards: read, verify
// and apply every frame, build the filter, start a journal.
//
//	go test -run '^$' -bench JournalReplay -count 6 .
func BenchmarkJournalReplay(b *testing.B) {
	for _, shards := range []int{32, 1024} {
		b.Run(fmt.Sprintf("64MiB/shards=%d", shards), func(b *testing.B) {
			dir := b.TempDir()
			n := journalOfSingleFrames(b, dir, 64<<20)
			cfg := Config{Dir: dir, Shards: shards, Capacity: n, SnapshotInterval: -1, SnapshotJournalBytes: -1}
			var cpu cpuMeter
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				cpu.start()
				e, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu.stop()
				if e.Len() != n {
					b.Fatalf("replayed %d records, want %d", e.Len(), n)
				}
				_ = e.Close()
				if err := os.Remove(filepath.Join(dir, journalName(2))); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "sec/op")
			cpu.report(b, "records", n)
		})
	}
}
