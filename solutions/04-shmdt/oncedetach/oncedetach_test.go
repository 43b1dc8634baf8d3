//go:build linux

package oncedetach

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) { ipctest.Main(m, nil) }

const size = 4096 + 100 // not a whole number of pages, on purpose

// newSegment creates a segment for one test. When the test ends it detaches
// whatever this process still has mapped of it (found in /proc/self/maps, not
// through the code under test, which may be wrong) and removes it.
func newSegment(t *testing.T) int {
	t.Helper()
	id := ipctest.NewSegment(t, size, 0o600)
	t.Cleanup(func() { detachLeftovers(t, id) })
	return id
}

// detachLeftovers detaches every mapping of segment id in this process. In
// /proc/self/maps a System V segment shows as "/SYSV<key> (deleted)" with the
// shmid in the inode column.
func detachLeftovers(t *testing.T, id int) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Errorf("reading /proc/self/maps to clean up: %v", err)
		return
	}
	defer f.Close()
	var starts []uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/SYSV") || fields[4] != strconv.Itoa(id) {
			continue
		}
		start, err := strconv.ParseUint(strings.SplitN(fields[0], "-", 2)[0], 16, 64)
		if err == nil {
			starts = append(starts, uintptr(start))
		}
	}
	for _, addr := range starts {
		_, _, _ = unix.Syscall(unix.SYS_SHMDT, addr, 0, 0)
	}
}

// panicOnFault turns a fault from touching unmapped memory (in this goroutine)
// into a panic, so that the test fails with its cleanups run instead of the whole
// test binary crashing and leaving the segment behind.
func panicOnFault(t *testing.T) {
	old := debug.SetPanicOnFault(true)
	t.Cleanup(func() { debug.SetPanicOnFault(old) })
}

// nattch asks the kernel (shmctl IPC_STAT) how many attachments segment id has.
func nattch(t *testing.T, id int) int {
	t.Helper()
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err, "shmctl(%d, IPC_STAT)", id)
	return int(ds.Nattch)
}

func TestAttachAndClose(t *testing.T) {
	tests := []struct {
		name  string
		flags int
	}{
		{"read-write", 0},
		{"read-only", unix.SHM_RDONLY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			panicOnFault(t)
			id := newSegment(t)
			mine := ipctest.Attach(t, id, 0) // the test's own view of the segment
			copy(mine, "hello")

			a, err := Attach(id, tt.flags)
			require.NoError(t, err, "Attach(%d, %#x)", id, tt.flags)
			require.NotNil(t, a, "Attach returned no error and a nil *Attachment")
			assert.Equal(t, 2, nattch(t, id), "after Attach, shm_nattch must count the test's attachment and yours")
			b := a.Bytes()
			require.Len(t, b, size, "Bytes must be the whole segment, as shmat mapped it (shm_segsz bytes)")
			assert.Equal(t, "hello", string(b[:5]), "Bytes must show what the test wrote through its own attachment: it is the same memory")

			assert.NoError(t, a.Close(), "the first Close must detach and succeed")
			assert.Equal(t, 1, nattch(t, id), "after Close, only the test's own attachment may remain: Close must call shmdt")
			if b := a.Bytes(); b != nil { // (never print b itself: its memory may be unmapped)
				t.Errorf("after Close, Bytes returned %d bytes at %p, want nil: the memory is unmapped and touching it would crash the program", len(b), &b[0])
			}
		})
	}
}

func TestAttachErrors(t *testing.T) {
	ipctest.NoLeaks(t)
	removed := ipctest.NewSegment(t, 64, 0o600)
	_, err := unix.SysvShmCtl(removed, unix.IPC_RMID, nil)
	require.NoError(t, err)

	tests := []struct {
		name  string
		id    int
		flags int
		want  unix.Errno
		why   string
	}{
		{"negative id", -1, 0, unix.EINVAL, "shmat(2): EINVAL for an invalid shmid"},
		{"removed segment", removed, 0, unix.EINVAL, "a removed segment's id is invalid from then on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Attach(tt.id, tt.flags)
			if err != nil && strings.HasPrefix(err.Error(), "TODO: ") {
				t.Fatal(err)
			}
			require.Error(t, err, "Attach(%d) must fail: %s", tt.id, tt.why)
			assert.Nil(t, a, "a failed Attach must return a nil *Attachment")
			assert.ErrorIs(t, err, tt.want, "wrap the errno with %%w so that callers can test it with errors.Is (%s)", tt.why)
		})
	}
}

func TestCloseTwice(t *testing.T) {
	for _, closes := range []int{2, 3, 10} {
		t.Run(strconv.Itoa(closes)+" closes", func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := newSegment(t)
			a, err := Attach(id, 0)
			require.NoError(t, err)
			require.NoError(t, a.Close(), "the first Close")
			for i := 2; i <= closes; i++ {
				err := a.Close()
				assert.False(t, errors.Is(err, unix.EINVAL),
					"Close number %d called shmdt again and got EINVAL: remember that the attachment is closed and do not detach twice", i)
				assert.ErrorIs(t, err, ErrClosed, "Close number %d must return ErrClosed", i)
			}
			assert.Equal(t, 0, nattch(t, id), "nothing may stay attached")
		})
	}
}

// The reason a second shmdt is a bug, not just an EINVAL: the kernel usually
// hands the freed address to the next shmat, so detaching "the same address"
// again detaches somebody else's attachment.
func TestSecondCloseSparesANewAttachment(t *testing.T) {
	ipctest.NoLeaks(t)
	panicOnFault(t)
	id := newSegment(t)
	first, err := Attach(id, 0)
	require.NoError(t, err)
	oldAddr := &first.Bytes()[0]
	require.NoError(t, first.Close())

	second, err := Attach(id, 0)
	require.NoError(t, err)
	defer second.Close()
	if &second.Bytes()[0] != oldAddr {
		t.Logf("note: the kernel chose a new address this time (%p, was %p), so this test is weaker", &second.Bytes()[0], oldAddr)
	}
	copy(second.Bytes(), "still here")

	assert.ErrorIs(t, first.Close(), ErrClosed, "closing the first attachment again must return ErrClosed")
	if assert.Equal(t, 1, nattch(t, id),
		"closing the first attachment again detached the second one, which the kernel mapped at the same address: a closed Attachment must never call shmdt again") {
		assert.Equal(t, "still here", string(second.Bytes()[:10]))
	}
}

func TestConcurrentClose(t *testing.T) {
	tests := []struct {
		attachments int
		closers     int // goroutines closing each attachment at once
	}{
		{1, 2},
		{1, 16},
		{4, 8},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.attachments)+"x"+strconv.Itoa(tt.closers), func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := newSegment(t)
			var all []*Attachment
			for i := 0; i < tt.attachments; i++ {
				a, err := Attach(id, 0)
				require.NoError(t, err)
				all = append(all, a)
			}
			require.Equal(t, tt.attachments, nattch(t, id), "shm_nattch counts attachments, not processes")

			results := make(chan error, tt.attachments*tt.closers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, a := range all {
				for i := 0; i < tt.closers; i++ {
					wg.Add(1)
					go func(a *Attachment) {
						defer wg.Done()
						<-start
						results <- closeRecovering(a)
					}(a)
				}
			}
			close(start)
			if !waitTimeout(&wg, 5*time.Second) {
				t.Fatal("concurrent Close calls did not return within 5s: a deadlock in Close?")
			}
			close(results)

			var ok, closed int
			for err := range results {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrClosed):
					closed++
				default:
					t.Errorf("a concurrent Close returned %v: only the first Close may call shmdt; guard it with a mutex or sync.Once", err)
				}
			}
			assert.Equal(t, tt.attachments, ok, "exactly one Close per attachment may succeed")
			assert.Equal(t, tt.attachments*(tt.closers-1), closed, "every other Close must return ErrClosed")
			assert.Equal(t, 0, nattch(t, id), "every attachment must be detached exactly once")
		})
	}
}

// closeRecovering calls a.Close and turns a panic into an error, so that a panic
// in another goroutine fails the test instead of killing it before its cleanup.
func closeRecovering(a *Attachment) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Close panicked: %v", p)
		}
	}()
	return a.Close()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
