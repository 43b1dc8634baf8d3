//go:build linux

package main

// Reading the command line: ids that fit shmctl's int, and the flag package's
// errors cut short.

import (
	"errors"
	"flag"
	"strconv"
	"unicode/utf8"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

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
// in 32 bits; a larger number is refused rather than cut down to another segment's id,
// and a negative one is refused too: no id is negative.
func parseID(what, s string) (int, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, lesson.Usagef("%s %s is not a segment id: give a number that fits in a C int, as ipcs -m lists them", what, lesson.Quote(s))
	}
	if id < 0 {
		// shmctl would say EINVAL; what is wrong is the command line (step 10 of the
		// tour shows the kernel's answer).
		return 0, lesson.Usagef("%s %s is not a segment id: ids are never negative (list them with ipcs -m)", what, lesson.Quote(s))
	}
	return int(id), nil
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
