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
//   - RunProgramWithSlowSyscall and StartProgramWithSlowSyscall, which run the
//     program under strace with one system call held up (a shmget's return, a
//     child's execve), so that a test can signal it inside that call; ChildrenOf
//     and Alive to follow the processes it starts.
//   - Small conveniences: a fresh segment or key that is removed after the test.
//
// Where the tests run: as root, each test binary runs its tests in an IPC namespace
// of its own, so that two test runs at once never see, count or remove each other's
// objects; otherwise (an ordinary user, or a kernel that refuses the namespace) in the
// shared one, where the course's test runs take turns on a lock file and the leak
// check knows the run's processes by pid and start time. isolate.go says why.
//
// The test binary that go test starts is the run's supervisor (supervise.go): it
// runs the tests in a second process and is a child subreaper, so every process of
// the run stays below it. Ctrl-C, SIGTERM or SIGHUP during a test run stops all of
// them (those in process groups of their own and their children included), then
// removes what the run created, prints one line and exits with 130, 143 or 129.
//
// The code is built on Linux only, like the rest of the course.
package ipctest
