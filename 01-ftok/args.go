//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// defaultProjID is 'A', the id the course uses everywhere.
const defaultProjID = 'A'

// projID is the PROJ_ID argument: its value and how it was spelled.
type projID struct {
	value int
	arg   string // as typed; "" for the default
	base  int    // 8, 10 or 16 for a number, 0 for a character
}

// parseArgs reads the optional PATH and PROJ_ID that follow the flags.
func parseArgs(l *lesson.Lesson) (path string, id projID, err error) {
	if err := l.FlagsFirst(); err != nil {
		return "", projID{}, err
	}
	args := l.Flags.Args()
	id = projID{value: defaultProjID}
	switch len(args) {
	case 0:
	case 1:
		path = args[0]
	case 2:
		path = args[0]
		if id, err = parseProjID(args[1]); err != nil {
			return "", projID{}, err
		}
	default:
		return "", projID{}, lesson.Usagef("too many arguments (%d): want at most PATH and PROJ_ID", len(args))
	}
	if len(args) > 0 && path == "" {
		return "", projID{}, lesson.Usagef("PATH is empty: give an existing file or directory")
	}
	return path, id, nil
}

// parseProjID reads PROJ_ID as C's strtol(s, NULL, 0) reads a number, which is how
// C programs (and the course's glibc comparison) take it from the command line:
// 0x41 or 0X41 is hex, 0101 (a leading 0) is octal, 65 is decimal. Unlike strtol it
// refuses what strtol would skip or stop at: a sign, spaces, trailing characters.
// One character that is not a digit is that character: A is 65. A single digit is
// a number: 1 is 1, not the character '1' (0x31).
func parseProjID(s string) (projID, error) {
	if len(s) == 1 && (s[0] < '0' || s[0] > '9') {
		if s[0] <= ' ' || s[0] > '~' {
			return projID{}, lesson.Usagef("PROJ_ID %s: a one-character id must be a printable ASCII character", lesson.Quote(s))
		}
		return projID{value: int(s[0]), arg: s}, nil
	}
	digits, base := s, 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		digits, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		digits, base = s[1:], 8
	}
	v, err := strconv.ParseUint(digits, base, 31) // C's int: at most 0x7fffffff
	if err != nil || !onlyDigits(digits, base) {
		return projID{}, lesson.Usagef("PROJ_ID %s is not a number: give decimal (65), hex (0x41), octal with a leading 0 (0101) or one character (A), from 1 to 0x7fffffff", lesson.Quote(s))
	}
	if v&0xff == 0 {
		return projID{}, lesson.Usagef("PROJ_ID %s: ftok uses only the low 8 bits of the id, here 0, and ftok(3) requires them to be nonzero (a zero byte would leave the file alone to pick the key); try 1 or A", lesson.Quote(s))
	}
	return projID{value: int(v), arg: s, base: base}, nil
}

// onlyDigits reports whether s is digits of base and nothing else: strconv would
// also take a sign ("+41") or underscores, C's strtol neither after 0x nor inside.
func onlyDigits(s string, base int) bool {
	for _, r := range s {
		ok := '0' <= r && r <= '9' && int(r-'0') < base ||
			base == 16 && ('a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
		if !ok {
			return false
		}
	}
	return s != ""
}

// spelled says how an id given in octal or as a character was read, or "" when
// it needs no saying.
func (p projID) spelled() string {
	switch {
	case p.base == 8:
		return fmt.Sprintf("PROJ_ID %s has a leading 0, so it is octal, as C's strtol(s, NULL, 0) reads it: %d = %s.", p.arg, p.value, describeID(p.value))
	case p.arg != "" && p.base == 0:
		return fmt.Sprintf("PROJ_ID %s is one character, as C would write '%s': %s.", p.arg, p.arg, describeID(p.value))
	}
	return ""
}

// describeID prints an id as hex, with its character where it is one: 0x41 ('A').
func describeID(id int) string {
	if b := byte(id); id <= 0xff && b > ' ' && b <= '~' {
		return fmt.Sprintf("%#x ('%c')", id, b)
	}
	return fmt.Sprintf("%#x", id)
}
