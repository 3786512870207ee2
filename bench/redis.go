package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisDB is the database the benchmarks use on a server given by
// REDIS_ADDR; it is flushed before every fill. On a server the benchmarks
// start themselves, database 0.
const RedisDB = 15

// ErrNoRedis is returned by RedisServer when no server can be had.
var ErrNoRedis = errors.New("bench: no Redis: set REDIS_ADDR=host:port or put redis-server on PATH (Debian: apt-get install redis-server)")

var redisState struct {
	once sync.Once
	addr string
	db   int
	cmd  *exec.Cmd
	err  error
}

// RedisServer returns the address and database of the server to use:
// REDIS_ADDR if set, or else a redis-server started on a free 127.0.0.1
// port, without persistence (--save "" --appendonly no), on the first call.
// StopRedis stops it.
func RedisServer() (addr string, db int, err error) {
	s := &redisState
	s.once.Do(func() {
		if a := os.Getenv("REDIS_ADDR"); a != "" {
			s.addr, s.db = a, RedisDB
			s.err = ping(a, s.db, 2*time.Second)
			return
		}
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			s.err = ErrNoRedis
			return
		}
		port, err := freePort()
		if err != nil {
			s.err = err
			return
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--protected-mode", "yes")
		if err := s.cmd.Start(); err != nil {
			s.err = fmt.Errorf("bench: starting redis-server: %w", err)
			return
		}
		if err := ping(s.addr, 0, 10*time.Second); err != nil {
			StopRedis()
			s.err = err
		}
	})
	return s.addr, s.db, s.err
}

// StopRedis kills the redis-server RedisServer started, if any.
func StopRedis() {
	if c := redisState.cmd; c != nil && c.Process != nil {
		_ = c.Process.Kill()
		_ = c.Wait()
		redisState.cmd = nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ping(addr string, db int, within time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: redis at %s does not answer PING: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Redis is a deny list in Redis: Revoke is `SET key "" EXAT exp`, IsRevoked
// is `EXISTS key`, one round trip each. A failed check counts in Errors and
// answers true (fail closed).
type Redis struct {
	c      *redis.Client
	ctx    context.Context
	errors atomic.Int64
}

// NewRedis connects to addr, database db. The read timeout is 30 s rather
// than go-redis's 3 s: FLUSHDB of 10M keys takes longer than that.
func NewRedis(addr string, db int) *Redis {
	return &Redis{c: redis.NewClient(&redis.Options{Addr: addr, DB: db, ReadTimeout: 30 * time.Second}), ctx: context.Background()}
}

func (r *Redis) Revoke(key string, exp time.Time) error {
	return r.c.SetArgs(r.ctx, key, "", redis.SetArgs{ExpireAt: exp}).Err()
}

func (r *Redis) IsRevoked(key string) bool {
	n, err := r.c.Exists(r.ctx, key).Result()
	if err != nil {
		r.errors.Add(1)
		return true
	}
	return n == 1
}

// Errors returns the number of failed checks so far.
func (r *Redis) Errors() int64 { return r.errors.Load() }

// FlushDB empties the database.
func (r *Redis) FlushDB() error { return r.c.FlushDB(r.ctx).Err() }

// UsedMemory returns the server's used_memory (INFO memory), in bytes.
func (r *Redis) UsedMemory() (int64, error) {
	info, err := r.c.Info(r.ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	m := usedMemoryRe.FindStringSubmatch(info)
	if m == nil {
		return 0, errors.New("bench: no used_memory in INFO memory")
	}
	return strconv.ParseInt(m[1], 10, 64)
}

var usedMemoryRe = regexp.MustCompile(`(?m)^used_memory:(\d+)\r?$`)

func (r *Redis) Close() error { return r.c.Close() }

// Batch is a pipeline of deny-list commands sent in one round trip.
type Batch struct {
	r     *Redis
	p     redis.Pipeliner
	cmds  []*redis.IntCmd
	wants []bool
}

// NewBatch returns an empty pipeline.
func (r *Redis) NewBatch() *Batch { return &Batch{r: r, p: r.c.Pipeline()} }

// Revoke queues `SET key "" EXAT exp`.
func (b *Batch) Revoke(key string, exp time.Time) {
	b.p.SetArgs(b.r.ctx, key, "", redis.SetArgs{ExpireAt: exp})
}

// Check queues `EXISTS key`; Exec compares its answer with want.
func (b *Batch) Check(key string, want bool) {
	b.cmds = append(b.cmds, b.p.Exists(b.r.ctx, key))
	b.wants = append(b.wants, want)
}

// Len is the number of queued commands.
func (b *Batch) Len() int { return b.p.Len() }

// Exec sends the queued commands and returns how many checks answered
// otherwise than wanted.
func (b *Batch) Exec() (wrong int, err error) {
	if b.p.Len() == 0 {
		return 0, nil
	}
	_, err = b.p.Exec(b.r.ctx)
	for i, c := range b.cmds {
		if (c.Val() == 1) != b.wants[i] {
			wrong++
		}
	}
	b.cmds, b.wants = b.cmds[:0], b.wants[:0]
	return wrong, err
}

// Present returns how many of the n keys of ks are revoked, asking in
// pipelines of 1000 EXISTS.
func (r *Redis) Present(ks *KeySet, n int) (int, error) {
	present := 0
	b := r.NewBatch()
	for i := 0; i < n; i++ {
		b.Check(ks.Key(i), true)
		if q := b.Len(); q == 1000 || i == n-1 {
			wrong, err := b.Exec()
			if err != nil {
				return 0, err
			}
			present += q - wrong
		}
	}
	return present, nil
}

// Fill revokes the first n keys of ks in pipelines of 1000 SETs.
func (r *Redis) Fill(ks *KeySet, n int) error {
	b := r.NewBatch()
	for i := 0; i < n; i++ {
		b.Revoke(ks.Key(i), ks.ExpiresAt(i, 0))
		if b.Len() == 1000 || i == n-1 {
			if _, err := b.Exec(); err != nil {
				return err
			}
		}
	}
	return nil
}
