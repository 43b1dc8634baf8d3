// Package ipctest is what every test package in the course shares:
//
//   - Main, the TestMain that proves a package leaves no System V object behind: it
//     records /proc/sysvipc/shm and /proc/sysvipc/sem before the tests and fails the
//     package if anything created during them is still there (and removes it, so the
//     next run does not trip over it with EEXIST).
//   - The helper-process pattern (as in os/exec's own tests): the test binary runs
//     itself again as a separate OS process that plays one named role, so tests use
//     real processes, not goroutines pretending to be them.
//   - RunProgram and StartProgram, which run the lesson's own program as a separate
//     process, so exit statuses, signals and output are tested for real.
//   - Small conveniences: a fresh segment or key that is removed after the test.
//
// Test packages of the course serialise on a lock file while they run, because the
// leak check compares system-wide tables: two packages creating segments at the same
// time would otherwise see each other's objects as leaks.
//
// The code is built on Linux only, like the rest of the course.
package ipctest
