// Package procsysv reads the kernel's own tables of System V IPC objects,
// /proc/sysvipc/shm and /proc/sysvipc/sem (see proc(5) and sysvipc(7)).
//
// These files list every segment and semaphore set the calling process's IPC
// namespace holds, whoever owns them: they are what ipcs(1) reads. The course uses
// them to show what exists and, in tests, to prove that nothing was left behind.
//
// The code is built on Linux only, like the rest of the course.
package procsysv
