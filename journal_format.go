package revoke

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strconv"
	"strings"
)

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
//	 24  flags      uint32: bit 0 "sealed when retired" (set by this
//	                release; 0 in journals of earlier ones, which have no
//	                seal); bit 1 "directory id follows" (set by this
//	                release; journals of earlier ones have no id); other
//	                bits 0 (a verified header with others set was written
//	                by a newer release: ErrUnsupportedVersion)
//	 28  CRC32C of bytes 0..28
//	with flag bit 1, 16 more header bytes (the header is then 48 bytes):
//	 32  directory  uint64, not 0: the id of the directory the file belongs to
//	 40  reserved   uint32 = 0 (a verified header with another value was
//	                written by a newer release: ErrUnsupportedVersion)
//	 44  CRC32C of bytes 0..44
//	frames, each (a group-commit batch is one or a few frames):
//	  0  marker     "RVKF"
//	  4  count      uint32, 1..65536 (bits 24..31 are reserved for frame
//	                flags, such as "records applied from elsewhere"; 0 in
//	                version 1, which refuses any other value)
//	  8  CRC32C of the records
//	 12  CRC32C of the generation (8 bytes) followed by bytes 0..12
//	 16  count records of 16 bytes: fingerprint uint64, deadline uint32, value uint32
//
//	seal, the last 16 bytes of a journal that is no longer written to:
//	  0  marker     "RVKE"
//	  4  records    uint32: the number of records in the file (mod 2^32)
//	  8  reserved   uint32 = 0
//	 12  CRC32C of the generation (8 bytes) followed by bytes 0..12
//
// A journal with the sealed flag is sealed before the next generation is
// created (rotation) and at Close; recovery seals the newest one before it
// starts the next. So every journal but the newest ends with its seal, and
// one that does not was cut: truncation at a frame boundary, which no
// checksum can see, is found.
//
// The directory id is drawn at random when New first writes to a
// directory that holds no file with an id, and written in the header of
// every journal and snapshot New writes there from then on. Every file of
// a directory that carries an id must carry the same one: a file of
// another directory (copied in by hand, a restore from the wrong backup)
// is refused with ErrCorrupt, however well its generation fits.
//
// Every frame starts at a multiple of 16. The header CRC of a frame is
// seeded with the generation, so a frame left over from another journal (a
// reused disk block) never verifies in this one.
//
// Reading checks the magic, then the version (a file of another version is
// refused with [ErrUnsupportedVersion], whatever its checksums say, and
// never changed), then the checksums. The header is fsynced before any
// frame is written, and every write appends whole frames, so what an
// interrupted write can leave is narrow, and only that is a torn tail:
//   - a file of at most 48 bytes whose header is incomplete, zeros or does
//     not verify (the creation of the file was interrupted; a file that
//     short holds no record), or
//   - after the last frame that verifies, fewer than 16 bytes, or one frame
//     whose header verifies and that is cut short by the end of the file or
//     fails its record CRC while ending exactly at the end of the file.
//
// Anything else that does not verify is corruption. The reader reports a
// torn tail (journalInfo.torn); the caller accepts it only in the newest
// journal, the only one a crash can have been writing.
const (
	journalMagic      = "RVKJ"
	journalFrameMagic = "RVKF"
	journalSealMagic  = "RVKE"
	journalFlagSealed = 1
	journalFlagDirID  = 2
	journalFlagsKnown = journalFlagSealed | journalFlagDirID
	journalVersion    = 1
	journalHeaderSize = 32
	// journalHeaderIDSize is the size of a header with the directory id.
	journalHeaderIDSize = journalHeaderSize + 16
	journalFrameHead    = 16
	journalFrameMax     = 1 << 16
	// journalReadBuf is the read buffer of replay: larger than a frame,
	// so that one pread serves tens of thousands of small frames.
	journalReadBuf = 4 << 20
	// applyBatch is the number of records handed to apply at once by the
	// loaders: a batch amortises the per-call setup of the loader.
	applyBatch = 1 << 16

	journalPrefix = "journal-"
	journalSuffix = ".rvk"

	// lastGeneration is the highest journal generation. No journal follows
	// it: rotation stops there, and New refuses a directory whose newest
	// journal has it, since the generation after it would wrap around to
	// one that exists (creating it would truncate it).
	lastGeneration = math.MaxUint64
)

// journalName returns the file name of a journal generation.
func journalName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, gen, journalSuffix)
}

// parseJournalName returns the generation of a journal file name, spelled
// exactly as journalName spells it.
func parseJournalName(name string) (uint64, bool) {
	gen, ok := parseJournalNameFold(name)
	return gen, ok && name == journalName(gen)
}

// parseJournalNameFold is parseJournalName that also accepts upper-case hex
// digits: a name this release never writes, but which a case-insensitive
// file system would open as the journal of that generation.
func parseJournalNameFold(name string) (uint64, bool) {
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
	binary.LittleEndian.PutUint32(h[24:], journalFlagSealed)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return h
}

// journalHeaderID returns the header of a journal of generation gen in the
// directory whose id is dirID (not 0): with the directory id flag and the
// 16 bytes that hold the id.
func journalHeaderID(gen uint64, created int64, dirID uint64) [journalHeaderIDSize]byte {
	var h [journalHeaderIDSize]byte
	copy(h[:], journalMagic)
	binary.LittleEndian.PutUint32(h[4:], journalVersion)
	binary.LittleEndian.PutUint64(h[8:], gen)
	binary.LittleEndian.PutUint64(h[16:], uint64(created))
	binary.LittleEndian.PutUint32(h[24:], journalFlagSealed|journalFlagDirID)
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	binary.LittleEndian.PutUint64(h[32:], dirID)
	binary.LittleEndian.PutUint32(h[44:], crc32.Checksum(h[:44], castagnoli))
	return h
}

// journalSeal returns the seal of a journal of the generation whose seed is
// seed, holding records records.
func journalSeal(seed uint32, records uint64) [journalFrameHead]byte {
	var s [journalFrameHead]byte
	copy(s[:], journalSealMagic)
	binary.LittleEndian.PutUint32(s[4:], uint32(records))
	binary.LittleEndian.PutUint32(s[12:], frameHeaderCRC(seed, s[:]))
	return s
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
// for the generation whose seed is seed, and returns the number of records.
func sealFrames(buf []byte, seed uint32) int {
	records := 0
	for off := 0; off < len(buf); {
		count := int(binary.LittleEndian.Uint32(buf[off+4:]))
		records += count
		data := buf[off+journalFrameHead : off+journalFrameHead+count*recordSize]
		binary.LittleEndian.PutUint32(buf[off+8:], crc32.Checksum(data, castagnoli))
		binary.LittleEndian.PutUint32(buf[off+12:], frameHeaderCRC(seed, buf[off:]))
		off += journalFrameHead + len(data)
	}
	return records
}

// journalInfo is what reading a journal file found.
type journalInfo struct {
	created int64
	frames  int
	records int
	// end is the offset where the verified content ends; when it is before
	// the size of the file, the rest is a torn tail.
	end int64
	// torn says the bytes from end on are what one interrupted write can
	// leave (see the format); end 0 means the header itself is torn.
	torn bool
	// why says what did not verify at end, when torn.
	why string
	// sealing says the header has the sealed flag; sealed that the file
	// ends with its seal.
	sealing, sealed bool
	// dirID is the directory id in the header, 0 when it has none.
	dirID uint64
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

// checkVersion returns nil for version want, an error wrapping ErrCorrupt
// for version 0 (which no release writes), and otherwise one wrapping
// ErrUnsupportedVersion that names the file.
func checkVersion(name, kind string, version, want uint32) error {
	switch version {
	case want:
		return nil
	case 0:
		return corruptf(name, 4, "%s version 0", kind)
	}
	return fmt.Errorf("%w: %s is a %s of version %d, this build reads version %d; run the release that wrote it",
		ErrUnsupportedVersion, name, kind, version, want)
}

// readJournal reads the journal of generation gen from r (size bytes; name
// is used in errors) in the format described above, handing the records of
// verified frames to apply in batches of up to applyBatch. A torn tail is
// not an error: info.torn is set and info.end says where the good content
// ends. A file that does not verify otherwise returns an error wrapping
// [ErrCorrupt] that names the file and the offset, or [ErrUnsupportedVersion].
// It reads through a buffer of at most 4 MiB and holds at most applyBatch
// records, whatever the lengths in r say.
func readJournal(r io.ReaderAt, size int64, name string, gen uint64, apply func([]record)) (journalInfo, error) {
	var info journalInfo
	readAt := func(b []byte, off int64) error {
		n, err := r.ReadAt(b, off)
		if n == len(b) {
			return nil
		}
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank under us
		}
		return fmt.Errorf("revoke: reading %s: %w", name, err)
	}
	var head [journalHeaderIDSize]byte
	h := head[:min(size, journalHeaderIDSize)]
	if err := readAt(h, 0); err != nil {
		return info, err
	}
	if size <= journalHeaderIDSize && allZero(h) {
		// A creation whose data never reached the disk.
		info.torn, info.why = true, "header of zeros"
		return info, nil
	}
	magicOK := string(h[:min(len(h), 4)]) == journalMagic[:min(len(h), 4)]
	if len(h) >= 8 && magicOK {
		if err := checkVersion(name, "journal", binary.LittleEndian.Uint32(h[4:]), journalVersion); err != nil {
			return info, err
		}
	}
	if size < journalHeaderSize {
		if magicOK {
			info.torn, info.why = true, "incomplete header"
			return info, nil
		}
		return info, corruptf(name, 0, "not a journal (a %d-byte file that does not start as a journal header)", size)
	}
	if !magicOK {
		return info, corruptf(name, 0, "not a journal (magic %q)", h[:4])
	}
	if binary.LittleEndian.Uint32(h[28:]) != crc32.Checksum(h[:28], castagnoli) {
		if size <= journalHeaderIDSize {
			// At most a header: the one write that creates the file
			// was interrupted (a file that short holds no record).
			info.torn, info.why = true, "header checksum mismatch"
			return info, nil
		}
		return info, corruptf(name, 0, "header checksum mismatch in a file longer than its header (the header is fsynced before any frame is written)")
	}
	if g := binary.LittleEndian.Uint64(h[8:]); g != gen {
		return info, corruptf(name, 8, "generation %016x in a file named for generation %016x", g, gen)
	}
	info.created = int64(binary.LittleEndian.Uint64(h[16:]))
	flags := binary.LittleEndian.Uint32(h[24:])
	if flags&^journalFlagsKnown != 0 {
		// The header verified: a writer that knows more set them.
		return info, fmt.Errorf("%w: %s has journal header flags %#x, this build knows %#x; run the release that wrote it",
			ErrUnsupportedVersion, name, flags, journalFlagsKnown)
	}
	info.sealing = flags&journalFlagSealed != 0
	info.end = journalHeaderSize
	if flags&journalFlagDirID != 0 {
		switch {
		case size < journalHeaderIDSize:
			info.end, info.torn, info.why = 0, true, "incomplete header"
			return info, nil
		case binary.LittleEndian.Uint32(h[44:]) != crc32.Checksum(h[:44], castagnoli):
			if size == journalHeaderIDSize {
				info.end, info.torn, info.why = 0, true, "header checksum mismatch"
				return info, nil
			}
			return info, corruptf(name, 32, "header checksum mismatch in a file longer than its header (the header is fsynced before any frame is written)")
		case binary.LittleEndian.Uint32(h[40:]) != 0:
			return info, fmt.Errorf("%w: %s has a journal header with reserved field %#x, this build knows 0; run the release that wrote it",
				ErrUnsupportedVersion, name, binary.LittleEndian.Uint32(h[40:]))
		}
		info.dirID = binary.LittleEndian.Uint64(h[32:])
		if info.dirID == 0 {
			return info, corruptf(name, 32, "directory id 0 (no release writes it)")
		}
		info.end = journalHeaderIDSize
	}

	seed := genSeed(gen)
	buf := make([]byte, min(size-info.end, journalReadBuf))
	recs := make([]record, 0, min((size-info.end)/recordSize, applyBatch))
	flush := func() {
		if len(recs) > 0 {
			apply(recs)
			recs = recs[:0]
		}
	}
	// win holds the file from offset off on; pos is where off is in win.
	off := info.end
	win, pos := buf[:0], 0
	fill := func(need int) error {
		if len(win)-pos >= need {
			return nil
		}
		n := copy(buf, win[pos:])
		more := min(int64(len(buf)-n), size-off-int64(n))
		if err := readAt(buf[n:n+int(more)], off+int64(n)); err != nil {
			return err
		}
		win, pos = buf[:n+int(more)], 0
		return nil
	}
	// tail decides whether the bytes from off on, which do not verify, are
	// a torn tail: fewer than a frame header, or one frame whose header
	// verified (count records) and that the end of the file cuts or ends.
	tail := func(count int, why string) (journalInfo, error) {
		rest := size - off
		if rest < journalFrameHead || (count > 0 && rest <= journalFrameHead+int64(count)*recordSize) {
			flush()
			info.end, info.torn, info.why = off, true, why
			return info, nil
		}
		return info, corruptf(name, off, "%s, and the %d bytes from there to the end are more than one interrupted write leaves", why, rest)
	}
	for off < size {
		if size-off < journalFrameHead {
			return tail(0, "short frame header")
		}
		if err := fill(journalFrameHead); err != nil {
			return info, err
		}
		if fh := win[pos : pos+journalFrameHead]; info.sealing && string(fh[:4]) == journalSealMagic &&
			binary.LittleEndian.Uint32(fh[12:]) == frameHeaderCRC(seed, fh) {
			switch {
			case size-off != journalFrameHead:
				return info, corruptf(name, off, "%d bytes after the seal", size-off-journalFrameHead)
			case binary.LittleEndian.Uint32(fh[4:]) != uint32(info.records):
				return info, corruptf(name, off, "the seal counts %d records, the frames hold %d", binary.LittleEndian.Uint32(fh[4:]), info.records)
			}
			info.sealed = true
			off += journalFrameHead
			info.end = off
			break
		}
		count, ok := checkFrameHeader(win[pos:pos+journalFrameHead], seed)
		if !ok {
			return tail(0, "frame header does not verify")
		}
		n := count * recordSize
		if size-off-journalFrameHead < int64(n) {
			return tail(count, fmt.Sprintf("frame of %d records runs past the end of the file", count))
		}
		if err := fill(journalFrameHead + n); err != nil {
			return info, err
		}
		fh := win[pos : pos+journalFrameHead]
		data := win[pos+journalFrameHead : pos+journalFrameHead+n]
		if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(fh[8:]) {
			return tail(count, "frame checksum mismatch")
		}
		for i := 0; i < n; i += recordSize {
			if len(recs) == cap(recs) {
				flush()
			}
			recs = append(recs, getRecord(data[i:]))
		}
		info.frames++
		info.records += count
		pos += journalFrameHead + n
		off += int64(journalFrameHead + n)
		info.end = off
	}
	flush()
	return info, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
