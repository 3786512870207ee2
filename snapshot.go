package revoke

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Snapshot file format, versions 1 and 2. All integers are little-endian;
// CRCs are CRC32C (Castagnoli).
//
//	header, 32 bytes in version 1 (streams of WriteTo, and snapshot files
//	of earlier releases):
//	  0  magic      "RVKS"
//	  4  version    uint32 = 1
//	  8  created    int64, Unix seconds
//	 16  generation uint64: the first journal generation not covered (0 in streams)
//	 24  reserved   uint32 = 0
//	 28  CRC32C of bytes 0..28
//	header, 40 bytes in version 2 (the snapshot files New writes):
//	  0  magic      "RVKS"
//	  4  version    uint32 = 2
//	  8  created    int64, Unix seconds
//	 16  generation uint64, as in version 1
//	 24  directory  uint64, not 0: the id of the directory the file belongs
//	                to (see the journal format)
//	 32  reserved   uint32 = 0
//	 36  CRC32C of bytes 0..36
//	blocks, each:
//	  0  count      uint32, 1..4096
//	  4  CRC32C of the count bytes followed by the records
//	  8  count records of 16 bytes: fingerprint uint64, deadline uint32, value uint32
//	end, 16 bytes:
//	  0  uint32 = 0 (a block of no records ends the list)
//	  4  total      uint64: the number of records in all blocks
//	 12  CRC32C of every byte of the file before it
//
// Nothing may follow the end. The record count sits in the trailer rather
// than the header so that a snapshot streams in one pass over the shards,
// holding one shard's read lock at a time, to any io.Writer. Blocks bound
// what a reader allocates: a hostile length can make it read at most one
// 64 KiB block before a check fails.
const (
	snapshotMagic       = "RVKS"
	snapshotVersion     = 2
	snapshotVersion1    = 1
	snapshotHeaderSize  = 32
	snapshotHeader2Size = 40
	snapshotBlockHeader = 8
	snapshotBlockMax    = 4096
	snapshotTrailerSize = 16

	snapshotName    = "snapshot.rvk"
	snapshotTmpName = "snapshot.rvk.tmp"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// putRecord encodes r into b[:16].
func putRecord(b []byte, r record) {
	binary.LittleEndian.PutUint64(b, r.fp)
	binary.LittleEndian.PutUint32(b[8:], r.deadline)
	binary.LittleEndian.PutUint32(b[12:], r.value)
}

// getRecord decodes a record from b[:16].
func getRecord(b []byte) record {
	return record{
		fp:       binary.LittleEndian.Uint64(b),
		deadline: binary.LittleEndian.Uint32(b[8:]),
		value:    binary.LittleEndian.Uint32(b[12:]),
	}
}

// corruptf returns an error wrapping ErrCorrupt that names the file and the
// offset of the problem.
func corruptf(name string, off int64, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d: %s", ErrCorrupt, name, off, fmt.Sprintf(format, args...))
}

// snapshotHeader is the decoded header of a snapshot.
type snapshotHeader struct {
	created    int64
	generation uint64
	// dirID is the directory id: 0 for none (version 1).
	dirID uint64
}

// snapshotWriter encodes a snapshot to w in one pass.
type snapshotWriter struct {
	w     io.Writer
	crc   uint32 // of every byte written so far
	n     int64
	total uint64
	block []byte // the block being filled: header then records
	err   error
}

func newSnapshotWriter(w io.Writer, h snapshotHeader) *snapshotWriter {
	sw := &snapshotWriter{w: w, block: make([]byte, snapshotBlockHeader, snapshotBlockHeader+snapshotBlockMax*recordSize)}
	sw.write(encodeSnapshotHeader(h))
	return sw
}

// encodeSnapshotHeader returns the header of h: version 2 when it has a
// directory id, else version 1 (which earlier releases read too).
func encodeSnapshotHeader(h snapshotHeader) []byte {
	hdr := make([]byte, snapshotHeaderSize, snapshotHeader2Size)
	copy(hdr, snapshotMagic)
	binary.LittleEndian.PutUint32(hdr[4:], snapshotVersion1)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(h.created))
	binary.LittleEndian.PutUint64(hdr[16:], h.generation)
	if h.dirID == 0 {
		binary.LittleEndian.PutUint32(hdr[28:], crc32.Checksum(hdr[:28], castagnoli))
		return hdr
	}
	hdr = hdr[:snapshotHeader2Size]
	binary.LittleEndian.PutUint32(hdr[4:], snapshotVersion)
	binary.LittleEndian.PutUint64(hdr[24:], h.dirID)
	binary.LittleEndian.PutUint32(hdr[36:], crc32.Checksum(hdr[:36], castagnoli))
	return hdr
}

// snapshotHeaderLen returns the header size of a snapshot of version v,
// 0 for a version this build does not read.
func snapshotHeaderLen(v uint32) int {
	switch v {
	case snapshotVersion1:
		return snapshotHeaderSize
	case snapshotVersion:
		return snapshotHeader2Size
	}
	return 0
}

// decodeSnapshotHeader checks hdr, a whole header of the version its bytes
// 4..8 give, and decodes it; ok is false when a checksum does not verify
// or a field no release writes is set (the caller says which error).
func decodeSnapshotHeader(hdr []byte) (h snapshotHeader, ok bool) {
	h.created = int64(binary.LittleEndian.Uint64(hdr[8:]))
	h.generation = binary.LittleEndian.Uint64(hdr[16:])
	if len(hdr) == snapshotHeaderSize {
		return h, binary.LittleEndian.Uint32(hdr[28:]) == crc32.Checksum(hdr[:28], castagnoli)
	}
	h.dirID = binary.LittleEndian.Uint64(hdr[24:])
	return h, binary.LittleEndian.Uint32(hdr[36:]) == crc32.Checksum(hdr[:36], castagnoli)
}

func (sw *snapshotWriter) write(b []byte) {
	if sw.err != nil {
		return
	}
	n, err := sw.w.Write(b)
	sw.n += int64(n)
	sw.crc = crc32.Update(sw.crc, castagnoli, b)
	sw.err = err
}

func (sw *snapshotWriter) add(recs []record) {
	for _, r := range recs {
		if len(sw.block) == cap(sw.block) {
			sw.flush()
		}
		n := len(sw.block)
		sw.block = sw.block[:n+recordSize]
		putRecord(sw.block[n:], r)
	}
}

func (sw *snapshotWriter) flush() {
	count := (len(sw.block) - snapshotBlockHeader) / recordSize
	if count == 0 {
		return
	}
	b := sw.block
	binary.LittleEndian.PutUint32(b, uint32(count))
	c := crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, b[snapshotBlockHeader:])
	binary.LittleEndian.PutUint32(b[4:], c)
	sw.write(b)
	sw.total += uint64(count)
	sw.block = b[:snapshotBlockHeader]
}

// finish writes the last block and the trailer.
func (sw *snapshotWriter) finish() (int64, error) {
	sw.flush()
	var t [snapshotTrailerSize]byte
	binary.LittleEndian.PutUint64(t[4:], sw.total)
	crc := crc32.Update(sw.crc, castagnoli, t[:12])
	binary.LittleEndian.PutUint32(t[12:], crc)
	sw.write(t[:])
	return sw.n, sw.err
}

// readSnapshot decodes a snapshot from r, handing the records of verified
// blocks to apply in batches of up to applyBatch, and returns its header. It verifies everything the format allows
// (see the format above): a snapshot that does not verify returns an error
// wrapping [ErrCorrupt] that names name and the offset of the problem, and
// so does anything after the end; a version other than 1 and 2 returns an error
// wrapping [ErrUnsupportedVersion], whatever the checksums say. apply may have been
// called for blocks before the problem: a caller that must not keep a
// partial load discards what apply built. It reads at most one block into
// memory at a time (and a batch of up to applyBatch records), whatever the
// lengths in r say.
func readSnapshot(r io.Reader, name string, apply func([]record)) (snapshotHeader, int64, error) {
	var (
		h   snapshotHeader
		off int64
		crc uint32
		// buf grows with the blocks read, up to one full block.
		buf  = make([]byte, snapshotHeader2Size, 1024)
		recs []record
	)
	read := func(b []byte, what string) error {
		n, err := io.ReadFull(r, b)
		crc = crc32.Update(crc, castagnoli, b[:n])
		off += int64(n)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return corruptf(name, off-int64(n), "truncated %s", what)
		case err != nil:
			return fmt.Errorf("revoke: reading %s: %w", name, err)
		}
		return nil
	}
	if err := read(buf[:8], "header"); err != nil {
		return h, off, err
	}
	// Magic and version before checksums: a newer release may checksum
	// differently, and its file must read as "newer", not as damage.
	if string(buf[:4]) != snapshotMagic {
		return h, off, corruptf(name, 0, "not a snapshot (magic %q)", buf[:4])
	}
	v := binary.LittleEndian.Uint32(buf[4:])
	hlen := snapshotHeaderLen(v)
	if hlen == 0 {
		return h, off, checkVersion(name, "snapshot", v, snapshotVersion)
	}
	hdr := buf[:hlen]
	if err := read(hdr[8:], "header"); err != nil {
		return h, off, err
	}
	h, ok := decodeSnapshotHeader(hdr)
	if !ok {
		return h, off, corruptf(name, 0, "header checksum mismatch")
	}
	if v == snapshotVersion {
		switch {
		case binary.LittleEndian.Uint32(hdr[32:]) != 0:
			return h, off, fmt.Errorf("%w: %s has a snapshot header with reserved field %#x, this build knows 0; run the release that wrote it",
				ErrUnsupportedVersion, name, binary.LittleEndian.Uint32(hdr[32:]))
		case h.dirID == 0:
			return h, off, corruptf(name, 24, "directory id 0 in a version 2 snapshot (no release writes it)")
		}
	}
	var total uint64
	for {
		start := off
		if err := read(buf[:4], "block header"); err != nil {
			return h, off, err
		}
		count := binary.LittleEndian.Uint32(buf)
		if count == 0 {
			break
		}
		if count > snapshotBlockMax {
			return h, off, corruptf(name, start, "block of %d records (at most %d)", count, snapshotBlockMax)
		}
		if need := snapshotBlockHeader + int(count)*recordSize; cap(buf) < need {
			buf = append(buf[:cap(buf)], make([]byte, need-cap(buf))...)
		}
		buf = buf[:cap(buf)]
		body := buf[snapshotBlockHeader : snapshotBlockHeader+int(count)*recordSize]
		if err := read(buf[4:8], "block header"); err != nil {
			return h, off, err
		}
		if err := read(body, "block"); err != nil {
			return h, off, err
		}
		want := crc32.Update(crc32.Checksum(buf[:4], castagnoli), castagnoli, body)
		if binary.LittleEndian.Uint32(buf[4:]) != want {
			return h, off, corruptf(name, start, "block checksum mismatch")
		}
		if len(recs)+int(count) > applyBatch {
			apply(recs)
			recs = recs[:0]
		}
		for i := 0; i < len(body); i += recordSize {
			recs = append(recs, getRecord(body[i:]))
		}
		total += uint64(count)
	}
	if len(recs) > 0 {
		// Before the trailer is verified, as the blocks before were:
		// every block's own CRC has verified.
		apply(recs)
	}
	end := off - 4
	if err := read(buf[:8], "trailer"); err != nil {
		return h, off, err
	}
	if n := binary.LittleEndian.Uint64(buf); n != total {
		return h, off, corruptf(name, end, "trailer counts %d records, blocks hold %d", n, total)
	}
	want := crc
	if err := read(buf[:4], "trailer"); err != nil {
		return h, off, err
	}
	if binary.LittleEndian.Uint32(buf) != want {
		return h, off, corruptf(name, end, "file checksum mismatch")
	}
	var one [1]byte
	switch n, err := r.Read(one[:]); {
	case n > 0:
		return h, off, corruptf(name, off, "data after the end of the snapshot")
	case err != nil && err != io.EOF:
		return h, off, fmt.Errorf("revoke: reading %s: %w", name, err)
	case err == nil:
		// A reader may return 0, nil; insist on a clear EOF.
		if n, err := io.ReadFull(r, one[:]); n > 0 || (err != io.EOF && err != io.ErrUnexpectedEOF) {
			return h, off, corruptf(name, off, "data after the end of the snapshot")
		}
	}
	return h, off, nil
}

// walkLive calls fn with the live records of each shard in turn, copied
// out under the shard's read lock so that fn (which may write to disk) runs
// with no lock held. Writers of a shard wait at most for one copy.
func (e *Engine) walkLive(fn func([]record)) {
	now := uint32(max(time.Now().Unix(), 0))
	var buf []record
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.RLock()
		buf = buf[:0]
		for _, r := range s.tab.slots {
			if r.fp != 0 && r.deadline > now {
				buf = append(buf, r)
			}
		}
		s.mu.RUnlock()
		fn(buf)
	}
}

// writeSnapshot streams the live set to w in the snapshot format.
// dirID is the directory id for the header (0 for none: a stream).
func (e *Engine) writeSnapshot(w io.Writer, generation, dirID uint64) (int64, error) {
	sw := newSnapshotWriter(w, snapshotHeader{created: time.Now().Unix(), generation: generation, dirID: dirID})
	e.walkLive(func(recs []record) {
		if sw.err == nil {
			sw.add(recs)
		}
	})
	return sw.finish()
}

// WriteTo writes the live entries to w in the snapshot format (described at
// [Engine.ReadFrom]) and returns the number of bytes written: a snapshot for
// users who keep them elsewhere than in Config.Dir. It is safe for concurrent
// use with every other method: it read-locks one shard at a time, long
// enough to copy its records, so revocations and checks go on. Entries
// revoked while it runs may or may not be included. Cost: one pass over the
// tables, 16 bytes of output per live entry.
func (e *Engine) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	n, err := e.writeSnapshot(bw, 0, 0)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("revoke: writing snapshot: %w", err)
	}
	return n, nil
}

// ReadFrom reads a snapshot written by [Engine.WriteTo] or
// [Engine.Snapshot] from r and merges its live entries into e, as Revoke
// would: the later deadline and the larger value win, and entries past
// their deadline are skipped. With Config.Dir set, the entries are
// journaled like any revocation before ReadFrom returns. It returns the
// number of bytes read.
//
// The format (WriteTo writes version 1; ReadFrom also reads version 2, the
// snapshot files of Config.Dir; little-endian; CRC32C Castagnoli):
//
//	header, 32 bytes: magic "RVKS", version uint32, created int64 (Unix s),
//	  journal generation uint64, reserved uint32, CRC32C of bytes 0..28
//	  (version 2, 40 bytes: the same up to the generation, then directory
//	  id uint64, reserved uint32, CRC32C of bytes 0..36)
//	blocks: count uint32 (1..4096), CRC32C of count and records, then count
//	  records of 16 bytes (fingerprint uint64, deadline uint32, value uint32)
//	end: uint32 0, total records uint64, CRC32C of every byte before it
//
// A snapshot that does not verify (a checksum, a count, or bytes after the
// end) returns an error wrapping [ErrCorrupt] with the offset, and one of
// another version an error wrapping [ErrUnsupportedVersion];
// entries of blocks read before the problem have been merged by then, which
// can only add revocations. At Config.MaxEntries it stops with [ErrFull].
// ReadFrom is safe for concurrent use; each entry costs about one Revoke
// (a batch of up to 65536 shares one journal write), and it holds a 1 MiB
// read buffer, one 64 KiB block and a 1 MiB batch in memory.
func (e *Engine) ReadFrom(r io.Reader) (int64, error) {
	if e.closed.Load() {
		return 0, ErrClosed
	}
	var firstErr error
	now := uint32(max(time.Now().Unix(), 0))
	live := make([]record, 0, snapshotBlockMax)
	_, n, err := readSnapshot(bufio.NewReaderSize(r, 1<<20), "snapshot stream", func(recs []record) {
		if firstErr != nil {
			return
		}
		live = live[:0]
		var applyErr error
		for _, rec := range recs {
			if rec.fp == 0 || rec.deadline <= now {
				continue
			}
			if applyErr = e.apply(rec, true); applyErr != nil {
				break
			}
			live = append(live, rec)
		}
		// Journal what was applied, even when a record was refused.
		firstErr = e.commit(live)
		if applyErr != nil {
			firstErr = applyErr
		}
	})
	if firstErr != nil {
		return n, firstErr
	}
	return n, err
}

// Snapshot writes the live entries to Config.Dir atomically (a temporary
// file, fsync, rename, fsync of the directory), starts a new journal
// generation and deletes the journals the snapshot covers, so that a restart
// loads the snapshot and replays only what came after. The engine also does
// this by itself (see Config.SnapshotInterval and
// Config.SnapshotJournalBytes).
//
// Revocations and checks go on while it runs: it read-locks one shard at a
// time, long enough to copy its records, and pauses journal appends only
// while the new journal file is created. One snapshot runs at a time. On an
// error, the previous snapshot and every journal stay in place, so nothing
// is lost; the error says which step failed. It returns an error wrapping
// [ErrInvalidConfig] when Config.Dir is empty, [ErrClosed] after Close (a
// Snapshot in flight finishes before Close releases the directory), and the
// journal's error while it has one (such as [ErrReadOnly]).
// Cost: one pass over the tables and 16 bytes written per live entry.
func (e *Engine) Snapshot() error {
	if e.jnl == nil {
		return fmt.Errorf("%w: Snapshot needs Config.Dir", ErrInvalidConfig)
	}
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	// Under snapMu: Close sets closed before it takes snapMu, so a
	// snapshot either finishes before Close releases the directory or
	// does not start.
	if e.closed.Load() {
		return ErrClosed
	}
	err := e.snapshotLocked()
	if err != nil {
		e.snapshotFailures.Add(1)
		return err
	}
	e.snapshots.Add(1)
	e.lastSnapshot.Store(time.Now().UnixNano())
	return nil
}

// snapshotLocked does the work of Snapshot. Called with snapMu held.
//
// Order matters: the new journal generation starts before the shards are
// walked, so every record appended to an older generation was applied in
// memory before the walk (apply precedes commit) and is in the snapshot.
// Records that land in both are harmless: loading merges. The old journals
// are removed only once the snapshot is durable.
func (e *Engine) snapshotLocked() error {
	fsys, dir := e.cfg.fs, e.cfg.Dir
	gen, err := e.jnl.rotate()
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, snapshotTmpName)
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("revoke: snapshot: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = e.writeSnapshot(bw, gen, e.jnl.dirID)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, filepath.Join(dir, snapshotName))
	}
	if err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("revoke: snapshot %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		// The rename may or may not be durable: keep the journals, which
		// replay onto either snapshot.
		return fmt.Errorf("revoke: snapshot: syncing %s: %w", dir, err)
	}
	return e.jnl.removeBefore(gen)
}
