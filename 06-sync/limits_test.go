//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func init() {
	ipctest.Helper("program-with-sem-limits", helperProgramWithSemLimits)
}

// TestMaximumSlots: -slots 32767, the documented maximum (SEMVMX, the most EMPTY
// can count), works on both transports. It failed with ERANGE from the set's
// start-up semop (+1 on a semaphore already at 32767).
func TestMaximumSlots(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"semring", "fast"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			r := ipctest.RunProgram(t, "-transport", transport, "-key", key, "-slots", "32767", "-slotsize", "8", "-messages", "2000", "-size", "64")
			require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
			assertVerified(t, r.Stdout, 2000)
			assert.Empty(t, r.Stderr)
		})
	}
}

// helperProgramWithSemLimits runs in a private IPC namespace: it sets kernel.sem
// there to args[0], creates args[1] one-semaphore sets, then runs the program with
// the remaining arguments.
func helperProgramWithSemLimits(args []string) int {
	if err := os.WriteFile("/proc/sys/kernel/sem", []byte(args[0]), 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sets, _ := strconv.Atoi(args[1])
	for i := 0; i < sets; i++ {
		if _, err := sem.Create(ftok.Private, 0o600, 1); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return lesson.Entry(name, usage, run)(args[2:])
}

// TestSemaphoreLimitsNamed: where the system's semaphore limits stop the program,
// its one-line error names the call that failed and the limit that was reached,
// with its numbers. The limits are lowered in a private IPC namespace (the
// machine's stay as they are); the test is skipped where one cannot be made.
func TestSemaphoreLimitsNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		limits     string // SEMMSL SEMMNS SEMOPM SEMMNI
		setsBefore int
		want       string // after "06-sync: semget(KEY, 2, IPC_CREAT|IPC_EXCL|0600): "
	}{
		{"SEMMSL", "1 32000 500 32000", 0,
			"EINVAL (invalid argument): nsems 2 is above SEMMSL, the most semaphores a set may have (1: the 1st field of /proc/sys/kernel/sem)"},
		{"SEMMNS", "250 3 500 32000", 2,
			"ENOSPC (no space left on device): SEMMNS reached: 2 semaphores exist in all sets, and 2 more would pass the limit of 3 (the 2nd field of /proc/sys/kernel/sem)"},
		{"SEMMNI", "250 32000 500 1", 1,
			"ENOSPC (no space left on device): SEMMNI reached: 1 set exists, the most the system allows (the 4th field of /proc/sys/kernel/sem)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each in an IPC namespace of its own
			key := ftok.Key(0x06005e11)
			r := ipctest.StartHelperInIPCNamespace(t, "program-with-sem-limits", tt.limits, strconv.Itoa(tt.setsBefore),
				"consumer", "-key", key.String(), "-wait", "1s").Wait(t)
			assert.Equal(t, 1, r.ExitCode)
			assert.Equal(t, fmt.Sprintf("06-sync: semget(%v, 2, IPC_CREAT|IPC_EXCL|0600): %s\n", key, tt.want), r.Stderr)
		})
	}
}
