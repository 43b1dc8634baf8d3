package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// StateFile is where progress remembers things between runs (the hints you have
// seen), in the exercises directory. exercises/.gitignore keeps it out of git, so it
// is never handed in.
const StateFile = ".progress.json"

// State is what StateFile holds.
type State struct {
	HintsShown map[string]int `json:"hints_shown"` // exercise path -> how many hints were shown
}

// LoadState reads root's state file; a missing one is an empty state.
func LoadState(root string) (*State, error) {
	st := &State{HintsShown: map[string]int{}}
	b, err := os.ReadFile(filepath.Join(root, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %v (delete it to start afresh)", filepath.Join(root, StateFile), err)
	}
	if st.HintsShown == nil {
		st.HintsShown = map[string]int{}
	}
	return st, nil
}

// Save writes the state to root's state file (a new file renamed over the old one,
// so that an interrupted write never leaves half a file).
func (st *State) Save(root string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(root, StateFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // nothing left if the rename did not happen
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(root, StateFile))
}

// Hint is one "## Hint N" section of a HINTS.md.
type Hint struct {
	Title string // "Hint 2" or "Hint 5 (nearly the answer)"
	Text  string // the section without its heading, trimmed
}

// ParseHints splits a HINTS.md into its hints: each starts at a "## Hint" heading
// and goes on to the next heading of that level.
func ParseHints(md string) []Hint {
	var hints []Hint
	var cur *Hint
	var text strings.Builder
	flush := func() {
		if cur != nil {
			cur.Text = strings.TrimSpace(text.String())
			hints = append(hints, *cur)
		}
		cur = nil
		text.Reset()
	}
	for _, line := range strings.SplitAfter(md, "\n") {
		heading := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(heading, "## Hint"):
			flush()
			cur = &Hint{Title: strings.TrimSpace(strings.TrimPrefix(heading, "##"))}
		case strings.HasPrefix(heading, "## ") || strings.HasPrefix(heading, "# "):
			flush()
		case cur != nil:
			text.WriteString(line)
		}
	}
	flush()
	return hints
}

// hint shows the next hint of an exercise and remembers that it was shown.
func hint(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("hint", flag.ContinueOnError)
	if err := parse(flags, "hint", args, stderr, 1, 1); err != nil {
		return err
	}
	root, e, err := loadExercise(flags.Arg(0))
	if err != nil {
		return err
	}
	return ShowHint(root, e, stdout, "go run ./progress hint "+e.Path())
}

// ShowHint prints the next hint of e and records it in root's state file; again
// says how to ask for the one after.
func ShowHint(root string, e Exercise, w io.Writer, again string) error {
	file := filepath.Join(root, filepath.FromSlash(e.Path()), "HINTS.md")
	md, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	hints := ParseHints(string(md))
	if len(hints) == 0 {
		return fmt.Errorf("%s has no \"## Hint\" sections", file)
	}
	st, err := LoadState(root)
	if err != nil {
		return err
	}
	shown := st.HintsShown[e.Path()]
	i := shown // the next one to show
	if i >= len(hints) {
		i = len(hints) - 1
		fmt.Fprintf(w, "You have seen all %d hints of %s; here is the last one again.\n\n", len(hints), e.Path())
	}
	fmt.Fprintf(w, "%s of %d, %s:\n\n%s\n\n", hints[i].Title, len(hints), e.Path(), hints[i].Text)
	switch {
	case i+1 < len(hints):
		fmt.Fprintf(w, "Try again now. The next hint: %s\n", again)
	case shown < len(hints):
		fmt.Fprintf(w, "That was the last hint. All of them are in %s/HINTS.md.\n", e.Path())
	}
	if i+1 > shown {
		st.HintsShown[e.Path()] = i + 1
		return st.Save(root)
	}
	return nil
}
