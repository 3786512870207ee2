package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jwtrevoke/revoke"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "verify the snapshot and journals in a directory and say what to do",
		run:     runInspect,
	})
}

// Exit statuses of inspect.
const (
	inspectHealthy    = 0 // New starts on the directory (after trimming and deleting what a crash left)
	inspectDamaged    = 1 // a file is corrupt, missing or of a newer release: New refuses
	inspectUnreadable = 2 // a file or the directory cannot be read: nothing is known
	inspectUsage      = 3
)

// advice says what an operator does about a file of each verdict.
var advice = map[revoke.Verdict]string{
	revoke.VerdictOK:       "",
	revoke.VerdictTorn:     "nothing: a write interrupted by a crash, never acknowledged; New trims it",
	revoke.VerdictStale:    "nothing: the snapshot covers it; New deletes it",
	revoke.VerdictLeftover: "nothing: a snapshot interrupted by a crash; New deletes it",
	revoke.VerdictCorrupt: "New refuses to start. Copy the directory aside first (cp -a). Restore it from a backup or " +
		"another replica's directory. If none exists, the revocations in this file are lost: starting on an empty " +
		"directory forgets them until their tokens expire (at most Config.MaxTTL), so rotate the signing keys too, " +
		"or every token they revoked is accepted again",
	revoke.VerdictMissing: "New refuses to start: a file was deleted, or the directory is an incomplete copy or restore. " +
		"Find the file (the backup or copy this directory came from) and put it back, then inspect again; " +
		"otherwise proceed as for a corrupt file",
	revoke.VerdictUnsupported: "written by a newer release of revoke: run that release again (upgrade back). " +
		"Do not edit or delete the file; this release never changes it",
	revoke.VerdictUnreadable: "nothing is known about its contents: check its permissions (run inspect as the " +
		"service's user) and the disk (dmesg, SMART), then inspect again",
}

// inspectFile is one file of the --json output.
type inspectFile struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Generation string    `json:"generation,omitempty"` // 16 hex digits, as in file names
	Verdict    string    `json:"verdict"`
	Problem    string    `json:"problem,omitempty"`
	Advice     string    `json:"advice,omitempty"`
	Size       int64     `json:"size"`
	Records    int       `json:"records"`
	Frames     int       `json:"frames,omitempty"`
	TornBytes  int64     `json:"torn_bytes,omitempty"`
	Created    time.Time `json:"created,omitzero"`
}

// inspectResult is the --json output.
type inspectResult struct {
	Dir       string        `json:"dir"`
	Status    string        `json:"status"`
	ExitCode  int           `json:"exit_code"`
	Error     string        `json:"error,omitempty"`
	Advice    string        `json:"advice,omitempty"`
	Files     []inspectFile `json:"files"`
	Live      int           `json:"live"`
	Expired   int           `json:"expired"`
	Deadlines []struct {
		WithinSeconds int64 `json:"within_seconds,omitempty"` // absent for the last, unbounded bucket
		Count         int   `json:"count"`
	} `json:"deadlines"`
}

// runInspect verifies the files of a Config.Dir without changing them and
// prints every file with its verdict and what to do about it. Exit status:
// 0 when New would start (a torn journal tail and leftovers included), 1
// when a file is corrupt, missing or of a newer release (New refuses), 2
// when a file or the directory cannot be read, 3 on a usage error.
func runInspect(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "print the report as JSON")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: revoke inspect [--json] DIR\n\n"+
			"Verifies the snapshot and journals that an engine with Config.Dir = DIR\n"+
			"keeps, without changing them, and prints every file with its verdict and\n"+
			"what to do about it, the entries live and expired, and a histogram of\n"+
			"deadlines. Generations are in hex, as in the file names.\n\n"+
			"Exit status: 0 New starts on DIR; 1 a file is corrupt, missing or written\n"+
			"by a newer release (New refuses); 2 a file or DIR cannot be read; 3 usage.")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return inspectHealthy
		}
		return inspectUsage
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return inspectUsage
	}
	res := judgeDir(fset.Arg(0))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "revoke inspect:", err)
			return inspectUnreadable
		}
		return res.ExitCode
	}
	printInspect(stdout, res)
	return res.ExitCode
}

// judgeDir runs revoke.InspectDir and judges the directory as a whole.
func judgeDir(dir string) inspectResult {
	rep, err := revoke.InspectDir(dir)
	res := inspectResult{Dir: dir, Live: rep.Live, Expired: rep.Expired, Files: []inspectFile{}}
	worst := inspectHealthy
	for _, f := range rep.Files {
		fi := inspectFile{Name: f.Name, Kind: f.Kind, Verdict: string(f.Verdict), Problem: f.Problem,
			Advice: advice[f.Verdict], Size: f.Size, Records: f.Records, Frames: f.Frames,
			TornBytes: f.TornBytes, Created: f.Created}
		if f.Generation != 0 || f.Verdict == revoke.VerdictOK {
			fi.Generation = fmt.Sprintf("%016x", f.Generation)
		}
		if f.Created.IsZero() || f.Created.Unix() == 0 {
			fi.Created = time.Time{}
		}
		res.Files = append(res.Files, fi)
		switch f.Verdict {
		case revoke.VerdictUnreadable:
			worst = inspectUnreadable
		case revoke.VerdictCorrupt, revoke.VerdictMissing, revoke.VerdictUnsupported:
			worst = max(worst, inspectDamaged)
		}
	}
	for _, b := range rep.Deadlines {
		d := struct {
			WithinSeconds int64 `json:"within_seconds,omitempty"`
			Count         int   `json:"count"`
		}{Count: b.Count}
		if b.Within != math.MaxInt64 {
			d.WithinSeconds = int64(b.Within / time.Second)
		}
		res.Deadlines = append(res.Deadlines, d)
	}
	switch {
	case err == nil:
		res.Status = "ok"
	case errors.Is(err, fs.ErrNotExist) && len(rep.Files) == 0:
		// The directory itself: New would create it, empty.
		res.Status, worst = "missing directory", max(worst, inspectDamaged)
		res.Advice = "the directory does not exist. New would create it and start with no revocations: " +
			"if this service had revocations, Config.Dir points elsewhere or the directory was lost; check the path before starting it"
	case errors.Is(err, revoke.ErrUnsupportedVersion):
		res.Status, worst = "unsupported", max(worst, inspectDamaged)
		res.Advice = advice[revoke.VerdictUnsupported]
	case errors.Is(err, revoke.ErrCorrupt):
		res.Status, worst = "corrupt", max(worst, inspectDamaged)
		res.Advice = "see what to do for each file above"
		for _, f := range rep.Files {
			if f.Problem == err.Error() && f.Verdict == revoke.VerdictMissing {
				res.Status = "missing" // the file New would name
			}
		}
	default:
		res.Status, worst = "unreadable", inspectUnreadable
		res.Advice = advice[revoke.VerdictUnreadable]
	}
	if worst == inspectUnreadable {
		res.Status = "unreadable"
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.ExitCode = worst
	return res
}

func printInspect(w io.Writer, res inspectResult) {
	fmt.Fprintf(w, "directory %s\n\n", res.Dir)
	if len(res.Files) == 0 && res.Status == "ok" {
		fmt.Fprintln(w, "no snapshot and no journal: New starts with no revocations")
	}
	if len(res.Files) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "file\tkind\tgeneration\tverdict\tbytes\trecords\tframes\tcreated")
		for _, f := range res.Files {
			gen, created, frames := orDash(f.Generation), "-", "-"
			if !f.Created.IsZero() {
				created = f.Created.UTC().Format(time.RFC3339)
			}
			if f.Kind == "journal" && f.Verdict != "missing" && f.Verdict != "stale" {
				frames = fmt.Sprint(f.Frames)
			}
			size, records := fmt.Sprint(f.Size), fmt.Sprint(f.Records)
			if f.Verdict == "missing" || f.Verdict == "stale" || f.Verdict == "leftover" {
				size, records = "-", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Kind, gen, f.Verdict, size, records, frames, created)
		}
		_ = tw.Flush()
	}
	var journals, journalRecords int
	var journalBytes int64
	for _, f := range res.Files {
		if f.Kind == "journal" && (f.Verdict == "ok" || f.Verdict == "torn") {
			journals++
			journalBytes += f.Size
			journalRecords += f.Records
		}
	}
	first := true
	for _, f := range res.Files {
		if f.Verdict == "ok" {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nfiles that need a word:")
			first = false
		}
		fmt.Fprintf(w, "\n  %s: %s\n    %s\n", f.Name, strings.ToUpper(f.Verdict), f.Problem)
		if f.Advice != "" {
			fmt.Fprintf(w, "    what to do: %s\n", f.Advice)
		}
	}
	if len(res.Files) > 0 {
		fmt.Fprintf(w, "\njournal: %d file(s), %d bytes, %d records\n", journals, journalBytes, journalRecords)
	}
	switch res.Status {
	case "ok":
		fmt.Fprintf(w, "entries: %d live, %d expired (a restart loads the live ones)\n", res.Live, res.Expired)
		printHistogram(w, res)
		fmt.Fprintln(w, "\nOK: New starts on this directory")
	case "unreadable":
		fmt.Fprintf(w, "\nUNREADABLE: %s\n%s\n", res.Error, res.Advice)
	case "missing directory":
		fmt.Fprintf(w, "MISSING: %s\n", res.Advice)
	default:
		if res.Live+res.Expired > 0 {
			fmt.Fprintf(w, "entries in the files that verify: %d live, %d expired\n", res.Live, res.Expired)
		}
		fmt.Fprintf(w, "\n%s: New refuses to start on this directory (fail closed), with\n  %s\n%s\n", strings.ToUpper(res.Status), res.Error, res.Advice)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printHistogram prints the live entries by time left as a bar chart.
func printHistogram(w io.Writer, res inspectResult) {
	if res.Live == 0 {
		return
	}
	fmt.Fprintln(w, "\ndeadlines of live entries (time left):")
	most := 0
	for _, b := range res.Deadlines {
		most = max(most, b.Count)
	}
	prev := time.Duration(0)
	for _, b := range res.Deadlines {
		within := time.Duration(b.WithinSeconds) * time.Second
		label := "< " + shortDuration(within)
		if b.WithinSeconds == 0 {
			label = ">= " + shortDuration(prev)
		}
		bar := strings.Repeat("#", (b.Count*40+most-1)/most)
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-6s %10d  %s", label, b.Count, bar), " "))
		prev = within
	}
}

func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
