//go:build linux

package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// The fast transport (issue 5) under the same tests as the textbook one, through
// the program: -transport fast.

func TestFastRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		n    int
	}{
		{"fixed size", []string{"-messages", "20000", "-size", "100"}, 20000},
		{"mixed sizes in a 256-byte ring", []string{"-messages", "3000", "-size", "700", "-mixed", "-slotsize", "64", "-slots", "3"}, 3000},
		{"messages larger than the ring", []string{"-messages", "20", "-size", "100000", "-slots", "2", "-slotsize", "4096"}, 20},
		{"no messages", []string{"-messages", "0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			r := ipctest.RunProgram(t, append([]string{"-transport", "fast", "-key", key}, tt.args...)...)
			require.Equal(t, 0, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
			assertVerified(t, r.Stdout, tt.n)
			assert.Contains(t, r.Stdout, "both processes finished successfully")
		})
	}
}

func TestFastTwoTerminalsEitherOrder(t *testing.T) {
	for _, first := range []string{"consumer", "producer"} {
		t.Run(first+" first", func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			second := map[string]string{"consumer": "producer", "producer": "consumer"}[first]
			args := []string{"-transport", "fast", "-key", key, "-messages", "5000", "-wait", "20s"}
			p1 := ipctest.StartProgram(t, append([]string{first}, args...)...)
			p1.Expect(t, "waiting up to 20s for the "+second, 10*time.Second)
			p2 := ipctest.StartProgram(t, append([]string{second}, args...)...)
			r1, r2 := p1.Wait(t), p2.Wait(t)
			require.Equal(t, 0, r1.ExitCode, "%s stderr: %s", first, r1.Stderr)
			require.Equal(t, 0, r2.ExitCode, "%s stderr: %s", second, r2.Stderr)
			assertVerified(t, map[string]ipctest.Result{first: r1, second: r2}["consumer"].Stdout, 5000)
		})
	}
}

// A producer and a consumer started with different transports must not meet.
func TestFastAndSemringDoNotMix(t *testing.T) {
	ipctest.NoLeaks(t)
	_, key := testKey(t)
	c := ipctest.StartProgram(t, "consumer", "-transport", "fast", "-key", key, "-wait", "20s")
	c.Expect(t, "waiting up to", 10*time.Second)
	r := ipctest.RunProgram(t, "producer", "-transport", "semring", "-key", key, "-wait", "2s")
	assert.Equal(t, 1, r.ExitCode)
	assert.Contains(t, r.Stderr, "uses the fast transport, not semring")
	c.Signal(t, syscall.SIGTERM)
	c.Wait(t)
}

// fastStream is a launcher run of the fast transport that would take minutes.
func fastStream(t *testing.T) (*ipctest.Proc, map[string]int) {
	_, key := testKey(t)
	p := ipctest.StartProgram(t, "-transport", "fast", "-key", key, "-messages", "2000000000", "-size", "64", "-slots", "4")
	pids := map[string]int{"consumer": pidOfRole(t, p, "consumer"), "producer": pidOfRole(t, p, "producer")}
	p.Expect(t, "Receive until the end-of-stream marker", 10*time.Second)
	time.Sleep(200 * time.Millisecond) // mid-stream
	return p, pids
}

func TestFastKill9OfEitherSide(t *testing.T) {
	for _, victim := range []string{"producer", "consumer"} {
		t.Run(victim, func(t *testing.T) {
			ipctest.NoLeaks(t)
			p, pids := fastStream(t)
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
			t.Logf("%s noticed the %s's death after %v", survivor, victim, noticed)
		})
	}
}

func TestFastSignalsStopEverything(t *testing.T) {
	tests := []struct {
		target string
		sig    syscall.Signal
	}{
		{"launcher", syscall.SIGINT},
		{"producer", syscall.SIGTERM},
		{"consumer", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v to the %s", tt.sig, tt.target), func(t *testing.T) {
			ipctest.NoLeaks(t)
			p, pids := fastStream(t)
			pids["launcher"] = p.Pid()
			require.NoError(t, syscall.Kill(pids[tt.target], tt.sig))
			select {
			case <-p.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10 s after %v to the %s", tt.sig, tt.target)
			}
			assert.NotEqual(t, 0, p.Wait(t).ExitCode)
			for role, pid := range pids {
				if role != "launcher" {
					assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the %s (pid %d) must have exited", role, pid)
				}
			}
		})
	}
}
