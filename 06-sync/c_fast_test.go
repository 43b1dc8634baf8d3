//go:build linux

package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// TestCPeersFast: the fast ring's documented layout and wake-up protocol (package
// fastring) are enough for C too. C programs built from c/fast_producer.c and
// c/fast_consumer.c exchange the stream with the Go program run with -transport fast.
func TestCPeersFast(t *testing.T) {
	producer, consumer := buildC(t, "fast_producer"), buildC(t, "fast_consumer")
	tests := []struct {
		name   string
		goRole string
		size   string
		mixed  string
		ring   []string
	}{
		{"C producer to Go consumer", "consumer", "1000", "0", nil},
		{"C producer to Go consumer, messages larger than a 128-byte ring", "consumer", "300", "1", []string{"-slots", "2", "-slotsize", "64"}},
		{"Go producer to C consumer", "producer", "1000", "0", nil},
		{"Go producer to C consumer, messages larger than a 128-byte ring", "producer", "300", "1", []string{"-slots", "2", "-slotsize", "64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, key := testKey(t)
			args := append([]string{tt.goRole, "-transport", "fast", "-key", key, "-messages", "3000", "-size", tt.size, "-wait", "20s"}, tt.ring...)
			if tt.mixed == "1" {
				args = append(args, "-mixed")
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
