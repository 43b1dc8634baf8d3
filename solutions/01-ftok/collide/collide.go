//go:build linux

// Package collide finds files whose System V IPC keys collide.
//
// ftok keeps only the low 16 bits of a file's inode number and the low 8 bits of
// its device number, so two different files can get the same key.
//
// This is the reference solution of exercises/01-ftok/collide.
package collide

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// ErrNoCollision: no other file under the directory has the target's key.
var ErrNoCollision = errors.New("no other file in the tree has the same key")

// FindCollision walks the tree under dir and returns the path of the first entry (in
// filepath.WalkDir's order; directories count too) whose key ftok(path, projID)
// equals ftok(target, projID) but which is not the same file as target. A hard link or a symbolic link to target
// is the same file: same inode, so the same key, but no collision. Entries that cannot
// be stat'ed are skipped. It returns ErrNoCollision when there is none, and the error
// of ftok for target (a missing file, proj_id 0) as it is.
func FindCollision(target, dir string, projID int) (string, error) {
	want, err := ftok.Ftok(target, projID)
	if err != nil {
		return "", err
	}
	targetInfo, err := os.Stat(target)
	if err != nil {
		return "", err
	}

	var found string
	errFound := errors.New("found") // stops the walk at the first collision
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err // the directory itself cannot be read: the search failed
			}
			return nil // an unreadable subdirectory: skip it
		}
		key, err := ftok.Ftok(path, projID)
		if err != nil || key != want {
			return nil // no key (a dangling symlink, say) or another key
		}
		// Same key. One file under another name (a hard link, a symlink) has the
		// same inode and device: os.SameFile compares exactly those.
		info, err := os.Stat(path)
		if err != nil || os.SameFile(info, targetInfo) {
			return nil
		}
		found = path
		return errFound
	})
	switch {
	case errors.Is(err, errFound):
		return found, nil
	case err != nil:
		return "", err
	}
	return "", ErrNoCollision
}
