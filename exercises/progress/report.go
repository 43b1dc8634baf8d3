package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is the progress through every exercise.
type Report struct {
	Exercises []Result `json:"exercises"`
	Passed    int      `json:"passed"`
	Total     int      `json:"total"`
	Points    int      `json:"points"`
	MaxPoints int      `json:"max_points"`
	// Next is the first exercise, in course order, that does not pass; nil when
	// every one passes.
	Next *Result `json:"next"`
}

func (rep *Report) add(r Result) {
	rep.Exercises = append(rep.Exercises, r)
	rep.Total++
	rep.MaxPoints += r.MaxPoints
	rep.Points += r.Points
	if r.Status == Passing {
		rep.Passed++
	} else if rep.Next == nil {
		next := r
		rep.Next = &next
	}
}

// WriteText prints the report as a table, the tests that were skipped and why, the
// score and what to do next.
func (rep Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LESSON\tEXERCISE\tSTATUS\tTESTS\tPOINTS")
	unchecked := 0 // passing exercises whose root-only tests did not run
	for _, r := range rep.Exercises {
		note := ""
		switch {
		case len(r.TestsEdited) > 0:
			note = " (tests edited: grading scores 0)"
		case r.RootTestsNotRun && r.Status == Passing:
			note = " (root-only tests not run)"
			unchecked++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d/%d%s\n", r.Lesson, r.Name, r.Status, r.TestsPassed, r.TestsTotal, r.Points, r.MaxPoints, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	skips := false
	for _, r := range rep.Exercises {
		if r.Skipped == 0 {
			continue
		}
		if !skips {
			fmt.Fprintln(w, "\nSkipped tests (an exercise passes here without them; the reason says how to run them):")
			skips = true
		}
		fmt.Fprintf(w, "  %s: %s\n", r.Path, r.TestSummary())
		if r.RootTestsNotRun {
			fmt.Fprintf(w, "    grading runs them, as root: run them the same way with %s\n", Exercise{r.Lesson, r.Name}.RootCommand())
		}
	}
	edited := false
	for _, r := range rep.Exercises {
		if len(r.TestsEdited) == 0 {
			continue
		}
		if !edited {
			fmt.Fprintln(w, "\nEdited tests (grading checks the tests first: an exercise whose tests differ from the ones handed out scores 0):")
			edited = true
		}
		fmt.Fprintf(w, "  %s: %s; put them back as handed out with git (git log FILE lists their versions)\n", r.Path, strings.Join(r.TestsEdited, ", "))
	}
	fmt.Fprintf(w, "\nScore: %d of %d exercises passing, %d/%d points.\n", rep.Passed, rep.Total, rep.Points, rep.MaxPoints)
	if unchecked > 0 {
		fmt.Fprintf(w, "(%d of them passed without their root-only tests, which grading runs: see Skipped tests.)\n", unchecked)
	}
	if rep.Next == nil {
		_, err := fmt.Fprintln(w, "All done: every exercise passes.")
		return err
	}
	n := rep.Next
	fmt.Fprintf(w, "Next: %s (%s)\n", n.Path, n.Status)
	fmt.Fprintf(w, "  why:   %s\n", indent(n.Detail, "         "))
	fmt.Fprintf(w, "  read:  %s\n", n.README)
	fmt.Fprintf(w, "  hints: go run ./progress hint %s   (one at a time; all of them: %s)\n", n.Path, n.Hints)
	fmt.Fprintf(w, "  test:  go test ./%s/\n", n.Path)
	_, err := fmt.Fprintf(w, "  or:    go run ./progress watch   (runs them each time you save)\n")
	return err
}

// MarkEditedTests notes in rep, for every exercise of list, the test files under root
// that differ from the ones shipped.
func (rep *Report) MarkEditedTests(root string, shipped *Shipped) error {
	for i := range rep.Exercises {
		r := &rep.Exercises[i]
		changes, err := shipped.Changes(root, Exercise{r.Lesson, r.Name})
		if err != nil {
			return err
		}
		for _, c := range changes {
			if strings.HasSuffix(c.Path, "_test.go") && c.How != "added" {
				r.TestsEdited = append(r.TestsEdited, c.Path+" ("+c.How+")")
			}
		}
	}
	return nil
}

// TestSummary says how many tests pass and what was skipped:
// "6/7 passing, 1 skipped: running a helper as uid 65534 needs root; ...".
func (r Result) TestSummary() string {
	s := fmt.Sprintf("%d/%d passing", r.TestsPassed, r.TestsTotal)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped: %s", r.Skipped, strings.Join(r.SkipReasons, "; "))
	}
	return s
}

// indent puts prefix before every line of s but the first.
func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// WriteJSON prints the report as indented JSON.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
