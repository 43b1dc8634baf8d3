//go:build linux

package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// buildC compiles c/NAME.c with gcc, or skips the test where there is no gcc.
func buildC(t *testing.T, name string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: skipping the C peer test (install gcc to run it: apt-get install gcc)")
	}
	out := filepath.Join(t.TempDir(), name)
	msg, err := exec.Command(gcc, "-O2", "-Wall", "-Werror", "-o", out, filepath.Join("c", name+".c")).CombinedOutput()
	require.NoError(t, err, "gcc %s.c:\n%s", name, msg)
	return out
}

// The README's layout is enough for C: a C producer feeds the Go consumer and the
// Go producer feeds a C consumer, through the same segment and semaphores. The Go
// side starts first and creates the objects; the C programs open them.
func TestCPeers(t *testing.T) {
	producer, consumer := buildC(t, "producer"), buildC(t, "consumer")
	tests := []struct {
		name   string
		goRole string
		size   string
		mixed  string
	}{
		{"C producer to Go consumer", "consumer", "1000", "0"},
		{"C producer to Go consumer, mixed sizes over small slots", "consumer", "300", "1"},
		{"Go producer to C consumer", "producer", "1000", "0"},
		{"Go producer to C consumer, mixed sizes over small slots", "producer", "300", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			args := []string{tt.goRole, "-key", key, "-messages", "3000", "-size", tt.size, "-wait", "20s"}
			if tt.mixed == "1" {
				args = append(args, "-mixed", "-slotsize", "64", "-slots", "3")
			}
			g := ipctest.StartProgram(t, args...)
			g.Expect(t, "waiting up to", 10*time.Second)
			var cmd *exec.Cmd
			if tt.goRole == "consumer" {
				cmd = exec.Command(producer, key, "3000", tt.size, tt.mixed)
			} else {
				cmd = exec.Command(consumer, key)
			}
			cout, cerr := cmd.CombinedOutput()
			r := g.Wait(t)
			require.NoError(t, cerr, "C side: %s\nGo side stderr: %s", cout, r.Stderr)
			require.Equal(t, 0, r.ExitCode, "Go side stderr: %s\nC side: %s", r.Stderr, cout)
			if tt.goRole == "consumer" {
				assertVerified(t, r.Stdout, 3000)
				assert.Contains(t, string(cout), "C producer: sent 3000 messages")
			} else {
				assert.Regexp(t, `C consumer: 3000 messages, \d+ bytes, crc32 0x[0-9a-f]{8} verified`, string(cout))
			}
		})
	}
}
