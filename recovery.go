package revoke

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 1<<20) }

// openDir recovers the engine from the snapshot and journals of
// Config.Dir, skipping what has expired, then starts a fresh journal
// generation. It runs in New, before any goroutine of the engine starts.
// Records are merged as put merges them and the MaxEntries cap is not
// applied: a cap refuses new revocations, it never drops stored ones.
//
// It returns readOnly (wrapping ErrReadOnly) instead of err when
// Config.AllowReadOnly is set, the directory verified and was loaded, and
// only writing to it failed: the engine is then usable without a journal.
func (e *Engine) openDir() (readOnly, err error) {
	fsys, dir := e.cfg.fs, e.cfg.Dir
	created, err := fsys.MkdirAll(dir)
	if err != nil {
		return nil, fmt.Errorf("revoke: creating %s: %w", dir, err)
	}
	// A new directory entry is durable once its parent is fsynced: without
	// this a power loss could take the directory, and every acknowledged
	// record in it, away.
	for _, d := range created {
		if err := fsys.SyncDir(filepath.Dir(d)); err != nil {
			return nil, fmt.Errorf("revoke: creating %s: syncing %s: %w", dir, filepath.Dir(d), err)
		}
	}
	lock, err := fsys.Lock(dir)
	if err != nil {
		return nil, err
	}
	readOnly, err = e.recoverDir(fsys, dir)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	e.dirLock = lock
	return readOnly, nil
}

// recoverDir is openDir once the directory is locked.
func (e *Engine) recoverDir(fsys fileSystem, dir string) (readOnly, err error) {
	l := newLoader(e, time.Now().Unix())
	e.bulkLoading = true
	plan, err := loadDir(fsys, dir, l.apply, nil)
	e.bulkLoading = false
	if err != nil {
		return nil, err
	}
	e.buildFilter(l.workers)
	e.dirPlan = plan
	e.jnl = newJournal(fsys, dir, e.cfg, e.kickSnapshot)
	e.jnl.dirID = plan.dirID
	if err := e.openJournal(); err != nil {
		if !e.cfg.AllowReadOnly {
			return nil, err
		}
		ro := fmt.Errorf("%w: %w", ErrReadOnly, err)
		e.jnl.setReadOnly(ro)
		return ro, nil
	}
	return nil, nil
}

// openJournal repairs what recovery found (see repairDir) and starts the
// journal of generation dirPlan.next. Called by New, and then by the
// durability goroutine alone while the engine is read-only.
func (e *Engine) openJournal() error {
	fsys, dir := e.cfg.fs, e.cfg.Dir
	if err := repairDir(fsys, dir, e.dirPlan); err != nil {
		return err
	}
	e.dirPlan = dirPlan{next: e.dirPlan.next, dirID: e.dirPlan.dirID} // done; a retry repeats nothing
	f, err := createJournal(fsys, dir, e.dirPlan.next, e.jnl.dirID)
	if err != nil {
		return err
	}
	e.jnl.attach(f, e.dirPlan.next)
	return nil
}

// buildFilter replaces the filter with one built from the tables, sized as
// rebuildFilter sizes it. It must run before the engine is shared. Adding
// fingerprints in random order to a filter larger than the caches costs a
// cache miss each (most of the time of loading a large snapshot), so they
// are first bucketed by their region of the filter (a one-pass radix
// partition on the block index) and added region by region, workers
// taking disjoint regions.
func (e *Engine) buildFilter(workers int) {
	live := e.Len()
	f := newBloomFilter(max(e.cfg.Capacity, live+live/2), &e.place)
	defer e.filter.Store(f)
	const regions = 256
	region := func(fp uint64) int { return f.region(fp, regions) }
	if live < 1<<16 {
		e.eachRecord(func(r record) { f.add(r.fp) })
		return
	}
	var start [regions + 1]int
	e.eachRecord(func(r record) { start[region(r.fp)+1]++ })
	for i := 1; i <= regions; i++ {
		start[i] += start[i-1]
	}
	pos := start
	fps := make([]uint64, start[regions])
	e.eachRecord(func(r record) {
		g := region(r.fp)
		fps[pos[g]] = r.fp
		pos[g]++
	})
	var wg sync.WaitGroup
	for w := range max(workers, 1) {
		wg.Go(func() {
			for g := w; g < regions; g += max(workers, 1) {
				for _, fp := range fps[start[g]:start[g+1]] {
					f.add(fp)
				}
			}
		})
	}
	wg.Wait()
}

// eachRecord calls fn for every record held. Only for an engine nobody
// else uses yet: it takes no lock.
func (e *Engine) eachRecord(fn func(record)) {
	for i := range e.shards {
		for _, r := range e.shards[i].tab.slots {
			if r.fp != 0 {
				fn(r)
			}
		}
	}
}

// kickSnapshot asks the snapshot goroutine for a snapshot; it never blocks.
func (e *Engine) kickSnapshot() {
	select {
	case e.snapKick <- struct{}{}:
	default:
	}
}

// durabilityLoop is the background goroutine of an engine with a Dir: it
// fsyncs the journal every SyncInterval under SyncEvery and takes a
// snapshot every SnapshotInterval and whenever the journal passes
// SnapshotJournalBytes. A failed snapshot is logged and retried at the next
// tick, or on the journal size after snapshotRetryDelay (not on every
// append, which would hammer a failing disk); the journal keeps everything
// meanwhile.
func (e *Engine) durabilityLoop() {
	defer e.workers.Done()
	var syncC, snapC <-chan time.Time
	if e.cfg.Sync == SyncEvery {
		t := time.NewTicker(e.cfg.SyncInterval)
		defer t.Stop()
		syncC = t.C
	}
	if e.cfg.SnapshotInterval > 0 {
		t := time.NewTicker(e.cfg.SnapshotInterval)
		defer t.Stop()
		snapC = t.C
	}
	var roC <-chan time.Time
	if e.jnl.isReadOnly() {
		t := time.NewTicker(readOnlyRetry)
		defer t.Stop()
		roC = t.C
	}
	var retryAt time.Time // kicks before it are ignored after a failure
	for {
		select {
		case <-e.stop:
			return
		case <-syncC:
			e.jnl.sync()
			continue
		case <-roC:
			if !e.jnl.isReadOnly() {
				roC = nil
			} else if err := e.openJournal(); err != nil {
				e.jnl.setReadOnly(fmt.Errorf("%w: %w", ErrReadOnly, err))
			} else {
				slog.Info("revoke: the journal is open again; revocations are accepted", "dir", e.cfg.Dir)
				roC = nil
			}
			continue
		case <-snapC:
		case <-e.snapKick:
			if time.Now().Before(retryAt) {
				continue
			}
		}
		if err := e.Snapshot(); err != nil && !errors.Is(err, ErrClosed) {
			slog.Error("revoke: background snapshot failed", "dir", e.cfg.Dir, "err", err)
			retryAt = time.Now().Add(snapshotRetryDelay)
		}
	}
}

// readOnlyRetry is how often a read-only engine tries to open its journal.
const readOnlyRetry = 5 * time.Second

// snapshotRetryDelay is how long a failed background snapshot waits before
// the journal size may trigger another.
const snapshotRetryDelay = 10 * time.Second

// Verdict is what [InspectDir] concluded about one file of a directory.
type Verdict string

// Verdicts of [FileReport].
const (
	// VerdictOK: the file verifies.
	VerdictOK Verdict = "ok"
	// VerdictTorn: the newest journal ends in what an interrupted write
	// leaves (never acknowledged); New trims it, or replaces a file whose
	// header is torn, reusing its generation.
	VerdictTorn Verdict = "torn"
	// VerdictStale: a journal the snapshot covers; New deletes it.
	VerdictStale Verdict = "stale"
	// VerdictLeftover: an unfinished snapshot; New deletes it.
	VerdictLeftover Verdict = "leftover"
	// VerdictCorrupt: the file does not verify; New refuses to start.
	VerdictCorrupt Verdict = "corrupt"
	// VerdictMissing: a file that must be there is not (a journal
	// generation, the snapshot); New refuses to start.
	VerdictMissing Verdict = "missing"
	// VerdictUnsupported: a file of a format version this build does not
	// read (written by a newer release); New refuses to start and never
	// changes it.
	VerdictUnsupported Verdict = "unsupported"
	// VerdictUnreadable: the file could not be read (permissions, I/O).
	VerdictUnreadable Verdict = "unreadable"
)

// verdictOf is the verdict of a file whose reading failed with err.
func verdictOf(err error) Verdict {
	switch {
	case errors.Is(err, ErrUnsupportedVersion):
		return VerdictUnsupported
	case errors.Is(err, ErrCorrupt):
		return VerdictCorrupt
	}
	return VerdictUnreadable
}

// FileReport describes one file of a durability directory, as
// [InspectDir] found it.
type FileReport struct {
	// Name is the file name within the directory; for missing journal
	// generations, the name (or range of names) they would have.
	Name string
	// Kind is "snapshot" or "journal".
	Kind string
	// Verdict is what the file is; Problem says why, for every verdict
	// but VerdictOK.
	Verdict Verdict
	Problem string
	// Size is the file size in bytes (0 for a stale journal, not read).
	Size int64
	// Generation is the journal generation of a journal; for the
	// snapshot, the first journal generation it does not cover. File names
	// spell it in 16 hex digits.
	Generation uint64
	// Created is when the file was started (zero if unknown).
	Created time.Time
	// Records is the number of records the file holds (of a damaged file:
	// those before the damage).
	Records int
	// Frames is the number of frames (group-commit batches) of a journal.
	Frames int
	// TornBytes is the size of the newest journal's torn tail: bytes after
	// the last complete frame that New trims.
	TornBytes int64
	// Stale marks a journal the snapshot covers, which New would delete
	// (Verdict is then VerdictStale).
	Stale bool
}

// DeadlineBucket is one bar of [DirReport].Deadlines: the live entries
// whose deadline lies less than Within from the moment of inspection (and
// not less than the previous bucket's Within).
type DeadlineBucket struct {
	// Within is the bucket's upper bound; math.MaxInt64 for the last one.
	Within time.Duration
	// Count is the number of live entries in the bucket.
	Count int
}

// DirReport is what [InspectDir] found in a directory.
type DirReport struct {
	// Files lists every file with its verdict: the snapshot first, then
	// the journals in order of generation (missing ones included), then an
	// unfinished snapshot.
	Files []FileReport
	// Live is the number of distinct entries that a restart now would
	// load; Expired the number it would skip. When a file does not verify,
	// they count what the files (and parts of files) that verify hold.
	Live, Expired int
	// Deadlines is a histogram of the live entries by time left.
	Deadlines []DeadlineBucket
}

// deadlineBounds are the upper bounds of the DirReport histogram.
var deadlineBounds = []time.Duration{
	time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour,
	7 * 24 * time.Hour, 30 * 24 * time.Hour, math.MaxInt64,
}

// InspectDir verifies the snapshot and journals in dir, the Config.Dir of an
// engine, without changing anything, and reports every file with its
// verdict and what the files hold. It returns the error New would return
// for the directory: nil when New would start (after trimming a torn tail
// and deleting leftovers, which the report lists), an error wrapping
// [ErrCorrupt] for a damaged or missing file, [ErrUnsupportedVersion] for a
// file of a newer release, and another error (wrapping the operating
// system's, such as [fs.ErrNotExist] or [fs.ErrPermission]) when dir or a
// file cannot be read. It is safe to run beside a live engine, although
// files may then change under it: when a file it listed is gone by the
// time it opens it (a snapshot deleted a covered journal), it starts over,
// up to 3 times. Cost: it reads every file and holds 16 bytes per distinct
// entry in memory.
func InspectDir(dir string) (DirReport, error) {
	return inspectDir(osFS{}, dir)
}

// inspectAttempts bounds how often InspectDir starts over when a file it
// listed is gone by the time it opens it: a live engine deletes covered
// journals after each snapshot, and that is no reason to report a file as
// unreadable.
const inspectAttempts = 3

func inspectDir(fsys fileSystem, dir string) (DirReport, error) {
	for attempt := 1; ; attempt++ {
		vfs := &vanishFS{fileSystem: fsys}
		rep, err := inspectOnce(vfs, dir)
		if !vfs.vanished || attempt == inspectAttempts {
			return rep, err
		}
	}
}

// vanishFS notes that a file could not be opened because it no longer
// exists.
type vanishFS struct {
	fileSystem
	vanished bool
}

func (v *vanishFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := v.fileSystem.OpenFile(name, flag, perm)
	if errors.Is(err, fs.ErrNotExist) {
		v.vanished = true
	}
	return f, err
}

func inspectOnce(fsys fileSystem, dir string) (DirReport, error) {
	var rep DirReport
	tmp, err := newEngine(Config{Shards: 16})
	if err != nil {
		return rep, err
	}
	_, err = loadDir(fsys, dir, func(recs []record) {
		for _, r := range recs {
			if r.fp != 0 {
				_ = tmp.apply(r, false)
			}
		}
	}, func(f FileReport) {
		f.Stale = f.Verdict == VerdictStale
		rep.Files = append(rep.Files, f)
	})
	now := time.Now()
	rep.Deadlines = make([]DeadlineBucket, len(deadlineBounds))
	for i, b := range deadlineBounds {
		rep.Deadlines[i].Within = b
	}
	for i := range tmp.shards {
		for _, r := range tmp.shards[i].tab.slots {
			if r.fp == 0 {
				continue
			}
			left := time.Unix(int64(r.deadline), 0).Sub(now)
			if left <= 0 {
				rep.Expired++
				continue
			}
			rep.Live++
			for j, b := range deadlineBounds {
				if left < b || j == len(deadlineBounds)-1 {
					rep.Deadlines[j].Count++
					break
				}
			}
		}
	}
	return rep, err
}

// loader applies recovered records to an engine that nobody else uses yet,
// fast: each block of records is bucketed by shard (a counting sort), and
// GOMAXPROCS workers apply disjoint sets of shards in parallel, each locking
// a shard once per block. Records past their deadline (at now) and zero
// fingerprints are skipped; MaxEntries is not applied.
type loader struct {
	e       *Engine
	now     int64
	workers int
	// start[s]..start[s+1] is the range of shard s in sorted.
	start  []int
	pos    []int
	sorted []record
}

func newLoader(e *Engine, now int64) *loader {
	n := len(e.shards)
	return &loader{
		e: e, now: now, workers: min(runtime.GOMAXPROCS(0), n),
		start: make([]int, n+1), pos: make([]int, n),
	}
}

// loaderParallelMin is the block size below which one goroutine applies
// a block alone: starting workers costs more than it saves.
const loaderParallelMin = 1024

func (l *loader) apply(recs []record) {
	e := l.e
	clear(l.start)
	for _, r := range recs {
		if r.fp != 0 && int64(r.deadline) > l.now {
			l.start[e.shardIndex(r.fp)+1]++
		}
	}
	for i := 1; i < len(l.start); i++ {
		l.start[i] += l.start[i-1]
	}
	total := l.start[len(l.start)-1]
	if cap(l.sorted) < total {
		l.sorted = make([]record, total)
	}
	l.sorted = l.sorted[:total]
	copy(l.pos, l.start)
	for _, r := range recs {
		if r.fp != 0 && int64(r.deadline) > l.now {
			s := e.shardIndex(r.fp)
			l.sorted[l.pos[s]] = r
			l.pos[s]++
		}
	}
	if l.workers == 1 || total < loaderParallelMin {
		l.applyShards(0, 1)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < l.workers; w++ {
		wg.Go(func() { l.applyShards(w, l.workers) })
	}
	l.applyShards(0, l.workers)
	wg.Wait()
}

// applyShards applies the sorted records of shards w, w+stride, ...
func (l *loader) applyShards(w, stride int) {
	e := l.e
	for i := w; i < len(e.shards); i += stride {
		lo, hi := l.start[i], l.start[i+1]
		if lo == hi {
			continue
		}
		s := &e.shards[i]
		s.lockWrite()
		for _, r := range l.sorted[lo:hi] {
			_ = e.applyLocked(s, r, false) // cannot fail uncapped
		}
		s.unlockWrite()
	}
}
