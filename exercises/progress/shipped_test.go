package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteAndReadShipped(t *testing.T) {
	root := t.TempDir()
	list := smallCourse(t, root)

	shipped, err := ReadShipped(os.DirFS(filepath.Join(root, ShippedDir)))
	require.NoError(t, err)
	assert.Equal(t, []string{"01-x/first/first.go", "01-x/first/first_test.go"}, shipped.Files(list[0]))
	assert.Equal(t, stubOf("first"), string(shipped.Stubs["01-x/first/first.go"]), "the stub is stored as it is")
	assert.NotContains(t, shipped.Stubs, "01-x/first/first_test.go", "tests are checksummed, not stored")
	assert.Equal(t, Checksum([]byte(testOf("first"))), shipped.Sums["01-x/first/first_test.go"])
	assert.FileExists(t, filepath.Join(root, ShippedDir, "01-x", "first", "first.go.txt"),
		"a stub is stored as FILE.go.txt, which the go command does not build")
	assert.True(t, shipped.Has(list[1]))
	assert.False(t, shipped.Has(Exercise{"01-x", "third"}))

	changes, err := shipped.Changes(root, list[0])
	require.NoError(t, err)
	assert.Empty(t, changes, "nothing changed yet")
}

func TestShippedChanges(t *testing.T) {
	root := t.TempDir()
	list := smallCourse(t, root)
	shipped, err := ReadShipped(os.DirFS(filepath.Join(root, ShippedDir)))
	require.NoError(t, err)

	writeTree(t, root, map[string]string{
		"01-x/first/first.go":  solutionOf("first"),
		"01-x/first/helper.go": "package first\n",
	})
	require.NoError(t, os.Remove(filepath.Join(root, "01-x", "first", "first_test.go")))
	changes, err := shipped.Changes(root, list[0])
	require.NoError(t, err)
	assert.Equal(t, []Change{
		{"01-x/first/first.go", "edited"},
		{"01-x/first/first_test.go", "missing"},
		{"01-x/first/helper.go", "added"},
	}, changes)
}

func TestWriteShippedRefusesASolvedStub(t *testing.T) {
	root := t.TempDir()
	list := smallCourse(t, root)
	writeTree(t, root, map[string]string{"01-x/second/second.go": solutionOf("second")})
	err := WriteShipped(root, list)
	assert.ErrorContains(t, err, `01-x/second: no stub file says "TODO: ": is it solved?`,
		"generating from a solved copy would hand out the answer")
}

func TestReadShippedRefusesAMismatch(t *testing.T) {
	root := t.TempDir()
	smallCourse(t, root)
	writeTree(t, root, map[string]string{ShippedDir + "/01-x/first/first.go.txt": solutionOf("first")})
	_, err := ReadShipped(os.DirFS(filepath.Join(root, ShippedDir)))
	assert.ErrorContains(t, err, "the shipped stub 01-x/first/first.go does not match its checksum in SHA256SUMS")
}

// The manifest built into progress covers exactly the course's exercises, and its
// stubs fail (the course's check in solutions/ runs their tests).
func TestEmbeddedShippedCoversEveryExercise(t *testing.T) {
	shipped, err := EmbeddedShipped()
	require.NoError(t, err)
	list, err := Discover("..")
	require.NoError(t, err)
	var want []string
	for _, e := range list {
		assert.True(t, shipped.Has(e), "%s is not in progress/shipped: cd exercises && go generate ./progress", e.Path())
		want = append(want, e.Path())
	}
	exercises := map[string]bool{}
	for name := range shipped.Sums {
		exercises[filepath.Dir(name)] = true
	}
	assert.Len(t, exercises, len(want), "progress/shipped lists exercises that do not exist: cd exercises && go generate ./progress")
	for name, stub := range shipped.Stubs {
		assert.Contains(t, string(stub), TodoMarker, "the shipped %s must be a stub", name)
	}
}

// A test file that differs from the shipped one is noted, with what grading does
// about it; a stub the learner edits or a file they add is theirs.
func TestMarkEditedTests(t *testing.T) {
	root := t.TempDir()
	list := smallCourse(t, root)
	shipped, err := ReadShipped(os.DirFS(filepath.Join(root, ShippedDir)))
	require.NoError(t, err)
	writeTree(t, root, map[string]string{
		"01-x/first/first.go":        solutionOf("first"),
		"01-x/first/extra_test.go":   "package first\n",
		"01-x/second/second_test.go": strings.Replace(testOf("second"), "42", "0", -1),
	})
	var rep Report
	for _, e := range list {
		rep.add(Result{Lesson: e.Lesson, Name: e.Name, Path: e.Path(), Status: Passing, Points: 10, MaxPoints: 10})
	}
	require.NoError(t, rep.MarkEditedTests(root, shipped))
	assert.Empty(t, rep.Exercises[0].TestsEdited, "a solved stub and an added test are the learner's")
	assert.Equal(t, []string{"01-x/second/second_test.go (edited)"}, rep.Exercises[1].TestsEdited)

	var out strings.Builder
	require.NoError(t, rep.WriteText(&out))
	assert.Contains(t, out.String(), "01-x    second    passing  0/0    10/10 (tests edited: grading scores 0)\n")
	assert.Contains(t, out.String(), "\nEdited tests (grading checks the tests first: an exercise whose tests differ from the ones handed out scores 0):\n"+
		"  01-x/second: 01-x/second/second_test.go (edited); put them back as handed out with git (git log FILE lists their versions)\n")
}
