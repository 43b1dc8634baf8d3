//go:build linux

package lesson

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BuildC builds a C program, and a broken one gives gcc's message. (That gcc keeps
// its intermediate files in dir, through TMPDIR, is gcc's documented behaviour,
// which only a gcc killed mid-build would show.)
func TestBuildC(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	good, bad, exe := filepath.Join(dir, "good.c"), filepath.Join(dir, "bad.c"), filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, []byte("int main(void) { return 7; }\n"), 0o600))
	require.NoError(t, os.WriteFile(bad, []byte("int main(void) { return }\n"), 0o600))

	build := func(src, exe string) (out []byte, err error) {
		Run("demo", "", func(l *Lesson, args []string) error {
			out, err = BuildC(l, gcc, dir, src, exe)
			return nil
		}, nil, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
		return out, err
	}
	out, err := build(good, exe)
	require.NoError(t, err, "%s", out)
	err = exec.Command(exe).Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 7, ee.ExitCode(), "the program built is the one in good.c")

	out, err = build(bad, filepath.Join(dir, "bad"))
	assert.Error(t, err)
	assert.Contains(t, string(out), "error", "gcc's message comes back")
}
