//go:build linux

package lesson

import "strings"

// Args returns the positional arguments that Parse left, or a usage error if a
// flag comes after one of them. Go's flag package stops at the first argument that
// is not a flag, so in `03-shmat 5 -size 100` the -size would silently become a
// second positional argument; Args says instead that flags go before the arguments.
// (An argument that starts with "-" but comes first, which only "--" lets through,
// is the lesson's to judge.)
func (l *Lesson) Args() ([]string, error) {
	rest := l.Flags.Args()
	for i, a := range rest {
		if i > 0 && len(a) > 1 && strings.HasPrefix(a, "-") {
			return nil, Usagef("%s comes after the argument %q: flags go before the arguments", a, rest[i-1])
		}
	}
	return rest, nil
}
