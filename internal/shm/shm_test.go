//go:build linux

package shm

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

func TestMain(m *testing.M) {
	ipctest.Alongside() // private segments only
	ipctest.Main(m, nil)
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true},
		{"32769", 32769, true},
		{"2147483647", 2147483647, true},
		{"2147483648", 0, false}, // does not fit a C int
		{"4294967301", 0, false}, // 2^32+5: would be segment 5, truncated
		{"-1", 0, false},
		{"0x10", 0, false},
		{"", 0, false},
		{" 5", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseID(tt.in)
			if !tt.ok {
				var usage *lesson.UsageError
				require.True(t, errors.As(err, &usage), "a bad id is a usage error: %v", err)
				assert.Contains(t, err.Error(), "is not a segment id")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRemoveIfThere(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	require.NoError(t, RemoveIfThere(id), "removes a segment")
	assert.ErrorIs(t, Remove(id), unix.EINVAL, "it is gone")
	assert.NoError(t, RemoveIfThere(id), "gone already is no error")
}

func TestAddr(t *testing.T) {
	b := make([]byte, 8)
	assert.Equal(t, Addr(b)+3, Addr(b[3:]))
	assert.Zero(t, Addr(nil))
}

// Create makes the segment and registers its removal: it is there while the program
// runs and gone when the program ends, on an error too; a segment the program removed
// itself is no error for the cleanup.
func TestCreateRemovesTheSegmentWhenTheProgramEnds(t *testing.T) {
	for _, c := range []struct {
		name       string
		removeNow  bool
		fail       bool
		wantStatus int
	}{
		{"success", false, false, lesson.ExitOK},
		{"failure", false, true, lesson.ExitFailed},
		{"removed by the program first", true, false, lesson.ExitOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := -1
			program := func(l *lesson.Lesson, args []string) error {
				var err error
				id, err = Create(l, unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
				if err != nil {
					return err
				}
				if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &unix.SysvShmDesc{}); err != nil {
					return err
				}
				if c.removeNow {
					if err := Remove(id); err != nil {
						return err
					}
				}
				if c.fail {
					return errors.New("a step failed")
				}
				return nil
			}
			var stderr strings.Builder
			status := lesson.Run("create-test", "", program, nil, strings.NewReader(""), io.Discard, &stderr)
			assert.Equal(t, c.wantStatus, status, "stderr: %q", stderr.String())
			require.GreaterOrEqual(t, id, 0, "Create made a segment")
			_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &unix.SysvShmDesc{})
			assert.ErrorIs(t, err, unix.EINVAL, "the segment is gone")
			assert.NotContains(t, stderr.String(), "cleanup", "no cleanup failed")
		})
	}
}
