package main

import (
	"encoding/json"
	"fmt"
	"io"
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

// WriteText prints the report as a table, the score and what to do next.
func (rep Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LESSON\tEXERCISE\tSTATUS\tTESTS\tPOINTS")
	for _, r := range rep.Exercises {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d/%d\n", r.Lesson, r.Name, r.Status, r.TestsPassed, r.TestsTotal, r.Points, r.MaxPoints)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nScore: %d of %d exercises passing, %d/%d points.\n", rep.Passed, rep.Total, rep.Points, rep.MaxPoints)
	if rep.Next == nil {
		_, err := fmt.Fprintln(w, "All done: every exercise passes.")
		return err
	}
	n := rep.Next
	fmt.Fprintf(w, "Next: %s (%s)\n", n.Path, n.Status)
	fmt.Fprintf(w, "  why:   %s\n", n.Detail)
	fmt.Fprintf(w, "  read:  %s\n", n.README)
	fmt.Fprintf(w, "  hints: %s\n", n.Hints)
	_, err := fmt.Fprintf(w, "  test:  go test ./%s/\n", n.Path)
	return err
}

// WriteJSON prints the report as indented JSON.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
