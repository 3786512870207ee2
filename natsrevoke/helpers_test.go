package natsrevoke

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// startServer runs a JetStream server on loopback with its store in dir;
// port 0 picks a free port. It is shut down when the test ends.
func startServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	return startServerSync(t, dir, port, false)
}

// startServerSync is startServer with JetStream's sync_interval: always
// when syncAlways is set (every stored batch fsynced before the ack).
func startServerSync(t testing.TB, dir string, port int, syncAlways bool) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		SyncAlways: syncAlways,
		NoLog:      true, NoSigs: true,
	})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second), "server did not start")
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func serverPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// connect returns a JetStream context on a connection that reconnects for
// ever, quickly; both are closed when the test ends.
func connect(t testing.TB, urls string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(2*time.Second))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// replica is one service instance: an engine and its Replicator.
type replica struct {
	e      *revoke.Engine
	r      *Replicator
	closed atomic.Bool
}

// newReplica opens an engine (durable when dir is set) and attaches it.
func newReplica(t testing.TB, js jetstream.JetStream, dir string, cfg Config) *replica {
	t.Helper()
	return newReplicaEngine(t, js, revoke.Config{Dir: dir}, cfg)
}

// newReplicaEngine is newReplica with an engine configuration.
func newReplicaEngine(t testing.TB, js jetstream.JetStream, ecfg revoke.Config, cfg Config) *replica {
	t.Helper()
	e, err := revoke.New(ecfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	r, err := New(ctx, e, js, cfg)
	if err != nil {
		_ = e.Close()
	}
	require.NoError(t, err)
	rp := &replica{e: e, r: r}
	t.Cleanup(rp.stop)
	return rp
}

// stop closes the Replicator, then the engine; idempotent.
func (rp *replica) stop() {
	if rp.closed.Swap(true) {
		return
	}
	_ = rp.r.Close()
	_ = rp.e.Close()
}

// waitRevoked polls until every key is revoked on rp or the deadline
// passes, and returns how long it took.
func waitRevoked(t testing.TB, rp *replica, keys ...string) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool {
		for _, k := range keys {
			if !rp.e.IsRevoked(k) {
				return false
			}
		}
		return true
	}, 20*time.Second, 2*time.Millisecond, "replica never saw the revocations; stats %+v", rp.r.Stats())
	return time.Since(start)
}

// caughtUp waits until rp's own queue is published (CaughtUp covers what the
// stream holds, not what is still queued here) and then for CaughtUp.
func caughtUp(t testing.TB, rp *replica) {
	t.Helper()
	require.Eventually(t, func() bool { return rp.r.Stats().Queued == 0 }, 20*time.Second, time.Millisecond,
		"the queue never drained; stats %+v", rp.r.Stats())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, rp.r.CaughtUp(ctx), "stats %+v", rp.r.Stats())
}

func keys(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return ks
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster runs a three-server JetStream cluster on loopback.
func startCluster(t testing.TB) []*server.Server {
	t.Helper()
	const n = 3
	cports := make([]int, n)
	var routes []*url.URL
	for i := range cports {
		cports[i] = freePort(t)
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", cports[i])})
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("S%d", i+1),
			Host:       "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "C", Host: "127.0.0.1", Port: cports[i]},
			Routes:  routes,
			NoLog:   true, NoSigs: true,
		})
		require.NoError(t, err)
		s.Start()
		servers[i] = s
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range servers {
		require.True(t, s.ReadyForConnections(10*time.Second))
	}
	// A meta leader that knows all three servers with their JetStream
	// stats: before that an R3 stream cannot be placed.
	require.Eventually(t, func() bool {
		for _, s := range servers {
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == n {
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "no JetStream meta leader with %d peers", n)
	return servers
}

// slogTo returns a logger that writes text lines to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
