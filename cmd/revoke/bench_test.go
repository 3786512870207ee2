package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bench(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"bench"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// small is a run that -race gets through in well under a second; lifetimes
// of an hour so that nothing expires and every count is deterministic.
var small = []string{"--entries", "2000", "--ops", "20000", "--goroutines", "2", "--lifetime", "fixed:1h"}

// benchCounts extracts the figures of a report that depend on the seed only.
type benchCounts struct {
	checks, revocations, hitChecks, hitsTrue, expected uint64
	digest                                             string
}

func parseCounts(t *testing.T, out string) benchCounts {
	t.Helper()
	find := func(re string) []string {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		require.NotNil(t, m, "no match for %s in:\n%s", re, out)
		return m
	}
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		return n
	}
	var c benchCounts
	c.checks = num(find(`(?m)^checks/s\s+\S+( [kMG])?\s+\((\d+) checks\)`)[2])
	c.revocations = num(find(`(?m)^revocations/s\s+\S+( [kMG])?\s+\((\d+) revocations\)`)[2])
	m := find(`(?m)^hits\s+(\d+) of (\d+) expected \((\d+) checks of revoked keys; 0 of them had expired`)
	c.hitsTrue, c.expected, c.hitChecks = num(m[1]), num(m[2]), num(m[3])
	c.digest = find(`(?m)^digest\s+([0-9a-f]{16}) `)[1]
	return c
}

func TestBenchReport(t *testing.T) {
	code, out, errOut := bench(small...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

	c := parseCounts(t, out)
	assert.Equal(t, uint64(20000), c.checks+c.revocations, "--ops is exact")
	assert.InDelta(t, 200, float64(c.revocations), 80, "--revokes 0.01 of 20000")
	assert.Positive(t, c.hitChecks)
	assert.InDelta(t, 0.01*float64(c.checks), float64(c.hitChecks), 80, "--hits 0.01 of checks")
	assert.Equal(t, c.hitChecks, c.hitsTrue, "every revoked key answers true")
	assert.Equal(t, c.hitChecks, c.expected)

	for _, re := range []string{
		`(?m)^entries\s+2000 filled before the run \(Config.Capacity 2000\)$`,
		`(?m)^run\s+20000 operations on 2 goroutines$`,
		`(?m)^mix\s+1.00% of operations revoke .*; 1.00% of checks are of revoked keys$`,
		`(?m)^lifetime\s+fixed:1h `,
		`(?m)^keys\s+36 bytes; unrevoked ones walked in order through a pool of 2000,`,
		`(?m)^seed\s+1$`,
		`(?m)^go\s+go1\.\S+ \w+/\w+, GOMAXPROCS \d+, \d+ CPUs$`,
		`(?m)^fill\s+2000 revocations in \S+: \S+( [kMG])?/s`,
		`(?m)^latency\s+p50\s+p99\s+p999\s+samples$`,
		`(?m)^  check\s+(<1|\d+(\.\d+)?) [nµm]?s\s+\S+ [nµm]?s\s+\S+ [nµm]?s\s+weighted`,
		`(?m)^    unrevoked\s+\S+ [nµm]?s\s+\S+ [nµm]?s\s+\S+ [nµm]?s\s+\d+ \(1 in 16 timed\)$`,
		`(?m)^    revoked\s+\S+ [nµm]?s .*\(all timed\)$`,
		`(?m)^  revoke\s+\S+ [nµm]?s .*\(all timed\)$`,
		`around nothing \(\S+ ns here\)`,
		`(?m)^  entries\s+2000\s+\d+$`,
		`(?m)^  heap/entry\s+\d+\.\d B\s+\d+\.\d B `,
		`(?m)^  bytes/entry\s+\d+\.\d B\s+\d+\.\d B `,
		`(?m)^  the run's revocations took the engine past Config.Capacity 2000: its tables grew$`,
		`(?m)^evictions\s+0 `,
		`(?m)^filter\s+\d+\.\d\d% estimated false-positive rate, \d+ rebuilds, `,
		`(?m)^false hits\s+0 checks`,
		`(?m)^gc\s+\d+ cycles during the run`,
		`(?m)^OK: every check of a revoked, unexpired key answered true$`,
	} {
		assert.Regexp(t, re, out)
	}
	assert.NotContains(t, out, "ERROR")
	assert.Contains(t, errOut, "fill  2000 entries in ")
	assert.Contains(t, errOut, "run   20000 ops in ")
	assert.NotContains(t, errOut, "\r", "stderr is not a terminal: plain lines")
}

func TestBenchDeterministicWithSeed(t *testing.T) {
	counts := func(extra ...string) benchCounts {
		code, out, errOut := bench(append(append([]string{}, small...), extra...)...)
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		return parseCounts(t, out)
	}
	a, b := counts("--seed", "7"), counts("--seed", "7")
	assert.Equal(t, a, b, "same seed, same operations")
	c := counts("--seed", "8")
	assert.NotEqual(t, a.digest, c.digest, "another seed, other operations")
	assert.NotEqual(t, [3]uint64{a.revocations, a.hitChecks, a.checks}, [3]uint64{c.revocations, c.hitChecks, c.checks})
	d := counts("--seed", "7", "--goroutines", "1")
	assert.NotEqual(t, a.digest, d.digest, "the digest covers how operations split over goroutines")
}

func TestBenchFlags(t *testing.T) {
	t.Run("help lists every flag with its default", func(t *testing.T) {
		code, _, errOut := bench("--help")
		assert.Equal(t, 0, code)
		assert.Contains(t, errOut, "usage: revoke bench [flags]")
		for _, f := range []string{"-entries", "-capacity", "-duration", "-ops", "-goroutines", "-hits",
			"-revokes", "-lifetime", "-seed", "-key-bytes"} {
			assert.Contains(t, errOut, "\n  "+f+" ", f)
		}
		assert.Contains(t, errOut, "(default 1000000)")
		assert.Contains(t, errOut, `(default "uniform:1s-1h")`)
		assert.Contains(t, errOut, "(default 10s)")
	})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
		{"not a number", []string{"--entries", "many"}, `invalid value "many" for flag -entries`},
		{"stray argument", []string{"now"}, `unexpected argument "now"`},
		{"no entries", []string{"--entries", "0"}, "--entries must be in [1, "},
		{"negative capacity", []string{"--capacity", "-1"}, "--capacity must not be negative"},
		{"ops and duration", []string{"--ops", "10", "--duration", "1s"}, "--ops and --duration exclude each other"},
		{"negative ops", []string{"--ops", "-5"}, "--ops must not be negative, got -5"},
		{"zero duration", []string{"--duration", "0s"}, "--duration must be positive, got 0s"},
		{"no goroutines", []string{"--goroutines", "0"}, "--goroutines must be in [1, 65536], got 0"},
		{"hits above 1", []string{"--hits", "1.5"}, "--hits is a share of checks, in [0, 1]; got 1.5"},
		{"hits NaN", []string{"--hits", "NaN"}, "--hits is a share of checks, in [0, 1]; got NaN"},
		{"negative revokes", []string{"--revokes", "-0.1"}, "--revokes is a share of operations, in [0, 1]; got -0.1"},
		{"short keys", []string{"--key-bytes", "8"}, "--key-bytes must be in [16, 1024], got 8"},
		{"bad lifetime", []string{"--lifetime", "1h"}, `--lifetime: "1h": want fixed:D, uniform:MIN-MAX or exp:MEAN`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := bench(tc.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

func TestParseLifetime(t *testing.T) {
	valid := []struct {
		spec     string
		min, max time.Duration
	}{
		{"fixed:1h", time.Hour, time.Hour},
		{"fixed:90s", 90 * time.Second, 90 * time.Second},
		{"uniform:15m-24h", 15 * time.Minute, 24 * time.Hour},
		{"uniform:1s-1h", time.Second, time.Hour},
		{"uniform:1h-1h", time.Hour, time.Hour},
		{"uniform:1h30m-720h", 90 * time.Minute, 720 * time.Hour},
		{"exp:1h", time.Second, 10 * time.Hour},
		{"exp:72h", time.Second, 720 * time.Hour},
	}
	for _, tc := range valid {
		t.Run(tc.spec, func(t *testing.T) {
			d, err := parseLifetime(tc.spec)
			require.NoError(t, err)
			assert.Equal(t, tc.spec, d.String())
			assert.Equal(t, tc.max, d.longest())
			lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
			for _, u := range []uint64{0, 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64} {
				l := d.at(u)
				lo, hi = min(lo, l), max(hi, l)
			}
			assert.Equal(t, tc.min, lo, "lowest quantile")
			assert.LessOrEqual(t, hi, tc.max, "highest quantile")
		})
	}
	invalid := []struct{ spec, want string }{
		{"", `"": want fixed:D, uniform:MIN-MAX or exp:MEAN`},
		{"1h", `"1h": want fixed:D`},
		{"normal:1h", `unknown distribution "normal"`},
		{"fixed:", `lifetime "" is not a Go duration`},
		{"fixed:1d", `lifetime "1d" is not a Go duration`},
		{"fixed:500ms", "lifetime 500ms is shorter than 1s"},
		{"fixed:-1h", "lifetime -1h0m0s is shorter than 1s"},
		{"fixed:721h", "the longest lifetime 721h0m0s is longer than 720h0m0s, the engine's default MaxTTL"},
		{"uniform:1h", "uniform wants MIN-MAX, such as uniform:15m-24h"},
		{"uniform:2h-1h", "minimum 2h0m0s is above maximum 1h0m0s"},
		{"uniform:0s-1h", "minimum 0s is shorter than 1s"},
		{"uniform:1s-x", `maximum "x" is not a Go duration`},
		{"uniform:1s--1h", "maximum -1h0m0s is shorter than 1s"},
		{"exp:0s", "mean 0s is shorter than 1s"},
		{"exp:100h", "10*MEAN, where exp is truncated, 1000h0m0s is longer than 720h0m0s"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.spec, func(t *testing.T) {
			_, err := parseLifetime(tc.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The distributions have the shape they claim: evenly spaced quantiles
// average to the mean.
func TestLifetimeMeans(t *testing.T) {
	mean := func(spec string) time.Duration {
		d, err := parseLifetime(spec)
		require.NoError(t, err)
		const n = 100_000
		var sum float64
		for i := range uint64(n) {
			sum += float64(d.at((2*i + 1) * (math.MaxUint64 / (2 * n))))
		}
		return time.Duration(sum / n)
	}
	assert.Equal(t, time.Hour, mean("fixed:1h"))
	assert.InDelta(t, float64(12*time.Hour+7*time.Minute+30*time.Second), float64(mean("uniform:15m-24h")), float64(time.Second))
	// Truncation at 10*MEAN removes e^-10 of the mass; the floor of 1s adds
	// about as little.
	assert.InDelta(t, float64(time.Hour), float64(mean("exp:1h")), float64(time.Minute))
}

func TestKeyGen(t *testing.T) {
	cfg := benchConfig{keyBytes: 36, seed: 1, lifetime: lifetimeDist{kind: "fixed", a: time.Hour}}
	k := newKeyGen(cfg)
	seen := map[string]uint64{}
	for _, domain := range []uint64{domainFill, domainPool, domainRun, domainRun + 1} {
		for i := range uint64(5000) {
			key := string(k.appendKey(nil, keyID(domain, i)))
			require.Len(t, key, 36)
			require.Empty(t, strings.Trim(key, hexDigits), "lowercase hex: %q", key)
			prev, dup := seen[key]
			require.False(t, dup, "key %q of id %x and %x", key, keyID(domain, i), prev)
			seen[key] = keyID(domain, i)
		}
	}
	again := newKeyGen(cfg)
	assert.Equal(t, k.appendKey(nil, 42), again.appendKey(nil, 42), "same seed, same key")
	cfg.seed = 2
	assert.NotEqual(t, k.appendKey(nil, 42), newKeyGen(cfg).appendKey(nil, 42), "another seed, another key")
	cfg.keyBytes = 100
	assert.Len(t, newKeyGen(cfg).appendKey(nil, 42), 100)
}

func TestHistogram(t *testing.T) {
	var h histogram
	_, ok := h.quantile(0.5)
	assert.False(t, ok, "empty")
	for v := 1; v <= 10_000; v++ {
		h.add(time.Duration(v))
	}
	h.add(-5) // a clock that stepped: counted as 0
	for _, tc := range []struct{ q, want float64 }{{0.5, 5000}, {0.99, 9900}, {0.999, 9990}, {1, 10_000}} {
		got, ok := h.quantile(tc.q)
		require.True(t, ok)
		assert.InEpsilon(t, tc.want, got, 0.035, "q=%v", tc.q)
	}
	got, _ := h.quantile(0.0001)
	assert.Equal(t, 1.0, got, "exact below 64 ns")

	// Each bucket's middle falls in that bucket, and buckets grow with the
	// value.
	prev := -1
	for v := uint64(1); v < 1<<60; v = v*9/8 + 1 { // v*9 fits
		b := histBucket(v)
		require.GreaterOrEqual(t, b, prev)
		require.Less(t, b, len(h.counts))
		require.Equal(t, b, histBucket(uint64(histValue(b))), "v=%d", v)
		prev = b
	}

	var m histogram
	m.add(10)
	m.merge(&h, 2)
	assert.Equal(t, 2*h.total()+1, m.total())
}

// A worker that checks keys the engine does not hold, as if revocations
// had been lost, reports each as missed; once their tokens have expired they
// count as expired instead.
func TestWorkerDetectsMissedRevocations(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	now := time.Now()
	for _, tc := range []struct {
		name           string
		fillTime       time.Time
		missed, expird uint64
	}{
		{"not expired", now, 100, 0},
		{"expired", now.Add(-2 * time.Hour), 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := &benchShared{
				e:         e,
				keys:      newKeyGen(benchConfig{keyBytes: 36, seed: 1, lifetime: lifetimeDist{kind: "fixed", a: time.Hour}}),
				entries:   10, // "filled", but never revoked
				fillTimes: []int64{tc.fillTime.UnixNano()},
				hitCut:    threshold(1),
				fixedOps:  true,
				epoch:     now,
			}
			w := &benchWorker{of: 1, rng: rand.NewPCG(1, 0), quota: 100}
			w.run(sh)
			assert.Equal(t, uint64(100), w.hits)
			assert.Equal(t, tc.missed, w.missed)
			assert.Equal(t, tc.expird, w.expired)
			if tc.missed > 0 {
				assert.Contains(t, w.first, "key ")
			}
		})
	}
}

func TestReportFailsOnMissedRevocation(t *testing.T) {
	lt, err := parseLifetime("fixed:1h")
	require.NoError(t, err)
	cfg := benchConfig{entries: 10, capacity: 10, ops: 100, goroutines: 1, lifetime: lt, keyBytes: 36}
	res := &benchResult{runTime: time.Second, fillTime: time.Second, fillLen: 10, endLen: 10,
		hitChecks: 5, hitsTrue: 3, missed: 2, firstMissed: "key abc"}
	var out bytes.Buffer
	assert.Equal(t, 1, printBenchReport(&out, cfg, res))
	assert.Contains(t, out.String(), "ERROR: 2 checks of revoked keys answered false before the token expired")
	assert.Contains(t, out.String(), "First: key abc")
	assert.NotContains(t, out.String(), "OK:")

	res.missed, res.hitsTrue = 0, 5
	out.Reset()
	assert.Equal(t, 0, printBenchReport(&out, cfg, res))
	assert.True(t, strings.HasSuffix(out.String(), "OK: every check of a revoked, unexpired key answered true\n"))
}
