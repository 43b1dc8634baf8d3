//go:build linux

package lesson

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MkdirTemp's directory exists while the program runs and is gone, with what is in
// it, when the program ends.
func TestMkdirTempIsRemovedWhenTheProgramEnds(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var dir string
	program := func(l *Lesson, args []string) error {
		var err error
		if dir, err = MkdirTemp(l, "keep-test-"); err != nil {
			return err
		}
		return os.WriteFile(dir+"/file", []byte("x"), 0o600)
	}
	var stderr strings.Builder
	status := Run("keep-test", "", program, nil, strings.NewReader(""), io.Discard, &stderr)
	require.Equal(t, ExitOK, status, "stderr: %q", stderr.String())
	require.NotEmpty(t, dir)
	assert.True(t, strings.HasPrefix(dir, os.Getenv("TMPDIR")+"/keep-test-"), dir)
	_, err := os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the directory is removed")
}
