//go:build linux

package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// How the program ends on a signal, checked on every process: the exit status for
// the signal, and on standard error the one line "06-sync: interrupt: cleaning up
// and exiting" and nothing else: no fault, no trace, no error from a peer that
// vanished at the same moment, no child's line relayed by the launcher. Nothing may
// be left under the key (testKey).

var stressSignals = flag.Int("signals", 50, "signals the stress test sends (TestSignalsAtRandomMoments)")

// cleaningUp is the one line of a process stopped by sig.
func cleaningUp(sig syscall.Signal) string {
	return fmt.Sprintf("06-sync: %v: cleaning up and exiting", sig)
}

// exitFor is the lesson's exit status for sig.
func exitFor(sig syscall.Signal) int { return 128 + int(sig) }

// sigName is how describeExit names sig.
func sigName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}[sig]
}

// assertStderr checks that stderr is exactly one line for each pattern, in any
// order (the launcher relays its children's lines as they come). Each pattern is
// a regular expression for a whole line.
func assertStderr(t *testing.T, stderr string, patterns ...string) bool {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if stderr == "" {
		lines = nil
	}
	used := make([]bool, len(patterns))
	ok := assert.True(t, stderr == "" || strings.HasSuffix(stderr, "\n"), "whole lines: %q", stderr)
	for _, line := range lines {
		matched := false
		for i, p := range patterns {
			if !used[i] && regexp.MustCompile("^(?:"+p+")$").MatchString(line) {
				used[i], matched = true, true
				break
			}
		}
		ok = assert.True(t, matched, "unexpected line on standard error: %q\nwhole stderr:\n%s", line, stderr) && ok
	}
	for i, p := range patterns {
		ok = assert.True(t, used[i], "no line on standard error matches %q\nwhole stderr:\n%s", p, stderr) && ok
	}
	return ok
}

// relayed is the pattern of a child's line as the launcher relays it.
func relayed(role, pattern string) string {
	return regexp.QuoteMeta(fmt.Sprintf("%-8s| ", role)) + pattern
}

// gone is the pattern of the line of a process whose peer vanished.
func gone(role string, pid int) string {
	return fmt.Sprintf(`06-sync: .*the %s \(pid %d\) is gone \(.*`, role, pid)
}

// launcherVerdict is the pattern of the launcher's last line when its child victim
// ended the way how says (a regular expression), by a signal the launcher did not
// send, and the launcher stopped the other child. Whichever of the two it reaped
// first, it names the victim first; and the other child, whose peer vanished,
// waits for the launcher's SIGTERM rather than fail on its own (signalMayFollow).
func launcherVerdict(pids map[string]int, victim, how string) string {
	survivor := peerOf(victim)
	return fmt.Sprintf(`06-sync: the %s \(pid %d\) %s; stopped the %s \(pid %d\)`,
		victim, pids[victim], how, survivor, pids[survivor])
}

// startPair starts a consumer and a producer of a long stream under key, as two
// terminals would.
func startPair(t *testing.T, transport, key string) map[string]*ipctest.Proc {
	t.Helper()
	procs := map[string]*ipctest.Proc{}
	for _, role := range []string{"consumer", "producer"} {
		procs[role] = ipctest.StartProgram(t, append([]string{role}, longStream(transport, key)...)...)
	}
	return procs
}

func peerOf(role string) string {
	return map[string]string{"consumer": "producer", "producer": "consumer"}[role]
}

// pidsOf waits for the launcher's "started the ROLE, pid N" lines and for each of
// more (lines of its children, which it relays in whatever order they come), and
// returns the children's pids by role.
func pidsOf(t *testing.T, p *ipctest.Proc, more ...string) map[string]int {
	t.Helper()
	want := append([]string{"started the consumer, pid", "started the producer, pid"}, more...)
	lines := p.ExpectAll(t, 10*time.Second, want...)
	pids := map[string]int{}
	for i, role := range []string{"consumer", "producer"} {
		pid, err := strconv.Atoi(lines[i][strings.LastIndexByte(lines[i], ' ')+1:])
		require.NoError(t, err, lines[i])
		pids[role] = pid
	}
	return pids
}

// longStream is the argument list of a stream that would take minutes: the tests
// stop it long before.
func longStream(transport, key string) []string {
	return []string{"-transport", transport, "-key", key, "-messages", "2000000000", "-size", "64", "-slots", "4", "-wait", "2s"}
}

// midStream is what the children print once the stream runs, and startUp what
// they print once their signal handlers are installed, before they meet.
var (
	midStream = []string{"consumer| == 3. Receive", "producer| == 3. Send"}
	startUp   = []string{"consumer| == 1. ", "producer| == 1. "}
)

// lineOf is what role prints itself (without the launcher's prefix) among lines.
func lineOf(role string, lines []string) string {
	for _, l := range lines {
		if r, text, _ := strings.Cut(l, "| "); strings.TrimSpace(r) == role {
			return text
		}
	}
	return ""
}

// A signal to the launcher alone, to one of its children, or to the whole process
// group (Ctrl-C in the terminal), on either transport.
func TestSignalsStopEverything(t *testing.T) {
	t.Parallel()
	for _, tr := range transportNames() {
		for _, target := range []string{"launcher", "group", "producer", "consumer"} {
			// SIGHUP: the terminal closed.
			for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
				t.Run(fmt.Sprintf("%s/%v to the %s", tr, sig, target), func(t *testing.T) {
					t.Parallel()
					ipctest.NeedSignal(t, sig)
					signalLauncher(t, tr, target, sig, 20*time.Millisecond, midStream...)
				})
			}
		}
	}
}

// signalLauncher starts the launcher, waits for the lines after, waits delay, sends
// sig to target (the launcher, its process group, or one child), and checks how
// every process ended.
func signalLauncher(t *testing.T, transport, target string, sig syscall.Signal, delay time.Duration, after ...string) {
	_, key := testKey(t)
	p := ipctest.StartProgramInGroup(t, longStream(transport, key)...)
	pids := pidsOf(t, p, after...)
	time.Sleep(delay)
	switch target {
	case "group":
		p.SignalGroup(t, sig)
	case "launcher":
		p.Signal(t, sig)
	default:
		require.NoError(t, syscall.Kill(pids[target], sig))
	}
	start := time.Now()
	r := p.Wait(t)
	assert.Less(t, time.Since(start), 4*time.Second, "everything ends soon after the signal")
	for role, pid := range pids {
		assert.Equal(t, unix.ESRCH, syscall.Kill(pid, 0), "the %s (pid %d) has exited", role, pid)
	}
	// The children's own signal lines ("06-sync: interrupt: cleaning up and
	// exiting") are not relayed: the launcher's one line says it.
	switch target {
	case "group", "launcher":
		// On Ctrl-C each child gets the same signal; the launcher's SIGTERM to
		// both comes after it (or alone, when the launcher alone is signalled).
		assert.Equal(t, exitFor(sig), r.ExitCode)
		assert.Equal(t, cleaningUp(sig)+"\n", r.Stderr, "the launcher's one line and nothing else")
	default:
		// The launcher names the child that was stopped and stops the other,
		// which waits for that if it has seen its peer vanish.
		assert.Equal(t, 1, r.ExitCode)
		assertStderr(t, r.Stderr,
			launcherVerdict(pids, target, fmt.Sprintf(`was stopped by %s \(exit status %d\)`, sigName(sig), exitFor(sig))))
	}
}

// signalPair starts a consumer and a producer as two terminals would, waits until
// the target has printed after (its first step: its handler is installed; or its
// step that streams) and then delay, sends it sig, and checks how both ended.
func signalPair(t *testing.T, transport, target string, sig syscall.Signal, after string, delay time.Duration) {
	_, key := testKey(t)
	procs := startPair(t, transport, key)
	peer := peerOf(target)
	procs[target].Expect(t, after, 10*time.Second)
	time.Sleep(delay)
	procs[target].Signal(t, sig)
	r := procs[target].Wait(t)
	assert.Equal(t, exitFor(sig), r.ExitCode, "the %s", target)
	assert.Equal(t, cleaningUp(sig)+"\n", r.Stderr, "the %s: one line and nothing else", target)
	// The peer notices, whatever stage it had reached: the target gone, or its
	// segment gone before it claimed its role, or (if it had not yet made itself
	// known) nobody coming within -wait.
	rp := procs[peer].Wait(t)
	assert.Equal(t, 1, rp.ExitCode, "the %s; stderr: %s", peer, rp.Stderr)
	assertStderr(t, rp.Stderr, fmt.Sprintf(`(%s|06-sync: .*(came within 2s|before it claimed the %s role).*)`, gone(target, procs[target].Pid()), target))
}

// TestSignalsAtRandomMoments sends -signals signals (50 by default) at random
// moments of a run to a random target: one side of a two-terminal pair, the
// launcher, one of its children, or its whole process group (where one signal
// reaches three processes; it counts as one here). Half of them land during
// start-up (0 to 60 ms after the first step, while the two meet), half while the
// stream runs (0 to 60 ms after the step that streams). A cleanup that took the
// memory away from the goroutine streaming through it (shmdt on a signal) crashes
// a process with "unexpected fault address" at a few of the mid-stream signals:
// the default run catches it nearly always (README.md, "Ctrl-C in the middle of the
// stream").
func TestSignalsAtRandomMoments(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for i := 0; i < *stressSignals; i++ {
		tr := transportNames()[rng.IntN(2)]
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[rng.IntN(2)]
		phase, after := "start-up", startUp
		if rng.IntN(2) == 1 {
			phase, after = "mid-stream", midStream
		}
		delay := time.Duration(rng.IntN(60)) * time.Millisecond
		kind := []string{"pair", "launcher"}[rng.IntN(2)]
		target := []string{"consumer", "producer"}[rng.IntN(2)]
		if kind == "launcher" {
			target = []string{"launcher", "group", "consumer", "producer"}[rng.IntN(4)]
		}
		t.Run(fmt.Sprintf("%d %s %s %v to the %s %s+%v", i, kind, tr, sig, target, phase, delay), func(t *testing.T) {
			t.Parallel()
			if kind == "pair" {
				signalPair(t, tr, target, sig, lineOf(target, after), delay)
			} else {
				signalLauncher(t, tr, target, sig, delay, after...)
			}
		})
	}
}

// TestSignalCleanupsLeaveTheSegmentAttached: the cleanups that run on a signal,
// the creator's and the opener's, remove the set and mark the segment for removal,
// but leave both attachments to the exit: the stream may be reading the segment
// when the signal is handled, and a shmdt under it is a fatal fault (README.md,
// "Ctrl-C in the middle of the stream"). TestSignalsAtRandomMoments catches such a
// fault at a few signals in a hundred; this catches the detach itself, every time.
func TestSignalCleanupsLeaveTheSegmentAttached(t *testing.T) {
	t.Parallel()
	for _, name := range transportNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key, _ := testKey(t)
			tr, _ := transportNamed(name)
			creator, opener := &quiet{}, &quiet{}
			t.Cleanup(creator.run)
			t.Cleanup(opener.run)
			ep, err := createObjects(creator, key, tr, ringConfig{Slots: 2, SlotSize: 64})
			require.NoError(t, err)
			require.NoError(t, ep.hdr.Claim(header.Producer))
			op, err := openObjects(opener, key, tr, time.Now().Add(10*time.Second))
			require.NoError(t, err)
			require.NoError(t, op.awaitPeer(opener, header.Consumer, 0, 10*time.Second))

			creator.signal()
			opener.signal()
			var d unix.SysvShmDesc
			_, err = unix.SysvShmCtl(ep.shmid, unix.IPC_STAT, &d)
			require.NoError(t, err, "segment %d is gone: a cleanup that runs on a signal detached it", ep.shmid)
			assert.EqualValues(t, 2, d.Nattch, "both attachments stay until the exit")
			assert.NotZero(t, d.Perm.Mode&shmDest, "the segment is marked for removal")
			_, err = ep.set.Stat()
			assert.ErrorIs(t, err, unix.EINVAL, "the set is removed")

			creator.run()
			opener.run()
			_, err = unix.SysvShmCtl(ep.shmid, unix.IPC_STAT, &d)
			assert.ErrorIs(t, err, unix.EINVAL, "detached on return, the segment goes")
		})
	}
}

// TestLateSignalStillWins: a side whose peer's cleanup removed the objects under it
// does not report the peer gone while a signal of its own may still be coming: it
// waits for the signal and ends for it. Here the signal comes late on purpose, as
// on a busy machine: the launcher is held up (SIGSTOP) while one child is stopped
// and its cleanup runs, so its SIGTERM to the other comes only when it resumes;
// or, in two terminals, the second side's signal comes 150 ms after the first
// side has exited, past SignalGrace.
func TestLateSignalStillWins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode, transport, victim string
	}{
		{"launcher held up", "semring", "consumer"},
		{"launcher held up", "fast", "producer"},
		{"two terminals", "semring", "producer"},
		{"two terminals", "fast", "consumer"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s stopped first", tt.mode, tt.transport, tt.victim), func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			survivor := peerOf(tt.victim)
			if tt.mode == "two terminals" {
				procs := startPair(t, tt.transport, key)
				procs["consumer"].Expect(t, "== 3. Receive", 10*time.Second)
				procs["producer"].Expect(t, "== 3. Send", 10*time.Second)
				procs[tt.victim].Signal(t, syscall.SIGINT)
				r := procs[tt.victim].Wait(t)
				assert.Equal(t, cleaningUp(syscall.SIGINT)+"\n", r.Stderr, "the %s", tt.victim)
				time.Sleep(150 * time.Millisecond)
				procs[survivor].Signal(t, syscall.SIGINT)
				r = procs[survivor].Wait(t)
				assert.Equal(t, exitFor(syscall.SIGINT), r.ExitCode, "the %s", survivor)
				assert.Equal(t, cleaningUp(syscall.SIGINT)+"\n", r.Stderr, "the %s: its signal, not its peer's end", survivor)
				return
			}
			p := ipctest.StartProgram(t, longStream(tt.transport, key)...)
			pids := pidsOf(t, p, midStream...)
			p.Signal(t, syscall.SIGSTOP)
			require.NoError(t, syscall.Kill(pids[tt.victim], syscall.SIGINT))
			assert.Eventually(t, func() bool { return !keyInUse(key) }, 5*time.Second, time.Millisecond,
				"the %s's cleanup removes the objects", tt.victim)
			time.Sleep(300 * time.Millisecond) // the survivor has seen the set go, long ago
			p.Signal(t, syscall.SIGCONT)
			r := p.Wait(t)
			assert.Equal(t, 1, r.ExitCode)
			assertStderr(t, r.Stderr,
				launcherVerdict(pids, tt.victim, `was stopped by SIGINT \(exit status 130\)`))
		})
	}
}

// SIGKILL runs no cleanup: the launcher must see the child die, name it, and stop
// the other at once.
func TestKill9OfAChild(t *testing.T) {
	t.Parallel()
	for _, tr := range transportNames() {
		for _, victim := range []string{"producer", "consumer"} {
			t.Run(tr+"/"+victim, func(t *testing.T) {
				t.Parallel()
				_, key := testKey(t)
				p := ipctest.StartProgram(t, longStream(tr, key)...)
				pids := pidsOf(t, p, midStream...)
				time.Sleep(20 * time.Millisecond)
				require.NoError(t, syscall.Kill(pids[victim], syscall.SIGKILL))
				killed := time.Now()
				r := p.Wait(t)
				assert.Less(t, time.Since(killed), 2*time.Second, "the launcher ends within 2 s")
				assert.Equal(t, 1, r.ExitCode)
				assertStderr(t, r.Stderr,
					launcherVerdict(pids, victim, `was killed by signal 9 \(killed\)`))
				assert.Equal(t, unix.ESRCH, syscall.Kill(pids[peerOf(victim)], 0), "the %s is stopped", peerOf(victim))
			})
		}
	}
}

// kill -9 of the launcher runs none of its cleanups, but its children get SIGTERM
// from the kernel (their parent-death signal) and clean up: both end within 2 s
// and nothing is left under the key. (They used to run on to the end of the stream.)
func TestKill9OfTheLauncher(t *testing.T) {
	t.Parallel()
	for _, tr := range transportNames() {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			p := ipctest.StartProgram(t, longStream(tr, key)...)
			pids := pidsOf(t, p, midStream...)
			time.Sleep(20 * time.Millisecond)
			p.Signal(t, syscall.SIGKILL)
			killed := time.Now()
			r := p.Wait(t)
			require.Equal(t, syscall.SIGKILL, r.Signal, "stderr: %s", r.Stderr)
			for role, pid := range pids {
				assert.Eventually(t, func() bool { return !ipctest.Alive(pid) }, 2*time.Second, time.Millisecond,
					"the %s (pid %d) ends within 2 s of its launcher's death", role, pid)
			}
			t.Logf("both children ended %v after the launcher's death", time.Since(killed))
		})
	}
}

// In two terminals nobody stops the survivor: it must notice the death itself,
// within 2 s, and say which peer died.
func TestKill9InTwoTerminals(t *testing.T) {
	t.Parallel()
	for _, tr := range transportNames() {
		for _, victim := range []string{"producer", "consumer"} {
			t.Run(tr+"/"+victim, func(t *testing.T) {
				t.Parallel()
				_, key := testKey(t)
				survivor := peerOf(victim)
				procs := startPair(t, tr, key)
				procs["consumer"].Expect(t, "== 3. Receive", 10*time.Second)
				procs["producer"].Expect(t, "== 3. Send", 10*time.Second)
				time.Sleep(20 * time.Millisecond)
				procs[victim].Signal(t, syscall.SIGKILL)
				killed := time.Now()
				r := procs[survivor].Wait(t)
				noticed := time.Since(killed)
				assert.Less(t, noticed, 2*time.Second, "the survivor notices within 2 s")
				assert.Equal(t, 1, r.ExitCode)
				assertStderr(t, r.Stderr, gone(victim, procs[victim].Pid()))
				t.Logf("the %s noticed the %s's death after %v", survivor, victim, noticed)
			})
		}
	}
}
