//go:build linux

package main

import (
	"fmt"
	"os"
	"regexp"
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
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	ipctest.Timeout = 40 * time.Second
	ipctest.Helper("leave-segment", helperLeaveSegment)
	ipctest.Helper("leave-set", helperLeaveSet)
	ipctest.Helper("bench-consumer", helperBenchConsumer)
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

// testKey returns a key no object uses now, as the -key flag.
func testKey(t *testing.T) (ftok.Key, string) {
	key, _ := ipctest.UnusedKey(t)
	return key, key.String()
}

func TestRace(t *testing.T) {
	ipctest.NoLeaks(t)
	const n = 50000
	r := ipctest.RunProgram(t, "race", "-n", strconv.Itoa(n))
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	totals := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^-> (\w+): 2 x (\d+) additions gave (\d+)`).FindAllStringSubmatch(r.Stdout, -1) {
		totals[m[1]], _ = strconv.Atoi(m[3])
	}
	require.Len(t, totals, 3, "one result line per mode:\n%s", r.Stdout)
	assert.Equal(t, 2*n, totals["semaphore"], "a semaphore around the update loses nothing")
	assert.Equal(t, 2*n, totals["atomic"], "an atomic add loses nothing")
	assert.LessOrEqual(t, totals["unsynchronised"], 2*n)
	t.Logf("unsynchronised: %d of %d (%d lost; how many depends on scheduling)", totals["unsynchronised"], 2*n, 2*n-totals["unsynchronised"])
}

// summary checks the consumer's summary in out and returns the message count.
func assertVerified(t *testing.T, out string, messages int) {
	t.Helper()
	assert.Contains(t, out, fmt.Sprintf("-> messages: %d\n", messages))
	assert.Regexp(t, `-> bytes: \d+`, out)
	assert.Regexp(t, `-> seconds: \d+\.\d+`, out)
	assert.Regexp(t, `-> checksum: crc32 0x[0-9a-f]{8} verified`, out)
}

func TestDefaultRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		n    int
	}{
		{"fixed size", []string{"-messages", "2000", "-size", "100"}, 2000},
		{"mixed sizes over small slots", []string{"-messages", "3000", "-size", "700", "-mixed", "-slotsize", "64", "-slots", "3"}, 3000},
		{"one slot", []string{"-messages", "500", "-slots", "1", "-size", "8"}, 500},
		{"messages larger than the ring", []string{"-messages", "20", "-size", "100000", "-slots", "2", "-slotsize", "4096"}, 20},
		{"no messages", []string{"-messages", "0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			r := ipctest.RunProgram(t, append([]string{"-key", key}, tt.args...)...)
			require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
			assertVerified(t, r.Stdout, tt.n)
			assert.Contains(t, r.Stdout, "both processes finished successfully")
			assert.Regexp(t, `started the consumer, pid \d+`, r.Stdout)
			assert.Regexp(t, `started the producer, pid \d+`, r.Stdout)
		})
	}
}

func TestTwoTerminalsEitherOrder(t *testing.T) {
	for _, first := range []string{"consumer", "producer"} {
		t.Run(first+" first", func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			second := map[string]string{"consumer": "producer", "producer": "consumer"}[first]
			args := []string{"-key", key, "-messages", "5000", "-wait", "20s"}
			p1 := ipctest.StartProgram(t, append([]string{first}, args...)...)
			p1.Expect(t, "waiting up to 20s for the "+second, 10*time.Second)
			time.Sleep(200 * time.Millisecond) // really waiting, not racing
			p2 := ipctest.StartProgram(t, append([]string{second}, args...)...)
			r1, r2 := p1.Wait(t), p2.Wait(t)
			require.Equal(t, 0, r1.ExitCode, "%s stderr: %s", first, r1.Stderr)
			require.Equal(t, 0, r2.ExitCode, "%s stderr: %s", second, r2.Stderr)
			consumer := map[string]ipctest.Result{first: r1, second: r2}["consumer"]
			assertVerified(t, consumer.Stdout, 5000)
			assert.Contains(t, r2.Stdout, "is already here")
		})
	}
}

func TestNobodyComes(t *testing.T) {
	for _, role := range []string{"consumer", "producer"} {
		t.Run(role, func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			start := time.Now()
			r := ipctest.RunProgram(t, role, "-key", key, "-wait", "500ms")
			assert.Equal(t, 1, r.ExitCode)
			assert.Less(t, time.Since(start), 10*time.Second)
			assert.Contains(t, r.Stdout, "waiting up to 500ms")
			assert.Regexp(t, `no (producer|consumer) came within 500ms`, r.Stderr)
			assert.NotContains(t, r.Stderr, "goroutine", "no panic trace")
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-transport", "carrier-pigeon"}, `-transport "carrier-pigeon"`},
		{[]string{"-size", "4"}, "-size 4"},
		{[]string{"-slots", "0"}, "-slots 0"},
		{[]string{"-key", "banana"}, `-key "banana"`},
		{[]string{"juggle"}, `unknown role "juggle"`},
		{[]string{"producer", "-nosuchflag"}, "nosuchflag"},
		{[]string{"race", "-n", "0"}, "-n 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), 2, tt.want)
		})
	}
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./06-sync", "race", "producer", "consumer", "-step")
}

// TestRaceExactNote: with -n 1 the unsynchronised adders usually lose nothing;
// when they do not, the program must say that the bug is still there, and when
// they do, it must report the loss instead.
func TestRaceExactNote(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t, "race", "-n", "1")
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	if strings.Contains(r.Stdout, "-> unsynchronised: 2 x 1 additions gave 2: exact") {
		assert.Contains(t, r.Stdout, "No update was lost this time")
		assert.Contains(t, r.Stdout, "The bug is still there")
	} else {
		assert.Contains(t, r.Stdout, "-> unsynchronised: 2 x 1 additions gave 1: 1 lost (50.0%)")
		assert.NotContains(t, r.Stdout, "No update was lost")
	}
}

// TestCtrlCAtAStep: Ctrl-C while the race demo pauses before step 2, with its
// segment and semaphore set made: exit 130, both removed (NoLeaks).
func TestCtrlCAtAStep(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "race", "-n", "10", "-step")
	p.StepTo(t, 2)
	m := regexp.MustCompile(`segment id (\d+)`).FindStringSubmatch(p.Stdout())
	require.NotNil(t, m, "stdout: %s", p.Stdout())
	id, _ := strconv.Atoi(m[1])
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &unix.SysvShmDesc{})
	require.NoError(t, err, "the segment exists at the pause")
	r := p.Interrupt(t)
	assert.Equal(t, 130, r.ExitCode, "stderr: %s", r.Stderr)
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &unix.SysvShmDesc{})
	assert.ErrorIs(t, err, unix.EINVAL, "the segment was removed")
}

// pidsOf waits for the launcher's "started the ROLE, pid N" lines and for each of
// more (lines of its children, which it relays in whatever order they come), and
// returns the children's pids by role.
func pidsOf(t *testing.T, p *ipctest.Proc, more ...string) map[string]int {
	t.Helper()
	roles := []string{"consumer", "producer"}
	want := append([]string{"started the consumer, pid", "started the producer, pid"}, more...)
	lines := p.ExpectAll(t, 10*time.Second, want...)
	pids := map[string]int{}
	for i, role := range roles {
		pid, err := strconv.Atoi(lines[i][strings.LastIndexByte(lines[i], ' ')+1:])
		require.NoError(t, err, lines[i])
		pids[role] = pid
	}
	return pids
}

// longStream is a launcher run of transport that would take minutes: it is
// killed first.
func longStream(t *testing.T, transport string) (*ipctest.Proc, map[string]int) {
	_, key := testKey(t)
	p := ipctest.StartProgram(t, "-transport", transport, "-key", key, "-messages", "2000000000", "-size", "64", "-slots", "4")
	pids := pidsOf(t, p, "Receive until the end-of-stream marker")
	time.Sleep(200 * time.Millisecond) // mid-stream
	return p, pids
}

func TestKill9OfEitherSide(t *testing.T) {
	for _, tr := range transportNames() {
		for _, victim := range []string{"producer", "consumer"} {
			t.Run(tr+"/"+victim, func(t *testing.T) { testKill9(t, tr, victim) })
		}
	}
}

func testKill9(t *testing.T, transport, victim string) {
	ipctest.NoLeaks(t)
	p, pids := longStream(t, transport)
	survivor := map[string]string{"consumer": "producer", "producer": "consumer"}[victim]
	require.NoError(t, syscall.Kill(pids[victim], syscall.SIGKILL))
	killed := time.Now()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("the %s did not notice the %s's death within 5 s", survivor, victim)
	}
	noticed := time.Since(killed)
	assert.Less(t, noticed, 2*time.Second, "the survivor must notice within 2 s (and the launcher end)")
	r := p.Wait(t)
	assert.NotEqual(t, 0, r.ExitCode, "the launcher exits non-zero")
	assert.Regexp(t, fmt.Sprintf(`(?m)^%s *\| 06-sync: .*the %s \(pid %d\) is gone`, survivor, victim, pids[victim]), r.Stderr, "the survivor says which peer died")
	assert.Contains(t, r.Stderr, fmt.Sprintf("the %s (pid %d) failed: killed by signal 9", victim, pids[victim]))
	assert.Contains(t, r.Stderr, fmt.Sprintf("the %s (pid %d) failed: exit status 1", survivor, pids[survivor]))
	t.Logf("%s noticed the %s's death after %v", survivor, victim, noticed)
}

func TestKill9InTwoTerminals(t *testing.T) {
	ipctest.NoLeaks(t)
	_, key := testKey(t)
	args := []string{"-key", key, "-messages", "100000000", "-size", "64"}
	c := ipctest.StartProgram(t, append([]string{"consumer"}, args...)...)
	c.Expect(t, "waiting up to", 10*time.Second)
	p := ipctest.StartProgram(t, append([]string{"producer"}, args...)...)
	p.Expect(t, "== 3. Send", 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	p.Signal(t, syscall.SIGKILL)
	r := c.Wait(t)
	assert.Equal(t, 1, r.ExitCode)
	assert.Contains(t, r.Stderr, fmt.Sprintf("the producer (pid %d) is gone (no such process)", p.Pid()))
}

func TestSignalsStopEverything(t *testing.T) {
	tests := []struct {
		target string
		sig    syscall.Signal
	}{
		{"launcher", syscall.SIGINT},
		{"launcher", syscall.SIGTERM},
		{"producer", syscall.SIGTERM},
		{"producer", syscall.SIGINT},
		{"consumer", syscall.SIGTERM},
		{"consumer", syscall.SIGINT},
	}
	for _, tr := range transportNames() {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%v to the %s", tr, tt.sig, tt.target), func(t *testing.T) { testSignal(t, tr, tt.target, tt.sig) })
		}
	}
}

func testSignal(t *testing.T, transport, target string, sig syscall.Signal) {
	ipctest.NoLeaks(t)
	p, pids := longStream(t, transport)
	pids["launcher"] = p.Pid()
	require.NoError(t, syscall.Kill(pids[target], sig))
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after %v to the %s", sig, target)
	}
	r := p.Wait(t)
	assert.NotEqual(t, 0, r.ExitCode)
	for role, pid := range pids {
		if role != "launcher" {
			assert.Equal(t, unix.ESRCH, syscall.Kill(pid, 0), "the %s (pid %d) must have exited", role, pid)
		}
	}
	if target != "launcher" {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%s *\| 06-sync: %v: cleaning up and exiting`, target, sig), r.Stderr)
	}
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
