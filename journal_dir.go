package revoke

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// A durability directory holds snapshot.rvk (optional), journal files
// named by generation, and at times snapshot.rvk.tmp (a snapshot being
// written) and LOCK. Generations start at 1 and run without a gap from the
// snapshot's generation (the first one it does not cover) or, without a
// snapshot, from 1; journals below the snapshot's generation are stale
// (covered, deleted once the snapshot is durable). Recovery first verifies
// the whole directory without changing anything (loadDir) and only then
// repairs what a crash leaves (repairDir): it removes the temporary
// snapshot and the stale journals, and trims the torn tail of the newest
// journal. A temporary snapshot is also evidence: it is created only after
// the rotation before it created and fsynced the next journal, whose
// generation its header names, so the journals must reach that far.

// dirFiles is what a directory holds: the snapshot (if any) and the
// journal generations, in order.
type dirFiles struct {
	snapshot bool
	tmp      bool
	journals []uint64
	// misspelled holds names of journals in a spelling no release writes
	// (upper-case hex digits).
	misspelled []string
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
			} else if _, ok := parseJournalNameFold(name); ok {
				d.misspelled = append(d.misspelled, name)
			}
		}
	}
	slices.Sort(d.journals)
	return d, nil
}

// dirPlan is what recovery must change in a directory that verified, and
// the generation of the journal to start.
type dirPlan struct {
	next      uint64
	removeTmp bool
	stale     []uint64
	// trimGen's torn tail starts at trimEnd (0: the whole file, whose
	// header is torn, is removed and its generation reused as next).
	trim    bool
	trimGen uint64
	trimEnd int64
	// seal says the newest journal, sealGen, holding sealRecords records
	// up to offset sealAt, must be sealed before the next one starts.
	seal        bool
	sealGen     uint64
	sealRecords int
	sealAt      int64
	// dirID is the directory id of the files that carry one, or a new
	// random one when none does: the id of every file New writes.
	dirID uint64
}

// missingf returns an error wrapping ErrCorrupt that names what is missing.
func missingf(dir, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, dir, fmt.Sprintf(format, args...))
}

// loadDir verifies the snapshot and the journals of dir, handing their
// records to apply, and returns what repairDir must change and the
// generation the next journal must have. It changes nothing. visit, if not
// nil, is told about every file with its verdict, missing generations
// included. On damage it still reads every file (so that the report is
// complete) and returns the most telling error: an unsupported version
// first (the fix is to run a newer release), then an unreadable file,
// then corruption or a missing file, each naming the file.
func loadDir(fsys fileSystem, dir string, apply func([]record), visit func(FileReport)) (dirPlan, error) {
	var plan dirPlan
	report := func(r FileReport) {
		if visit != nil {
			visit(r)
		}
	}
	d, err := listDir(fsys, dir)
	if err != nil {
		return plan, err
	}
	var errs []error
	fail := func(r FileReport, err error) {
		if r.Verdict == "" {
			r.Verdict = verdictOf(err)
		}
		r.Problem = err.Error()
		report(r)
		errs = append(errs, err)
	}
	for _, name := range d.misspelled {
		// Never ignored: it may hold a journal's records, and on a
		// case-insensitive file system creating the journal of its
		// generation would truncate it.
		g, _ := parseJournalNameFold(name)
		fail(FileReport{Name: name, Kind: "journal", Generation: g, Verdict: VerdictCorrupt},
			corruptf(filepath.Join(dir, name), 0, "named like a journal in a spelling no release writes (upper-case hex digits; New writes %s): renamed by hand or copied by a tool that changed its case; give it that name back, or move it out of the directory",
				journalName(g)))
	}
	// The id of the directory is the one most files carry; every file
	// with another is refused. Only the headers are read for this.
	ids, journalIDs := dirIDs(fsys, dir, d)
	ref, refCount, tie := uint64(0), 0, false
	for id, n := range ids {
		switch {
		case n > refCount:
			ref, refCount, tie = id, n, false
		case n == refCount:
			tie = true
		}
	}
	plan.dirID = ref
	sameDir := func(r FileReport, path string, off int64, id uint64) bool {
		switch {
		case id == 0 || (id == ref && !tie):
			return true
		case tie:
			fail(r, corruptf(path, off, "directory id %016x, and as many other files have another id: one side belongs to another directory (a file copied in from another engine's directory); move the foreign files out, or restore this directory's own",
				id))
		default:
			fail(r, corruptf(path, off, "belongs to another directory: directory id %016x, and %d other file(s) have %016x (a file copied in from another engine's directory); move it out, or restore this directory's own file",
				id, refCount, ref))
		}
		return false
	}
	first, snapOK := uint64(1), false
	if d.snapshot {
		path := filepath.Join(dir, snapshotName)
		r := FileReport{Name: snapshotName, Kind: "snapshot"}
		h, n, size, err := readSnapshotFile(fsys, path, apply)
		r.Size, r.Records = size, n
		if err != nil {
			fail(r, err)
		} else if sameDir(r, path, 24, h.dirID) {
			first, snapOK = h.generation, true
			r.Generation, r.Created, r.Verdict = h.generation, time.Unix(h.created, 0), VerdictOK
			report(r)
			if h.generation == 0 {
				fail(FileReport{Name: snapshotName, Kind: "snapshot"},
					corruptf(path, 16, "generation 0: a snapshot of a stream (WriteTo), not of a directory; load it with ReadFrom"))
			}
		}
	}
	live := d.journals
	if d.snapshot && !snapOK {
		// The snapshot's generation is unknown: check the journals as
		// they are, for the report.
		first = 0
		if len(live) > 0 {
			first = live[0]
		}
	}
	for len(live) > 0 && live[0] < first {
		r := FileReport{Name: journalName(live[0]), Kind: "journal", Generation: live[0]}
		// Not read (the snapshot covers it), but never deleted if a newer
		// release wrote it.
		if err := checkJournalVersion(fsys, filepath.Join(dir, r.Name)); err != nil {
			fail(r, err)
		} else if sameDir(r, filepath.Join(dir, r.Name), 32, journalIDs[live[0]]) {
			r.Verdict, r.Problem = VerdictStale, "the snapshot covers it; New deletes it"
			report(r)
			plan.stale = append(plan.stale, live[0])
		}
		live = live[1:]
	}
	// Generations must run from first to the newest without a gap.
	switch {
	case !d.snapshot && len(live) > 0 && live[0] != 1:
		fail(FileReport{Name: snapshotName, Kind: "snapshot", Verdict: VerdictMissing}, missingf(dir,
			"%s is missing: the journals start at generation %016x, and the revocations of the generations before it were only in a snapshot",
			snapshotName, live[0]))
	case snapOK && (len(live) == 0 || live[0] != first):
		last := first
		if len(live) > 0 {
			last = live[0] - 1
		}
		fail(missingReport(first, last), missingf(dir, "%s is missing: the snapshot covers the generations before %016x and the journals after it must follow",
			gapName(first, last), first))
	}
	// A leftover snapshot is read before the journals: its generation says
	// which journals had a complete, fsynced header (see below).
	var tmpGen uint64
	var tmpSize int64
	var tmpErr error
	if d.tmp {
		tmpGen, tmpSize, tmpErr = readSnapshotTmpGen(fsys, filepath.Join(dir, snapshotTmpName))
	}
	var newest uint64
	if len(live) > 0 && live[len(live)-1] == lastGeneration {
		fail(FileReport{Name: journalName(lastGeneration), Kind: "journal", Generation: lastGeneration, Verdict: VerdictCorrupt},
			missingf(dir, "%s has the last generation: no journal can follow it (the generations are used up; no release reaches it by rotating)",
				journalName(lastGeneration)))
	}
	for i, gen := range live {
		if i > 0 && gen != live[i-1]+1 {
			fail(missingReport(live[i-1]+1, gen-1), missingf(dir, "%s is missing: the journals jump from generation %016x to %016x",
				gapName(live[i-1]+1, gen-1), live[i-1], gen))
		}
		newest = gen
		path := filepath.Join(dir, journalName(gen))
		r := FileReport{Name: journalName(gen), Kind: "journal", Generation: gen}
		info, size, err := readJournalFile(fsys, path, gen, apply)
		r.Size, r.Records, r.Frames = size, info.records, info.frames
		if err != nil {
			fail(r, err)
			continue
		}
		r.Created = time.Unix(info.created, 0)
		if !sameDir(r, path, 32, info.dirID) {
			continue
		}
		last := i == len(live)-1
		if last && info.sealing && !info.sealed && (!info.torn || info.end > 0) {
			plan.seal, plan.sealGen, plan.sealRecords, plan.sealAt = true, gen, info.records, info.end
		}
		if !last && info.sealing && !info.sealed && !info.torn {
			fail(r, corruptf(path, info.end, "the journal ends without its seal although a later one exists: it was cut"))
			continue
		}
		if !info.torn {
			r.Verdict = VerdictOK
			report(r)
			continue
		}
		r.TornBytes = size - info.end
		switch {
		case i != len(live)-1:
			fail(r, corruptf(path, info.end, "%s, in a journal that a later one follows: only the newest journal can end in an interrupted write", info.why))
		case info.end == 0 && snapOK && gen == first:
			fail(r, corruptf(path, 0, "%s, in the journal the snapshot starts from: it was complete before the snapshot was written", info.why))
		case info.end == 0 && gen <= tmpGen:
			fail(r, corruptf(path, 0, "%s, but %s, a snapshot left unfinished, was started after this journal was created and fsynced: it was cut", info.why, snapshotTmpName))
		default:
			r.Verdict = VerdictTorn
			r.Problem = fmt.Sprintf("%d bytes from offset %d (%s) are what an interrupted write leaves: never acknowledged; New trims them", r.TornBytes, info.end, info.why)
			if info.end == 0 {
				r.Problem = fmt.Sprintf("%s: its creation was interrupted; New replaces it, reusing generation %016x", info.why, gen)
			}
			report(r)
			plan.trim, plan.trimGen, plan.trimEnd = true, gen, info.end
		}
	}
	if d.tmp {
		// A snapshot is started only after the rotation that precedes it
		// has created (and fsynced) its journal: a leftover one proves
		// that journal, and every one before it back to the snapshot's
		// generation, existed. It must still be there.
		r := FileReport{Name: snapshotTmpName, Kind: "snapshot", Size: tmpSize, Generation: tmpGen}
		err := tmpErr
		want := max(tmpGen, first+1, 2)
		if !snapOK && d.snapshot {
			want = max(tmpGen, 2) // the snapshot's generation is unknown
		}
		lo := newest + 1
		if snapOK && newest < first {
			lo = first + 1 // journal first is reported missing above
		}
		switch {
		case err != nil:
			fail(r, err)
		case newest < want && lo <= want:
			fail(missingReport(lo, want), missingf(dir,
				"%s is missing: %s, a snapshot left unfinished, was started after the rotation to generation %016x, so the journals cannot end before it",
				gapName(lo, want), snapshotTmpName, want))
		default:
			r.Verdict, r.Problem = VerdictLeftover, "an unfinished snapshot; New deletes it"
			report(r)
			plan.removeTmp = true
		}
	}
	if len(errs) > 0 {
		return plan, mostTelling(errs)
	}
	if plan.dirID == 0 {
		// No file carries an id: a new directory, or one of files of an
		// earlier release. Those are accepted; the files written from now
		// on carry the new id.
		id, err := newDirID()
		if err != nil {
			return plan, err
		}
		plan.dirID = id
	}
	plan.next = max(first, newest+1, 1)
	if plan.trim && plan.trimEnd == 0 {
		plan.next = plan.trimGen
	}
	return plan, nil
}

// dirIDs returns how many of the snapshot and journals of d carry each
// directory id, and the id of each journal that has one, reading just their
// headers; a header that does not verify counts for nothing (loadDir
// reports it).
func dirIDs(fsys fileSystem, dir string, d dirFiles) (map[uint64]int, map[uint64]uint64) {
	ids, journals := map[uint64]int{}, map[uint64]uint64{}
	read := func(name string, n int) []byte {
		f, _, err := openRegular(fsys, filepath.Join(dir, name), "")
		if err != nil {
			return nil
		}
		defer f.Close()
		b := make([]byte, n)
		if m, _ := f.ReadAt(b, 0); m < n {
			return nil
		}
		return b
	}
	if d.snapshot {
		if b := read(snapshotName, snapshotHeader2Size); b != nil && string(b[:4]) == snapshotMagic &&
			binary.LittleEndian.Uint32(b[4:]) == snapshotVersion {
			if h, ok := decodeSnapshotHeader(b); ok && h.dirID != 0 {
				ids[h.dirID]++
			}
		}
	}
	for _, gen := range d.journals {
		b := read(journalName(gen), journalHeaderIDSize)
		if b == nil || string(b[:4]) != journalMagic || binary.LittleEndian.Uint32(b[4:]) != journalVersion ||
			binary.LittleEndian.Uint32(b[24:])&journalFlagDirID == 0 ||
			binary.LittleEndian.Uint32(b[44:]) != crc32.Checksum(b[:44], castagnoli) {
			continue
		}
		if id := binary.LittleEndian.Uint64(b[32:]); id != 0 {
			ids[id]++
			journals[gen] = id
		}
	}
	return ids, journals
}

// newDirID draws a random directory id, never 0.
func newDirID() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("revoke: drawing a directory id: %w", err)
		}
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id, nil
		}
	}
}

func gapName(from, to uint64) string {
	if from == to {
		return journalName(from)
	}
	return fmt.Sprintf("%s to %s (%d journals)", journalName(from), journalName(to), to-from+1)
}

func missingReport(from, to uint64) FileReport {
	return FileReport{Name: gapName(from, to), Kind: "journal", Generation: from, Verdict: VerdictMissing}
}

// mostTelling picks the error to return of those found in a directory.
func mostTelling(errs []error) error {
	for _, target := range []error{ErrUnsupportedVersion, nil, ErrCorrupt} {
		for _, err := range errs {
			switch {
			case target == nil && !errors.Is(err, ErrUnsupportedVersion) && !errors.Is(err, ErrCorrupt):
				return err
			case target != nil && errors.Is(err, target):
				return err
			}
		}
	}
	return errs[0]
}

// openRegular opens the file at path (a what) for reading and returns it
// with its size, or an error naming it if it is not a regular file. It
// looks before it opens: opening a named pipe for reading waits for a
// writer, and New (or the inspector) would wait with it, forever.
func openRegular(fsys fileSystem, path, what string) (file, int64, error) {
	notRegular := func(st fs.FileInfo) error {
		return fmt.Errorf("revoke: %s %s is not a regular file (mode %v): move it out of the directory", what, path, st.Mode().Type())
	}
	if st, err := fsys.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, 0, notRegular(st)
	}
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("revoke: opening %s: %w", what, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("revoke: %s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, 0, notRegular(st)
	}
	return f, st.Size(), nil
}

func readSnapshotFile(fsys fileSystem, path string, apply func([]record)) (snapshotHeader, int, int64, error) {
	f, size, err := openRegular(fsys, path, "snapshot")
	if err != nil {
		return snapshotHeader{}, 0, size, err
	}
	defer f.Close()
	n := 0
	h, _, err := readSnapshot(newBufReader(f), path, func(recs []record) { n += len(recs); apply(recs) })
	return h, n, size, err
}

// readSnapshotTmpGen returns the generation in the header of the unfinished
// snapshot at path, or 0 when its header is incomplete or does not verify
// (the write that a crash interrupted may not have reached it), and its
// size. An entry that cannot be read (a directory, an I/O error) is an
// error: New would have to delete what it does not know; so is one of a
// newer release (ErrUnsupportedVersion), which New never deletes.
func readSnapshotTmpGen(fsys fileSystem, path string) (uint64, int64, error) {
	f, size, err := openRegular(fsys, path, "unfinished snapshot")
	if err != nil {
		return 0, size, err
	}
	defer f.Close()
	var h [snapshotHeader2Size]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, size, fmt.Errorf("revoke: reading %s: %w", path, err)
	}
	if n < 8 || string(h[:4]) != snapshotMagic {
		return 0, size, nil
	}
	v := binary.LittleEndian.Uint32(h[4:])
	hlen := snapshotHeaderLen(v)
	if hlen == 0 && v != 0 {
		// Written by a newer release: never deleted (see checkVersion).
		return 0, size, checkVersion(path, "snapshot", v, snapshotVersion)
	}
	if hlen == 0 || n < hlen {
		return 0, size, nil
	}
	sh, ok := decodeSnapshotHeader(h[:hlen])
	if !ok {
		return 0, size, nil
	}
	return sh.generation, size, nil
}

// checkJournalVersion returns an error wrapping ErrUnsupportedVersion if the
// journal at path has the magic of a journal and another version (or an
// error if it cannot be read); a file too short to tell is not refused.
func checkJournalVersion(fsys fileSystem, path string) error {
	f, _, err := openRegular(fsys, path, "journal")
	if err != nil {
		return err
	}
	defer f.Close()
	var h [8]byte
	if n, err := f.ReadAt(h[:], 0); n < len(h) {
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("revoke: reading %s: %w", path, err)
		}
		return nil
	}
	if string(h[:4]) != journalMagic {
		return nil
	}
	if v := binary.LittleEndian.Uint32(h[4:]); v != journalVersion && v != 0 {
		return checkVersion(path, "journal", v, journalVersion)
	}
	return nil
}

func readJournalFile(fsys fileSystem, path string, gen uint64, apply func([]record)) (journalInfo, int64, error) {
	f, size, err := openRegular(fsys, path, "journal")
	if err != nil {
		return journalInfo{}, size, err
	}
	defer f.Close()
	info, err := readJournal(f, size, path, gen, apply)
	return info, size, err
}

// repairDir makes the changes of plan, which loadDir found on a directory
// that verified: it removes the unfinished snapshot, trims (or removes) the
// torn newest journal, logging it, seals the newest journal (which a crash
// left unsealed), removes the stale journals and fsyncs the directory. Each
// step can be repeated with the same result (sealing cuts the file at the
// seal's offset first), so a failed repair is retried whole.
func repairDir(fsys fileSystem, dir string, plan dirPlan) error {
	changed := false
	if plan.removeTmp {
		if err := fsys.Remove(filepath.Join(dir, snapshotTmpName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("revoke: removing unfinished snapshot: %w", err)
		}
		changed = true
	}
	if plan.trim {
		path := filepath.Join(dir, journalName(plan.trimGen))
		slog.Warn("revoke: trimming the torn tail of the newest journal", "file", path, "offset", plan.trimEnd)
		if err := trimJournal(fsys, path, plan.trimEnd); err != nil {
			return err
		}
		changed = changed || plan.trimEnd == 0
	}
	if plan.seal {
		if err := sealJournal(fsys, filepath.Join(dir, journalName(plan.sealGen)), plan.sealGen, plan.sealRecords, plan.sealAt); err != nil {
			return err
		}
	}
	for _, gen := range plan.stale {
		if err := fsys.Remove(filepath.Join(dir, journalName(gen))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("revoke: removing old journal: %w", err)
		}
		changed = true
	}
	if changed {
		if err := fsys.SyncDir(dir); err != nil {
			return fmt.Errorf("revoke: syncing %s: %w", dir, err)
		}
	}
	return nil
}

// sealJournal writes the seal of the journal at path, of generation gen and
// holding records records, at offset at (where its verified frames end:
// the file is cut there first, so that sealing again after a failure never
// leaves two seals or a partial one), and fsyncs it.
func sealJournal(fsys fileSystem, path string, gen uint64, records int, at int64) error {
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("revoke: sealing journal: %w", err)
	}
	seal := journalSeal(genSeed(gen), uint64(records))
	err = f.Truncate(at)
	if err == nil {
		err = writeFull(f, seal[:])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("revoke: sealing journal %s: %w", path, err)
	}
	return nil
}

// trimJournal cuts a journal at its torn tail, or removes it when not even
// its header was complete.
func trimJournal(fsys fileSystem, path string, end int64) error {
	if end == 0 {
		if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
