//go:build linux

package sem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
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
	ipctest.Helper("limits", helperLimits)
	ipctest.Alongside() // private objects only
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
	id, errno := semget(key, 1, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.Zero(t, errno)
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
		{"remove gives EIDRM", func(s *Set) error { return s.Remove() }, 3, "removed: semop(<id>, {{0, -1, 0}}, 1): EIDRM (identifier removed): the set was removed while this process waited"},
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
			assert.Equal(t, "waiting\n"+strings.ReplaceAll(tt.wantLine, "<id>", strconv.Itoa(s.ID()))+"\n", r.Stdout)
			assert.Empty(t, r.Stderr)
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

// TestStatAtManyStackDepths calls Stat (semctl IPC_STAT into a semid_ds on Stat's
// stack) from many stack depths, each in a new goroutine with a small stack. At
// some depths the call into the system call wrapper has to grow the stack, which
// copies it elsewhere. A pointer passed as a uintptr through an ordinary function
// is not updated by that copy, so the kernel writes into the old stack and Stat
// returns zeros (it did, at 7 to 14 of the 1500 depths, where the stack doubles,
// before sys.go obeyed the rule).
func TestStatAtManyStackDepths(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newSet(t, 1, 2, 3)
	want, err := s.Stat()
	require.NoError(t, err)
	require.False(t, want.Otime.IsZero())
	var bad []string
	for depth := 0; depth < 1500; depth++ {
		got := make(chan Info, 1)
		go func() {
			recurse(depth, func() {
				info, _ := s.Stat()
				got <- info
			})
		}()
		if info := <-got; info.NSems != 3 || !info.Otime.Equal(want.Otime) || info.Perm != want.Perm {
			bad = append(bad, fmt.Sprintf("depth %d: NSems %d, Otime %v", depth, info.NSems, info.Otime))
		}
	}
	assert.Empty(t, bad, "IPC_STAT returned the wrong semid_ds at %d of 1500 stack depths", len(bad))
}

// recurse calls f from depth frames further down the stack.
//
//go:noinline
func recurse(depth int, f func()) {
	var pad [64]byte // a little stack per frame, so that the depths cover many sizes
	if depth == 0 {
		f()
		return
	}
	recurse(depth-1, f)
	pad[depth%64]++
}

// TestCreateAtTheLimits: a semaphore may start at 0 or at SEMVMX, the largest value,
// and Create still leaves every value as asked and sem_otime non-zero. (A semop of
// +1 and -1 on a semaphore at SEMVMX would fail with ERANGE.)
func TestCreateAtTheLimits(t *testing.T) {
	tests := [][]int{{SEMVMX, 0}, {0, SEMVMX}, {0}, {1}, {SEMVMX}}
	for _, values := range tests {
		t.Run(fmt.Sprint(values), func(t *testing.T) {
			ipctest.NoLeaks(t)
			s := newSet(t, values...)
			for num, want := range values {
				got, err := s.Value(num)
				require.NoError(t, err)
				assert.Equal(t, want, got, "semaphore %d", num)
			}
			info, err := s.Stat()
			require.NoError(t, err)
			assert.False(t, info.Otime.IsZero(), "sem_otime must be set, so that Open knows the set is ready")
			for num := range values {
				pid, err := s.LastPid(num)
				require.NoError(t, err)
				assert.Equal(t, os.Getpid(), pid, "the creator is the last to have operated on semaphore %d", num)
			}
		})
	}
	_, err := Create(ftok.Private, 0o600, SEMVMX+1)
	assert.EqualError(t, err, "sem.Create: value 32768 for semaphore 0: a semaphore holds 0 to 32767 (SEMVMX)")
}

// TestErrorsNameTheCallAndTheCause: each failing call says which call failed, as C
// spells it, the errno, and the cause of that errno here.
func TestErrorsNameTheCallAndTheCause(t *testing.T) {
	lim, err := ReadLimits()
	require.NoError(t, err)
	tests := []struct {
		name  string
		do    func(s *Set) error
		want  string // %[1]d is the set's id
		is    error
		isNot error // nil, or an error err must not match
	}{
		{"post above SEMVMX", func(s *Set) error { return s.Post(0, false) },
			"semop(%[1]d, {{0, +1, 0}}, 1): ERANGE (numerical result out of range): semaphore 0 is 32767, and +1 would take it above SEMVMX (32767)", unix.ERANGE, nil},
		{"SETVAL above SEMVMX", func(s *Set) error { return s.SetValue(1, 40000) },
			"semctl(%[1]d, 1, SETVAL, 40000): ERANGE (numerical result out of range): 40000 is outside 0..32767 (SEMVMX)", unix.ERANGE, nil},
		{"no such semaphore", func(s *Set) error { return s.Do(Op{Num: 2, Delta: -1, Flags: SEM_UNDO | unix.IPC_NOWAIT}) },
			"semop(%[1]d, {{2, -1, IPC_NOWAIT|SEM_UNDO}}, 1): EFBIG (file too large): a sem_num is not below the set's 2 semaphores", unix.EFBIG, nil},
		{"would block", func(s *Set) error { return s.TryWait(1, false) },
			"semop(%[1]d, {{1, -1, IPC_NOWAIT}}, 1): EAGAIN (resource temporarily unavailable): IPC_NOWAIT, and the operations would have had to wait", ErrWouldBlock, nil},
		{"timed out", func(s *Set) error { return s.WaitTimeout(1, false, 10*time.Millisecond) },
			"semtimedop(%[1]d, {{1, -1, 0}}, 1, {0, 10000000}): EAGAIN (resource temporarily unavailable): the timeout expired before the operations could be performed", ErrTimeout, nil},
		{"more operations than SEMOPM", func(s *Set) error { return s.Do(make([]Op, lim.SEMOPM+1)...) },
			fmt.Sprintf("semop(%%[1]d, {%s}, %d): E2BIG (argument list too long): %d operations in one call, more than SEMOPM allows (%d: the 3rd field of /proc/sys/kernel/sem)",
				strings.Repeat("{0, +0, 0}, ", lim.SEMOPM)+"{0, +0, 0}", lim.SEMOPM+1, lim.SEMOPM+1, lim.SEMOPM), unix.E2BIG, nil},
		// The Set has seen the set exist (Create returned it): EINVAL means that
		// it was removed, the same event as a wait's EIDRM for its users.
		{"removed set", func(s *Set) error { require.NoError(t, s.Remove()); return s.Post(1, false) },
			"semop(%[1]d, {{1, +1, 0}}, 1): EINVAL (invalid argument): no set has id %[1]d any more: it was removed before this call", ErrRemoved, unix.EIDRM},
		{"removed set, the errno", func(s *Set) error { require.NoError(t, s.Remove()); return s.Post(1, false) },
			"semop(%[1]d, {{1, +1, 0}}, 1): EINVAL (invalid argument): no set has id %[1]d any more: it was removed before this call", unix.EINVAL, nil},
		// An id the Set never saw work may have named nothing, ever.
		{"an id never seen to exist", func(s *Set) error { require.NoError(t, s.Remove()); return FromID(s.ID()).Post(1, false) },
			"semop(%[1]d, {{1, +1, 0}}, 1): EINVAL (invalid argument): no set has id %[1]d: it was removed before the call, or never existed", unix.EINVAL, ErrRemoved},
		{"remove twice", func(s *Set) error { require.NoError(t, s.Remove()); return s.Remove() },
			"semctl(%[1]d, 0, IPC_RMID): EINVAL (invalid argument): no set has id %[1]d (it was removed, or never existed), or the command or semnum is not valid for it", unix.EINVAL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			s := newSet(t, SEMVMX, 0)
			err := tt.do(s)
			assert.EqualError(t, err, fmt.Sprintf(tt.want, s.ID()))
			assert.ErrorIs(t, err, tt.is)
			if tt.isNot != nil {
				assert.NotErrorIs(t, err, tt.isNot)
			}
		})
	}
	t.Run("semget above SEMMSL", func(t *testing.T) {
		_, err := Create(ftok.Private, 0o600, make([]int, lim.SEMMSL+1)...)
		assert.EqualError(t, err, fmt.Sprintf("semget(IPC_PRIVATE, %d, IPC_CREAT|IPC_EXCL|0600): EINVAL (invalid argument): nsems %d is above SEMMSL, the most semaphores a set may have (%d: the 1st field of /proc/sys/kernel/sem)",
			lim.SEMMSL+1, lim.SEMMSL+1, lim.SEMMSL))
		assert.ErrorIs(t, err, unix.EINVAL)
	})
	t.Run("semget of a key that exists", func(t *testing.T) {
		ipctest.NoLeaks(t)
		key, _ := ipctest.UnusedKey(t)
		s, err := Create(key, 0o640, 1)
		require.NoError(t, err)
		defer s.Remove()
		_, err = Create(key, 0o640, 1)
		assert.EqualError(t, err, fmt.Sprintf("semget(%v, 1, IPC_CREAT|IPC_EXCL|0640): EEXIST (file exists): a set with this key exists already (IPC_CREAT|IPC_EXCL create only a new one)", key))
		assert.ErrorIs(t, err, unix.EEXIST)
	})
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{Op{0, 1, 0}, "{0, +1, 0}"},
		{Op{1, -8, SEM_UNDO}, "{1, -8, SEM_UNDO}"},
		{Op{2, 0, unix.IPC_NOWAIT}, "{2, +0, IPC_NOWAIT}"},
		{Op{3, -1, unix.IPC_NOWAIT | SEM_UNDO}, "{3, -1, IPC_NOWAIT|SEM_UNDO}"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.op.String())
		assert.Equal(t, tt.want, fmt.Sprint(tt.op), "%v prints it the same way")
	}
}

// The kernel.sem limits helperLimits sets in its private IPC namespace:
// SEMMSL SEMMNS SEMOPM SEMMNI.
const testLimits = "4 6 1 2"

// helperLimits, in a private IPC namespace, lowers kernel.sem to testLimits and
// reaches each limit; it prints one line per attempt: what it did, a tab, the
// error (or "ok").
func helperLimits([]string) int {
	if err := os.WriteFile("/proc/sys/kernel/sem", []byte(testLimits), 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	report := func(what string, err error) {
		if err == nil {
			fmt.Printf("%s\tok\n", what)
		} else {
			fmt.Printf("%s\t%v\n", what, err)
		}
	}
	_, err := Create(ftok.Private, 0o600, 1, 1, 1, 1, 1)
	report("5 semaphores", err)
	a, err := Create(ftok.Private, 0o600, 1, 0, 3) // one operation at creation: within SEMOPM 1
	report("set a of 3", err)
	_, err = Create(ftok.Private, 0o600, 1, 1, 1, 1)
	report("4 more", err)
	_, err = Create(ftok.Private, 0o600, 0, 0)
	report("set b of 2", err)
	_, err = Create(ftok.Private, 0o600, 0)
	report("a third set", err)
	if a != nil {
		err = a.Do(Op{Num: 0, Delta: -1}, Op{Num: 2, Delta: -1})
		report(fmt.Sprintf("2 operations on set %d", a.ID()), err)
	}
	return 0
}

// TestLimitsInAPrivateNamespace: with low kernel.sem limits (in a private IPC
// namespace, so the machine's stay as they are) each limit gives the errno the
// man pages name, and the message names the limit and its numbers.
func TestLimitsInAPrivateNamespace(t *testing.T) {
	r := ipctest.StartHelperInIPCNamespace(t, "limits").Wait(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 6, r.Stdout)
	var id int
	_, err := fmt.Sscanf(lines[5], "2 operations on set %d", &id)
	require.NoError(t, err, lines[5])
	want := []string{
		"5 semaphores\tsemget(IPC_PRIVATE, 5, IPC_CREAT|IPC_EXCL|0600): EINVAL (invalid argument): nsems 5 is above SEMMSL, the most semaphores a set may have (4: the 1st field of /proc/sys/kernel/sem)",
		"set a of 3\tok",
		"4 more\tsemget(IPC_PRIVATE, 4, IPC_CREAT|IPC_EXCL|0600): ENOSPC (no space left on device): SEMMNS reached: 3 semaphores exist in all sets, and 4 more would pass the limit of 6 (the 2nd field of /proc/sys/kernel/sem)",
		"set b of 2\tok",
		"a third set\tsemget(IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600): ENOSPC (no space left on device): SEMMNI reached: 2 sets exist, the most the system allows (the 4th field of /proc/sys/kernel/sem)",
		fmt.Sprintf("2 operations on set %d\tsemop(%d, {{0, -1, 0}, {2, -1, 0}}, 2): E2BIG (argument list too long): 2 operations in one call, more than SEMOPM allows (1: the 3rd field of /proc/sys/kernel/sem)", id, id),
	}
	assert.Equal(t, want, lines)
	assert.Empty(t, r.Stderr)
}
