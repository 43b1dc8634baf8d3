//go:build linux

package lesson

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// QuoteMax is the longest input Quote prints whole, in bytes.
const QuoteMax = 100

// Quote returns s quoted as %q quotes it, shortened when it is longer than QuoteMax
// bytes: an error line names what the learner typed, and a 5,000-character path
// would bury the message. A long s keeps its first 60 and last 30 bytes (whole
// characters), with an ellipsis between them, and says how long it was:
//
//	"/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" (5001 bytes)
func Quote(s string) string {
	if len(s) <= QuoteMax {
		return strconv.Quote(s)
	}
	head, tail := s[:60], s[len(s)-30:]
	for !utf8.ValidString(head) && len(head) > 0 { // do not cut a character in two
		head = head[:len(head)-1]
	}
	for !utf8.ValidString(tail) && len(tail) > 0 {
		tail = tail[1:]
	}
	q := strconv.Quote(head) // "head"
	return q[:len(q)-1] + "…" + strconv.Quote(tail)[1:] + fmt.Sprintf(" (%d bytes)", len(s))
}

// FlagsFirst returns a usage error if an argument that comes after the lesson's
// positional arguments names one of its flags. Go's flag package stops at the first
// argument that is not a flag, so in `01-ftok /etc/passwd A -step` the -step is
// only a third argument; the error says so and shows the command with the flags
// first. Call it after Parse and before looking at the arguments.
func (l *Lesson) FlagsFirst() error {
	args := l.Flags.Args()
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, ok := flagName(a)
		f := l.Flags.Lookup(name)
		if !ok || f == nil {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if !strings.Contains(a, "=") && !isBool(f) && i+1 < len(args) {
			i++ // -size 100: the value goes with its flag
			flags = append(flags, args[i])
		}
	}
	if len(flags) == 0 {
		return nil
	}
	words := []string{"go run ./" + l.Name}
	for _, a := range append(flags, rest...) {
		words = append(words, shellWord(a))
	}
	return Usagef("%s comes after the arguments, where it is not read as a flag: flags come first (%s)",
		shellWord(flags[0]), strings.Join(words, " "))
}

// Args returns the positional arguments that Parse left, after FlagsFirst has
// checked that no flag of the lesson's stands among them.
func (l *Lesson) Args() ([]string, error) {
	if err := l.FlagsFirst(); err != nil {
		return nil, err
	}
	return l.Flags.Args(), nil
}

// isBool reports whether f is a boolean flag, which takes no separate value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagName returns the name in a flag argument: "step" for -step, --step or -step=true.
func flagName(arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != ""
}

// shellWord quotes an argument for a command line the learner may copy, shortened
// like Quote when it is long.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '=' || r == ':' || r == ',' ||
			'0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) < 0 && len(s) <= QuoteMax {
		return s
	}
	return Quote(s)
}
