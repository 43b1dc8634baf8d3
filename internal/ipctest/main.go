//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// Environment variables that tell a re-executed test binary what to be.
const (
	envHelper  = "SHMCOURSE_TEST_HELPER"  // run the named helper
	envProgram = "SHMCOURSE_TEST_PROGRAM" // run the package's program (the lesson's main)
	envPidFile = "SHMCOURSE_TEST_PIDS"    // file where every process of the test run logs its pid
	// envTieToParent, set to the pid of the program's parent, makes the program
	// get SIGTERM when that parent dies (a program under strace, whose parent is
	// strace: see StartProgramWithSlowSyscall).
	envTieToParent = "SHMCOURSE_TEST_TIE"
)

var helpers = map[string]func(args []string) int{}

// Helper registers a helper process: fn runs when a test starts the helper with
// RunHelper or StartHelper, in a separate process, with the arguments given there;
// its return value is the process's exit status. Register helpers before Main runs,
// in an init function or at the top of TestMain.
func Helper(name string, fn func(args []string) int) {
	if _, dup := helpers[name]; dup {
		panic("ipctest: helper " + name + " registered twice")
	}
	helpers[name] = fn
}

// Main is the TestMain of every test package of the course. program, which may be
// nil, is the package's own program: RunProgram and StartProgram run it in a separate
// process, and so does any re-execution of the test binary by the code under test
// (a lesson that starts a second copy of itself).
//
//	func TestMain(m *testing.M) { ipctest.Main(m, lesson.Entry(name, usage, run)) }
//
// The test binary that go test starts is the run's supervisor (supervise.go): it
// runs the tests in a second process — in an IPC namespace of its own where the
// kernel allows it (isolate.go) — and stops and cleans up after them. A test binary
// the tests start as a helper or program runs in the same namespace as the tests.
func Main(m *testing.M, program func(args []string) int) {
	if name := os.Getenv(envHelper); name != "" {
		logPid()
		os.Exit(runHelper(name))
	}
	if os.Getenv(envProgram) != "" && program != nil {
		logPid()
		tieToParent()
		os.Exit(program(os.Args[1:]))
	}
	if _, ok := supervised(); !ok {
		os.Exit(supervise())
	}
	if program != nil {
		// A lesson that re-executes itself (os.Executable) under test starts this test
		// binary; the variable makes that child run the program, not the tests.
		os.Setenv(envProgram, "1")
	}
	os.Exit(runTests(m))
}

// tieToParent asks, where envTieToParent names this process's parent, for SIGTERM
// when that parent ends (PR_SET_PDEATHSIG, prctl(2)). The variable goes, so that
// the processes this one starts do not tie themselves to it.
func tieToParent() {
	parent, err := strconv.Atoi(os.Getenv(envTieToParent))
	if err != nil {
		return
	}
	os.Unsetenv(envTieToParent)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: prctl(PR_SET_PDEATHSIG): %v\n", err)
	}
	if os.Getppid() != parent { // it died before the call: too late to be told
		_ = unix.Kill(os.Getpid(), unix.SIGTERM)
	}
}

func runHelper(name string) int {
	fn, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "ipctest: no helper named %q\n", name)
		return 2
	}
	return fn(os.Args[1:])
}

// runTests runs the package's tests and the leak check, in the process that the
// supervisor started for them (which holds the lock where the run needs it, and
// stops and cleans up after them when a signal comes).
func runTests(m *testing.M) int {
	logPid()
	before, err := snapshot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot read the System V tables: %v\n", err)
		return 1
	}
	status := m.Run()
	leaks, err := leaked(before)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot read the System V tables: %v\n", err)
		return 1
	}
	if len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %d System V object(s) behind:\n", len(leaks))
		for _, o := range leaks {
			fmt.Fprintf(os.Stderr, "    %s (%s)\n", o, o.removeNow())
		}
		return 1
	}
	return status
}

// object is one segment or semaphore set in the kernel's tables.
type object struct {
	kind string // "shm" or "sem"
	id   int
	desc string
	pids []int // shm: the creator; sem: the last pid to operate on each semaphore
	t    int64 // when it recorded those pids, at the latest: shm ctime, sem otime
	// a set's ctime and key: what ClaimSet and UnusedKey record
	ctime int64
	key   ftok.Key
}

// ours reports whether a process of this test run created the object (a segment)
// or was the last to operate on one of its semaphores (a set; the course's sem.Create
// always makes one operation). Objects that other programs create while the tests
// run are not ours: the leak check neither counts nor removes them.
func (o object) ours(pids runPids, c claims) bool {
	if c.claimed(o) {
		return true
	}
	for _, pid := range o.pids {
		if pids.did(pid, o.t) {
			return true
		}
	}
	return false
}

func (o object) String() string { return o.desc }

// remove removes the object (IPC_RMID). It can fail: without CAP_SYS_ADMIN (a
// container's root, say) even root may not remove another user's object (EPERM).
func (o object) remove() error {
	switch o.kind {
	case "shm":
		_, err := unix.SysvShmCtl(o.id, unix.IPC_RMID, nil)
		return err
	case "sem":
		if _, _, errno := unix.Syscall(unix.SYS_SEMCTL, uintptr(o.id), 0, unix.IPC_RMID); errno != 0 {
			return errno
		}
	}
	return nil
}

// removeNow removes the object and says how that went, for a leak report.
func (o object) removeNow() string {
	if err := o.remove(); err != nil {
		return fmt.Sprintf("could not remove it: %v; as its owner or root: %s", err, o.ipcrm())
	}
	return "removed now"
}

// ipcrm is the command that removes the object by hand.
func (o object) ipcrm() string {
	if o.kind == "sem" {
		return fmt.Sprintf("ipcrm -s %d", o.id)
	}
	return fmt.Sprintf("ipcrm -m %d", o.id)
}

// snapshot lists every segment and semaphore set that exists now.
func snapshot() (map[string]object, error) {
	shms, err := procsysv.ReadShm()
	if err != nil {
		return nil, err
	}
	sems, err := procsysv.ReadSem()
	if err != nil {
		return nil, err
	}
	all := map[string]object{}
	for _, s := range shms {
		o := object{"shm", s.ID, fmt.Sprintf("segment id %d key %v size %d created by pid %d, %d attached (ipcrm -m %d)",
			s.ID, s.Key, s.Size, s.CPID, s.Nattch, s.ID), []int{s.CPID}, s.Ctime, 0, s.Key}
		all[fmt.Sprintf("shm %d %d", s.ID, s.CPID)] = o
	}
	for _, s := range sems {
		o := object{"sem", s.ID, fmt.Sprintf("semaphore set id %d key %v with %d semaphores (ipcrm -s %d)",
			s.ID, s.Key, s.NSems, s.ID), lastPids(s.ID, s.NSems), s.Otime, s.Ctime, s.Key}
		all[fmt.Sprintf("sem %d %d", s.ID, s.Ctime)] = o
	}
	return all, nil
}

// lastPids returns semctl(GETPID) of each semaphore in set id.
func lastPids(id, nsems int) []int {
	const getpid = 11 // GETPID in <linux/sem.h>; x/sys does not define it
	var pids []int
	for num := 0; num < nsems; num++ {
		pid, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), getpid, 0, 0, 0)
		if errno != 0 {
			pid = ^uintptr(0) // unknown (another user's set: EACCES), not "none"
		}
		pids = append(pids, int(pid))
	}
	return pids
}

// leaked returns the objects of this test run (see testPids) that exist now and did
// not exist at before.
func leaked(before map[string]object) ([]object, error) {
	now, err := snapshot()
	if err != nil {
		return nil, err
	}
	ours, claimed := testPids(), readClaims()
	var keys []string
	for k, o := range now {
		if _, old := before[k]; !old && o.ours(ours, claimed) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	list := make([]object, 0, len(keys))
	for _, k := range keys {
		list = append(list, now[k])
	}
	return list, nil
}

// NoLeaks makes t fail if, when t and its cleanups have finished, a segment or
// semaphore set exists that did not exist when NoLeaks was called. Call it first in
// a test, so that its check runs after the test's other cleanups. Main checks the
// whole package anyway; NoLeaks names the test that leaked.
func NoLeaks(t testing.TB) {
	t.Helper()
	before, err := snapshot()
	if err != nil {
		t.Fatalf("reading the System V tables: %v", err)
	}
	t.Cleanup(func() {
		leaks, err := leaked(before)
		if err != nil {
			t.Errorf("reading the System V tables: %v", err)
			return
		}
		for _, o := range leaks {
			t.Errorf("leaked: %s (%s)", o, o.removeNow())
		}
	})
}
