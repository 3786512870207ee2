package natsrevoke

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Appends, acknowledgements out of order, truncations (the outbox emptied)
// and rewrites (acknowledged frames the most), all at once from several
// goroutines: every record not acknowledged is in the file when it is
// opened again.
func TestOutboxUnderConcurrentAddsAndAcks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.outbox")
	now := time.Now().Unix()
	o, _, _, err := openOutbox(path, false, now)
	require.NoError(t, err)
	const workers, perWorker = 4, outboxCompactMin/2 + 1000 // enough for rewrites
	var mu sync.Mutex
	kept := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var pending []uint64
			for i := range perWorker {
				fp := uint64(w)<<32 | uint64(i+1)
				id, err := o.add(revoke.Record{Fingerprint: fp, Deadline: now + 3600})
				require.NoError(t, err)
				switch {
				case i%97 == 0: // never acknowledged
					mu.Lock()
					kept[fp] = true
					mu.Unlock()
				case i%5 == 0: // acknowledged later, out of order
					pending = append(pending, id)
				default:
					require.NoError(t, o.ack(id))
				}
				if len(pending) > 50 {
					for j := len(pending) - 1; j >= 0; j-- {
						require.NoError(t, o.ack(pending[j]))
					}
					pending = pending[:0]
				}
			}
			for _, id := range pending {
				require.NoError(t, o.ack(id))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, len(kept), o.len())
	require.NoError(t, o.close())

	_, entries, torn, err := openOutbox(path, false, now)
	require.NoError(t, err)
	assert.Zero(t, torn)
	got := map[uint64]bool{}
	for _, e := range entries {
		got[e.rec.Fingerprint] = true
	}
	for fp := range kept {
		require.True(t, got[fp], "record %#x was not acknowledged and is gone", fp)
	}
}
