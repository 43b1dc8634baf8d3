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

// cExchange is one Go/C pairing: the Go program runs goArgs in the role goRole and
// starts first (it creates the objects); the C program built from cProgram opens them.
type cExchange struct {
	name     string
	goRole   string   // "consumer": a C producer feeds it; "producer": it feeds a C consumer
	cProgram string   // c/NAME.c
	size     string   // message size (the largest, with mixed sizes)
	mixed    string   // "1" for mixed sizes
	goArgs   []string // transport and ring shape
}

// TestCPeers: each ring's documented layout (06-sync/README.md for semring, package
// fastring for fast) is enough for C. A C producer feeds the Go consumer and the Go
// producer feeds a C consumer, through the same segment and semaphores.
func TestCPeers(t *testing.T) {
	small := []string{"-mixed", "-slotsize", "64", "-slots", "3"}
	tinyFast := []string{"-transport", "fast", "-mixed", "-slots", "2", "-slotsize", "64"}
	tests := []cExchange{
		{"semring: C producer to Go consumer", "consumer", "producer", "1000", "0", nil},
		{"semring: C producer to Go consumer, mixed sizes over small slots", "consumer", "producer", "300", "1", small},
		{"semring: Go producer to C consumer", "producer", "consumer", "1000", "0", nil},
		{"semring: Go producer to C consumer, mixed sizes over small slots", "producer", "consumer", "300", "1", small},
		{"fast: C producer to Go consumer", "consumer", "fast_producer", "1000", "0", []string{"-transport", "fast"}},
		{"fast: C producer to Go consumer, messages larger than a 128-byte ring", "consumer", "fast_producer", "300", "1", tinyFast},
		{"fast: Go producer to C consumer", "producer", "fast_consumer", "1000", "0", []string{"-transport", "fast"}},
		{"fast: Go producer to C consumer, messages larger than a 128-byte ring", "producer", "fast_consumer", "300", "1", tinyFast},
	}
	built := map[string]string{} // built once, in this test's temporary directory
	for _, tt := range tests {
		if built[tt.cProgram] == "" {
			built[tt.cProgram] = buildC(t, tt.cProgram)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { exchangeWithC(t, tt, built[tt.cProgram]) })
	}
}

// exchangeWithC runs one pairing of 3000 messages and checks that the receiving
// side, Go or C, verified count and checksum.
func exchangeWithC(t *testing.T, tt cExchange, cBinary string) {
	ipctest.NoLeaks(t)
	_, key := testKey(t)
	args := append([]string{tt.goRole, "-key", key, "-messages", "3000", "-size", tt.size, "-wait", "20s"}, tt.goArgs...)
	g := ipctest.StartProgram(t, args...)
	g.Expect(t, "waiting up to", 10*time.Second)
	var cmd *exec.Cmd
	if tt.goRole == "consumer" {
		cmd = exec.Command(cBinary, key, "3000", tt.size, tt.mixed)
	} else {
		cmd = exec.Command(cBinary, key)
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
}
