//go:build linux

package shm

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

func TestMain(m *testing.M) { ipctest.Main(m, nil) }

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
