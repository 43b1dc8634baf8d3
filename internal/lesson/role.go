//go:build linux

package lesson

import (
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// Roles are the parts a lesson program plays as a second process: the lesson starts
// its own executable again with reexec.Command(role, args...), the role's name first
// so that ps shows it. A role is internal. It trusts what its parent hands it (an id,
// a key), so typed by a person it could attach, change or remove an object the lesson
// did not create; Dispatch refuses it then.
type Roles map[string]Program

// Dispatch runs the role that args[0] names, if it names one, and reports whether it
// did. A role runs only in a process that reexec.Command or reexec.CommandAs of its
// parent started (reexec.FromParent); typed by hand it is a usage error (exit
// status 2) and does nothing.
func (r Roles) Dispatch(l *Lesson, args []string) (handled bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	role, ok := r[args[0]]
	if !ok {
		return false, nil
	}
	if !reexec.FromParent() {
		return true, Usagef("%q is a part this lesson plays as its own second process; it does not run when typed", args[0])
	}
	return true, role(l, args[1:])
}
