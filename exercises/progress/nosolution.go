package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// A solution handed out by mistake is the one thing export must never do. Leaving
// solutions/ out is not enough: a solution copied next to its stub (perms.go.orig),
// into a lesson or into a scratch file would go out with it if git tracks it. So
// export looks for the reference solutions' code in every file it would write.
//
// The unit is a function body: each function of a solution under solutions/ whose
// body is long enough to be an answer (minSolutionBody bytes, spaces left out) and
// that no shipped stub has too (a helper given to the learner). A file that contains
// such a body, whatever the spacing, holds that solution. The hints are searched only
// with export -no-last-hint: the last hint is nearly the answer on purpose.

// minSolutionBody is the shortest function body, without its spaces, that counts as
// an answer: "{return42,nil}" is not one.
const minSolutionBody = 60

// solutionBody is one function of a reference solution.
type solutionBody struct {
	where string // "solutions/01-ftok/keyparts/keyparts.go: func Decode"
	body  string // its body, spaces left out
}

// noSolutionIn returns an error naming the first file of out (a path in the student
// repository -> its content) that holds the body of a function of a reference
// solution under repo/solutions/; the hints too unless skipHints. A course without
// solutions/ has nothing to find.
func noSolutionIn(repo string, shipped *Shipped, out map[string][]byte, skipHints bool) error {
	bodies, err := solutionBodies(filepath.Join(repo, "solutions"), shipped)
	if err != nil || len(bodies) == 0 {
		return err
	}
	names := make([]string, 0, len(out))
	for f := range out {
		if !skipHints || path.Base(f) != "HINTS.md" {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	for _, f := range names {
		text := withoutSpace(string(out[f]))
		for _, b := range bodies {
			if strings.Contains(text, b.body) {
				return fmt.Errorf("%s holds the code of a reference solution (%s): export refuses to hand it out; remove that file (or that code) from the course", f, b.where)
			}
		}
	}
	return nil
}

// solutionBodies lists the function bodies of the solutions' Go files under dir (the
// tests left out) that are long enough and in no shipped stub.
func solutionBodies(dir string, shipped *Shipped) ([]solutionBody, error) {
	var stubs strings.Builder
	for _, b := range shipped.Stubs {
		stubs.WriteString(withoutSpace(string(b)))
		stubs.WriteByte('\n')
	}
	var bodies []solutionBody
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return filepath.SkipDir // no solutions/: nothing to look for
		}
		if err != nil || d.IsDir() || !IsStubFile(d.Name()) {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, src, parser.SkipObjectResolution)
		if err != nil {
			return nil // not Go that compiles: the root go test ./... says so
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), p)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			body := withoutSpace(string(src[fset.Position(fn.Body.Lbrace).Offset : fset.Position(fn.Body.Rbrace).Offset+1]))
			if len(body) >= minSolutionBody && !strings.Contains(stubs.String(), body) {
				bodies = append(bodies, solutionBody{where: filepath.ToSlash(rel) + ": func " + fn.Name.Name, body: body})
			}
		}
		return nil
	})
	return bodies, err
}

// withoutSpace is s with every white-space character left out.
func withoutSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
