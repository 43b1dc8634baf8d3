// Package lesson is the frame every lesson program runs in: it parses the command
// line (every lesson has -h and -step), narrates the steps, turns errors into one
// clear line and an exit status, and removes what the lesson created on every way
// out: success, error, panic, Ctrl-C (SIGINT) and SIGTERM.
//
// A lesson's main.go reads like this:
//
//	func main() { lesson.Main("02-shmget", usage, run) }
//
//	func run(l *lesson.Lesson, args []string) error {
//		size := l.Flags.Int("size", 4096, "segment size in bytes")
//		if err := l.Parse(args); err != nil {
//			return err
//		}
//		l.Step("Create a segment")
//		...
//	}
//
// Exit statuses: 0 success (and -h), 1 a call failed, 2 a usage error,
// 130 interrupted by SIGINT, 143 terminated by SIGTERM.
//
// The code is built on Linux only, like the rest of the course.
package lesson
