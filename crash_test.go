package revoke

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The kill -9 test: the test binary runs itself as a child (TestCrashChild
// with REVOKE_CRASH_DIR set) that revokes keys from a few goroutines with
// SyncAlways, printing each key once Revoke has returned nil, while another
// goroutine takes snapshots and the journal limit forces more. The parent
// kills the child with SIGKILL at a random moment, reopens the directory
// and checks that every printed key is revoked; the next iteration starts a
// child on the same directory, so recovery of a recovered directory is
// exercised too.
//
// Every third child is killed within its first 40 ms instead, often inside
// New. REVOKE_CRASH_ITERATIONS=300 go test -run TestKill9 runs it many times.

const (
	crashDirEnv    = "REVOKE_CRASH_DIR"
	crashPrefixEnv = "REVOKE_CRASH_PREFIX"
)

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestKill9, run only by it")
	}
	prefix := os.Getenv(crashPrefixEnv)
	e, err := New(Config{Dir: dir, Shards: 16, SnapshotInterval: -1, SnapshotJournalBytes: 8 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: New:", err)
		os.Exit(3)
	}
	// Never outlive a parent that died: give up after a while.
	time.AfterFunc(time.Minute, func() { os.Exit(4) })
	exp := time.Now().Add(time.Hour)
	var out sync.Mutex
	go func() {
		for {
			if err := e.Snapshot(); err != nil {
				fmt.Fprintln(os.Stderr, "child: Snapshot:", err)
				os.Exit(5)
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("%s-%d-%d", prefix, g, i)
				if err := e.Revoke(k, exp); err != nil {
					fmt.Fprintln(os.Stderr, "child: Revoke:", err)
					os.Exit(6)
				}
				// One write of a short line to a pipe is atomic.
				out.Lock()
				_, _ = os.Stdout.WriteString(k + "\n")
				out.Unlock()
			}
		})
	}
	wg.Wait()
}

func crashIterations(t *testing.T) int {
	s := os.Getenv("REVOKE_CRASH_ITERATIONS")
	if s == "" {
		if testing.Short() {
			return 1
		}
		return 4
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "REVOKE_CRASH_ITERATIONS")
	return n
}

func TestKill9(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	var acked []string
	silent := 0 // children killed before their first acknowledgement
	for it := range crashIterations(t) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPrefixEnv+"="+strconv.Itoa(it))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())

		killAfter := 1 + rand.IntN(400) // printed keys
		// Every third child dies within its first 40 ms instead, often
		// inside New (recovery, repair, creating its journal): a crash
		// there must leave a directory that opens, with no gap.
		early := it%3 == 2
		if early {
			killAfter = -1
			timer := time.AfterFunc(time.Duration(rand.IntN(40_000))*time.Microsecond, func() { _ = cmd.Process.Kill() })
			defer timer.Stop()
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		seen := 0
		for line := range lines {
			acked = append(acked, line)
			if seen++; seen == killAfter {
				// A little more, at a random moment between two keys.
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				require.NoError(t, cmd.Process.Kill()) // SIGKILL
			}
		}
		err = cmd.Wait()
		require.Errorf(t, err, "the child must have been killed; stderr: %s", stderr.String())
		require.NotContainsf(t, stderr.String(), "child:", "the child failed rather than being killed")
		if seen == 0 {
			silent++
		}
		if !early {
			require.GreaterOrEqualf(t, seen, killAfter, "the child stopped early: %v; stderr: %s", err, stderr.String())
		}

		e, err := New(Config{Dir: dir, Shards: 16, SnapshotInterval: -1, SnapshotJournalBytes: -1})
		require.NoErrorf(t, err, "iteration %d: reopening after kill -9", it)
		for _, k := range acked {
			if !e.IsRevoked(k) {
				require.Failf(t, "acknowledged revocation lost", "iteration %d: key %q was printed by the child but is not revoked after kill -9", it, k)
			}
		}
		assert.GreaterOrEqual(t, e.Len(), len(acked), "iteration %d", it)
		require.NoError(t, e.Close())
	}
	t.Logf("%d acknowledged revocations survived kill -9; %d children were killed before their first", len(acked), silent)
}
