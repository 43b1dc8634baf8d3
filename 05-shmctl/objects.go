//go:build linux

package main

// What the lesson makes, and how it is undone on every way out.
//
// lesson.Cleanup runs the cleanups when the program ends; on SIGINT or SIGTERM it
// runs them at once, from the signal handler's goroutine, while the step that was
// running goes on until the process exits. So that nothing is left behind, nothing
// may be made once the cleanups have begun, and nothing may be made without its
// cleanup: keep makes an object and registers its cleanup under one lock, and every
// cleanup, when it runs, first stops keep for good.
//
// The memory the steps use (attachments, mappings, descriptors) has no cleanup:
// exit undoes all of it, and a cleanup that unmapped memory a step still reads would
// crash the program with a fault. What outlives the process unless undone is what
// keep is for: segments (removed with IPC_RMID; an attached one goes at exit), files
// and directories. Child processes have theirs from lesson.StartChild.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

var objects struct {
	mu     sync.Mutex  // held while an object is made and its cleanup registered
	ending atomic.Bool // a cleanup has run: make nothing more
}

// errEnding is what keep returns once the cleanups have begun. Nobody sees it: the
// program is exiting.
var errEnding = errors.New("the lesson is ending")

// keep runs create, which makes something that outlives the process unless undone,
// and registers the undo it returns as a cleanup described by what. The cleanup is
// registered before create runs, so that it comes before the cleanups of what was
// made earlier (they run newest first: a child ends before the directory it uses is
// removed), and it waits for create to finish. Once any cleanup has run, keep makes
// nothing and returns errEnding.
func keep(l *lesson.Lesson, what string, create func() (undo func() error, err error)) error {
	objects.mu.Lock()
	defer objects.mu.Unlock()
	if objects.ending.Load() {
		return errEnding
	}
	var undo func() error // set once create has succeeded; read under objects.mu
	cleanup(l, what, func() error {
		objects.mu.Lock()
		fn := undo
		objects.mu.Unlock()
		if fn == nil {
			return nil
		}
		return fn()
	})
	u, err := create()
	if err != nil {
		return err
	}
	undo = u
	return nil
}

// cleanup registers fn as a cleanup (lesson.Cleanup) that first stops keep, waiting
// for an object being made to be registered.
func cleanup(l *lesson.Lesson, what string, fn func() error) {
	l.Cleanup(what, func() error {
		objects.mu.Lock()
		objects.ending.Store(true)
		objects.mu.Unlock()
		return fn()
	})
}

// keepSegment is keep for a segment: shmget(key, size, flags), with IPC_RMID as its
// cleanup. The error is shmget's errno, for lesson.Failed.
func keepSegment(l *lesson.Lesson, key, size, flags int) (id int, err error) {
	err = keep(l, "remove the segment made here", func() (func() error, error) {
		var err error
		id, err = unix.SysvShmGet(key, size, flags)
		return func() error {
			if err := shm.RemoveIfThere(id); err != nil {
				return fmt.Errorf("segment %d: %w", id, err)
			}
			return nil
		}, err
	})
	return id, err
}

// keepTempDir is keep for a new directory (os.MkdirTemp), removed with all in it.
func keepTempDir(l *lesson.Lesson, pattern string) (dir string, err error) {
	err = keep(l, "remove the directory "+pattern+"*", func() (func() error, error) {
		var err error
		dir, err = os.MkdirTemp("", pattern)
		return func() error { return os.RemoveAll(dir) }, err
	})
	return dir, err
}
