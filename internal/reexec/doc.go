// Package reexec starts the running program again as a second, separate OS process.
//
// Go cannot fork(2) without exec: a Go program is many threads, and a forked copy
// would hold only one of them. So where a C lesson would fork, a Go program runs its
// own executable again with arguments that say which role the new process plays
// (for example "producer"), and passes it what it needs (a segment id) on the command
// line. Nothing is inherited but the environment and the open standard streams: the
// child attaches the segment itself.
//
// The code is built on Linux only, like the rest of the course.
package reexec
