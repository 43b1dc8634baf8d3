//go:build linux

package lesson

// What lessons make with Keep, written once.

import (
	"os"
	"os/exec"

	"github.com/learn-sysv/shm-course/internal/reexec"
)

// MkdirTemp makes a new directory (os.MkdirTemp("", pattern)) that is removed, with
// all in it, when the lesson ends, however it ends (Keep).
func MkdirTemp(l *Lesson, pattern string) (dir string, err error) {
	err = l.Keep("remove the directory "+pattern+"*", func() (func() error, error) {
		var err error
		dir, err = os.MkdirTemp("", pattern)
		return func() error { return os.RemoveAll(dir) }, err
	})
	return dir, err
}

// CommandAs is reexec.CommandAs(uid, gid, args...) for a lesson: the copy of the
// executable that it makes, where the other user may run it (a directory
// /tmp/shm-course-exe-*), is removed when the lesson ends, however it ends (Keep),
// even when a signal comes while the copy is being made.
func CommandAs(l *Lesson, uid, gid uint32, args ...string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	err := l.Keep("remove the copy of this program made for another user", func() (func() error, error) {
		var err error
		cmd, err = reexec.CommandAs(uid, gid, args...)
		return func() error { reexec.Cleanup(); return nil }, err
	})
	return cmd, err
}
