//go:build linux

package lesson

import "strings"

// Excerpt prints the first n lines of text (say, what a dead child wrote on its
// standard error) indented and marked with "| ", so that the learner sees them
// inside the narration.
func (l *Lesson) Excerpt(text string, n int) {
	for _, line := range FirstLines(text, n) {
		l.Say("| %s", line)
	}
}

// FirstLines returns the first n lines of s, without surrounding blank space.
func FirstLines(s string, n int) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return lines
}
