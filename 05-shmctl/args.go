//go:build linux

package main

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// quoteShort quotes s for an error line, cut to its first 40 bytes (at a character
// boundary) with its length added when it is longer: a 5,000-character argument
// must not fill the screen.
func quoteShort(s string) string {
	const max = 40
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
