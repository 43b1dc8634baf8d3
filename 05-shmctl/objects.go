//go:build linux

package main

// What the lesson makes, and how it is undone on every way out.
//
// lesson.Cleanup runs the cleanups when the program ends; on SIGINT or SIGTERM it
// runs them at once, from the signal handler's goroutine, while the step that was
// running goes on until the process exits. So that nothing is left behind, nothing
// may be made once the cleanups have begun, and nothing may be made without its
// cleanup: l.Keep makes an object and registers its cleanup under the lock that a
// signal's cleanups take first, so that they wait for an object being made and find
// its cleanup; once they have begun, Keep makes nothing. shm.Create is Keep for a
// segment (shmget, removed with IPC_RMID), lesson.MkdirTemp for a directory,
// lesson.CommandAs for the copy of this program that nobody may run; the key file
// and the POSIX object in /dev/shm call l.Keep themselves.
//
// The memory the steps use (attachments, mappings, descriptors) has no cleanup:
// exit undoes all of it, and a cleanup that unmapped memory a step still reads would
// crash the program with a fault. What outlives the process unless undone is what
// Keep is for: segments (removed with IPC_RMID; an attached one goes at exit), files
// and directories. Child processes have theirs from lesson.StartChild.
