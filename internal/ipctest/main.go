//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// Environment variables that tell a re-executed test binary what to be.
const (
	envHelper  = "SHMCOURSE_TEST_HELPER"  // run the named helper
	envProgram = "SHMCOURSE_TEST_PROGRAM" // run the package's program (the lesson's main)
	envPidFile = "SHMCOURSE_TEST_PIDS"    // file where every process of the test run logs its pid
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
func Main(m *testing.M, program func(args []string) int) {
	if name := os.Getenv(envHelper); name != "" {
		logPid()
		os.Exit(runHelper(name))
	}
	if os.Getenv(envProgram) != "" && program != nil {
		logPid()
		os.Exit(program(os.Args[1:]))
	}
	if program != nil {
		// A lesson that re-executes itself (os.Executable) under test starts this test
		// binary; the variable makes that child run the program, not the tests.
		os.Setenv(envProgram, "1")
	}
	os.Exit(runTests(m))
}

func runHelper(name string) int {
	fn, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "ipctest: no helper named %q\n", name)
		return 2
	}
	return fn(os.Args[1:])
}

func runTests(m *testing.M) int {
	unlock := lockTests()
	defer unlock()
	removePidFile := startPidFile()
	defer removePidFile()
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
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %d System V object(s) behind (now removed):\n", len(leaks))
		for _, o := range leaks {
			fmt.Fprintf(os.Stderr, "    %s\n", o)
			o.remove()
		}
		return 1
	}
	return status
}

// Which objects are ours. A test run is this process and every helper or program
// process it starts (and they start): each logs its pid to a file named in the
// environment, which children inherit. A segment is ours if one of those pids
// created it (shm_cpid); a semaphore set is ours if one of them was the last to
// operate on one of its semaphores (GETPID; the course's sem.Create always makes one
// operation). Objects that other programs create while the tests run are not ours:
// the leak check neither counts nor removes them.

func startPidFile() (remove func()) {
	f, err := os.CreateTemp("", "shm-course-test-pids-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot log test pids (%v); only this process's objects count\n", err)
		return func() {}
	}
	_ = f.Chmod(0o666) // helpers that run as another user (nobody) log their pids too
	f.Close()
	os.Setenv(envPidFile, f.Name())
	return func() { os.Remove(f.Name()) }
}

// logPid records this helper or program process as part of the test run.
func logPid() {
	path := os.Getenv(envPidFile)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%d\n", os.Getpid()) // one small O_APPEND write: lines never interleave
}

// testPids returns the pids of every process of this test run so far.
func testPids() map[int]bool {
	pids := map[int]bool{os.Getpid(): true}
	data, err := os.ReadFile(os.Getenv(envPidFile))
	if err != nil {
		return pids
	}
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids[pid] = true
		}
	}
	return pids
}

// lockTests takes the course-wide test lock (see the package comment).
func lockTests() (unlock func()) {
	path := filepath.Join(os.TempDir(), "shm-course-tests.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: running without the test lock (%v)\n", err)
		return func() {}
	}
	_ = f.Chmod(0o666) // let other users' test runs share it despite the umask
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: running without the test lock (%v)\n", err)
	}
	return func() { f.Close() } // closing releases the lock
}

// object is one segment or semaphore set in the kernel's tables.
type object struct {
	kind string // "shm" or "sem"
	id   int
	desc string
	pids []int // shm: the creator; sem: the last pid to operate on each semaphore
}

// ours reports whether a process of this test run created (or used) the object.
func (o object) ours(pids map[int]bool) bool {
	for _, pid := range o.pids {
		if pids[pid] {
			return true
		}
	}
	return false
}

func (o object) String() string { return o.desc }

func (o object) remove() {
	switch o.kind {
	case "shm":
		_, _ = unix.SysvShmCtl(o.id, unix.IPC_RMID, nil)
	case "sem":
		_, _, _ = unix.Syscall(unix.SYS_SEMCTL, uintptr(o.id), 0, unix.IPC_RMID)
	}
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
			s.ID, s.Key, s.Size, s.CPID, s.Nattch, s.ID), []int{s.CPID}}
		all[fmt.Sprintf("shm %d %d", s.ID, s.CPID)] = o
	}
	for _, s := range sems {
		o := object{"sem", s.ID, fmt.Sprintf("semaphore set id %d key %v with %d semaphores (ipcrm -s %d)",
			s.ID, s.Key, s.NSems, s.ID), lastPids(s.ID, s.NSems)}
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
		if errno == 0 {
			pids = append(pids, int(pid))
		}
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
	ours := testPids()
	var keys []string
	for k, o := range now {
		if _, old := before[k]; !old && o.ours(ours) {
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
			t.Errorf("leaked: %s (removed now)", o)
			o.remove()
		}
	})
}
