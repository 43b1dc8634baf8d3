//go:build linux

package rawsem

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	ipctest.Helper("wait-through-signals", helperWaitThroughSignals)
	ipctest.Main(m, nil)
}

// newSet creates a semaphore set with the course's internal/sem, which the tests
// trust, and removes it when the test ends.
func newSet(t *testing.T, values ...int) *sem.Set {
	t.Helper()
	s, err := sem.Create(ftok.Private, 0o600, values...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Remove() })
	return s
}

func values(t *testing.T, s *sem.Set, n int) []int {
	t.Helper()
	var v []int
	for i := 0; i < n; i++ {
		x, err := s.Value(i)
		require.NoError(t, err)
		v = append(v, x)
	}
	return v
}

// call runs fn with a deadline, turning a panic into an error. If fn blocks past
// the deadline, the test fails; removing the set in the cleanup then wakes it
// (EIDRM), so nothing stays blocked.
func call(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- recovering(what, fn) }()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * time.Second):
		t.Fatalf("%s did not return within 3s: it blocked where it should not (IPC_NOWAIT?) or loops forever", what)
		return nil
	}
}

// recovering runs fn and turns a panic into an error: a panic in a goroutine
// would kill the test binary before its cleanups remove the semaphore set.
func recovering(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %v", what, p)
		}
	}()
	return fn()
}

func TestSembufLayout(t *testing.T) {
	var b Sembuf
	assert.Equal(t, uintptr(6), unsafe.Sizeof(b), "struct sembuf is three 16-bit fields, 6 bytes: the kernel reads an array of them")
	assert.Equal(t, []uintptr{0, 2, 4}, []uintptr{unsafe.Offsetof(b.Num), unsafe.Offsetof(b.Op), unsafe.Offsetof(b.Flg)},
		"sem_num, sem_op, sem_flg must be at offsets 0, 2, 4")
}

func TestOperations(t *testing.T) {
	nowait := int16(unix.IPC_NOWAIT)
	tests := []struct {
		name    string
		start   []int
		do      func(id int) error
		want    []int
		wantErr error // nil: must succeed
		why     string
	}{
		{"Post", []int{0}, func(id int) error { return Post(id, 0) }, []int{1}, nil,
			"Post adds 1 (sem_op +1)"},
		{"Wait on 2", []int{2}, func(id int) error { return Wait(id, 0) }, []int{1}, nil,
			"Wait subtracts 1 (sem_op -1)"},
		{"Post to the second semaphore", []int{5, 0}, func(id int) error { return Post(id, 1) }, []int{5, 1}, nil,
			"num chooses the semaphore (sem_num)"},
		{"TryWait on 1", []int{1}, func(id int) error { return TryWait(id, 0) }, []int{0}, nil,
			"a value of 1 can be decremented without waiting"},
		{"TryWait on 0", []int{0}, func(id int) error { return TryWait(id, 0) }, []int{0}, unix.EAGAIN,
			"with IPC_NOWAIT, semop fails with EAGAIN instead of sleeping"},
		{"two operations, one would block", []int{1, 0},
			func(id int) error {
				return Semop(id, Sembuf{Num: 0, Op: -1, Flg: nowait}, Sembuf{Num: 1, Op: -1, Flg: nowait})
			},
			[]int{1, 0}, unix.EAGAIN, "semop applies all of its operations or none: semaphore 0 must not have changed"},
		{"two operations at once", []int{1, 1},
			func(id int) error { return Semop(id, Sembuf{Num: 0, Op: -1}, Sembuf{Num: 1, Op: 2}) },
			[]int{0, 3}, nil, "pass the whole slice: &ops[0] and nsops = len(ops)"},
		{"no operations", []int{1}, func(id int) error { return Semop(id) }, []int{1}, unix.EINVAL,
			"nsops must be at least 1 (semop(2): EINVAL); with an empty slice, &ops[0] would panic: check first"},
		{"a semaphore the set does not have", []int{1}, func(id int) error { return Post(id, 3) }, []int{1}, unix.EFBIG,
			"semop(2): EFBIG when sem_num is not less than the number of semaphores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			s := newSet(t, tt.start...)
			err := call(t, tt.name, func() error { return tt.do(s.ID()) })
			if err != nil && strings.HasPrefix(err.Error(), "TODO: ") {
				t.Fatal(err)
			}
			if tt.wantErr == nil {
				require.NoError(t, err, tt.why)
			} else {
				require.Error(t, err, "%s must fail: %s", tt.name, tt.why)
				assert.ErrorIs(t, err, tt.wantErr, "wrap the errno (%%w) so that errors.Is works; %s", tt.why)
			}
			assert.Equal(t, tt.want, values(t, s, len(tt.start)), "the values after %s (read with semctl GETVAL): %s", tt.name, tt.why)
		})
	}
}

// waitUntilSleeping polls semctl(GETNCNT) until n callers sleep in semop on
// semaphore num, or done is closed.
func waitUntilSleeping(t *testing.T, s *sem.Set, num, n int, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		c, err := s.Waiting(num)
		require.NoError(t, err)
		if c == n {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(time.Millisecond):
		}
	}
	t.Fatalf("nobody went to sleep on semaphore %d within 3s", num)
	return false
}

func TestWaitBlocksUntilPost(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 0)
	result := make(chan error, 1)
	returned := make(chan struct{})
	go func() { defer close(returned); result <- recovering("Wait", func() error { return Wait(s.ID(), 0) }) }()

	if !waitUntilSleeping(t, s, 0, 1, returned) {
		t.Fatalf("Wait returned (%v) while the value was 0: it must sleep in semop until somebody posts", <-result)
	}
	require.NoError(t, s.Post(0, false))
	select {
	case err := <-result:
		assert.NoError(t, err, "Wait after a post")
	case <-time.After(3 * time.Second):
		t.Fatal("Wait did not return within 3s of a post")
	}
	assert.Equal(t, []int{0}, values(t, s, 1), "the post was consumed by the Wait")
}

func TestWaitOnRemovedSet(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 0)
	result := make(chan error, 1)
	returned := make(chan struct{})
	go func() { defer close(returned); result <- recovering("Wait", func() error { return Wait(s.ID(), 0) }) }()
	if !waitUntilSleeping(t, s, 0, 1, returned) {
		t.Fatalf("Wait returned (%v) while the value was 0", <-result)
	}
	require.NoError(t, s.Remove())
	select {
	case err := <-result:
		assert.ErrorIs(t, err, unix.EIDRM, "a semop sleeping on a set that is removed fails with EIDRM; return it (loop on EINTR only)")
	case <-time.After(3 * time.Second):
		t.Fatal("Wait did not return within 3s of the set's removal: it must return EIDRM, not retry (retry only EINTR)")
	}
}

// helperWaitThroughSignals waits on semaphore 0 of set args[0] with Wait, on a
// thread whose id it prints, so that the test can send that very thread signals.
func helperWaitThroughSignals(args []string) int {
	id, _ := strconv.Atoi(args[0])
	sigs := make(chan os.Signal, 10)
	signal.Notify(sigs, syscall.SIGUSR1) // a Go handler runs; semop is interrupted
	var seen atomic.Int32
	go func() {
		for range sigs { // says when each signal has been handled, so the test sends the next
			fmt.Println("signal", seen.Add(1))
		}
	}()
	runtime.LockOSThread()
	fmt.Println("tid", unix.Gettid())
	if err := Wait(id, 0); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Printf("acquired after %d signals\n", seen.Load())
	return 0
}

// waitForLine waits until p has printed line, or has ended.
func waitForLine(t *testing.T, p *ipctest.Proc, line string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !strings.Contains(p.Stdout(), line) {
		select {
		case <-p.Done():
			return
		case <-deadline:
			t.Fatalf("the waiting process did not print %q within 5s:\n%s", line, p.Stdout())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestWaitRetriesAfterSignals(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 0)
	p := ipctest.StartHelper(t, "wait-through-signals", strconv.Itoa(s.ID()))
	tid, err := strconv.Atoi(strings.TrimPrefix(p.Expect(t, "tid ", 5*time.Second), "tid "))
	require.NoError(t, err)

	const signals = 3
	for i := 0; i < signals; i++ {
		if !waitUntilSleeping(t, s, 0, 1, p.Done()) {
			r := p.Wait(t)
			t.Fatalf("after %d signal(s) the waiting process ended (exit %d):\n%s%s"+
				"A signal interrupts semop with EINTR, and semop is never restarted (signal(7)): loop and call it again",
				i, r.ExitCode, r.Stdout, r.Stderr)
		}
		require.NoError(t, unix.Tgkill(p.Pid(), tid, unix.SIGUSR1))
		// Two signals sent before the first is handled would count as one (a
		// signal does not queue): wait until the process has handled it, or ended
		// (which the next round reports).
		waitForLine(t, p, fmt.Sprintf("signal %d\n", i+1))
	}
	require.True(t, waitUntilSleeping(t, s, 0, 1, p.Done()), "after %d signals the waiting process ended:\n%s", signals, p.Stdout())
	require.NoError(t, s.Post(0, false))
	r := p.Wait(t)
	assert.Equal(t, 0, r.ExitCode, "the waiter must get the semaphore after the post:\n%s%s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stdout, fmt.Sprintf("acquired after %d signals", signals))
}

// The same errors.Is checks a caller would write.
func TestErrorsAreErrnos(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 0)
	err := call(t, "TryWait", func() error { return TryWait(s.ID(), 0) })
	if err != nil && strings.HasPrefix(err.Error(), "TODO: ") {
		t.Fatal(err)
	}
	require.Error(t, err)
	assert.True(t, errors.Is(err, unix.EAGAIN), "errors.Is(err, unix.EAGAIN) must hold for %q", err)
	assert.Contains(t, err.Error(), "semop", "name the call that failed in the message, e.g. \"semop(%d, ...): resource temporarily unavailable\"", s.ID())
}
