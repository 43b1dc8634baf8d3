//go:build linux

package procsysv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestShmRmidForced(t *testing.T) {
	tests := []struct {
		content string // "" for no file at all
		want    bool
		wantErr string
	}{
		{"0\n", false, ""},
		{"1\n", true, ""},
		{"2\n", false, `holds "2", not 0 or 1`},
		{"", false, "no such file"},
	}
	old := ShmRmidForcedPath
	t.Cleanup(func() { ShmRmidForcedPath = old })
	for _, tt := range tests {
		t.Run(tt.content, func(t *testing.T) {
			ShmRmidForcedPath = filepath.Join(t.TempDir(), "shm_rmid_forced")
			if tt.content != "" {
				require.NoError(t, os.WriteFile(ShmRmidForcedPath, []byte(tt.content), 0o600))
			}
			got, err := ShmRmidForced()
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestShmRmidForcedOnThisMachine reads the real setting: 0 or 1, nothing else.
func TestShmRmidForcedOnThisMachine(t *testing.T) {
	_, err := ShmRmidForced()
	assert.NoError(t, err)
}

func TestDetachWouldDestroy(t *testing.T) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	old := ShmRmidForcedPath
	t.Cleanup(func() { ShmRmidForcedPath = old })
	setting := filepath.Join(t.TempDir(), "shm_rmid_forced")

	for _, tt := range []struct {
		forced, attached, want bool
	}{
		{false, false, false},
		{true, false, true},
		{true, true, false},
	} {
		require.NoError(t, os.WriteFile(setting, []byte(map[bool]string{false: "0", true: "1"}[tt.forced]), 0o600))
		ShmRmidForcedPath = setting
		var b []byte
		if tt.attached {
			b, err = unix.SysvShmAttach(id, 0, 0)
			require.NoError(t, err)
		}
		got, err := DetachWouldDestroy(id)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "forced %v, attached %v", tt.forced, tt.attached)
		if b != nil {
			require.NoError(t, unix.SysvShmDetach(b))
		}
	}
	ShmRmidForcedPath = filepath.Join(t.TempDir(), "missing")
	got, err := DetachWouldDestroy(id)
	assert.NoError(t, err)
	assert.False(t, got, "an unreadable setting counts as the default, 0")
}
