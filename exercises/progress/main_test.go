package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envRunMain makes the test binary run progress's main instead of the tests: the
// watch test starts progress as a separate process that way.
const envRunMain = "PROGRESS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// needGo skips a test that runs the go command when it is not on the PATH: under
// go test -exec sudo, which runs the test binary as root with the PATH sudo sets.
func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on the PATH (go test -exec sudo runs the tests with sudo's PATH): this test runs go test; run it as yourself, go test ./progress/")
	}
}

// writeTree creates files (slash-separated path -> content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
}

// chdir changes the working directory for the rest of the test.
func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(dir))
	t.Cleanup(func() { _ = os.Chdir(old) })
}

// A small course of two exercises, 01-x/first and 01-x/second, whose tests need
// nothing but the standard library: each stub's Answer returns a TODO error, and the
// tests want 42.
func stubOf(pkg string) string {
	return "package " + pkg + "\n\nimport \"errors\"\n\n// Answer is the answer.\nfunc Answer() (int, error) {\n\treturn 0, errors.New(\"TODO: implement Answer (read README.md, then HINTS.md)\")\n}\n"
}

func solutionOf(pkg string) string {
	return "package " + pkg + "\n\n// Answer is the answer.\nfunc Answer() (int, error) {\n\tsix, seven := 6, 7\n\tif six*seven != 42 {\n\t\tpanic(\"arithmetic is broken\")\n\t}\n\treturn six * seven, nil\n}\n"
}

func testOf(pkg string) string {
	return "package " + pkg + "\n\nimport \"testing\"\n\nfunc TestAnswer(t *testing.T) {\n\tgot, err := Answer()\n\tif err != nil {\n\t\tt.Fatal(err)\n\t}\n\tif got != 42 {\n\t\tt.Fatalf(\"Answer() = %d, want 42: the answer to everything\", got)\n\t}\n}\n"
}

const hintsMD = "# Hints\n\nRead one at a time.\n\n## Hint 1\n\nThink of a number.\n\n## Hint 2 (nearly the answer)\n\n```go\nreturn 42, nil\n```\n"

// smallCourse writes the exercises module of a small course under root.
func smallCourse(t *testing.T, root string) []Exercise {
	t.Helper()
	files := map[string]string{
		"go.mod":    "module " + ModulePath + "\n\ngo 1.22\n",
		"README.md": "# Exercises\n\n| `01-x/first` | `01-x/second` |\n",
	}
	for _, name := range []string{"first", "second"} {
		dir := "01-x/" + name + "/"
		files[dir+name+".go"] = stubOf(name)
		files[dir+name+"_test.go"] = testOf(name)
		files[dir+"README.md"] = "# " + name + "\n\nWrite Answer.\n"
		files[dir+"HINTS.md"] = hintsMD
	}
	writeTree(t, root, files)
	list, err := Discover(root)
	require.NoError(t, err)
	require.NoError(t, WriteShipped(root, list))
	return list
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"-h"}, 0, "usage: go run ./progress [-json]"},
		{[]string{"watch", "-h"}, 0, "usage: go run ./progress watch [NAME]: "},
		{[]string{"hint", "-h"}, 0, "usage: go run ./progress hint NAME: "},
		{[]string{"reset", "-h"}, 0, "usage: go run ./progress reset [-y] NAME: "},
		{[]string{"export", "-h"}, 0, "usage: go run ./progress export [-no-last-hint] DIR [NAME...]: "},
		{[]string{"generate", "-h"}, 0, "usage: go run ./progress generate: "},
		{[]string{"-nope"}, 2, "progress: flag provided but not defined: -nope (see -h)"},
		{[]string{"extra"}, 2, `progress: unknown command "extra"`},
		{[]string{"hint"}, 2, "progress hint: the exercise's NAME is missing (see -h)"},
		{[]string{"reset", "a", "b"}, 2, `progress reset: unexpected argument "b" (flags come first; see -h)`},
		{[]string{"export"}, 2, "progress export: the directory DIR is missing (see -h)"},
		{[]string{"export", filepath.Join(os.TempDir(), "progress-never-written"), "nosuch"}, 2, `progress: no exercise is called "nosuch"`},
		{[]string{"watch", "-y"}, 2, "progress watch: flag provided but not defined: -y (see -h)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.code, run(tt.args, strings.NewReader(""), &stdout, &stderr), "progress %v", tt.args)
			assert.Empty(t, stdout.String(), "usage and errors go to stderr")
			assert.True(t, strings.HasPrefix(stderr.String(), tt.err), "stderr: %q\nwant it to start with %q", stderr.String(), tt.err)
			if tt.code == 0 && len(tt.args) > 1 {
				assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "a command's -h is one line: %q", stderr.String())
			} else if tt.code != 0 {
				assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "an error is one line: %q", stderr.String())
			}
		})
	}
}

// On macOS or Windows the tests cannot build: progress says so, and where to go,
// instead of reporting every exercise as failing.
func TestNeedLinux(t *testing.T) {
	assert.NoError(t, needLinux("linux"))
	for _, goos := range []string{"darwin", "windows", "freebsd"} {
		err := needLinux(goos)
		require.Error(t, err, goos)
		assert.Contains(t, err.Error(), "the exercises need Linux, and this is "+goos)
		assert.Contains(t, err.Error(), "dev container")
		assert.NotContains(t, err.Error(), "\n", "one line")
	}

	defer func(old string) { goos = old }(goos)
	goos = "darwin"
	for _, args := range [][]string{nil, {"-json"}, {"watch"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 1, run(args, strings.NewReader(""), &stdout, &stderr), "progress %v on macOS", args)
		assert.Empty(t, stdout.String())
		assert.Regexp(t, `^progress: the exercises need Linux, and this is darwin: [^\n]*\n$`, stderr.String())
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"hint", "-h"}, strings.NewReader(""), &stdout, &stderr), "hint, reset and export work anywhere")
}

func TestFind(t *testing.T) {
	list := []Exercise{{"01-ftok", "keyparts"}, {"01-ftok", "collide"}, {"02-x", "collide"}}
	tests := []struct {
		name string
		want Exercise
		err  string
	}{
		{"01-ftok/keyparts", list[0], ""},
		{"./01-ftok/keyparts/", list[0], ""},
		{"exercises/01-ftok/keyparts", list[0], ""},
		{"keyparts", list[0], ""},
		{"02-x/collide", list[2], ""},
		{"collide", Exercise{}, `"collide" is the name of 2 exercises: say which, for example 01-ftok/collide`},
		{"nope", Exercise{}, `no exercise is called "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(list, tt.name)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
