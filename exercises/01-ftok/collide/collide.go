//go:build linux

// Package collide finds files whose System V IPC keys collide.
//
// ftok keeps only the low 16 bits of a file's inode number and the low 8 bits of
// its device number, so two different files can get the same key. Write
// FindCollision; README.md says what it must do.
package collide

import "errors"

// ErrNoCollision: no other file under the directory has the target's key.
var ErrNoCollision = errors.New("no other file in the tree has the same key")

// FindCollision walks the tree under dir and returns the path of the first entry (in
// filepath.WalkDir's order; directories count too) whose key ftok(path, projID)
// equals ftok(target, projID) but which is not the same file as target. A hard link or a symbolic link to target
// is the same file: same inode, so the same key, but no collision. Entries that cannot
// be stat'ed are skipped. It returns ErrNoCollision when there is none, and the error
// of ftok for target (a missing file, proj_id 0) as it is.
func FindCollision(target, dir string, projID int) (string, error) {
	return "", errors.New("TODO: implement FindCollision (read README.md, then HINTS.md)")
}
