//go:build linux

package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// The fast transport (package fastring) under the same tests as the textbook one, through
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
