package revoke_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jwtrevoke/revoke"
)

// An engine with a directory survives restarts: every revocation is in the
// journal (fsynced, by default) before Revoke returns, and New recovers
// from the snapshot and the journal.
func ExampleConfig_dir() {
	dir, err := os.MkdirTemp("", "revoke-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	e, err := revoke.New(revoke.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Revoke("token-id-1", time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err) // not durable, not acknowledged: tell the user logout failed
	}
	_ = e.Close()

	// After a restart (or a crash), the revocation is still there.
	e, err = revoke.New(revoke.Config{Dir: dir})
	if err != nil {
		log.Fatal(err) // a corrupt directory stops the engine: fail closed
	}
	defer e.Close()
	fmt.Println(e.IsRevoked("token-id-1"), e.IsRevoked("token-id-2"))
	// Output: true false
}

// Snapshot writes the live set to the directory and starts a fresh
// journal; the engine also does it by itself on an interval and when the
// journal grows.
func ExampleEngine_Snapshot() {
	dir, err := os.MkdirTemp("", "revoke-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	e, err := revoke.New(revoke.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	for _, id := range []string{"a", "b", "c"} {
		_ = e.Revoke(id, time.Now().Add(time.Hour))
	}
	if err := e.Snapshot(); err != nil {
		log.Fatal(err)
	}
	rep, err := revoke.InspectDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range rep.Files {
		fmt.Println(f.Kind, f.Records)
	}
	fmt.Println("live:", rep.Live)
	// Output:
	// snapshot 3
	// journal 0
	// live: 3
}

// WriteTo and ReadFrom stream the snapshot format, for snapshots kept
// elsewhere than in a directory (object storage, a peer).
func ExampleEngine_WriteTo() {
	src, _ := revoke.New(revoke.Config{})
	defer src.Close()
	_ = src.Revoke("token-id", time.Now().Add(time.Hour))

	var buf bytes.Buffer
	if _, err := src.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}

	dst, _ := revoke.New(revoke.Config{})
	defer dst.Close()
	if _, err := dst.ReadFrom(&buf); err != nil {
		log.Fatal(err) // wraps revoke.ErrCorrupt if the bytes do not verify
	}
	fmt.Println(dst.IsRevoked("token-id"), dst.Len())
	// Output: true 1
}
