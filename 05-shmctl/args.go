//go:build linux

package main

// Reading the command line: flags wherever they stand, ids that fit shmctl's int,
// and long input quoted short in error lines.

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// parseArgs parses the flags in args wherever they stand, so that a flag typed
// after another word works as well as before it, and returns the words that are not
// flags. After "--" every argument is a word.
func parseArgs(l *lesson.Lesson, args []string) ([]string, error) {
	var words []string
	for {
		if err := l.Parse(args); err != nil {
			return nil, shortUsage(err)
		}
		rest := l.Flags.Args()
		if len(rest) == 0 {
			return words, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// shortUsage cuts a long usage error (the flag package quotes whatever was typed)
// down to a line that fits on a screen.
func shortUsage(err error) error {
	var usage *lesson.UsageError
	if !errors.As(err, &usage) || len(usage.Msg) <= 120 {
		return err
	}
	return lesson.Usagef("%s... (%d bytes in all)", shorten(usage.Msg, 100), len(usage.Msg))
}

// parseID reads a segment id given as what: shmctl takes a C int, so the id must fit
// in 32 bits; a larger number is refused rather than cut down to another segment's id.
func parseID(what, s string) (int, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, lesson.Usagef("%s %s is not a segment id: give a number that fits in a C int, as ipcs -m lists them", what, quoteShort(s))
	}
	return int(id), nil
}

// quoteShort quotes s for an error line, cut to its first 40 bytes with its length
// added when it is longer: a 5,000-character argument must not fill the screen.
func quoteShort(s string) string {
	if len(s) <= 40 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(shorten(s, 40)), len(s))
}

// shorten returns at most the first max bytes of s, cut at a character boundary.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// flagGiven reports whether the flag called name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
