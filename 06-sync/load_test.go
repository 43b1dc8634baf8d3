//go:build linux

package main

import (
	"flag"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

var long = flag.Bool("long", false, "run the full load test: 1,000,000 messages (about 10 s)")

// TestLoad moves many messages of mixed sizes (8 to 512 bytes) through a ring of
// 64-byte slots, so that most messages span several slots, and checks order and
// checksum. Short by default; -long moves 1,000,000 messages.
func TestLoad(t *testing.T) {
	t.Parallel()
	n := 100000
	if *long {
		n = 1000000
	}
	_, key := testKey(t)
	r := ipctest.RunProgram(t, "-key", key, "-messages", strconv.Itoa(n), "-size", "512", "-mixed", "-slots", "16", "-slotsize", "256")
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assertVerified(t, r.Stdout, n)
}
