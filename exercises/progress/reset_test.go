package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReset(t *testing.T) {
	tests := []struct {
		name     string
		answer   string
		yes      bool
		restored bool
		out      string
	}{
		{"no answer", "", false, false, "Nothing changed."},
		{"n", "n\n", false, false, "Nothing changed."},
		{"anything else", "sure\n", false, false, "Nothing changed."},
		{"y", "y\n", false, true, "Put back the shipped stub of 01-x/first."},
		{"YES", "YES\n", false, true, "Put back the shipped stub of 01-x/first."},
		{"-y", "", true, true, "Put back the shipped stub of 01-x/first."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			list := smallCourse(t, root)
			shipped, err := ReadShipped(os.DirFS(filepath.Join(root, ShippedDir)))
			require.NoError(t, err)
			stub := filepath.Join(root, "01-x", "first", "first.go")
			require.NoError(t, os.WriteFile(stub, []byte(solutionOf("first")), 0o644))

			var out bytes.Buffer
			require.NoError(t, Reset(root, list[0], shipped, tt.yes, strings.NewReader(tt.answer), &out))
			assert.Contains(t, out.String(), tt.out)
			if !tt.yes {
				assert.True(t, strings.HasPrefix(out.String(), "Put back the stub of 01-x/first as shipped? Your version of first.go (edited) will be lost. [y/N] "),
					"it asks first: %q", out.String())
			} else {
				assert.NotContains(t, out.String(), "[y/N]", "-y does not ask")
			}
			got, err := os.ReadFile(stub)
			require.NoError(t, err)
			if tt.restored {
				assert.Equal(t, stubOf("first"), string(got), "the stub as shipped is back")
			} else {
				assert.Equal(t, solutionOf("first"), string(got), "the learner's file is untouched")
			}
		})
	}
}

func TestResetCases(t *testing.T) {
	root := t.TempDir()
	list := smallCourse(t, root)
	shipped, err := ReadShipped(os.DirFS(filepath.Join(root, ShippedDir)))
	require.NoError(t, err)
	dir := filepath.Join(root, "01-x", "second")

	var out bytes.Buffer
	require.NoError(t, Reset(root, list[1], shipped, false, strings.NewReader(""), &out))
	assert.Equal(t, "The stub of 01-x/second is as shipped: nothing to reset.\n", out.String(), "nothing to ask when nothing changed")

	require.NoError(t, os.Remove(filepath.Join(dir, "second.go")))
	writeTree(t, root, map[string]string{"01-x/second/mine.go": "package second\n", "01-x/second/second_test.go": "package second\n"})
	out.Reset()
	require.NoError(t, Reset(root, list[1], shipped, true, nil, &out))
	assert.Contains(t, out.String(), "Put back the shipped stub of 01-x/second.")
	assert.Contains(t, out.String(), "Left as they are: second_test.go (edited), mine.go (added).")
	got, err := os.ReadFile(filepath.Join(dir, "second.go"))
	require.NoError(t, err, "a deleted stub comes back")
	assert.Equal(t, stubOf("second"), string(got))
	assert.FileExists(t, filepath.Join(dir, "mine.go"), "reset never deletes the learner's files")

	err = Reset(root, Exercise{"01-x", "third"}, shipped, true, nil, &out)
	assert.ErrorContains(t, err, "01-x/third is not among the shipped exercises")
}
