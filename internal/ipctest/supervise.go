//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor. A test run of the course is two processes: the supervisor, which
// `go test` (or whoever runs the test binary) starts, and under it the same test
// binary again, which runs the tests (runTests). (An ordinary user's run has a third
// above the two, the wrapper that starts the supervisor in namespaces of its own:
// usernamespace.go.) The supervisor starts nothing else
// and does nothing while the tests run; it is there for the end:
//
//   - It is a child subreaper (PR_SET_CHILD_SUBREAPER, prctl(2)): every process the
//     tests start, and every process those start, stays below it when its parent
//     dies, instead of becoming a child of init that nobody knows of. A walk of
//     /proc from the supervisor finds them all (below).
//   - When SIGINT, SIGTERM or SIGHUP comes (Ctrl-C reaches the whole foreground
//     process group: go test, the supervisor, the tests, and those of the tests'
//     processes that share their group; the tests' process dies of it at once), or
//     the tests end in any other way (done, failed, a panic, -timeout, killed), it
//     stops every process below it: the signal (SIGTERM after an end without one),
//     up to two seconds to end (a lesson program cleans up on it), SIGKILL for what
//     is left, and again, until none is left. Processes in process groups of their
//     own, which Ctrl-C does not reach, and children whose parent has died are
//     stopped the same way.
//   - Only then, when no process of the run is left to make one, it removes the
//     run's segments and semaphore sets — every one in the run's own namespace; in a
//     shared one, those the run's processes made (runpids.go) — so that none can
//     appear after it has looked. On a signal it prints one line and exits with
//     128+N (130 for SIGINT, 143 for SIGTERM).
//
// Why not clean up in the tests' own process when the signal comes? Its tests go on
// running in other goroutines meanwhile: they start processes and create objects
// after the cleanup has looked. It does not know its children's children. And once
// it has exited, processes in process groups of their own (which Ctrl-C does not
// reach) run on, children of init, with nobody left to stop them or remove what
// they hold.
//
// What go test shows of this is up to go test (see the course's README): it does
// not stop its test binaries on Ctrl-C, it waits for them, and it exits with status
// 1 whatever they exit with.

const (
	// envSupervisor marks the process that runs the tests: "PID own" or "PID
	// shared", PID being the supervisor that started it, in a namespace of its own
	// or in the shared one. A process that merely inherited the variable (a test
	// run that a test starts) has another parent, and supervises its own run.
	envSupervisor = "SHMCOURSE_TEST_SUPERVISOR"
	// envAlone names a supervisor ("PID START", its pid and start time) whose run
	// has its IPC namespace to itself: a namespace of its own, or the shared one
	// with the lock held. A test run that a test of that run starts in the same
	// namespace need not wait for the lock: it would wait for its own ancestor.
	envAlone = "SHMCOURSE_TEST_ALONE"
	// envNesting counts the test runs above this one: a run whose tests start a
	// test run (this package's tests do) is nested. A limit keeps a mistake that
	// made every run start another from filling the machine with processes.
	envNesting = "SHMCOURSE_TEST_NESTING"
	maxNesting = 4
	// stopGrace is how long a process has to end after the signal before SIGKILL.
	stopGrace = 2 * time.Second
	// reapTimeout is how long the supervisor waits, after SIGKILL, for its last
	// process to be gone (one stuck in the kernel, state D) before it goes on.
	reapTimeout = 10 * time.Second
)

// supervised reports whether this process runs the tests for the supervisor that
// is its parent, and whether in a namespace of its own.
func supervised() (ownNamespace, ok bool) {
	pid, mode, found := strings.Cut(os.Getenv(envSupervisor), " ")
	if !found || pid != strconv.Itoa(os.Getppid()) {
		return false, false
	}
	return mode == "own", true
}

// insideOwnNamespace reports whether this process runs the tests in an IPC
// namespace of the run's own.
func insideOwnNamespace() bool {
	own, ok := supervised()
	return ok && own
}

// supervisor is the state of the supervising process.
type supervisor struct {
	ownNamespace bool               // the run has an IPC namespace of its own (this thread's)
	before       map[string]object  // shared namespace: what existed before the tests
	pidFile      string             // the run's pid file (runpids.go)
	tempDir      string             // the run's $TMPDIR
	signals      chan os.Signal     // SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE
	stopSignals  map[os.Signal]bool // the ones that stop the run
}

// supervise runs the tests in a child process and stops and cleans up after them;
// it returns the exit status of the run.
func supervise() int {
	// This goroutine keeps its thread to the end. The tests' process gets SIGKILL
	// when the thread that started it ends (Pdeathsig): that must be when this
	// process ends, not when the Go runtime retires a thread. And in a run with a
	// namespace of its own, this thread is the one in it (see enterNamespace).
	runtime.LockOSThread()
	if wantsUserNamespace() {
		if status, ok := superviseInUserNamespace(); ok {
			return status
		}
	}
	nesting, _ := strconv.Atoi(os.Getenv(envNesting))
	if nesting >= maxNesting {
		fmt.Fprintf(os.Stderr, "ipctest: %d test runs nested in each other: not starting another (does every test run start a test run?)\n", nesting)
		return 1
	}
	os.Setenv(envNesting, strconv.Itoa(nesting+1))
	s := &supervisor{signals: make(chan os.Signal, 16), stopSignals: map[os.Signal]bool{}}
	// A signal that was ignored when the run started (nohup, a background job of
	// a script) stays ignored, for the tests too.
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		if !signal.Ignored(sig) {
			signal.Notify(s.signals, sig)
			s.stopSignals[sig] = true
		}
	}
	// SIGQUIT (go test's after -timeout) is for the tests' process, which prints
	// its goroutines; SIGPIPE (go test gone, the output with it) is no reason to
	// stop before the cleanup.
	signal.Notify(s.signals, syscall.SIGQUIT, syscall.SIGPIPE)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot make this test run a child subreaper (%v): a process whose parent dies may be left running\n", err)
	}

	s.ownNamespace = enterNamespace()
	if !s.ownNamespace {
		unlock, sig := s.takeLock()
		if sig != nil {
			return s.report(sig.(syscall.Signal), nil)
		}
		defer unlock()
	}
	s.tempDir = useOwnTempDir()
	defer s.removeTempDir(false)
	s.pidFile = startPidFile()
	defer os.Remove(s.pidFile)
	if !s.ownNamespace {
		var err error
		if s.before, err = snapshot(); err != nil {
			fmt.Fprintf(os.Stderr, "ipctest: cannot read the System V tables: %v\n", err)
			return 1
		}
	}
	child, err := s.startTests()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot start the tests: %v\n", err)
		return 1
	}
	return s.wait(child)
}

// enterNamespace moves this thread into a new IPC namespace for root's runs (see
// isolate.go; an ordinary user's supervisor is born in one), unless
// SHMCOURSE_TEST_NAMESPACE=off; the tests' process, started
// from this thread, is born in it. The thread holds the namespace until the run
// has ended, and the supervisor looks into it from here to clean up. (The Go
// runtime starts new threads from a thread of its own, not from a locked one like
// this, so no other thread of this process ends up in the namespace.) It reports
// whether the run has a namespace of its own.
func enterNamespace() bool {
	if inUserNamespace() {
		return true // an ordinary user's: the wrapper made it (usernamespace.go)
	}
	if os.Geteuid() != 0 || os.Getenv(envNamespace) == "off" {
		return false
	}
	if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: no IPC namespace of its own for this test run (%v): "+
			"running in the shared one, taking turns with other test runs of the course on %s\n", err, lockPath)
		return false
	}
	return true
}

// takeLock takes the course-wide lock for a run in the shared namespace, unless a
// test run above this one has the namespace to itself (envAlone). A stop signal
// while it waits ends the wait: it returns that signal.
func (s *supervisor) takeLock() (unlock func(), stoppedBy os.Signal) {
	if aloneAbove() {
		return func() {}, nil
	}
	locked := make(chan func(), 1)
	go func() { locked <- lockTests() }()
	for {
		select {
		case unlock := <-locked:
			return unlock, nil
		case sig := <-s.signals:
			if s.stopSignals[sig] || sig == syscall.SIGQUIT {
				return nil, sig
			}
		}
	}
}

// aloneAbove reports whether envAlone names a process above this one.
func aloneAbove() bool {
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(os.Getenv(envAlone), "%d %d", &pid, &start); err != nil {
		return false
	}
	for p := os.Getppid(); p > 1; {
		if p == pid {
			now, ok := procStart(p)
			return ok && now == start
		}
		fields, ok := procStat(p)
		if !ok || len(fields) < 2 {
			return false
		}
		p, _ = strconv.Atoi(fields[1]) // field 4, the parent
	}
	return false
}

// startTests starts this test binary again, with the same arguments, to run the
// tests, from this goroutine's thread.
func (s *supervisor) startTests() (pid int, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	mode := "shared"
	if s.ownNamespace {
		mode = "own"
	}
	env := withEnv(os.Environ(), envSupervisor, fmt.Sprintf("%d %s", os.Getpid(), mode))
	// A run alongside others does not have the shared namespace to itself.
	if start, ok := procStart(os.Getpid()); ok && (s.ownNamespace || !alongside) {
		env = withEnv(env, envAlone, fmt.Sprintf("%d %d", os.Getpid(), start))
	}
	return syscall.ForkExec(exe, os.Args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		// If this process dies (kill -9), so do the tests; their own processes
		// get SIGTERM when the tests' process dies (see start).
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
}

// withEnv returns env with key set to value. A variable inherited from a test run
// above this one must go, not merely be followed by the new one: the first of two
// is the one a Go program sees (syscall.Getenv), and ForkExec, unlike os/exec,
// passes both.
func withEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// wait waits for the tests and everything they started to end, stopping them on a
// signal, then cleans up and returns the run's exit status.
func (s *supervisor) wait(child int) int {
	testsEnded := make(chan syscall.WaitStatus, 1)
	allGone := make(chan struct{})
	go reap(child, testsEnded, allGone)
	parentGone := watchParent()

	var (
		stoppedBy syscall.Signal // the signal that stopped the run, if one did
		status    syscall.WaitStatus
		ended     bool // the tests' process has ended
		stopped   []proc
		swept     = make(chan []proc, 1)
		sweeping  bool
		deadline  <-chan time.Time
	)
	sweep := func(sig syscall.Signal) {
		if !sweeping {
			sweeping = true
			go func() { swept <- s.stopAll(sig, child) }()
		}
	}
	testsDone := func(ws syscall.WaitStatus) {
		ended, status = true, ws
		if ws.Signaled() && stoppedBy == 0 {
			stoppedBy = ws.Signal() // kill -INT of the tests' process alone, say
		}
		sweep(syscall.SIGTERM)
	}
	for {
		select {
		case sig := <-s.signals:
			switch {
			case s.stopSignals[sig]:
				if stoppedBy == 0 {
					stoppedBy = sig.(syscall.Signal)
					sweep(stoppedBy)
				}
			case sig == syscall.SIGQUIT && !ended:
				_ = syscall.Kill(child, syscall.SIGQUIT)
			}
		case <-parentGone:
			parentGone = nil
			// As a terminal that closes: unless the run ignores SIGHUP (nohup).
			if stoppedBy == 0 && s.stopSignals[syscall.SIGHUP] {
				stoppedBy = syscall.SIGHUP
				sweep(stoppedBy)
			}
		case ws := <-testsEnded:
			testsDone(ws)
		case stopped = <-swept:
			deadline = time.After(reapTimeout)
		case <-deadline:
			fmt.Fprintf(os.Stderr, "ipctest: these processes of the test run did not end within %v of SIGKILL: %s\n", reapTimeout, describe(below()))
			if !ended && stoppedBy == 0 {
				stoppedBy = syscall.SIGKILL
			}
			return s.finish(stoppedBy, status, stopped)
		case <-allGone:
			// reap sent the tests' status before it closed allGone, but select
			// may have picked this case first.
			if !ended {
				testsDone(<-testsEnded)
			}
			if stopped == nil && deadline == nil { // stopAll has not reported yet
				stopped = <-swept // it ends at once: nothing is left
			}
			return s.finish(stoppedBy, status, stopped)
		}
	}
}

// reap waits for every child of this process — the tests' process, and any process
// below that was reparented here — so that none stays a zombie. It sends the tests'
// process's wait status on testsEnded, and closes allGone when no child is left:
// then no process below this one is left either.
func reap(tests int, testsEnded chan<- syscall.WaitStatus, allGone chan<- struct{}) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
		case err != nil: // ECHILD
			close(allGone)
			return
		case pid == tests:
			testsEnded <- ws
		}
	}
}

// watchParent returns a channel that is closed when this process's parent has
// gone (go test killed with SIGKILL, say): then nobody reads the tests' output
// or waits for them any more.
func watchParent() chan struct{} {
	gone := make(chan struct{})
	parent := os.Getppid()
	go func() {
		for os.Getppid() == parent {
			time.Sleep(200 * time.Millisecond)
		}
		close(gone)
	}()
	return gone
}

// stopAll stops every process below this one, the tests' process first: it sends
// sig, waits up to stopGrace for them to end, kills what is left with SIGKILL, and
// goes again until it finds none (a process may start one while it dies). It logs
// every process it finds as one of the run's and returns them.
func (s *supervisor) stopAll(sig syscall.Signal, tests int) []proc {
	var all []proc
	for {
		procs := below()
		if len(procs) == 0 {
			return all
		}
		logProcs(s.pidFile, procs)
		all = append(all, procs...)
		for _, p := range procs {
			if p.pid == tests {
				p.signal(sig) // first, so that it starts nothing more
			}
		}
		for _, p := range procs {
			if p.pid != tests {
				p.signal(sig)
			}
			if p.state == "T" || p.state == "t" { // stopped: it must run to end
				p.signal(syscall.SIGCONT)
			}
		}
		deadline := time.Now().Add(stopGrace)
		for !allEnded(procs) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		for _, p := range procs {
			if !p.ended() {
				p.signal(syscall.SIGKILL)
			}
		}
		for !allEnded(procs) && time.Now().Before(deadline.Add(reapTimeout)) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func allEnded(procs []proc) bool {
	for _, p := range procs {
		if !p.ended() {
			return false
		}
	}
	return true
}

// describe lists processes for a report: pid and command line.
func describe(procs []proc) string {
	var list []string
	for _, p := range procs {
		list = append(list, fmt.Sprintf("pid %d (%s)", p.pid, commandLine(p.pid)))
	}
	return strings.Join(list, ", ")
}

// finish runs when no process of the run is left: it removes the run's objects
// and temporary files and says what happened. A run stopped by a signal gets one
// line and exits with 128+N; otherwise the tests' exit status stands, unless
// something of theirs was left after they ended, which fails the run.
func (s *supervisor) finish(stoppedBy syscall.Signal, status syscall.WaitStatus, stopped []proc) int {
	objects, err := s.runObjects()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot read the System V tables: %v\n", err)
	}
	if stoppedBy != 0 {
		s.removeTempDir(true)
		return s.report(stoppedBy, objects)
	}
	code := status.ExitStatus()
	if status.Signaled() || code > 1 {
		// A panic, -test.timeout or a kill: the tests' cleanups did not run, and
		// their t.TempDir directories are still in the run's.
		s.removeTempDir(true)
	}
	if len(objects) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %d System V object(s) behind, found after they had ended:\n", len(objects))
		for _, o := range objects {
			fmt.Fprintf(os.Stderr, "    %s (%s)\n", o, o.removeNow())
		}
		if code == 0 {
			code = 1
		}
	}
	if len(stopped) > 0 {
		fmt.Fprintf(os.Stderr, "ipctest: stopped %d process(es) still running after the tests had ended: %s\n", len(stopped), describe(stopped))
	}
	return code
}

// runObjects returns the run's segments and semaphore sets: every one in the run's
// own namespace (this goroutine's thread is in it), or in the shared one those
// that did not exist before the tests and that a process of the run made.
func (s *supervisor) runObjects() ([]object, error) {
	if !s.ownNamespace {
		return leaked(s.before)
	}
	return leaked(map[string]object{})
}

// report removes objects and prints the line of a run stopped by sig; it returns
// the exit status, 128+sig.
func (s *supervisor) report(sig syscall.Signal, objects []object) int {
	var kept []string
	for _, o := range objects {
		if err := o.remove(); err != nil {
			kept = append(kept, fmt.Sprintf("%s %d (%v: %s)", o.kind, o.id, err, o.ipcrm()))
		}
	}
	if len(kept) == 0 {
		fmt.Fprintf(os.Stderr, "ipctest: %v: stopped the tests and removed the %d System V object(s) they had created\n", sig, len(objects))
	} else {
		fmt.Fprintf(os.Stderr, "ipctest: %v: stopped the tests and removed %d of the %d System V object(s) they had created; could not remove %s\n",
			sig, len(objects)-len(kept), len(objects), strings.Join(kept, ", "))
	}
	return 128 + int(sig)
}

// useOwnTempDir points $TMPDIR, for the tests and every process they start, at a new
// directory, so that the files of a run stopped by a signal (t.TempDir's among them)
// can be removed with it. It has /tmp's mode, so that helpers running as another user
// may use it too. It returns the directory, or "" if it could not make one.
func useOwnTempDir() string {
	dir, err := os.MkdirTemp("", "shm-course-test-")
	if err == nil {
		err = os.Chmod(dir, 0o1777)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: no temporary directory of the run's own (%v)\n", err)
		return ""
	}
	os.Setenv("TMPDIR", dir)
	return dir
}

// removeTempDir removes the run's temporary directory: with all its files, or
// only if it is empty (at the normal end, where a file left is a program's to
// explain).
func (s *supervisor) removeTempDir(all bool) {
	switch {
	case s.tempDir == "":
	case all:
		os.RemoveAll(s.tempDir)
	default:
		os.Remove(s.tempDir)
	}
}
