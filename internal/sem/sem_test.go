//go:build linux

package sem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) {
	ipctest.Helper("wait", helperWait)
	ipctest.Helper("add", helperAdd)
	ipctest.Helper("hold", helperHold)
	ipctest.Main(m, nil)
}

// newSet creates a private set with values and removes it after the test.
func newSet(t *testing.T, values ...int) *Set {
	t.Helper()
	s, err := Create(ftok.Private, 0o600, values...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Remove() })
	return s
}

func TestCreateSetsValuesAndOtime(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 3, 0, 7)
	for num, want := range []int{3, 0, 7} {
		got, err := s.Value(num)
		require.NoError(t, err)
		assert.Equal(t, want, got, "semaphore %d", num)
	}
	info, err := s.Stat()
	require.NoError(t, err)
	assert.Equal(t, 3, info.NSems)
	assert.False(t, info.Otime.IsZero(), "Create must leave sem_otime non-zero so that Open knows the set is ready")
	assert.Equal(t, uint32(0o600), info.Perm.Mode&0o777)
}

func TestCreateExistingKeyIsEEXIST(t *testing.T) {
	ipctest.NoLeaks(t)
	key, _ := ipctest.UnusedKey(t)
	s, err := Create(key, 0o600, 1)
	require.NoError(t, err)
	defer s.Remove()
	_, err = Create(key, 0o600, 1)
	assert.ErrorIs(t, err, unix.EEXIST)
}

func TestOpenWaitsForInitialisation(t *testing.T) {
	ipctest.NoLeaks(t)
	key, _ := ipctest.UnusedKey(t)
	// Create the set by hand, as a creator that has not initialised it yet.
	id, err := semget(key, 1, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	raw := FromID(id)
	defer raw.Remove()

	opened := make(chan error, 1)
	go func() {
		_, err := Open(key, 5*time.Second)
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open returned (%v) before the creator initialised the set", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, raw.Post(0, false)) // the creator's first semop sets sem_otime
	select {
	case err := <-opened:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Open did not return after sem_otime became non-zero")
	}
}

func TestOpenTimesOutWhenNobodyCreates(t *testing.T) {
	key, _ := ipctest.UnusedKey(t)
	start := time.Now()
	_, err := Open(key, 50*time.Millisecond)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestWaitPostAndTry(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 1)
	require.NoError(t, s.Wait(0, false))
	assert.ErrorIs(t, s.TryWait(0, false), ErrWouldBlock, "value 0: a no-wait decrement must fail")
	assert.ErrorIs(t, s.TryWait(0, false), unix.EAGAIN, "ErrWouldBlock is EAGAIN too")
	require.NoError(t, s.Post(0, false))
	v, err := s.Value(0)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}

func TestWaitTimeout(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 0)
	start := time.Now()
	err := s.WaitTimeout(0, false, 100*time.Millisecond)
	elapsed := time.Since(start)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.GreaterOrEqual(t, elapsed, 90*time.Millisecond, "semtimedop returned before its timeout")
	require.NoError(t, s.Post(0, false))
	assert.NoError(t, s.WaitTimeout(0, false, time.Second), "a posted semaphore must not time out")
}

// helperWait opens set args[0] and waits on semaphore 0; it prints the outcome.
func helperWait(args []string) int {
	id, _ := strconv.Atoi(args[0])
	fmt.Println("waiting")
	err := FromID(id).Wait(0, false)
	switch {
	case errors.Is(err, ErrRemoved):
		fmt.Println("removed:", err)
		return 3
	case err != nil:
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("acquired")
	return 0
}

func TestWaiterInAnotherProcess(t *testing.T) {
	tests := []struct {
		name     string
		act      func(*Set) error
		wantExit int
		wantLine string
	}{
		{"post wakes it", func(s *Set) error { return s.Post(0, false) }, 0, "acquired"},
		{"remove gives EIDRM", func(s *Set) error { return s.Remove() }, 3, "removed: the semaphore set was removed (EIDRM)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			s := newSet(t, 0)
			p := ipctest.StartHelper(t, "wait", strconv.Itoa(s.ID()))
			p.Expect(t, "waiting", 5*time.Second)
			waitUntilWaiting(t, s)
			require.NoError(t, tt.act(s))
			r := p.Wait(t)
			assert.Equal(t, tt.wantExit, r.ExitCode, "stdout: %s stderr: %s", r.Stdout, r.Stderr)
			assert.Contains(t, r.Stdout, tt.wantLine)
		})
	}
}

// waitUntilWaiting polls GETNCNT until one process sleeps on semaphore 0.
func waitUntilWaiting(t *testing.T, s *Set) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := s.Waiting(0)
		require.NoError(t, err)
		if n == 1 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the helper never blocked on the semaphore")
}

// helperAdd adds 1 to the counter in segment args[0], args[2] times, holding
// semaphore 0 of set args[1] around each update if it is not "-1".
func helperAdd(args []string) int {
	shmID, _ := strconv.Atoi(args[0])
	semID, _ := strconv.Atoi(args[1])
	n, _ := strconv.Atoi(args[2])
	b, err := unix.SysvShmAttach(shmID, 0, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer unix.SysvShmDetach(b)
	lock := FromID(semID)
	for i := 0; i < n; i++ {
		if semID >= 0 {
			if err := lock.Wait(0, true); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		v := binary.LittleEndian.Uint64(b)
		binary.LittleEndian.PutUint64(b, v+1) // a read-modify-write the lock must protect
		if semID >= 0 {
			if err := lock.Post(0, true); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	return 0
}

func TestTwoProcessesContending(t *testing.T) {
	ipctest.NoLeaks(t)
	const perProcess = 20000
	shmID := ipctest.NewSegment(t, 8, 0o600)
	counter := ipctest.Attach(t, shmID, 0)
	lock := newSet(t, 1)

	a := ipctest.StartHelper(t, "add", strconv.Itoa(shmID), strconv.Itoa(lock.ID()), strconv.Itoa(perProcess))
	b := ipctest.StartHelper(t, "add", strconv.Itoa(shmID), strconv.Itoa(lock.ID()), strconv.Itoa(perProcess))
	require.Equal(t, 0, a.Wait(t).ExitCode)
	require.Equal(t, 0, b.Wait(t).ExitCode)
	assert.Equal(t, uint64(2*perProcess), binary.LittleEndian.Uint64(counter),
		"with the semaphore held around each update no increment may be lost")
}

// helperHold takes semaphore 0 of set args[0], with SEM_UNDO if args[1] is "undo",
// says so, and sleeps until it is killed.
func helperHold(args []string) int {
	id, _ := strconv.Atoi(args[0])
	if err := FromID(id).Wait(0, args[1] == "undo"); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("holding")
	time.Sleep(time.Minute)
	return 0
}

func TestKilledHolder(t *testing.T) {
	tests := []struct {
		undo      string
		wantValue int
		why       string
	}{
		{"undo", 1, "with SEM_UNDO the kernel reverses a dead process's decrement"},
		{"no-undo", 0, "without SEM_UNDO the decrement of a dead process stays: the lock is lost"},
	}
	for _, tt := range tests {
		t.Run(tt.undo, func(t *testing.T) {
			ipctest.NoLeaks(t)
			lock := newSet(t, 1)
			p := ipctest.StartHelper(t, "hold", strconv.Itoa(lock.ID()), tt.undo)
			p.Expect(t, "holding", 5*time.Second)
			p.Signal(t, syscall.SIGKILL)
			p.Wait(t)
			v, err := lock.Value(0)
			require.NoError(t, err)
			assert.Equal(t, tt.wantValue, v, tt.why)
		})
	}
}
