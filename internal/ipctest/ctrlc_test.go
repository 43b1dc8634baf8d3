//go:build linux

package ipctest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/procsysv"
)

var ctrlcRuns = flag.Int("ctrlc", 0, "how many times TestCtrlCDuringGoTest presses Ctrl-C, each time in a random way "+
	"(0: once for each way, a few seconds in all)")

// A way of running go test on the fixtures in testdata/ctrlc.
type goTestWay struct {
	name     string
	args     []string // after go test -count=1
	binaries []string // the test binaries it runs, whose processes say when they hold objects
	shared   bool     // SHMCOURSE_TEST_NAMESPACE=off: in this test's IPC namespace
	stubborn bool     // with a helper that ignores SIGINT and SIGTERM (2 s more)
}

// TestCtrlCDuringGoTest presses Ctrl-C — SIGINT to the process group of `go test`,
// as a terminal does — while go test runs the fixture packages in testdata/ctrlc
// (see package fixture there): launchers in process groups of their own whose
// children hold a segment and a semaphore set, helpers started one after another,
// objects created by the tests' own process, a helper that ignores SIGINT and
// SIGTERM. Then no process of the run may be left, no segment or semaphore set
// with the fixture's keys, no temporary directory of the run; go test exits with 1
// (its own status after Ctrl-C, whatever its test binaries exit with); and where go
// test shows the test binary's output as it comes (-v, one package), the run's
// last line is the one line the README promises.
//
// By default it presses Ctrl-C twice, when the fixtures' processes hold objects:
// once in go test of one package with -v (as root, in a namespace of the run's
// own), with a helper that ignores the signals, once in go test of two packages
// without -v (in the shared namespace). -ctrlc N presses it N times, each time
// in a random way (shared namespace or, as root, the run's own; with or without the
// stubborn helper), at a random moment: from go test's start (during the build,
// while the tests start), or when the fixtures' processes hold objects.
func TestCtrlCDuringGoTest(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on the PATH (%v)", err)
	}
	// The ways go test can run: every one in the shared namespace (an ordinary
	// user's runs), and as root in namespaces of the runs' own too.
	ways := []goTestWay{
		{"-v, one package", []string{"-v", "./testdata/ctrlc/launch"}, []string{"launch.test"}, true, true},
		{"two packages", []string{"./testdata/ctrlc/launch", "./testdata/ctrlc/churn"}, []string{"launch.test", "churn.test"}, true, true},
	}
	if insideOwnNamespace() {
		for _, w := range ways[:2] {
			w.name += ", own namespace"
			w.shared = false
			ways = append(ways, w)
		}
	}
	// By default each of the two ways once; as root one of them in a namespace of
	// its own.
	byDefault := ways[:2]
	if len(ways) > 2 {
		byDefault = []goTestWay{ways[2], ways[1]}
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	if *ctrlcRuns == 0 {
		// The helper that ignores the signals costs the two seconds before SIGKILL:
		// once is enough by default. The two run at once, each with random numbers
		// of its own and keys from a range of its own (lane).
		byDefault[1].stubborn = false
		for lane, w := range byDefault {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(lane)))
			t.Run(w.name, func(t *testing.T) {
				t.Parallel()
				ctrlcOnce(t, goCmd, w, rng, lane, false)
			})
		}
		return
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for i := 0; i < *ctrlcRuns; i++ {
		w := ways[rng.IntN(len(ways))]
		w.stubborn = rng.IntN(2) == 0
		early := rng.IntN(4) == 0
		when := "when busy"
		if early {
			when = "early"
		}
		if w.stubborn {
			when += ", with a stubborn helper"
		}
		if !t.Run(fmt.Sprintf("%d %s %s", i, w.name, when), func(t *testing.T) { ctrlcOnce(t, goCmd, w, rng, 0, early) }) {
			return // a failure is enough; its leftovers are removed
		}
	}
}

// ctrlcOnce runs go test the way w says, presses Ctrl-C and checks what is left.
// early: at a random moment of go test's first second and a half, whatever it is
// doing; otherwise once every fixture test binary holds objects, and then after a
// random pause. Runs at the same time take keys from different lanes (0 or 1).
func ctrlcOnce(t *testing.T, goCmd string, w goTestWay, rng *rand.Rand, lane int, early bool) {
	mark := fmt.Sprintf("ctrlc-%d-%d", os.Getpid(), rng.Uint64())
	keys := unusedKeyRange(t, rng, lane)
	dir := t.TempDir() // the fixture's ready files
	tmp := t.TempDir() // $TMPDIR of go test and the fixture's runs
	// -parallel 4: with the default, GOMAXPROCS, two tests would run at once on a
	// machine with two CPUs, and the stubborn helper might wait for its turn.
	// -race if this test binary was built with it, so that go test finds the
	// packages compiled the same way in the build cache.
	// -p 2: go test runs as many packages at once as there are CPUs, and with one
	// CPU (taskset -c 0) the two fixture packages would run one after the other,
	// never both busy when Ctrl-C comes.
	goArgs := []string{"test", "-count=1", "-parallel=4", "-p=2"}
	if raceEnabled {
		goArgs = append(goArgs, "-race")
	}
	cmd := exec.Command(goCmd, append(goArgs, w.args...)...)
	cmd.Env = append(withoutHelper(),
		"FIXTURE_MARK="+mark, // finds the run's processes in /proc/PID/environ
		fmt.Sprintf("FIXTURE_KEYS=%#x", keys),
		"FIXTURE_DIR="+dir,
		"FIXTURE_LIFE="+fixtureLife(early).String(),
		"TMPDIR="+tmp)
	if w.stubborn {
		cmd.Env = append(cmd.Env, "FIXTURE_STUBBORN=1")
	}
	if w.shared {
		cmd.Env = append(cmd.Env, envNamespace+"=off")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a job of its own, as in a shell
	t.Cleanup(func() { removeFixtureLeftovers(t, mark, keys) })
	// Building the fixtures can take a while the first time (and the machine may be
	// busy): go test gets more than Timeout.
	p := startFor(t, cmd, "go test "+strings.Join(w.args, " "), 3*time.Minute)

	var busy bool
	if early {
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
	} else {
		var ready []string
		for _, b := range w.binaries {
			ready = append(ready, b+"-hold")
			if w.stubborn {
				ready = append(ready, b+"-stubborn")
			}
		}
		busy = waitForFiles(dir, ready, time.Minute)
		require.True(t, busy, "the fixtures' processes hold objects within a minute\nstdout so far:\n%s", p.Stdout())
		time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
	}
	require.NoError(t, syscall.Kill(-p.Pid(), syscall.SIGINT), "Ctrl-C; go test had ended:\n%s%s", p.Stdout(), p.Stderr())
	pressed := time.Now()
	r := p.Wait(t)
	t.Logf("go test ended %v after Ctrl-C; its output:\n%s%s", time.Since(pressed).Round(time.Millisecond), r.Stdout, r.Stderr)

	assert.Empty(t, fixtureProcesses(mark), "no process of the run is left")
	assert.Empty(t, fixtureObjects(t, keys), "no segment or semaphore set with the fixture's keys is left")
	runDirs, _ := filepath.Glob(filepath.Join(tmp, "shm-course-test-*"))
	assert.Empty(t, runDirs, "the runs' temporary directories are removed")
	if strings.Contains(r.Stdout, "ok  \t") {
		return // go test had started a package after Ctrl-C, and it ran to its end
	}
	// go test's own status: 1 once it has started a test binary (then it ignores
	// SIGINT and waits for them); before, while it builds, it dies of the signal.
	if r.Signal != syscall.SIGINT {
		assert.Equal(t, 1, r.ExitCode, "go test's own exit status after Ctrl-C")
	}
	assert.NotRegexp(t, `(?m)^(panic: |goroutine \d+ \[|fatal error: )`, r.Stdout+r.Stderr, "no Go trace")
	if busy && len(w.binaries) == 1 && w.args[0] == "-v" {
		lines := regexp.MustCompile(`(?m)^ipctest: .*$`).FindAllString(r.Stdout, -1)
		require.Len(t, lines, 1, "one ipctest line")
		assert.Regexp(t, `^ipctest: interrupt: stopped the tests and removed the \d+ System V object\(s\) they had created$`, lines[0])
		assert.Regexp(t, `(?m)^ipctest: .*\nFAIL\t\S+/testdata/ctrlc/launch\t\S+s\n`, r.Stdout, "then go test's FAIL line")
	}
}

// fixtureLife is how long each fixture package runs from its tests' start if
// Ctrl-C misses it. Pressed early, Ctrl-C may come before go test starts a package,
// which then runs its whole life: 15 s. Pressed when busy, it must find every
// package still running, and on a busy machine (two CI runs at once) go test may
// start the second package many seconds after the first: 90 s, longer than a
// package can take to start, and only a run that fails ever waits for it.
func fixtureLife(early bool) time.Duration {
	if early {
		return 15 * time.Second
	}
	return 90 * time.Second
}

// waitForFiles waits until the fixture's processes have said that they hold
// objects (fixture.Ready): until the files exist in dir.
func waitForFiles(dir string, names []string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		all := true
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				all = false
			}
		}
		if all {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// unusedKeyRange returns the high 16 bits of a range of 65536 keys that no segment
// or semaphore set uses now: one of the 128 ranges of lane 0 or 1 (the lowest bit),
// so that two runs at once cannot pick the same.
func unusedKeyRange(t *testing.T, rng *rand.Rand, lane int) uint32 {
	for {
		base := uint32(0x5e000000 | (rng.IntN(1<<7)<<1|lane&1)<<16)
		if len(fixtureObjects(t, base)) == 0 {
			return base
		}
	}
}

// fixtureObjects lists the segments and semaphore sets with keys in the range.
func fixtureObjects(t *testing.T, base uint32) []string {
	shms, err := procsysv.ReadShm()
	require.NoError(t, err)
	sems, err := procsysv.ReadSem()
	require.NoError(t, err)
	var found []string
	for _, s := range shms {
		if uint32(s.Key)&0xffff0000 == base {
			found = append(found, fmt.Sprintf("segment %d key %v created by pid %d", s.ID, s.Key, s.CPID))
		}
	}
	for _, s := range sems {
		if uint32(s.Key)&0xffff0000 == base {
			found = append(found, fmt.Sprintf("semaphore set %d key %v", s.ID, s.Key))
		}
	}
	return found
}

// fixtureProcesses lists the processes that carry the mark in their environment:
// the fixture run's. (A process whose environment this user may not read is not
// one of them: they all run as this user.)
func fixtureProcesses(mark string) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte("FIXTURE_MARK="+mark+"\x00")) {
			continue
		}
		state := "?"
		if fields, ok := procStat(pid); ok {
			state = fields[0]
		}
		found = append(found, fmt.Sprintf("pid %d state %s: %s", pid, state, commandLine(pid)))
	}
	return found
}

// removeFixtureLeftovers kills what a failed run left and removes its objects, so
// that a failure of this test leaves nothing either.
func removeFixtureLeftovers(t *testing.T, mark string, base uint32) {
	if left := fixtureProcesses(mark); len(left) > 0 {
		for _, line := range left {
			var pid int
			if _, err := fmt.Sscanf(line, "pid %d", &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond) // until they are gone and make nothing more
	}
	shms, _ := procsysv.ReadShm()
	for _, s := range shms {
		if uint32(s.Key)&0xffff0000 == base {
			_, _ = unix.SysvShmCtl(s.ID, unix.IPC_RMID, nil)
		}
	}
	sems, _ := procsysv.ReadSem()
	for _, s := range sems {
		if uint32(s.Key)&0xffff0000 == base {
			if _, _, errno := unix.Syscall(unix.SYS_SEMCTL, uintptr(s.ID), 0, unix.IPC_RMID); errno != 0 && !errors.Is(errno, unix.EINVAL) {
				t.Logf("removing semaphore set %d: %v", s.ID, errno)
			}
		}
	}
}
