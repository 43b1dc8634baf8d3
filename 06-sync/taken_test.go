//go:build linux

package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// TestKeyTakenByAnotherUser: root's pair holds the key, and a side started by
// another user (nobody) may not use its objects (their mode is 0600). It must say
// at once, in one line, that the key is taken and by whom, not wait out -wait; and
// it leaves nothing behind, not even the segment it created itself when root's pair
// had already met (their segment is marked for removal and has lost the key, their
// semaphore set keeps it).
//
// The tests that start a process as another user (ipctest.StartHelperAs) do not
// run in parallel with the others. StartHelperAs copies the test binary where that
// user can read it, and removes the copy when the test ends: a copy being written
// while another test forks can fail to exec ("text file busy": the forked child
// holds it open for writing until its own exec), and one test's removal can pull
// the copy from under another's exec. In the sequential phase, before the parallel
// tests start, nothing else forks.
func TestKeyTakenByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a side as another user needs root; run the tests as root to see this")
	}
	// Not in parallel with other tests: see above.
	uid, gid := reexec.Nobody()
	tests := []struct {
		name string
		met  bool   // root's producer has come too, and the two have met
		want string // the object the answer names
	}{
		{"consumer waiting", false, `segment \d+ under it belongs to root \(uid 0, mode 0600\)`},
		{"pair met", true, `semaphore set \d+ under it belongs to root \(uid 0, mode 0600\)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, key := testKey(t)
			peers := []*ipctest.Proc{ipctest.StartProgram(t, "consumer", "-key", key, "-wait", "30s")}
			peers[0].Expect(t, "waiting up to 30s for the producer", 10*time.Second)
			if tt.met {
				p := ipctest.StartProgram(t, "producer", "-key", key, "-delay", "1h")
				p.Expect(t, "Send 100000 messages", 10*time.Second)
				peers = append(peers, p)
			}
			start := time.Now()
			r := ipctest.StartHelperAs(t, uid, gid, "monitor-program", "consumer", "-key", key, "-wait", "30s").Wait(t)
			assert.Less(t, time.Since(start), 15*time.Second, "the answer comes at once, not after -wait")
			ipctest.AssertOneLineError(t, r, 1, "give both sides another -key")
			assert.Regexp(t, "^06-sync: key "+key+" is taken: "+tt.want+`, and its mode does not let you \(nobody, uid \d+\) use it`, r.Stderr)
			segs, err := procsysv.ReadShm()
			require.NoError(t, err)
			for _, s := range segs {
				if s.Key == mustKey(t, key) {
					assert.False(t, tt.met, "segment %d under the key: root's pair had met, so its own has lost the key", s.ID)
					assert.Equal(t, uint32(0), s.CUID, "segment %d under the key, created by uid %d, is left behind", s.ID, s.CUID)
				}
			}
			// The consumer first: it waits in semtimedop, where the producer's cleanup
			// (which removes the set) would end it with an error.
			for _, peer := range peers {
				r := peer.Interrupt(t)
				assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
			}
		})
	}
}
