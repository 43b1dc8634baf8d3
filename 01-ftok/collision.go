//go:build linux

package main

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// collisionRoots are where the lesson looks for two files with the same key: large,
// old directory trees whose inode numbers are spread over far more than 65536.
var collisionRoots = []string{"/usr", "/etc", "/var", "/opt"}

// collisionLimit bounds that search, so it ends in about a second even where no
// collision exists.
const collisionLimit = 200000

// fileID is a file found by the collision search.
type fileID struct {
	path     string
	dev, ino uint64
}

// findCollision looks through roots breadth first (each directory's entries in
// lexical order, shallow paths before deep ones) and returns the first two
// different files (different inode or device) whose ftok keys are equal, looking
// at no more than limit entries. Symbolic links are skipped: ftok follows them, so
// they would only name a file the search meets anyway (or none).
func findCollision(roots []string, projID, limit int) (a, b fileID, seen int, found bool) {
	byKey := map[ftok.Key]fileID{}
	queue := append([]string(nil), roots...)
	for len(queue) > 0 && seen < limit {
		dir := queue[0]
		queue = queue[1:]
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // unreadable: skip it
		}
		for _, e := range entries {
			if e.Type()&fs.ModeSymlink != 0 {
				continue
			}
			path := filepath.Join(dir, e.Name())
			ino, dev, err := statFile(path)
			if err != nil {
				continue // gone meanwhile, or not ours to see
			}
			seen++
			f := fileID{path, dev, ino}
			key := ftok.Make(f.ino, f.dev, projID)
			if other, dup := byKey[key]; dup && (other.ino != f.ino || other.dev != f.dev) {
				return other, f, seen, true
			}
			byKey[key] = f
			if e.IsDir() {
				queue = append(queue, f.path)
			}
			if seen >= limit {
				break
			}
		}
	}
	return fileID{}, fileID{}, seen, false
}
