package natsrevoke

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// Position file format, version 1: the stream sequence of the last record
// applied (and durable in the engine), and which stream it counts in. 32
// bytes, little-endian:
//
//	offset  size  field
//	0       4     magic "NRVP"
//	4       1     version, 1
//	5       3     zero
//	8       8     last applied stream sequence (uint64)
//	16      8     creation time of the stream, Unix nanoseconds (int64)
//	24      4     zero
//	28      4     CRC32C (Castagnoli) of bytes 0..28
//
// The file is replaced atomically: written to "<name>.tmp", fsynced,
// renamed, and the directory fsynced. A position of another stream (same
// name, other creation time: the stream was deleted and created again), a
// missing file, or one that does not verify makes the Replicator read the
// stream from the start: that re-applies records, which is idempotent, and
// never skips one. A damaged file is logged.
const (
	positionSize    = 32
	positionMagic   = "NRVP"
	positionVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type position struct {
	seq     uint64 // last applied stream sequence
	created int64  // stream creation time, Unix ns
}

// lockPath is the file whose lock (see lockState) a Replicator holds on
// its stream's files in StateDir.
func lockPath(dir, stream string) string {
	return filepath.Join(dir, "natsrevoke-"+stream+".lock")
}

func positionPath(dir, stream string) string {
	return filepath.Join(dir, "natsrevoke-"+stream+".pos")
}

func encodePosition(p position) []byte {
	b := make([]byte, positionSize)
	copy(b, positionMagic)
	b[4] = positionVersion
	binary.LittleEndian.PutUint64(b[8:], p.seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(p.created))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

// decodePosition parses a position file; any deviation is an error.
func decodePosition(b []byte) (position, error) {
	if len(b) != positionSize {
		return position{}, fmt.Errorf("natsrevoke: position file of %d bytes, want %d", len(b), positionSize)
	}
	if string(b[:4]) != positionMagic {
		return position{}, fmt.Errorf("natsrevoke: position file has magic %q, want %q", b[:4], positionMagic)
	}
	if b[4] != positionVersion {
		return position{}, fmt.Errorf("natsrevoke: position file version %d unknown", b[4])
	}
	if got, want := binary.LittleEndian.Uint32(b[28:]), crc32.Checksum(b[:28], castagnoli); got != want {
		return position{}, fmt.Errorf("natsrevoke: position file checksum %#x, want %#x", got, want)
	}
	for _, z := range [...]byte{b[5], b[6], b[7], b[24], b[25], b[26], b[27]} {
		if z != 0 {
			return position{}, fmt.Errorf("natsrevoke: position file has non-zero reserved bytes")
		}
	}
	return position{
		seq:     binary.LittleEndian.Uint64(b[8:]),
		created: int64(binary.LittleEndian.Uint64(b[16:])),
	}, nil
}

// loadPosition reads the position file at path; ok is false when there is
// none.
func loadPosition(path string) (p position, ok bool, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return position{}, false, nil
	}
	if err != nil {
		return position{}, false, fmt.Errorf("natsrevoke: reading %s: %w", path, err)
	}
	p, err = decodePosition(b)
	if err != nil {
		return position{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return p, true, nil
}

// savePosition replaces the file at path with p atomically: temp file,
// fsync, rename, fsync of the directory.
func savePosition(path string, p position) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("natsrevoke: saving position: %w", err)
	}
	_, err = f.Write(encodePosition(p))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("natsrevoke: saving position: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("natsrevoke: saving position: %w", err)
	}
	err = d.Sync()
	_ = d.Close()
	if err != nil {
		return fmt.Errorf("natsrevoke: saving position: fsync dir: %w", err)
	}
	return nil
}
