package natsrevoke

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Environment of the child replica that TestKillLoop runs as a process.
const (
	killChildEnv   = "NATSREVOKE_KILL_CHILD" // the server URL
	killDirEnv     = "NATSREVOKE_KILL_DIR"
	killModeEnv    = "NATSREVOKE_KILL_MODE" // "queued", "sync" or "drain"
	killPrefixEnv  = "NATSREVOKE_KILL_PREFIX"
	killIterations = "NATSREVOKE_KILL_ITERATIONS" // default 50
)

// TestKillLoop kills a replica process with SIGKILL at random points while
// it revokes, and starts it again on the same Dir, at least 50 times
// (Queued and Synchronous in turn); the child prints each key after Revoke
// returned nil. A peer must end up with every key the child acknowledged.
func TestKillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 processes")
	}
	n := 50
	if v := os.Getenv(killIterations); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	s := startServer(t, t.TempDir(), 0)
	dir := t.TempDir()
	var acked []string
	replayed, pending := 0, 0
	run := func(mode, prefix string, kill time.Duration) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillLoopChild$", "-test.timeout=2m")
		cmd.Env = append(os.Environ(), killChildEnv+"="+s.ClientURL(), killDirEnv+"="+dir, killModeEnv+"="+mode, killPrefixEnv+"="+prefix)
		cmd.Stderr = t.Output()
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "READY":
				r, _ := strconv.Atoi(f[1])
				replayed += r
				if kill > 0 {
					time.AfterFunc(kill, func() { _ = cmd.Process.Kill() }) // SIGKILL on Unix
				}
			case len(f) == 2 && f[0] == "ACK":
				acked = append(acked, f[1])
			case len(f) == 1 && f[0] == "PENDING":
				pending++
			}
		}
		err = cmd.Wait()
		if kill == 0 {
			require.NoError(t, err, "the draining child exits cleanly")
		}
	}
	for i := range n {
		mode := "queued"
		if i%2 == 1 {
			mode = "sync"
		}
		run(mode, fmt.Sprintf("it%d", i), time.Duration(1+rand.IntN(40))*time.Millisecond)
	}
	run("drain", "", 0) // publishes what the last killed child left in its outbox

	peer := newReplica(t, connect(t, s.ClientURL()), "", Config{})
	caughtUp(t, peer)
	var lost []string
	for _, k := range acked {
		if !peer.e.IsRevoked(k) {
			lost = append(lost, k)
		}
	}
	t.Logf("kill loop: %d SIGKILLs, %d revocations acknowledged by the child, %d records replayed from its outbox at restarts, %d synchronous revocations kept pending, %d missing on the peer",
		n, len(acked), replayed, pending, len(lost))
	assert.Empty(t, lost, "acknowledged by the child, never seen by the peer")
	assert.NotEmpty(t, acked)
}

// TestKillLoopChild is the replica process of TestKillLoop.
func TestKillLoopChild(t *testing.T) {
	url := os.Getenv(killChildEnv)
	if url == "" {
		t.Skip("the child process of TestKillLoop")
	}
	e, err := revoke.New(revoke.Config{Dir: os.Getenv(killDirEnv)})
	require.NoError(t, err)
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cfg := Config{PublishTimeout: time.Second, Logger: slogTo(os.Stderr)}
	mode := os.Getenv(killModeEnv)
	if mode == "sync" {
		cfg.Publish = Synchronous
	}
	r, err := New(context.Background(), e, js, cfg)
	require.NoError(t, err)
	fmt.Printf("READY %d\n", r.Stats().Replayed)
	if mode == "drain" {
		require.Eventually(t, func() bool { st := r.Stats(); return st.Outbox == 0 && st.Queued == 0 }, time.Minute, time.Millisecond)
		require.NoError(t, r.Close())
		require.NoError(t, e.Close())
		return
	}
	prefix := os.Getenv(killPrefixEnv)
	for j := 0; ; j++ {
		k := fmt.Sprintf("%s-%d", prefix, j)
		err := e.Revoke(k, time.Now().Add(time.Hour))
		switch {
		case err == nil:
			fmt.Printf("ACK %s\n", k)
		case errors.Is(err, ErrPending):
			fmt.Println("PENDING")
		default:
			t.Fatalf("revoke %s: %v", k, err)
		}
	}
}
