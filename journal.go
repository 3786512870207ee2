package revoke

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// SyncPolicy says when the journal is forced to stable storage (fsync). See
// [Config].Sync.
type SyncPolicy int

const (
	// SyncAlways acknowledges a revocation only after its record is
	// fsynced. Concurrent revocations share one write and one fsync (group
	// commit), so throughput grows with the number of callers. The zero
	// value and default.
	SyncAlways SyncPolicy = iota
	// SyncEvery writes each record to the operating system before
	// acknowledging it and fsyncs every Config.SyncInterval: a crash of the
	// process loses nothing, a crash of the machine loses at most the
	// revocations of the last interval.
	SyncEvery
	// SyncNever writes each record to the operating system before
	// acknowledging it and never fsyncs (except when a snapshot rotates the
	// journal and at Close): the operating system decides when the records
	// reach the disk.
	SyncNever
)

// String returns the policy's name.
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "SyncAlways"
	case SyncEvery:
		return "SyncEvery"
	case SyncNever:
		return "SyncNever"
	}
	return "SyncPolicy(" + strconv.Itoa(int(p)) + ")"
}

// journal appends records to the current journal file with group commit: a
// committer appends its records to pending and waits; whichever committer
// finds no write in progress becomes the leader, takes everything pending,
// writes it in one write and (under SyncAlways) one fsync, and wakes the
// others. The file is used only by the goroutine that set busy.
type journal struct {
	fs     fileSystem
	dir    string
	policy SyncPolicy
	limit  int64  // journal size that asks for a snapshot; 0 never
	kick   func() // asks for a snapshot; must not block
	// dirID is the directory id written in the header of every file
	// (journal and snapshot) created from now on; set before the first
	// file is attached, never changed after.
	dirID uint64

	// broken is set with err, so that revocations can fail fast.
	broken atomic.Bool
	// size mirrors the size of the current file, for Stats.
	size atomic.Int64
	// records and fsyncs count records written and fsyncs of the journal,
	// for Stats.
	records, fsyncs atomic.Uint64

	mu   sync.Mutex
	cond sync.Cond // on mu: a batch completed, or busy was cleared
	// f is the current journal file and gen its generation. Guarded by
	// mu; used outside mu only by the goroutine that set busy.
	f    file
	gen  uint64
	seed uint32 // genSeed(gen)
	// fileRecords counts the records written to f, for its seal. Used
	// only by the goroutine that set busy (or holds mu with busy clear).
	fileRecords uint64
	// pending holds sealed-to-be frames of batch number batch; frameAt is
	// the offset of its last frame's header, or -1. Guarded by mu.
	pending []byte
	frameAt int
	batch   uint64
	// spare is the buffer the last leader wrote, reused. Guarded by mu.
	spare []byte
	// done is the last batch written (and fsynced under SyncAlways).
	// Guarded by mu.
	done uint64
	// busy says a goroutine owns f: a leader, a rotation, a sync or close.
	// Guarded by mu.
	busy bool
	// dirty says records were written since the last fsync. Guarded by mu.
	dirty bool
	// err is the first write or fsync error; once set, every commit
	// returns it. Guarded by mu.
	err error
	// readOnly says err is the error of opening the first file (f is
	// nil): attach may still clear it, unlike a write error. Guarded by mu.
	readOnly bool
	closed   bool
}

// createJournal creates the journal file of generation gen in dir with its
// header, fsynced, and fsyncs dir. A file of that generation can only be
// what a failed creation left (recovery starts after the newest journal, or
// replaces a torn newest one; rotation after the current one), so it is
// truncated. Its header carries the directory id dirID (none when 0).
func createJournal(fsys fileSystem, dir string, gen, dirID uint64) (file, error) {
	path := filepath.Join(dir, journalName(gen))
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("revoke: creating journal: %w", err)
	}
	var h []byte
	if dirID != 0 {
		hi := journalHeaderID(gen, time.Now().Unix(), dirID)
		h = hi[:]
	} else {
		h0 := journalHeader(gen, time.Now().Unix())
		h = h0[:]
	}
	err = writeFull(f, h)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		_ = f.Close()
		_ = fsys.Remove(path)
		return nil, fmt.Errorf("revoke: creating journal %s: %w", path, err)
	}
	return f, nil
}

// headerSize is the size of the header of the journal's files.
func (j *journal) headerSize() int64 {
	if j.dirID != 0 {
		return journalHeaderIDSize
	}
	return journalHeaderSize
}

// errShortWrite is returned when a write wrote less than asked without
// saying why.
var errShortWrite = errors.New("revoke: short write")

// errGenerationsUsedUp is returned by a rotation of the journal of the last
// generation: no journal can follow it. The journal goes on.
var errGenerationsUsedUp = errors.New("revoke: the journal has the last generation (ffffffffffffffff); no snapshot can start another")

// writeFull writes b to f in one call, which is the unit of a torn tail.
func writeFull(f io.Writer, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n < len(b) {
		err = errShortWrite
	}
	return err
}

// newJournal returns a journal of dir with no file yet: commits wait for
// attach (New attaches before the engine is shared) or fail with the error
// given to setReadOnly.
func newJournal(fsys fileSystem, dir string, cfg Config, kick func()) *journal {
	j := &journal{fs: fsys, dir: dir, policy: cfg.Sync, kick: kick, frameAt: -1, batch: 1}
	if cfg.SnapshotJournalBytes > 0 {
		j.limit = cfg.SnapshotJournalBytes
	}
	j.cond.L = &j.mu
	return j
}

// attach makes f, a new file of generation gen holding just its header, the
// current file, and clears the error of a read-only journal.
func (j *journal) attach(f file, gen uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.f, j.gen, j.seed, j.fileRecords = f, gen, genSeed(gen), 0
	j.size.Store(j.headerSize())
	if j.readOnly {
		j.err, j.readOnly = nil, false
		j.broken.Store(false)
	}
}

// setReadOnly makes a journal without a file refuse every commit with err
// until attach.
func (j *journal) setReadOnly(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err, j.readOnly = err, true
	j.broken.Store(true)
}

// isReadOnly reports whether the journal waits for a file (see setReadOnly).
func (j *journal) isReadOnly() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.readOnly && !j.closed
}

// appendLocked adds recs to the pending batch. Called with mu held.
func (j *journal) appendLocked(recs []record) {
	for _, r := range recs {
		if j.frameAt < 0 || binary.LittleEndian.Uint32(j.pending[j.frameAt+4:]) == journalFrameMax {
			j.frameAt = len(j.pending)
			j.pending = append(j.pending, journalFrameMagic...)
			j.pending = append(j.pending, make([]byte, journalFrameHead-len(journalFrameMagic))...)
		}
		n := len(j.pending)
		j.pending = append(j.pending, make([]byte, recordSize)...)
		putRecord(j.pending[n:], r)
		c := j.pending[j.frameAt+4:]
		binary.LittleEndian.PutUint32(c, binary.LittleEndian.Uint32(c)+1)
	}
}

// commit journals recs and returns once they are written (and fsynced under
// SyncAlways), or with the journal's error. Safe for concurrent use.
func (j *journal) commit(recs []record) error {
	if len(recs) == 0 {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.closed {
		return ErrClosed
	}
	j.appendLocked(recs)
	j.records.Add(uint64(len(recs)))
	mine := j.batch
	yielded := false
	for j.done < mine {
		if j.err != nil {
			return j.err
		}
		if j.busy {
			j.cond.Wait()
			continue
		}
		if !yielded {
			// Callers released by the last batch are about to append
			// again: let them, so that this batch carries them too
			// rather than one record now and the rest an fsync later.
			yielded = true
			j.mu.Unlock()
			runtime.Gosched()
			j.mu.Lock()
			continue
		}
		j.leadLocked()
	}
	return nil
}

// takeLocked takes the pending batch for writing and marks the journal
// busy. Called with mu held and busy clear.
func (j *journal) takeLocked() (buf []byte, batch uint64, f file, seed uint32) {
	j.busy = true
	buf, batch = j.pending, j.batch
	j.pending, j.spare = j.spare[:0], nil
	j.frameAt = -1
	j.batch++
	return buf, batch, j.f, j.seed
}

// releaseLocked records the outcome of writing batch (err nil: written) and
// clears busy; past the size limit it asks for a snapshot unless rotating
// (the file written is then the one being retired). Called with mu held.
func (j *journal) releaseLocked(buf []byte, batch uint64, werr error, synced, rotating bool) {
	j.busy = false
	if cap(buf) <= 4<<20 {
		j.spare = buf[:0]
	}
	if werr != nil {
		j.failLocked(werr)
	} else {
		j.done = batch
		j.dirty = j.dirty || (!synced && len(buf) > 0)
		size := j.size.Add(int64(len(buf)))
		if j.limit > 0 && size >= j.limit && j.kick != nil && !rotating {
			j.kick()
		}
	}
	j.cond.Broadcast()
}

// failLocked makes the journal fail every later commit with err.
func (j *journal) failLocked(err error) {
	if j.err == nil {
		j.err = fmt.Errorf("revoke: journal %s failed, revocations are refused until the engine is reopened: %w",
			filepath.Join(j.dir, journalName(j.gen)), err)
		j.broken.Store(true)
	}
}

// leadLocked writes the pending batch as the leader. Called with mu held
// and busy clear; it releases mu while writing.
func (j *journal) leadLocked() {
	buf, batch, f, seed := j.takeLocked()
	j.mu.Unlock()
	synced := j.policy == SyncAlways
	err := j.writeOut(f, buf, seed, synced)
	j.mu.Lock()
	j.releaseLocked(buf, batch, err, synced, false)
}

// writeOut seals the frames of buf, writes them to f and, if sync, fsyncs f.
// Called without mu, by the goroutine that owns the file.
func (j *journal) writeOut(f file, buf []byte, seed uint32, sync bool) error {
	records := sealFrames(buf, seed)
	err := writeFull(f, buf)
	if err == nil {
		j.fileRecords += uint64(records)
	}
	if err == nil && sync {
		// Only a successful fsync counts: callers (Stats().JournalFsyncs,
		// replication adapters) read a new count as "what was written
		// before is durable".
		if err = f.Sync(); err == nil {
			j.fsyncs.Add(1)
		}
	}
	return err
}

// writeSeal appends the seal to f (see the format) and fsyncs it. Called
// by the goroutine that owns the file, once nothing more will be written
// to it.
func (j *journal) writeSeal(f file, seed uint32) error {
	seal := journalSeal(seed, j.fileRecords)
	err := writeFull(f, seal[:])
	if err == nil {
		if err = f.Sync(); err == nil {
			j.fsyncs.Add(1)
		}
	}
	return err
}

// truncateSync cuts f back to size (taking off a seal, whole or partly
// written, so that f stays in use) and fsyncs it.
func (j *journal) truncateSync(f file, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	j.fsyncs.Add(1)
	return nil
}

// acquireLocked waits until no goroutine owns the file. Called with mu held.
func (j *journal) acquireLocked() {
	for j.busy {
		j.cond.Wait()
	}
}

// sync fsyncs the journal if records were written since the last fsync:
// the periodic step of SyncEvery.
func (j *journal) sync() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.acquireLocked()
	if j.err != nil || j.closed || !j.dirty {
		return
	}
	buf, batch, f, seed := j.takeLocked()
	j.mu.Unlock()
	err := j.writeOut(f, buf, seed, true)
	j.mu.Lock()
	if err == nil {
		j.dirty = false
	}
	j.releaseLocked(buf, batch, err, true, false)
}

// rotate writes and fsyncs what is pending to the current file, then starts
// generation gen+1 in a new file and returns its number. Commits wait for the
// moment it takes to create the file. If the new file cannot be created the
// current one stays in use and the error is returned; if the current one
// cannot be written, the journal fails.
func (j *journal) rotate() (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.acquireLocked()
	if j.err != nil {
		return 0, j.err
	}
	if j.closed {
		return 0, ErrClosed
	}
	if j.gen == lastGeneration {
		return 0, errGenerationsUsedUp
	}
	buf, batch, f, seed := j.takeLocked()
	j.mu.Unlock()
	// Seal the current file before the next one exists, so that every
	// journal but the newest always ends with its seal. If the seal cannot
	// be written (a full disk) or the next file cannot be created, the
	// seal is cut off again and the current file stays in use: the
	// snapshot fails, the journal does not (unless even that fails).
	err := j.writeOut(f, buf, seed, false)
	var nf file
	var cerr error
	if err == nil {
		end := j.size.Load() + int64(len(buf))
		if cerr = j.writeSeal(f, seed); cerr == nil {
			nf, cerr = createJournal(j.fs, j.dir, j.gen+1, j.dirID)
		}
		if cerr != nil {
			err = j.truncateSync(f, end)
		}
	}
	j.mu.Lock()
	if err == nil {
		j.dirty = false
	}
	j.releaseLocked(buf, batch, err, true, true)
	if err != nil {
		return 0, j.err
	}
	if cerr != nil {
		return 0, cerr
	}
	_ = j.f.Close() // fsynced above; nothing is lost if closing fails
	j.f, j.gen, j.seed, j.fileRecords = nf, j.gen+1, genSeed(j.gen+1), 0
	j.size.Store(j.headerSize())
	return j.gen, nil
}

// removeBefore deletes the journal files of generations before gen, which a
// durable snapshot covers.
func (j *journal) removeBefore(gen uint64) error {
	names, err := j.fs.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("revoke: listing %s: %w", j.dir, err)
	}
	for _, name := range names {
		if g, ok := parseJournalName(name); ok && g < gen {
			if err := j.fs.Remove(filepath.Join(j.dir, name)); err != nil {
				return fmt.Errorf("revoke: removing old journal: %w", err)
			}
		}
	}
	return nil
}

// close writes what is pending, seals the file (which fsyncs it) and
// closes it. Later commits return ErrClosed. It returns the journal's
// error, if any (a read-only journal's included).
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.acquireLocked()
	if j.closed {
		return nil
	}
	for len(j.pending) > 0 && j.err == nil {
		j.leadLocked()
		j.acquireLocked()
	}
	j.closed = true
	err := j.err
	if j.f == nil {
		j.cond.Broadcast()
		return err
	}
	if err == nil {
		if serr := j.writeSeal(j.f, j.seed); serr != nil {
			err = fmt.Errorf("revoke: journal: %w", serr)
		}
	}
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("revoke: journal: %w", cerr)
	}
	j.cond.Broadcast()
	return err
}

// failure returns the journal's error, or nil.
func (j *journal) failure() error {
	if !j.broken.Load() {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}
