//go:build linux

package collide

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) { ipctest.Main(m, nil) }

// realCollision finds two different files on this machine with the same key, the way
// FindCollision should: walking system directories in filepath.WalkDir order. It
// returns the first such pair and the directory walked. Big trees with inode numbers
// spread over more than 65536 values (/usr, /etc) usually have one within a few
// thousand files.
func realCollision(t *testing.T) (target, other, dir string) {
	t.Helper()
	const limit = 200000 // stop after this many files: a few seconds at most
	for _, root := range []string{"/usr", "/etc", "/var", "/opt"} {
		byKey := map[ftok.Key]string{}
		seen := 0
		errFound := errors.New("found")
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if seen++; seen > limit {
				return filepath.SkipAll
			}
			key, err := ftok.Ftok(path, 'A')
			if err != nil {
				return nil
			}
			if first, ok := byKey[key]; ok && !sameFile(t, first, path) {
				target, other = first, path
				return errFound
			}
			byKey[key] = path
			return nil
		})
		if errors.Is(err, errFound) {
			return target, other, root
		}
	}
	t.Skip("no two different files with the same key under /usr, /etc, /var or /opt on this machine: nothing to find")
	return "", "", ""
}

// isDir says ", and this one is a directory" when path is one.
func isDir(path string) string {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return ", and this one is a directory"
	}
	return ""
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}

func TestFindsARealCollision(t *testing.T) {
	target, other, dir := realCollision(t)
	t.Logf("%s and %s have the same key%s", target, other, isDir(other))

	// The inode and device bits collide, so every proj_id gives the two files the
	// same key: changing proj_id cannot separate them.
	for _, projID := range []int{'A', 1, 0xff} {
		t.Run(fmt.Sprintf("proj_id=%#x", projID), func(t *testing.T) {
			got, err := FindCollision(target, dir, projID)
			require.NoError(t, err, "FindCollision(%q, %q, %#x): %s is a real collision under %s", target, dir, projID, other, dir)
			want, err := ftok.Ftok(target, projID)
			require.NoError(t, err)
			key, err := ftok.Ftok(got, projID)
			require.NoError(t, err, "FindCollision returned %q, which ftok cannot even stat", got)
			assert.Equal(t, want, key, "FindCollision returned %q, whose key is not the target's key: compare ftok's keys (which follow symbolic links)", got)
			assert.False(t, sameFile(t, target, got), "FindCollision returned %q, which is the target itself (or a link to it): that is one file, not a collision", got)
			assert.Equal(t, other, got, "FindCollision must return the first entry in filepath.WalkDir's order that collides, directories included (a directory has an inode, so ftok gives it a key too)%s", isDir(other))
		})
	}
}

func TestSameFileIsNotACollision(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, target string)
		why   string
	}{
		{"only the target", func(t *testing.T, dir, target string) {}, "the target must not collide with itself"},
		{"a hard link", func(t *testing.T, dir, target string) {
			require.NoError(t, os.Link(target, filepath.Join(dir, "hardlink")))
		}, "a hard link is the same inode: the same key because it is the same file"},
		{"a symbolic link", func(t *testing.T, dir, target string) {
			require.NoError(t, os.Symlink(target, filepath.Join(dir, "symlink")))
		}, "ftok follows symbolic links, so a symlink gives the target's key: still the same file"},
		{"a dangling symlink and other files", func(t *testing.T, dir, target string) {
			require.NoError(t, os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling")))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "other"), nil, 0o644))
		}, "a file ftok cannot stat has no key: skip it, do not fail the whole search; other files in a small directory have other inode numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "target")
			require.NoError(t, os.WriteFile(target, nil, 0o644))
			tt.setup(t, dir, target)

			got, err := FindCollision(target, dir, 'A')
			require.False(t, err == nil, "FindCollision returned %q and no error, but %s", got, tt.why)
			assert.ErrorIs(t, err, ErrNoCollision, "want ErrNoCollision, because %s", tt.why)
		})
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, nil, 0o644))

	_, err := FindCollision(filepath.Join(dir, "missing"), dir, 'A')
	assert.ErrorIs(t, err, fs.ErrNotExist, "a target that does not exist has no key: return ftok's (stat's) error")

	_, err = FindCollision(target, dir, 0)
	assert.ErrorIs(t, err, ftok.ErrZeroProjID, "proj_id 0 is refused by ftok: return its error")

	_, err = FindCollision(target, filepath.Join(dir, "nodir"), 'A')
	require.Error(t, err, "a directory that does not exist cannot be searched")
	assert.NotErrorIs(t, err, ErrNoCollision, "a missing directory is an error, not a search that found nothing")
}
