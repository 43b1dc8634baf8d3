//go:build linux

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	// The tests mostly wait for processes they started (a peer's timed wait, a
	// -wait, a pause of the race), so more of them run at once than there are CPUs.
	// A -parallel given on the command line still decides.
	_ = flag.Set("test.parallel", "24")
	ipctest.Timeout = 40 * time.Second
	ipctest.Helper("leave-segment", helperLeaveSegment)
	ipctest.Helper("leave-set", helperLeaveSet)
	ipctest.Helper("bench-consumer", helperBenchConsumer)
	ipctest.Helper("on-one-cpu", helperOnOneCPU)
	ipctest.Helper("typed-in-a-shell", helperTypedInAShell)
	// Keys of its own (and the demo's well-known key, which only this package
	// uses), no system-wide count: it may run beside other packages.
	ipctest.Alongside()
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

// testKey returns a key that no object uses now and no other test of this run has
// been given, as the -key flag. When the test ends (after its processes, which are
// stopped first), no segment and no semaphore set may hold it: this is the leak
// check of the tests that run in parallel, where NoLeaks would count the objects of
// the tests running beside them.
func testKey(t *testing.T) (ftok.Key, string) {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	for {
		key, _ := ipctest.UnusedKey(t)
		if !keysGiven[key] {
			keysGiven[key] = true
			t.Cleanup(func() { assertKeyFree(t, key.String()) })
			return key, key.String()
		}
	}
}

var (
	keysMu    sync.Mutex
	keysGiven = map[ftok.Key]bool{}
)

// assertVerified checks the consumer's summary in out.
func assertVerified(t *testing.T, out string, messages int) {
	t.Helper()
	assert.Contains(t, out, fmt.Sprintf("-> messages: %d\n", messages))
	assert.Regexp(t, `-> bytes: \d+`, out)
	assert.Regexp(t, `-> seconds: \d+\.\d+`, out)
	assert.Regexp(t, `-> checksum: crc32 0x[0-9a-f]{8} verified`, out)
}

// TestDefaultRun: the launcher's two processes move the stream over each transport
// and ring shape, and the consumer verifies it.
func TestDefaultRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		n    int
	}{
		{"semring, fixed size", []string{"-messages", "2000", "-size", "100"}, 2000},
		{"semring, mixed sizes over small slots", []string{"-messages", "3000", "-size", "700", "-mixed", "-slotsize", "64", "-slots", "3"}, 3000},
		{"semring, one slot", []string{"-messages", "500", "-slots", "1", "-size", "8"}, 500},
		{"semring, messages larger than the ring", []string{"-messages", "20", "-size", "100000", "-slots", "2", "-slotsize", "4096"}, 20},
		{"semring, no messages", []string{"-messages", "0"}, 0},
		{"fast, fixed size", []string{"-transport", "fast", "-messages", "20000", "-size", "100"}, 20000},
		{"fast, mixed sizes in a 256-byte ring", []string{"-transport", "fast", "-messages", "3000", "-size", "700", "-mixed", "-slotsize", "64", "-slots", "3"}, 3000},
		{"fast, messages larger than the ring", []string{"-transport", "fast", "-messages", "20", "-size", "100000", "-slots", "2", "-slotsize", "4096"}, 20},
		{"fast, no messages", []string{"-transport", "fast", "-messages", "0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			r := ipctest.RunProgram(t, append([]string{"-key", key}, tt.args...)...)
			require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
			assert.Empty(t, r.Stderr)
			assertVerified(t, r.Stdout, tt.n)
			assert.Contains(t, r.Stdout, "both processes finished successfully")
			assert.Regexp(t, `started the consumer, pid \d+`, r.Stdout)
			assert.Regexp(t, `started the producer, pid \d+`, r.Stdout)
			// A side that claims its role before the other waits for it, and knows
			// that the launcher has started it: it does not ask the learner to start
			// it. (When both claim at the same moment, each finds the other there.)
			assert.LessOrEqual(t, strings.Count(r.Stdout, ", which the launcher has started too\n"), 1, r.Stdout)
			assert.NotContains(t, r.Stdout, "another terminal")
			if tt.n == 0 {
				assert.Contains(t, r.Stdout, "consumer| -> order: no data messages, only the trailer\n")
				assert.NotContains(t, r.Stdout, "throughput")
			} else {
				assert.Contains(t, r.Stdout, fmt.Sprintf("consumer| -> order: sequence numbers 0..%d, each once, in order\n", tt.n-1))
				assert.Contains(t, r.Stdout, "consumer| -> contents: every byte k >= 8 of message i is (i + k) & 0xff, as documented\n")
			}
		})
	}
}

func TestTwoTerminalsEitherOrder(t *testing.T) {
	t.Parallel()
	for _, tr := range transportNames() {
		for _, first := range []string{"consumer", "producer"} {
			t.Run(tr+"/"+first+" first", func(t *testing.T) {
				t.Parallel()
				_, key := testKey(t)
				second := map[string]string{"consumer": "producer", "producer": "consumer"}[first]
				args := []string{"-transport", tr, "-key", key, "-messages", "5000", "-wait", "20s"}
				p1 := ipctest.StartProgram(t, append([]string{first}, args...)...)
				p1.Expect(t, "waiting up to 20s for the "+second, 10*time.Second)
				time.Sleep(100 * time.Millisecond) // really waiting, not racing
				p2 := ipctest.StartProgram(t, append([]string{second}, args...)...)
				r1, r2 := p1.Wait(t), p2.Wait(t)
				require.Equal(t, 0, r1.ExitCode, "%s stderr: %s", first, r1.Stderr)
				require.Equal(t, 0, r2.ExitCode, "%s stderr: %s", second, r2.Stderr)
				assert.Empty(t, r1.Stderr+r2.Stderr)
				consumer := map[string]ipctest.Result{first: r1, second: r2}["consumer"]
				assertVerified(t, consumer.Stdout, 5000)
				assert.Contains(t, r2.Stdout, "is already here")
				// The command for the other side carries the meeting flags given.
				assert.Contains(t, r1.Stdout, "waiting up to 20s for the "+second+": start it in another terminal with\n   $ go run ./06-sync "+second+" -transport "+tr+" -key "+key+"\n")
			})
		}
	}
}

func TestNobodyComes(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"consumer", "producer"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			start := time.Now()
			r := ipctest.RunProgram(t, role, "-transport", "fast", "-key", key, "-wait", "500ms")
			assert.Less(t, time.Since(start), 10*time.Second)
			assert.Contains(t, r.Stdout, "waiting up to 500ms")
			peer := map[string]string{"consumer": "producer", "producer": "consumer"}[role]
			ipctest.AssertOneLineError(t, r, 1, "came within 500ms")
			assert.Equal(t, fmt.Sprintf("06-sync: no %s came within 500ms (key %s); start one with 'go run ./06-sync %s -transport fast -key %s', or give more time with -wait\n", peer, key, peer, key), r.Stderr)
		})
	}
}

// Bad input is refused in one line with exit status 2, before anything is created,
// for every role.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-transport", "carrier-pigeon"}, `-transport "carrier-pigeon"`},
		{[]string{"-size", "4"}, "-size 4"},
		{[]string{"-slots", "0"}, "-slots 0"},
		{[]string{"-transport", "fast", "-slots", "16385", "-slotsize", "65536"}, "-slots 16385 -slotsize 65536: the fast ring's data area would be 1073807360 bytes; at most 1073741824 (1 GiB)"},
		{[]string{"consumer", "-transport", "fast", "-slots", "32767", "-slotsize", "67108864"}, "at most 1073741824 (1 GiB)"},
		{[]string{"-key", "banana"}, `-key "banana"`},
		{[]string{"-key", "0x12zz"}, `-key "0x12zz"`},
		{[]string{"-key", ""}, `-key ""`},
		{[]string{"-key", "0"}, "-key 0: 0 is IPC_PRIVATE"},
		{[]string{"-key", "0x100000000"}, `-key "0x100000000": want a 32-bit number`},
		{[]string{"-key", "0x12", "-proj", "7"}, "not both"},
		{[]string{"producer", "-keyfile", "/nonexistent"}, `ftok("/nonexistent", 6)`},
		{[]string{"consumer", "-proj", "256"}, "ftok"},
		{[]string{"juggle"}, `unknown role "juggle"`},
		{[]string{""}, `unknown role ""`},
		{[]string{"producer", "-nosuchflag"}, "nosuchflag"},
		{[]string{"race", "-n", "0"}, "-n 0"},
		{[]string{"race", "-n", "3000000000"}, "-n 3000000000"},
		{[]string{"race", "-every", "0"}, "-every 0"},
		{[]string{"race", "extra"}, `unexpected argument "extra"`},
		{[]string{"-messages", "20", "extra"}, `unexpected argument "extra"`},
		{[]string{"consumer", "extra"}, `unexpected argument "extra"`},
		{[]string{"producer", "-messages", "5", "extra"}, `unexpected argument "extra"`},
		{[]string{"race-adder", "unsynchronised", "0", "0", "10", "0"}, "does not run when typed"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), 2, tt.want)
		})
	}
}

// -h shows the roles and every flag, -n and -every of race included.
func TestUsage(t *testing.T) {
	t.Parallel()
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./06-sync", "race", "producer", "consumer", "-step", "-n N", "-every N", "-key", "-transport")
}

// The -key forms the other lessons accept: 0x and 0X hex, and decimal; the key
// then appears as ipcs prints it.
func TestKeyForms(t *testing.T) {
	t.Parallel()
	k, key := testKey(t)
	for _, form := range []string{key, strings.ToUpper(key[:2]) + key[2:], "0X" + strings.ToUpper(key[2:]), strconv.FormatUint(uint64(uint32(k)), 10)} {
		t.Run(form, func(t *testing.T) {
			r := ipctest.RunProgram(t, "consumer", "-key", form, "-wait", "1ms")
			ipctest.AssertOneLineError(t, r, 1, "no producer came within 1ms (key "+key+")")
		})
	}
}

// The internal race-adder role refuses to run when typed, and so cannot touch
// objects its lesson did not create; started by race, it runs (TestRace).
func TestRaceAdderIsInternal(t *testing.T) {
	t.Parallel()
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, raceSize, unix.IPC_CREAT|0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	b := ipctest.Attach(t, id, 0)
	r := ipctest.RunProgram(t, "race-adder", "atomic", strconv.Itoa(id), "0", "1000", "0")
	ipctest.AssertOneLineError(t, r, 2, `"race-adder" is a part this lesson plays as its own second process`)
	assert.Equal(t, make([]byte, raceSize), b[:raceSize], "the segment is untouched")
}

// Even started by a parent that vouches for it (SHMCOURSE_ROLE_PARENT set to a
// shell's pid, as a person could), race-adder touches only a segment its parent
// created, with the race's size, and checks its mode before it attaches: otherwise
// one line, and the segment is untouched.
func TestRaceAdderRefusesForeignObjects(t *testing.T) {
	t.Parallel()
	id := ipctest.ForeignSegment(t, raceSize, 0o600)
	b := ipctest.Attach(t, id, 0)
	tests := []struct {
		mode   string
		exit   int
		stderr string
	}{
		{"atomic", 1, fmt.Sprintf("06-sync: segment %d was created by pid ", id)},
		{"semaphore", 1, "not by the lesson that started me (pid "},
		{"bogus", 2, `06-sync: race-adder: unknown mode "bogus" (run with -h for usage)`},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			r := ipctest.RunHelper(t, "typed-in-a-shell", "race-adder", tt.mode, strconv.Itoa(id), "0", "10", "1")
			ipctest.AssertOneLineError(t, r, tt.exit, tt.stderr)
			assert.Equal(t, make([]byte, raceSize), b[:raceSize], "the segment is untouched")
		})
	}
	// The shell's own segment, naming semaphore set 4242: any other set is refused
	// before anything is written (the helper checks the counter and the ready count).
	t.Run("another set", func(t *testing.T) {
		r := ipctest.RunHelper(t, "typed-in-a-shell", "race-adder", "semaphore", "OWN-SEGMENT", "4243", "10", "1")
		ipctest.AssertOneLineError(t, r, 1, "06-sync: semaphore set 4243 is not the one the lesson made (segment ")
		assert.Contains(t, r.Stderr, " names set 4242): I touch no other")
	})
}

// helperTypedInAShell runs the program with args as a shell would whose user set
// SHMCOURSE_ROLE_PARENT to the shell's pid: this helper is the shell. An argument
// OWN-SEGMENT becomes the id of a race-sized segment the helper makes, naming
// semaphore set 4242; the helper says on standard error if the program wrote into
// it, and removes it.
func helperTypedInAShell(args []string) int {
	exe, err := os.Executable()
	if err != nil {
		return 1
	}
	for i, a := range args {
		if a != "OWN-SEGMENT" {
			continue
		}
		id, err := unix.SysvShmGet(unix.IPC_PRIVATE, raceSize, unix.IPC_CREAT|0o600)
		if err != nil {
			return 1
		}
		defer func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) }()
		seg, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			return 1
		}
		atomic.StoreUint32((*uint32)(unsafe.Pointer(&seg[raceSemID])), 4242)
		defer func() {
			if string(seg[:raceSemID]) != string(make([]byte, raceSemID)) {
				fmt.Fprintln(os.Stderr, "the program wrote into the segment")
			}
		}()
		args[i] = strconv.Itoa(id)
	}
	cmd := exec.Command(exe, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHMCOURSE_TEST_HELPER=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SHMCOURSE_TEST_PROGRAM=1", reexec.EnvParent+"="+strconv.Itoa(os.Getpid()))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run() // not Exit: the deferred checks run
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

// An id or a count that does not fit C's int is refused, not truncated to some
// other object's id (the role runs in-process here: typed, it would be refused
// before it looked at its arguments).
func TestRaceAdderRefusesWhatCIntCannotHold(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"atomic", "4294967296", "0", "10", "0"}, // 2^32 would be id 0 as a C int
		{"atomic", "0", "2147483648", "10", "0"},
		{"atomic", "0", "0", "-1", "0"},
		{"atomic", "0", "0", "10", "9999999999"},
		{"atomic", "0x10", "0", "10", "0"},
		{"atomic", "0", "0", "10"},
	} {
		var stderr strings.Builder
		status := lesson.Run(name, usage, raceAdder, args, strings.NewReader(""), io.Discard, &stderr)
		assert.Equal(t, lesson.ExitUsage, status, "%q: %s", args, stderr.String())
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%q: one line: %s", args, stderr.String())
	}
}

// raceTotals runs race with args (on one CPU if oneCPU) and returns the total of
// each mode, checking that everything it created is gone.
func raceTotals(t *testing.T, oneCPU bool, args ...string) map[string]int {
	t.Helper()
	var r ipctest.Result
	if oneCPU {
		r = ipctest.RunHelper(t, "on-one-cpu", append([]string{"race"}, args...)...)
	} else {
		r = ipctest.RunProgram(t, append([]string{"race"}, args...)...)
	}
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	totals := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^-> ([\w ,]+): 2 x (\d+) additions gave (\d+)`).FindAllStringSubmatch(r.Stdout, -1) {
		totals[m[1]], _ = strconv.Atoi(m[3])
	}
	require.Len(t, totals, len(raceModes), "one result line per mode:\n%s", r.Stdout)
	assertIDsGone(t, r.Stdout)
	return totals
}

// assertIDsGone checks that the segment and the semaphore set race printed are gone.
func assertIDsGone(t *testing.T, out string) {
	t.Helper()
	shm := regexp.MustCompile(`segment id (\d+)`).FindStringSubmatch(out)
	set := regexp.MustCompile(`semaphore set id (\d+)`).FindStringSubmatch(out)
	require.NotNil(t, shm, out)
	require.NotNil(t, set, out)
	shmid, _ := strconv.Atoi(shm[1])
	semid, _ := strconv.Atoi(set[1])
	_, err := unix.SysvShmCtl(shmid, unix.IPC_STAT, &unix.SysvShmDesc{})
	assert.Error(t, err, "segment %d is gone", shmid)
	_, err = sem.FromID(semid).Stat()
	assert.Error(t, err, "semaphore set %d is gone", semid)
}

// The race with its defaults, on every CPU and on one: the run with a pause
// between load and store loses updates every time; the semaphore and the atomic
// add never lose one. The plain unsynchronised run may or may not lose any.
func TestRace(t *testing.T) {
	t.Parallel()
	for _, oneCPU := range []bool{false, true} {
		t.Run(map[bool]string{false: "every CPU", true: "one CPU"}[oneCPU], func(t *testing.T) {
			t.Parallel()
			// A tenth of the default, 200000: the claims hold at any n, and every
			// pause (one in -every 100 additions) loses updates, inside the lock too
			// if the lock were broken.
			const n = 20000
			totals := raceTotals(t, oneCPU, "-n", strconv.Itoa(n))
			assert.LessOrEqual(t, totals["unsynchronised"], 2*n)
			assert.Less(t, totals["unsynchronised, with a pause"], 2*n, "a switch between load and store loses updates")
			assert.Equal(t, 2*n, totals["semaphore"], "a semaphore around the update loses nothing, pause or not")
			assert.Equal(t, 2*n, totals["atomic"], "an atomic add loses nothing")
			t.Logf("lost: %d without the pause, %d with it", 2*n-totals["unsynchronised"], 2*n-totals["unsynchronised, with a pause"])
		})
	}
}

// helperOnOneCPU runs the program with every thread of this process, and so every
// process it starts, on CPU 0 only: what taskset -c 0 does, and what a learner's
// one-CPU VM or container does.
func helperOnOneCPU(args []string) int {
	var one unix.CPUSet
	one.Set(0)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if err := unix.SchedSetaffinity(tid, &one); err != nil {
			fmt.Fprintln(os.Stderr, "sched_setaffinity:", err)
			return 1
		}
	}
	return lesson.Entry(name, usage, run)(args)
}

// TestRaceExactNote: with -n 1 the plain unsynchronised adders usually lose
// nothing; when they do not, the program must say that the bug is still there, and
// when they do, it must report the loss instead.
func TestRaceExactNote(t *testing.T) {
	t.Parallel()
	r := ipctest.RunProgram(t, "race", "-n", "1")
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assertIDsGone(t, r.Stdout)
	if strings.Contains(r.Stdout, "-> unsynchronised: 2 x 1 additions gave 2: exact") {
		assert.Contains(t, r.Stdout, "No update was lost this time")
		assert.Contains(t, r.Stdout, "The bug is still there")
	} else {
		assert.Contains(t, r.Stdout, "-> unsynchronised: 2 x 1 additions gave 1: 1 lost (50.0%)")
		assert.NotContains(t, r.Stdout, "No update was lost")
	}
}

// Ctrl-C while the adders run: it reaches the race alone (each adder has a process
// group of its own), which says so in one line, ends the adders and waits for them:
// none is left, not even as a zombie, and the segment and set are gone.
func TestCtrlCWhileTheAddersRun(t *testing.T) {
	t.Parallel()
	p := ipctest.StartProgramInGroup(t, "race", "-n", "2000000000", "-every", "1")
	p.Expect(t, "== 2. Two processes add 1", 10*time.Second)
	var adders []int
	require.Eventually(t, func() bool { adders = ipctest.ChildrenOf(p.Pid()); return len(adders) == 2 }, 10*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	p.SignalGroup(t, syscall.SIGINT)
	r := p.Wait(t)
	assert.Equal(t, 130, r.ExitCode)
	assert.Equal(t, "06-sync: interrupt: cleaning up and exiting\n", r.Stderr, "the race's one line: its adders' are not shown")
	for _, pid := range adders {
		assert.Equal(t, unix.ESRCH, syscall.Kill(pid, 0), "adder %d was waited for", pid)
	}
	assertIDsGone(t, r.Stdout)
}

// TestCtrlCAtAStep: Ctrl-C while the race demo pauses before step 2, with its
// segment and semaphore set made: exit 130, both removed.
func TestCtrlCAtAStep(t *testing.T) {
	t.Parallel()
	p := ipctest.StartProgram(t, "race", "-n", "10", "-step")
	p.StepTo(t, 2)
	m := regexp.MustCompile(`segment id (\d+)`).FindStringSubmatch(p.Stdout())
	require.NotNil(t, m, "stdout: %s", p.Stdout())
	id, _ := strconv.Atoi(m[1])
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &unix.SysvShmDesc{})
	require.NoError(t, err, "the segment exists at the pause")
	r := p.Interrupt(t)
	assert.Equal(t, 130, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Equal(t, "06-sync: interrupt: cleaning up and exiting\n", r.Stderr)
	assertIDsGone(t, r.Stdout)
}

// helperLeaveSegment creates a segment under key (argv[0]) of the given size,
// optionally writes a magic into it, and exits without removing it: a crash.
func helperLeaveSegment(args []string) int {
	key, _ := strconv.ParseUint(args[0], 0, 32)
	id, err := unix.SysvShmGet(int(int32(uint32(key))), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(id)
	return 0
}

// helperLeaveSet creates a semaphore set of argv[1] semaphores under key argv[0]
// and exits without removing it.
func helperLeaveSet(args []string) int {
	key, _ := strconv.ParseUint(args[0], 0, 32)
	n, _ := strconv.Atoi(args[1])
	values := make([]int, n)
	s, err := sem.Create(ftok.Key(int32(uint32(key))), 0o600, values...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(s.ID())
	return 0
}

// TestPeerCommand: the command printed for the other side carries the flags that
// decide whether the two meet, as they were given (the key in any of its forms, the
// transport), and leaves out those that do not.
func TestPeerCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "go run ./06-sync producer"},
		{[]string{"-key", "0x0600abcd", "-wait", "1s"}, "go run ./06-sync producer -key 0x0600abcd"},
		{[]string{"-transport", "fast", "-key", "0x0600abcf"}, "go run ./06-sync producer -transport fast -key 0x0600abcf"},
		{[]string{"-transport", "semring", "-key", "100663297"}, "go run ./06-sync producer -transport semring -key 100663297"},
		{[]string{"-proj", "9", "-keyfile", "/etc"}, "go run ./06-sync producer -keyfile /etc -proj 9"},
		{[]string{"-keyfile", "/tmp/my dir/it's"}, `go run ./06-sync producer -keyfile '/tmp/my dir/it'\''s'`},
		{[]string{"-slots", "3", "-slotsize", "64", "-size", "700", "-mixed", "-messages", "5", "-delay", "1ms"}, "go run ./06-sync producer"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f streamFlags
			l := &lesson.Lesson{Flags: flag.NewFlagSet("consumer", flag.ContinueOnError)}
			f.define(l)
			require.NoError(t, l.Flags.Parse(tt.args))
			assert.Equal(t, tt.want, peerCommand(l, &f, "producer"))
		})
	}
}

// stepPrompt is the line the launcher prints, with the child's role before it,
// when a child started with -step waits before a step.
const stepPrompt = "|    (press Enter to run this step)"

// TestLauncherStepsThroughTheChildren: with -step, the launcher pauses before each
// of its own steps and each of its children's, one Enter at a time. Both children
// pause before their first step, so nothing exists under the key until the learner
// lets one go; every step heading of a child is followed by its pause.
func TestLauncherStepsThroughTheChildren(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	p := ipctest.StartProgram(t, "-step", "-key", key, "-messages", "10")
	enter := func() {
		_, err := p.Stdin.Write([]byte("\n"))
		require.NoError(t, err)
	}
	p.Expect(t, "== 1. Start a consumer and a producer", 10*time.Second)
	enter()
	p.ExpectAll(t, 10*time.Second, "consumer| == 1. Meet", "producer| == 1. Meet", stepPrompt)
	time.Sleep(300 * time.Millisecond)
	assert.False(t, keyInUse(key), "both children wait before their first step: nothing under the key yet")
	// The consumer pauses before 4 steps, the producer before 3: one was asked above.
	for range 6 {
		enter()
		p.Expect(t, stepPrompt, 10*time.Second)
	}
	enter()
	p.Expect(t, "== 2. Done", 10*time.Second)
	r := p.Wait(t) // end of input: the last pause goes on
	require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Empty(t, r.Stderr)
	assertVerified(t, r.Stdout, 10)
	assert.Equal(t, 7, strings.Count(r.Stdout, stepPrompt+"\n"), r.Stdout)
	for _, role := range []string{"consumer", "producer"} {
		var lines []string
		for _, line := range strings.Split(r.Stdout, "\n") {
			if strings.HasPrefix(line, role+"|") {
				lines = append(lines, line)
			}
		}
		for i, line := range lines {
			if strings.HasPrefix(line, role+"| == ") {
				require.Less(t, i+1, len(lines), "the %s's last line is a heading", role)
				assert.Equal(t, fmt.Sprintf("%-8s", role)+stepPrompt, lines[i+1], "the %s pauses after %q", role, line)
			}
		}
	}
}

// Ctrl-C while the launcher's children pause: every process ends for the signal,
// the launcher says so in one line, and nothing is left under the key (testKey).
func TestCtrlCWhileAChildPauses(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	p := ipctest.StartProgramInGroup(t, "-step", "-key", key, "-messages", "10")
	p.Expect(t, "== 1. Start a consumer and a producer", 10*time.Second)
	_, err := p.Stdin.Write([]byte("\n"))
	require.NoError(t, err)
	// Two steps let go, a third asked for: one child has run its first step, and
	// the objects exist.
	for range 2 {
		p.Expect(t, stepPrompt, 10*time.Second)
		_, err := p.Stdin.Write([]byte("\n"))
		require.NoError(t, err)
	}
	p.Expect(t, stepPrompt, 10*time.Second)
	require.True(t, keyInUse(key), "the objects exist at the pause")
	p.SignalGroup(t, syscall.SIGINT)
	<-p.Done()
	r := p.Wait(t)
	assert.Equal(t, exitFor(syscall.SIGINT), r.ExitCode)
	assert.Equal(t, cleaningUp(syscall.SIGINT)+"\n", r.Stderr, "the launcher's one line: its children's are not relayed")
}
