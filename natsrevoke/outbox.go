package natsrevoke

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"github.com/jwtrevoke/revoke"
)

// outbox keeps every local record from the moment the engine accepted it
// until the stream has acknowledged it, so that a crash, a Close that gives
// up, or a start without NATS does not lose it for the other replicas: the
// records left are published again at the next start (their message id
// makes repeats harmless). Records that came from the stream never enter it.
//
// The Replicator uses this interface only, so that a hook of the engine's
// own journal (records marked local, read back from an acknowledged
// position; see the README) can replace the file below without touching the
// publisher. Implementations are safe for concurrent use.
type outbox interface {
	// add keeps rec and returns its id (never 0); once add returns, rec is
	// as durable as the engine's own records (fsynced under SyncAlways).
	add(rec revoke.Record) (uint64, error)
	// ack forgets the record id: the stream has acknowledged it.
	ack(id uint64) error
	// flush makes every record added so far durable.
	flush() error
	// len is the number of records not yet acknowledged.
	len() int
	close() error
}

// Outbox file format, version 1 ("natsrevoke-<Stream>.outbox" in StateDir),
// little-endian:
//
//	header, 8 bytes: magic "NRVO", version 1, three zero bytes
//	frames, 20 bytes each: the record's 16-byte wire payload (see
//	[FormatVersion]), CRC32C (Castagnoli) of those 16 bytes
//
// Frames are appended; the file is truncated to its header once every
// record in it is acknowledged, and rewritten (temp file, fsync, rename,
// fsync of the directory) with the records still unacknowledged when
// acknowledged ones make up most of it. At open, a torn tail (an
// incomplete last frame, or a last frame or zero-filled frames that do not
// verify: what a crash during an append can leave) is dropped; any other
// frame that does not verify, a header of another version, or a file
// shorter than the header (it is only ever created whole), makes New
// fail with an error wrapping [ErrOutboxDamaged] that names the file:
// records would otherwise be lost for the other replicas without anyone
// knowing. Unacknowledged records whose deadline has passed are dropped at
// open.
const (
	outboxHeaderSize = 8
	outboxFrameSize  = RecordSize + 4
	outboxMagic      = "NRVO"
	outboxVersion    = 1
	// outboxCompactMin is the least number of acknowledged frames worth a
	// rewrite of the file.
	outboxCompactMin = 1 << 14
)

func outboxPath(dir, stream string) string {
	return filepath.Join(dir, "natsrevoke-"+stream+".outbox")
}

// decodeOutbox parses an outbox file's content. torn is the number of
// trailing bytes dropped as a torn tail.
func decodeOutbox(b []byte) (recs []revoke.Record, torn int, err error) {
	if len(b) == 0 {
		return nil, 0, nil // no file
	}
	if len(b) < outboxHeaderSize {
		// No crash leaves this: the file is only ever created whole, by
		// the rename of a fsynced temporary file (rewriteLocked). It was
		// cut short by something else, which may have taken records too.
		return nil, 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrOutboxDamaged, len(b), outboxHeaderSize)
	}
	if string(b[:4]) != outboxMagic || b[4] != outboxVersion || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, 0, fmt.Errorf("%w: header % x is not an outbox of version %d", ErrOutboxDamaged, b[:outboxHeaderSize], outboxVersion)
	}
	body := b[outboxHeaderSize:]
	for off := 0; off < len(body); off += outboxFrameSize {
		f := body[off:]
		if len(f) < outboxFrameSize {
			return recs, len(f), nil
		}
		f = f[:outboxFrameSize]
		payload := f[:RecordSize]
		if binary.LittleEndian.Uint32(f[RecordSize:]) != crc32.Checksum(payload, castagnoli) {
			rest := body[off:]
			if len(rest) == outboxFrameSize || allZero(rest) {
				return recs, len(rest), nil
			}
			return nil, 0, fmt.Errorf("%w: frame %d (offset %d) does not verify and is not the last", ErrOutboxDamaged, off/outboxFrameSize, outboxHeaderSize+off)
		}
		rec, err := DecodeRecord(FormatVersion, payload)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: frame %d: %w", ErrOutboxDamaged, off/outboxFrameSize, err)
		}
		recs = append(recs, rec)
	}
	return recs, 0, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func appendFrame(dst []byte, rec revoke.Record) []byte {
	n := len(dst)
	dst = EncodeRecord(dst, rec)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[n:], castagnoli))
}

// fileOutbox is the outbox kept by natsrevoke itself in a file beside the
// position file.
type fileOutbox struct {
	path     string
	syncEach bool // fsync in add (the engine is SyncAlways)

	// syncMu serializes fsyncs (group commit: one fsync serves every add
	// that wrote before it) and the replacement of f.
	syncMu sync.Mutex
	synced uint64 // guarded by syncMu: adds up to this one are durable

	mu      sync.Mutex
	f       *os.File                 // guarded by mu (replaced under syncMu and mu)
	next    uint64                   // guarded by mu: id of the next add
	pending map[uint64]revoke.Record // guarded by mu
	frames  int                      // guarded by mu: frames in the file
	buf     []byte                   // guarded by mu
}

// openOutbox opens (or creates) the outbox at path and returns it with the
// records it held that are still live, each already given an id. now is the
// Unix second that decides liveness.
func openOutbox(path string, syncEach bool, now int64) (*fileOutbox, []outboxEntry, int, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, 0, fmt.Errorf("natsrevoke: outbox %s: %w", path, err)
	}
	recs, torn, err := decodeOutbox(b)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w (file %s; its records are revoked locally but may not have reached the stream: move it aside to start)", err, path)
	}
	o := &fileOutbox{path: path, syncEach: syncEach, next: 1, pending: make(map[uint64]revoke.Record), buf: make([]byte, 0, outboxFrameSize)}
	var live []outboxEntry
	for _, rec := range recs {
		if rec.Deadline > now {
			live = append(live, outboxEntry{id: o.next, rec: rec})
			o.pending[o.next] = rec
			o.next++
		}
	}
	// Start from a clean file holding the live records only.
	if err := o.rewriteLocked(); err != nil {
		return nil, nil, 0, err
	}
	return o, live, torn, nil
}

type outboxEntry struct {
	id  uint64
	rec revoke.Record
}

func (o *fileOutbox) add(rec revoke.Record) (uint64, error) {
	o.mu.Lock()
	id := o.next
	o.next++
	o.buf = appendFrame(o.buf[:0], rec)
	_, err := o.f.Write(o.buf)
	if err == nil {
		o.pending[id] = rec
		o.frames++
	}
	o.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("natsrevoke: outbox %s: %w", o.path, err)
	}
	if o.syncEach {
		if err := o.syncUpTo(id); err != nil {
			return id, err
		}
	}
	return id, nil
}

// syncUpTo returns once the add of id is fsynced, by this call's fsync or
// by one that another add started after it.
func (o *fileOutbox) syncUpTo(id uint64) error {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	if o.synced >= id {
		return nil
	}
	o.mu.Lock()
	f, upTo := o.f, o.next-1
	o.mu.Unlock()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("natsrevoke: outbox %s: fsync: %w", o.path, err)
	}
	o.synced = upTo
	return nil
}

func (o *fileOutbox) flush() error {
	o.mu.Lock()
	last := o.next - 1
	o.mu.Unlock()
	return o.syncUpTo(last)
}

func (o *fileOutbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

func (o *fileOutbox) ack(id uint64) error {
	o.mu.Lock()
	delete(o.pending, id)
	empty := len(o.pending) == 0 && o.frames > 0
	compact := o.frames > outboxCompactMin && o.frames > 4*len(o.pending)
	o.mu.Unlock()
	if !empty && !compact {
		return nil
	}
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) == 0 && o.frames > 0 {
		// A crash before this reaches the disk publishes them once more:
		// harmless. The file stays open in append mode.
		if err := o.f.Truncate(outboxHeaderSize); err != nil {
			return fmt.Errorf("natsrevoke: outbox %s: %w", o.path, err)
		}
		o.frames = 0
		return nil
	}
	if o.frames > outboxCompactMin && o.frames > 4*len(o.pending) {
		return o.rewriteLocked()
	}
	return nil
}

// rewriteLocked replaces the file by one holding the pending records, and
// opens it for appending. o.mu (and o.syncMu, once o is shared) is held.
func (o *fileOutbox) rewriteLocked() error {
	b := make([]byte, 0, outboxHeaderSize+len(o.pending)*outboxFrameSize)
	b = append(b, outboxMagic...)
	b = append(b, outboxVersion, 0, 0, 0)
	for _, rec := range o.pending {
		b = appendFrame(b, rec)
	}
	tmp := o.path + ".tmp"
	err := writeFileSync(tmp, b)
	if err == nil {
		err = os.Rename(tmp, o.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(o.path))
	}
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND, 0o600)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("natsrevoke: outbox %s: %w", o.path, err)
	}
	if o.f != nil {
		_ = o.f.Close()
	}
	o.f = f
	o.frames = len(o.pending)
	o.synced = o.next - 1
	return nil
}

func (o *fileOutbox) close() error {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := errors.Join(o.f.Sync(), o.f.Close())
	o.f = nil
	if err != nil {
		return fmt.Errorf("natsrevoke: outbox %s: %w", o.path, err)
	}
	return nil
}

// writeFileSync writes b to a new file at path and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	_ = d.Close()
	return err
}
