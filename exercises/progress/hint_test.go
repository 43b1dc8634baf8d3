package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHints(t *testing.T) {
	hints := ParseHints(hintsMD)
	require.Len(t, hints, 2)
	assert.Equal(t, Hint{"Hint 1", "Think of a number."}, hints[0])
	assert.Equal(t, Hint{"Hint 2 (nearly the answer)", "```go\nreturn 42, nil\n```"}, hints[1])

	assert.Empty(t, ParseHints("# Hints\n\nnone here\n"))
	got := ParseHints("## Hint 1\nA\n## Notes\nnot a hint\n## Hint 2\nB\n")
	assert.Equal(t, []Hint{{"Hint 1", "A"}, {"Hint 2", "B"}}, got, "a hint ends at the next heading")
}

// Every HINTS.md of the course has graded hints that progress can show.
func TestCourseHintsParse(t *testing.T) {
	list, err := Discover("..")
	require.NoError(t, err)
	for _, e := range list {
		md, err := os.ReadFile(filepath.Join("..", e.Path(), "HINTS.md"))
		require.NoError(t, err)
		hints := ParseHints(string(md))
		if assert.GreaterOrEqual(t, len(hints), 2, "%s/HINTS.md: at least two \"## Hint N\" sections", e.Path()) {
			assert.Equal(t, "Hint 1", hints[0].Title[:6], "%s/HINTS.md starts with Hint 1", e.Path())
		}
		for _, h := range hints {
			assert.NotEmpty(t, h.Text, "%s/HINTS.md: %s is empty", e.Path(), h.Title)
		}
	}
}

func TestShowHintOneAtATime(t *testing.T) {
	root := t.TempDir()
	list := smallCourse(t, root)
	show := func() string {
		var out bytes.Buffer
		require.NoError(t, ShowHint(root, list[0], &out, "go run ./progress hint 01-x/first"))
		return out.String()
	}
	assert.Equal(t, "Hint 1 of 2, 01-x/first:\n\nThink of a number.\n\nTry again now. The next hint: go run ./progress hint 01-x/first\n", show())
	st, err := LoadState(root)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"01-x/first": 1}, st.HintsShown, "remembered in %s", StateFile)

	assert.Equal(t, "Hint 2 (nearly the answer) of 2, 01-x/first:\n\n```go\nreturn 42, nil\n```\n\nThat was the last hint. All of them are in 01-x/first/HINTS.md.\n", show())
	assert.Equal(t, "You have seen all 2 hints of 01-x/first; here is the last one again.\n\nHint 2 (nearly the answer) of 2, 01-x/first:\n\n```go\nreturn 42, nil\n```\n\n", show())

	var out bytes.Buffer
	require.NoError(t, ShowHint(root, list[1], &out, "h again"))
	assert.Contains(t, out.String(), "Hint 1 of 2, 01-x/second:", "each exercise has its own count")
	st, err = LoadState(root)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"01-x/first": 2, "01-x/second": 1}, st.HintsShown)

	leftovers, _ := filepath.Glob(filepath.Join(root, StateFile+".*"))
	assert.Empty(t, leftovers, "no temporary state files left")
}

func TestHintCommand(t *testing.T) {
	root := t.TempDir()
	smallCourse(t, root)
	chdir(t, filepath.Join(root, "01-x"))
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"hint", "second"}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "Hint 1 of 2, 01-x/second:")
	assert.FileExists(t, filepath.Join(root, StateFile), "the state is kept in the exercises directory")
}

func TestLoadStateErrors(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{StateFile: "{not json"})
	_, err := LoadState(root)
	assert.ErrorContains(t, err, "(delete it to start afresh)")
}
