package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jwtrevoke/revoke"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "verify the snapshot and journal in a directory and describe them",
		run:     runInspect,
	})
}

// runInspect verifies the files of a Config.Dir without changing them and
// prints what they hold. Exit status: 0 when everything verifies (a torn
// journal tail, which New trims, included), 1 on corruption or a read error,
// 2 on a usage error.
func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: revoke inspect DIR\n\n"+
			"Verifies the snapshot and journals that an engine with Config.Dir = DIR\n"+
			"keeps, without changing them, and prints the files, the entries live and\n"+
			"expired, a histogram of deadlines and the exact place of any corruption.\n"+
			"Exit status 1 if a file does not verify.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	rep, err := revoke.InspectDir(dir)

	fmt.Fprintf(stdout, "directory %s\n\n", dir)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "file\tkind\tgeneration\tbytes\trecords\tframes\tcreated")
	var journalBytes int64
	var journalRecords, journals int
	for _, f := range rep.Files {
		if f.Stale {
			fmt.Fprintf(tw, "%s\t%s\t%d\t-\t-\t-\tstale: the snapshot covers it, New deletes it\n", f.Name, f.Kind, f.Generation)
			continue
		}
		frames := "-"
		if f.Kind == "journal" {
			frames = fmt.Sprint(f.Frames)
			journals++
			journalBytes += f.Size
			journalRecords += f.Records
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", f.Name, f.Kind, f.Generation, f.Size, f.Records, frames,
			f.Created.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
	for _, f := range rep.Files {
		if f.TornBytes > 0 {
			fmt.Fprintf(stdout, "\ntorn tail: %s has %d bytes after offset %d that are not a complete frame\n"+
				"  (a crash mid-append; never acknowledged; New trims them)\n", f.Name, f.TornBytes, f.Size-f.TornBytes)
		}
	}
	fmt.Fprintf(stdout, "\njournal: %d file(s), %d bytes, %d records\n", journals, journalBytes, journalRecords)
	if err != nil {
		fmt.Fprintf(stdout, "\nCORRUPT: %v\n", err)
		fmt.Fprintln(stdout, "New refuses to start on this directory (fail closed). Entries above count the files before it only.")
		fmt.Fprintf(stdout, "entries read before the problem: %d live, %d expired\n", rep.Live, rep.Expired)
		return 1
	}
	fmt.Fprintf(stdout, "entries: %d live, %d expired (a restart loads the live ones)\n", rep.Live, rep.Expired)
	printHistogram(stdout, rep)
	fmt.Fprintln(stdout, "\nOK: every file verifies")
	return 0
}

// printHistogram prints the live entries by time left as a bar chart.
func printHistogram(w io.Writer, rep revoke.DirReport) {
	if rep.Live == 0 {
		return
	}
	fmt.Fprintln(w, "\ndeadlines of live entries (time left):")
	most := 0
	for _, b := range rep.Deadlines {
		most = max(most, b.Count)
	}
	prev := time.Duration(0)
	for _, b := range rep.Deadlines {
		label := "< " + shortDuration(b.Within)
		if b.Within == math.MaxInt64 {
			label = ">= " + shortDuration(prev)
		}
		bar := strings.Repeat("#", (b.Count*40+most-1)/most)
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-6s %10d  %s", label, b.Count, bar), " "))
		prev = b.Within
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
