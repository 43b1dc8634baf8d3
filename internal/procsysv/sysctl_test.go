//go:build linux

package procsysv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
