package revoke

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
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

// Journal file format, version 1. All integers are little-endian; CRCs are
// CRC32C (Castagnoli). A journal file is named journal-<generation as 16 hex
// digits>.rvk; a snapshot covers the generations before the one in its
// header.
//
//	header, 32 bytes:
//	  0  magic      "RVKJ"
//	  4  version    uint32 = 1
//	  8  generation uint64 (equal to the one in the file name)
//	 16  created    int64, Unix seconds
//	 24  reserved   uint32 = 0
//	 28  CRC32C of bytes 0..28
//	frames, each (a group-commit batch is one or a few frames):
//	  0  marker     "RVKF"
//	  4  count      uint32, 1..65536
//	  8  CRC32C of the records
//	 12  CRC32C of the generation (8 bytes) followed by bytes 0..12
//	 16  count records of 16 bytes: fingerprint uint64, deadline uint32, value uint32
//
// Every frame starts at a multiple of 16. The header CRC of a frame is
// seeded with the generation, so a frame left over from another journal (a
// reused disk block) never verifies in this one.
//
// A frame that does not verify is either a torn tail, a frame half-written
// when the process or machine stopped, or corruption. It is a torn tail
// exactly when no verifying frame follows it anywhere in the file: the
// reader then stops there and reports the offset so that the caller can trim
// the file. A frame that fails while a valid frame follows is corruption, and
// so is a header that fails while a valid frame follows (a header that fails
// with nothing after it is a file whose creation was interrupted). Nothing
// acknowledged under SyncAlways is ever in a torn tail, since acknowledged
// frames were complete and fsynced; bit rot inside the very last frame looks
// like a torn tail and is trimmed (and logged).
const (
	journalMagic      = "RVKJ"
	journalFrameMagic = "RVKF"
	journalVersion    = 1
	journalHeaderSize = 32
	journalFrameHead  = 16
	journalFrameMax   = 1 << 16
	journalScanChunk  = 64 << 10

	journalPrefix = "journal-"
	journalSuffix = ".rvk"
)

// journalName returns the file name of a journal generation.
func journalName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, gen, journalSuffix)
}

// parseJournalName returns the generation of a journal file name.
func parseJournalName(name string) (uint64, bool) {
	hex, ok := strings.CutPrefix(name, journalPrefix)
	if !ok {
		return 0, false
	}
	hex, ok = strings.CutSuffix(hex, journalSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	gen, err := strconv.ParseUint(hex, 16, 64)
	return gen, err == nil
}

func journalHeader(gen uint64, created int64) [journalHeaderSize]byte {
	var h [journalHeaderSize]byte
	copy(h[:], journalMagic)
	binary.LittleEndian.PutUint32(h[4:], journalVersion)
	binary.LittleEndian.PutUint64(h[8:], gen)
	binary.LittleEndian.PutUint64(h[16:], uint64(created))
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return h
}

// genSeed is the CRC32C of a generation number, the seed of the header CRCs
// of its frames. (Computed once per file: the buffer crc32 reads escapes.)
func genSeed(gen uint64) uint32 {
	return crc32.Checksum(binary.LittleEndian.AppendUint64(nil, gen), castagnoli)
}

// frameHeaderCRC is the header CRC of a frame of the generation whose seed
// is seed.
func frameHeaderCRC(seed uint32, head []byte) uint32 {
	return crc32.Update(seed, castagnoli, head[:12])
}

// sealFrames fills in the CRCs of the frames in buf, whose counts are set,
// for the generation whose seed is seed.
func sealFrames(buf []byte, seed uint32) {
	for off := 0; off < len(buf); {
		count := int(binary.LittleEndian.Uint32(buf[off+4:]))
		data := buf[off+journalFrameHead : off+journalFrameHead+count*recordSize]
		binary.LittleEndian.PutUint32(buf[off+8:], crc32.Checksum(data, castagnoli))
		binary.LittleEndian.PutUint32(buf[off+12:], frameHeaderCRC(seed, buf[off:]))
		off += journalFrameHead + len(data)
	}
}

// journalInfo is what reading a journal file found.
type journalInfo struct {
	created int64
	frames  int
	records int
	// end is the offset where the verified content ends; when it is before
	// the size of the file, the rest is a torn tail.
	end  int64
	torn bool
}

// checkFrameHeader reports whether head (16 bytes) is a plausible frame
// header of the generation whose seed is seed, and returns its record count.
func checkFrameHeader(head []byte, seed uint32) (int, bool) {
	if string(head[:4]) != journalFrameMagic {
		return 0, false
	}
	count := binary.LittleEndian.Uint32(head[4:])
	if count == 0 || count > journalFrameMax {
		return 0, false
	}
	if binary.LittleEndian.Uint32(head[12:]) != frameHeaderCRC(seed, head) {
		return 0, false
	}
	return int(count), true
}

// readJournal reads the journal of generation gen from r (size bytes; name
// is used in errors) in the format described above, handing each verified
// frame's records to apply. A torn tail is not an error: info.torn is set
// and info.end says where the good content ends. A file that does not
// verify otherwise returns an error wrapping [ErrCorrupt] that names the
// file and the offset. It holds at most one frame (1 MiB) in memory,
// whatever the lengths in r say.
func readJournal(r io.ReaderAt, size int64, name string, gen uint64, apply func([]record)) (journalInfo, error) {
	var info journalInfo
	seed := genSeed(gen)
	// fail decides between a torn tail and corruption at off.
	fail := func(off int64, format string, args ...any) (journalInfo, error) {
		next, err := nextValidFrame(r, off+journalFrameHead, size, seed)
		if err != nil {
			return info, fmt.Errorf("revoke: reading %s: %w", name, err)
		}
		if next >= 0 {
			return info, corruptf(name, off, "%s, but a valid frame follows at offset %d", fmt.Sprintf(format, args...), next)
		}
		info.end, info.torn = off, true
		return info, nil
	}
	readAt := func(b []byte, off int64) error {
		n, err := r.ReadAt(b, off)
		if n == len(b) {
			return nil
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("revoke: reading %s: %w", name, err)
	}
	if size < journalHeaderSize {
		return fail(0, "short header")
	}
	var head [journalHeaderSize]byte
	if err := readAt(head[:], 0); err != nil {
		return info, err
	}
	if binary.LittleEndian.Uint32(head[28:]) != crc32.Checksum(head[:28], castagnoli) {
		return fail(0, "header checksum mismatch")
	}
	if string(head[:4]) != journalMagic {
		return info, corruptf(name, 0, "not a journal (magic %q)", head[:4])
	}
	if v := binary.LittleEndian.Uint32(head[4:]); v != journalVersion {
		return info, corruptf(name, 4, "unsupported journal version %d (this build reads %d)", v, journalVersion)
	}
	if g := binary.LittleEndian.Uint64(head[8:]); g != gen {
		return info, corruptf(name, 8, "generation %d in a file named for generation %d", g, gen)
	}
	info.created = int64(binary.LittleEndian.Uint64(head[16:]))
	var (
		buf  []byte
		recs []record
	)
	off := int64(journalHeaderSize)
	for off < size {
		if size-off < journalFrameHead {
			return fail(off, "short frame header")
		}
		fh := head[:journalFrameHead]
		if err := readAt(fh, off); err != nil {
			return info, err
		}
		count, ok := checkFrameHeader(fh, seed)
		if !ok {
			return fail(off, "bad frame header")
		}
		n := int64(count) * recordSize
		if size-off-journalFrameHead < n {
			return fail(off, "frame of %d records runs past the end of the file", count)
		}
		want := binary.LittleEndian.Uint32(fh[8:])
		if cap(buf) < int(n) {
			buf = make([]byte, n)
			recs = make([]record, 0, count)
		}
		data := buf[:n]
		if err := readAt(data, off+journalFrameHead); err != nil {
			return info, err
		}
		if crc32.Checksum(data, castagnoli) != want {
			return fail(off, "frame checksum mismatch")
		}
		recs = recs[:0]
		for i := 0; i < len(data); i += recordSize {
			recs = append(recs, getRecord(data[i:]))
		}
		apply(recs)
		info.frames++
		info.records += count
		off += journalFrameHead + n
	}
	info.end = off
	return info, nil
}

// nextValidFrame returns the offset of the first frame at or after from (a
// multiple of 16) that verifies completely, or -1.
func nextValidFrame(r io.ReaderAt, from, size int64, seed uint32) (int64, error) {
	chunk := make([]byte, journalScanChunk)
	var data []byte
	for base := from; base+journalFrameHead <= size; base += journalScanChunk {
		n := min(int64(len(chunk)), size-base)
		c := chunk[:n-n%journalFrameHead]
		if _, err := r.ReadAt(c, base); err != nil && err != io.EOF {
			return 0, err
		}
		for i := 0; i+journalFrameHead <= len(c); i += journalFrameHead {
			count, ok := checkFrameHeader(c[i:i+journalFrameHead], seed)
			if !ok {
				continue
			}
			off := base + int64(i)
			n := int64(count) * recordSize
			if size-off-journalFrameHead < n {
				continue
			}
			if cap(data) < int(n) {
				data = make([]byte, n)
			}
			d := data[:n]
			if _, err := r.ReadAt(d, off+journalFrameHead); err != nil && err != io.EOF {
				return 0, err
			}
			if crc32.Checksum(d, castagnoli) == binary.LittleEndian.Uint32(c[i+8:]) {
				return off, nil
			}
		}
	}
	return -1, nil
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
	err    error
	closed bool
}

// createJournal creates the journal file of generation gen in dir with its
// header, fsynced, and fsyncs dir.
func createJournal(fsys fileSystem, dir string, gen uint64) (file, error) {
	path := filepath.Join(dir, journalName(gen))
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("revoke: creating journal: %w", err)
	}
	h := journalHeader(gen, time.Now().Unix())
	err = writeFull(f, h[:])
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

// errShortWrite is returned when a write wrote less than asked without
// saying why.
var errShortWrite = errors.New("revoke: short write")

// writeFull writes b to f in one call, which is the unit of a torn tail.
func writeFull(f io.Writer, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n < len(b) {
		err = errShortWrite
	}
	return err
}

func newJournal(fsys fileSystem, dir string, gen uint64, cfg Config, kick func()) (*journal, error) {
	f, err := createJournal(fsys, dir, gen)
	if err != nil {
		return nil, err
	}
	j := &journal{
		fs: fsys, dir: dir, policy: cfg.Sync, kick: kick,
		f: f, gen: gen, seed: genSeed(gen), frameAt: -1, batch: 1,
	}
	if cfg.SnapshotJournalBytes > 0 {
		j.limit = cfg.SnapshotJournalBytes
	}
	j.cond.L = &j.mu
	j.size.Store(journalHeaderSize)
	return j, nil
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
	sealFrames(buf, seed)
	err := writeFull(f, buf)
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
	buf, batch, f, seed := j.takeLocked()
	j.mu.Unlock()
	err := j.writeOut(f, buf, seed, true)
	var nf file
	var cerr error
	if err == nil {
		nf, cerr = createJournal(j.fs, j.dir, j.gen+1)
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
	j.f, j.gen, j.seed = nf, j.gen+1, genSeed(j.gen+1)
	j.size.Store(journalHeaderSize)
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

// close writes what is pending, fsyncs and closes the file. Later commits
// return ErrClosed. It returns the journal's error, if any.
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
	if err == nil {
		if serr := j.f.Sync(); serr != nil {
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

// dirFiles is what a directory holds: the snapshot (if any) and the
// journal generations, in order.
type dirFiles struct {
	snapshot bool
	tmp      bool
	journals []uint64
}

func listDir(fsys fileSystem, dir string) (dirFiles, error) {
	var d dirFiles
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return d, fmt.Errorf("revoke: listing %s: %w", dir, err)
	}
	for _, name := range names {
		switch name {
		case snapshotName:
			d.snapshot = true
		case snapshotTmpName:
			d.tmp = true
		default:
			if g, ok := parseJournalName(name); ok {
				d.journals = append(d.journals, g)
			}
		}
	}
	slices.Sort(d.journals)
	return d, nil
}

// loadDir reads the snapshot and the journals of dir, handing their records
// to apply, and returns the generation the next journal must have. With
// repair, it trims torn journal tails (logging them), removes a leftover
// temporary snapshot and the journals the snapshot covers; without, it
// changes nothing (the inspector). visit, if not nil, is told about each
// file read.
func loadDir(fsys fileSystem, dir string, repair bool, apply func([]record), visit func(FileReport)) (uint64, error) {
	d, err := listDir(fsys, dir)
	if err != nil {
		return 0, err
	}
	if d.tmp && repair {
		if err := fsys.Remove(filepath.Join(dir, snapshotTmpName)); err != nil {
			return 0, fmt.Errorf("revoke: removing unfinished snapshot: %w", err)
		}
	}
	var first uint64 // first journal generation to replay
	if d.snapshot {
		path := filepath.Join(dir, snapshotName)
		f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
		if err != nil {
			return 0, fmt.Errorf("revoke: opening snapshot: %w", err)
		}
		n := 0
		h, size, err := readSnapshot(newBufReader(f), path, func(recs []record) { n += len(recs); apply(recs) })
		_ = f.Close()
		if err != nil {
			return 0, err
		}
		first = h.generation
		if visit != nil {
			visit(FileReport{Name: snapshotName, Kind: "snapshot", Size: size, Generation: h.generation,
				Created: time.Unix(h.created, 0), Records: n})
		}
	}
	next := first
	for _, gen := range d.journals {
		next = max(next, gen+1)
		path := filepath.Join(dir, journalName(gen))
		if gen < first {
			if visit != nil {
				visit(FileReport{Name: journalName(gen), Kind: "journal", Generation: gen, Stale: true})
			}
			if repair {
				if err := fsys.Remove(path); err != nil {
					return 0, fmt.Errorf("revoke: removing old journal: %w", err)
				}
			}
			continue
		}
		info, size, err := readJournalFile(fsys, path, gen, apply)
		if err != nil {
			return 0, err
		}
		if visit != nil {
			visit(FileReport{Name: journalName(gen), Kind: "journal", Size: size, Generation: gen,
				Created: time.Unix(info.created, 0), Records: info.records, Frames: info.frames,
				TornBytes: size - info.end})
		}
		if info.torn && repair {
			slog.Warn("revoke: trimming the torn tail of a journal", "file", path, "offset", info.end, "bytes", size-info.end)
			if err := trimJournal(fsys, path, info.end); err != nil {
				return 0, err
			}
		}
	}
	return max(next, 1), nil
}

func readJournalFile(fsys fileSystem, path string, gen uint64, apply func([]record)) (journalInfo, int64, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return journalInfo{}, 0, fmt.Errorf("revoke: opening journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return journalInfo{}, 0, fmt.Errorf("revoke: journal: %w", err)
	}
	info, err := readJournal(f, st.Size(), path, gen, apply)
	return info, st.Size(), err
}

// trimJournal cuts a journal at its torn tail, or removes it when not even
// its header was complete.
func trimJournal(fsys fileSystem, path string, end int64) error {
	if end == 0 {
		if err := fsys.Remove(path); err != nil {
			return fmt.Errorf("revoke: removing torn journal: %w", err)
		}
		return nil
	}
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("revoke: trimming journal: %w", err)
	}
	err = f.Truncate(end)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("revoke: trimming journal %s: %w", path, err)
	}
	return nil
}
