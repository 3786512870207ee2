package revoke_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/jwtrevoke/revoke"
)

// The engine alone, with keys of your own: revoke a session id at logout,
// check it on every request. (Tokens checked by a Verifier are known by
// their issuer and jti: revoke those with RevokeToken or RevokeID.)
func Example() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	expiresAt := time.Now().Add(15 * time.Minute) // when the session would end anyway
	if err := e.Revoke("session:9b2f1c4e", expiresAt); err != nil {
		panic(err)
	}

	fmt.Println(e.IsRevoked("session:9b2f1c4e"))
	fmt.Println(e.IsRevoked("session:another"))
	fmt.Println(e.Len())
	// Output:
	// true
	// false
	// 1
}

// A bad configuration is an error that names the field.
func ExampleNew_invalidConfig() {
	_, err := revoke.New(revoke.Config{Shards: 3})
	fmt.Println(errors.Is(err, revoke.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// revoke: invalid config: Shards must be a power of two up to 65536, got 3
}

// With MaxEntries, a full engine refuses new revocations instead of evicting
// live ones.
func ExampleEngine_Revoke_full() {
	e, err := revoke.New(revoke.Config{MaxEntries: 2})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	exp := time.Now().Add(time.Hour)
	fmt.Println(e.Revoke("a", exp), e.Revoke("b", exp))
	err = e.Revoke("c", exp)
	fmt.Println(errors.Is(err, revoke.ErrFull), e.IsRevoked("a"), e.IsRevoked("c"))
	// Output:
	// <nil> <nil>
	// true true false
}

// Stats reports what the engine holds, for metrics.
func ExampleEngine_Stats() {
	e, err := revoke.New(revoke.Config{Capacity: 1000, Shards: 16})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	for i := range 100 {
		_ = e.Revoke(fmt.Sprint("token-", i), time.Now().Add(time.Hour))
	}
	st := e.Stats()
	fmt.Println(st.Entries, st.Shards, st.FilterBytes)
	fmt.Println(st.FilterFalsePositiveRate < 0.01)
	// Output:
	// 100 16 2048
	// true
}

// Replicas share revocations through Records: one observes what it accepts,
// the other applies it.
func ExampleEngine_SetObserver() {
	a, _ := revoke.New(revoke.Config{})
	b, _ := revoke.New(revoke.Config{})
	defer a.Close()
	defer b.Close()

	a.SetObserver(func(r revoke.Record) error { return b.Apply(r) })
	_ = a.Revoke("jti-1", time.Now().Add(time.Hour))
	fmt.Println(b.IsRevoked("jti-1"))
	// Output:
	// true
}
