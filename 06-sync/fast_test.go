//go:build linux

package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// A producer and a consumer started with different transports must not meet: the
// second is refused in one line, and the first goes on waiting.
func TestFastAndSemringDoNotMix(t *testing.T) {
	t.Parallel()
	_, key := testKey(t)
	c := ipctest.StartProgram(t, "consumer", "-transport", "fast", "-key", key, "-wait", "20s")
	c.Expect(t, "waiting up to", 10*time.Second)
	r := ipctest.RunProgram(t, "producer", "-transport", "semring", "-key", key, "-wait", "2s")
	ipctest.AssertOneLineError(t, r, 1, "uses the fast transport, not semring")
	c.Signal(t, syscall.SIGTERM)
	rc := c.Wait(t)
	assert.Equal(t, 143, rc.ExitCode)
	assert.Equal(t, "06-sync: terminated: cleaning up and exiting\n", rc.Stderr)
}
