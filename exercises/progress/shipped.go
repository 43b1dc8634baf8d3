package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The exercises as shipped: the stubs as a learner first gets them, and a checksum of
// every Go file of every exercise. They live in shipped/ beside this file and are
// built into the progress program, so that
//
//   - `progress reset NAME` can put a stub back without git;
//   - `progress export DIR` hands out the stubs as shipped, never a solved copy;
//   - the course's check (solutions/check_test.go) tests the stubs as shipped while a
//     learner edits theirs.
//
// shipped/SHA256SUMS lists "sha256  NN-lesson/NAME/FILE.go" (the format of
// sha256sum, so `cd exercises && sha256sum -c progress/shipped/SHA256SUMS` shows what
// you changed); shipped/NN-lesson/NAME/FILE.go.txt is each stub file (the ".txt" keeps
// the go command from building the copies). `go generate ./progress` writes them from
// the exercise directories, and CI fails when they are out of date.

//go:embed shipped
var shippedFS embed.FS

// ShippedDir is the manifest's directory, relative to the exercises module.
const ShippedDir = "progress/shipped"

// sumsFile is the checksum list's name in ShippedDir.
const sumsFile = "SHA256SUMS"

// stubSuffix is added to the name of each stored stub file.
const stubSuffix = ".txt"

// Shipped is the manifest: what every exercise looked like when it was shipped.
type Shipped struct {
	Sums  map[string]string // "01-ftok/keyparts/keyparts.go" -> hex SHA-256, for every Go file
	Stubs map[string][]byte // "01-ftok/keyparts/keyparts.go" -> its content, for the stub files
}

// IsStubFile reports whether name, a file in an exercise directory, is part of the
// stub the learner edits: a Go file that is not a test.
func IsStubFile(name string) bool {
	return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
}

// Checksum is the hex SHA-256 of b, as sha256sum prints it.
func Checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// EmbeddedShipped returns the manifest built into this program.
func EmbeddedShipped() (*Shipped, error) {
	sub, err := fs.Sub(shippedFS, "shipped")
	if err != nil {
		return nil, err
	}
	return ReadShipped(sub)
}

// ReadShipped reads a manifest from fsys (a shipped/ directory).
func ReadShipped(fsys fs.FS) (*Shipped, error) {
	sums, err := fs.ReadFile(fsys, sumsFile)
	if err != nil {
		return nil, fmt.Errorf("reading the shipped exercises: %w", err)
	}
	s := &Shipped{Sums: map[string]string{}, Stubs: map[string][]byte{}}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != sha256.Size*2 {
			return nil, fmt.Errorf("%s: bad line %q", sumsFile, sc.Text())
		}
		s.Sums[name] = sum
		if !IsStubFile(path.Base(name)) {
			continue
		}
		b, err := fs.ReadFile(fsys, name+stubSuffix)
		if err != nil {
			return nil, fmt.Errorf("the shipped stub %s: %w", name, err)
		}
		if Checksum(b) != sum {
			return nil, fmt.Errorf("the shipped stub %s does not match its checksum in %s", name, sumsFile)
		}
		s.Stubs[name] = b
	}
	return s, sc.Err()
}

// Files returns the shipped Go files of exercise e, sorted.
func (s *Shipped) Files(e Exercise) []string {
	var names []string
	for name := range s.Sums {
		if path.Dir(name) == e.Path() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Has reports whether e was shipped.
func (s *Shipped) Has(e Exercise) bool { return len(s.Files(e)) > 0 }

// Change is how one file of an exercise differs from the shipped one.
type Change struct {
	Path string // "01-ftok/keyparts/keyparts.go"
	How  string // "edited", "missing" or "added"
}

// Changes compares exercise e under root (the exercises module) with the shipped
// one: every Go file that is edited, missing or added.
func (s *Shipped) Changes(root string, e Exercise) ([]Change, error) {
	var changes []Change
	for _, name := range s.Files(e) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			changes = append(changes, Change{name, "missing"})
		case err != nil:
			return nil, err
		case Checksum(b) != s.Sums[name]:
			changes = append(changes, Change{name, "edited"})
		}
	}
	onDisk, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(e.Path()), "*.go"))
	if err != nil {
		return nil, err
	}
	for _, f := range onDisk {
		name := e.Path() + "/" + filepath.Base(f)
		if _, ok := s.Sums[name]; !ok {
			changes = append(changes, Change{name, "added"})
		}
	}
	return changes, nil
}

// WriteShipped writes the manifest of list, read from root (the exercises module),
// to root/ShippedDir, replacing what was there. A stub that does not say "TODO: " is
// refused: shipping a solved stub would hand out the answer.
func WriteShipped(root string, list []Exercise) error {
	var sums bytes.Buffer
	stubs := map[string][]byte{}
	for _, e := range list {
		dir := filepath.Join(root, filepath.FromSlash(e.Path()))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			return err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			name := e.Path() + "/" + filepath.Base(f)
			fmt.Fprintf(&sums, "%s  %s\n", Checksum(b), name)
			if IsStubFile(filepath.Base(f)) {
				stubs[name] = b
			}
		}
		if !hasTodo(stubs, e) {
			return fmt.Errorf("%s: no stub file says %q: is it solved? Ship the stub (go run ./progress reset %s)", e.Path(), TodoMarker, e.Path())
		}
	}
	out := filepath.Join(root, filepath.FromSlash(ShippedDir))
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	for name, b := range stubs {
		f := filepath.Join(out, filepath.FromSlash(name)+stubSuffix)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, sumsFile), sums.Bytes(), 0o644)
}

// hasTodo reports whether one of e's stub files in stubs holds the TODO marker.
func hasTodo(stubs map[string][]byte, e Exercise) bool {
	for name, b := range stubs {
		if path.Dir(name) == e.Path() && bytes.Contains(b, []byte(TodoMarker)) {
			return true
		}
	}
	return false
}
