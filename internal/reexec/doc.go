// Package reexec starts the running program again as a second, separate OS process.
//
// Go cannot fork(2) without exec: a Go program is many threads, and a forked copy
// would hold only one of them. So where a C lesson would fork, a Go program runs its
// own executable again with arguments that say which role the new process plays
// (for example "producer"), and passes it what it needs (a segment id) on the command
// line. No System V attachment survives exec(2), so the child attaches the segment
// itself. What the child does inherit is what exec keeps: the environment, the open
// standard streams, the working directory, the umask, the user and group ids (unless
// CommandAs changes them), the resource limits and the signals set to be ignored.
//
// A role is internal: the lesson starts it, a person does not type it. Command and
// CommandAs put the parent's pid in the child's environment (EnvParent), and
// FromParent, in the child, checks that the process that started it is that parent,
// so a lesson can refuse a role typed by hand (lesson.Roles does this).
//
// The code is built on Linux only, like the rest of the course.
package reexec
