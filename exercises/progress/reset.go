package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// reset puts the shipped stub of an exercise back, after asking.
func reset(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("reset", flag.ContinueOnError)
	yes := flags.Bool("y", false, "")
	if err := parse(flags, "reset", args, stderr, 1, 1); err != nil {
		return err
	}
	root, e, err := loadExercise(flags.Arg(0))
	if err != nil {
		return err
	}
	shipped, err := EmbeddedShipped()
	if err != nil {
		return err
	}
	return Reset(root, e, shipped, *yes, stdin, stdout)
}

// Reset writes the shipped stub files of e back under root. Unless yes, it first
// asks on w and reads the answer from r: only "y" or "yes" goes ahead.
func Reset(root string, e Exercise, shipped *Shipped, yes bool, r io.Reader, w io.Writer) error {
	if !shipped.Has(e) {
		return fmt.Errorf("%s is not among the shipped exercises", e.Path())
	}
	changes, err := shipped.Changes(root, e)
	if err != nil {
		return err
	}
	var stubs, others []string
	for _, c := range changes {
		name := path.Base(c.Path)
		switch {
		case c.How != "added" && IsStubFile(name):
			stubs = append(stubs, name+" ("+c.How+")")
		default:
			others = append(others, name+" ("+c.How+")")
		}
	}
	if len(stubs) == 0 {
		fmt.Fprintf(w, "The stub of %s is as shipped: nothing to reset.\n", e.Path())
		noteOthers(w, e, others)
		return nil
	}
	if !yes {
		fmt.Fprintf(w, "Put back the stub of %s as shipped? Your version of %s will be lost. [y/N] ",
			e.Path(), strings.Join(stubs, ", "))
		answer, _ := bufio.NewReader(r).ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes":
		default:
			fmt.Fprintln(w, "Nothing changed.")
			return nil
		}
	}
	for _, name := range shipped.Files(e) {
		content, ok := shipped.Stubs[name]
		if !ok {
			continue // a test: not part of the stub
		}
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), content, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "Put back the shipped stub of %s. Its tests fail again until you solve it: go test ./%s/\n", e.Path(), e.Path())
	noteOthers(w, e, others)
	return nil
}

// noteOthers tells about changed files that reset leaves alone.
func noteOthers(w io.Writer, e Exercise, others []string) {
	if len(others) == 0 {
		return
	}
	fmt.Fprintf(w, "Left as they are: %s. Reset puts back only the stub; a test file of yours that differs from the shipped one changes what is graded, and a .go file you added may clash with the stub.\n",
		strings.Join(others, ", "))
}
