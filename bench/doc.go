// Package bench measures revoke's Engine against what a Go developer would
// use instead for a JWT deny list: in-process caches with per-entry expiry
// (otter v2, ristretto v2, ttlcache v3, go-cache), an expirable LRU with one
// TTL for the whole cache (hashicorp/golang-lru/v2/expirable), a plain
// RWMutex+map and a sync.Map as baselines, and Redis on loopback driven by
// go-redis v9, single calls and pipelined.
//
// Each is wrapped in the same small [DenyList] interface and used as a deny
// list would use it: the key of a revoked token, kept for the token's
// remaining lifetime. The adapters are in this package so that the tests
// (adapters_test.go) can show what each one does with a revocation: whether
// it keeps it until the token's expiry, forgets it when its token expires,
// drops it, or evicts it while the token is still valid.
//
// The benchmarks are in bench_test.go; README.md holds the results and the
// commands (run.sh for the full run, ci.sh for the one-shot CI run).
package bench
