//go:build linux

package lesson

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func ExampleQuote() {
	fmt.Println(Quote("/etc/passwd"))
	fmt.Println(Quote("/" + strings.Repeat("x", 5000)))
	// Output:
	// "/etc/passwd"
	// "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" (5001 bytes)
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "abc", `"abc"`},
		{"escapes", "a\"b\n", `"a\"b\n"`},
		{"exactly QuoteMax", strings.Repeat("y", QuoteMax), `"` + strings.Repeat("y", QuoteMax) + `"`},
		{"one more", strings.Repeat("y", QuoteMax+1), `"` + strings.Repeat("y", 60) + "…" + strings.Repeat("y", 30) + `" (101 bytes)`},
		// é is two bytes: after "a", byte 60 would cut the 30th é in two, so the head keeps 29.
		{"whole characters", "a" + strings.Repeat("é", 100), `"a` + strings.Repeat("é", 29) + "…" + strings.Repeat("é", 15) + `" (201 bytes)`},
		{"control characters escaped", strings.Repeat("\x01", 101), `"` + strings.Repeat(`\x01`, 60) + "…" + strings.Repeat(`\x01`, 30) + `" (101 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Quote(tt.in))
		})
	}
}

func TestFlagsFirst(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{"flags first", []string{"-step", "/etc/passwd", "A"}, ""},
		{"no flags", []string{"/etc/passwd", "A"}, ""},
		{"flag after the arguments", []string{"/etc/passwd", "A", "-step"},
			"-step comes after the arguments, where it is not read as a flag: flags come first (go run ./demo -step /etc/passwd A)"},
		{"with a value and two dashes", []string{"x", "--fail=call"},
			"--fail=call comes after the arguments, where it is not read as a flag: flags come first (go run ./demo --fail=call x)"},
		{"not one of the lesson's flags", []string{"x", "-size"}, ""},
		{"a negative number", []string{"x", "-5"}, ""},
		{"a flag and its value", []string{"x", "-fail", "call"},
			"-fail comes after the arguments, where it is not read as a flag: flags come first (go run ./demo -fail call x)"},
		{"an argument that needs quoting", []string{"a b", "-step"},
			`-step comes after the arguments, where it is not read as a flag: flags come first (go run ./demo -step "a b")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			Run("demo", testUsage, func(l *Lesson, args []string) error {
				l.Flags.String("fail", "", "")
				if err := l.Parse(args); err != nil {
					return err
				}
				got = l.FlagsFirst()
				return nil
			}, tt.args, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if tt.want == "" {
				assert.NoError(t, got)
				return
			}
			var usage *UsageError
			assert.ErrorAs(t, got, &usage, "a usage error: exit status 2")
			assert.EqualError(t, got, tt.want)
		})
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // the positional arguments, joined by spaces
		wantErr string
	}{
		{[]string{"5"}, "5", ""},
		{[]string{"-n", "3", "5", "6"}, "5 6", ""},
		{[]string{"5", "-n", "3"}, "", "-n comes after the arguments, where it is not read as a flag: flags come first (go run ./demo -n 3 5)"},
		{[]string{"5", "6", "-step"}, "", "-step comes after the arguments, where it is not read as a flag: flags come first (go run ./demo -step 5 6)"},
		{[]string{"5", "-"}, "5 -", ""}, // a lone "-" is an argument (often: standard input)
		{[]string{"--", "-5"}, "-5", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got []string
			var errOut bytes.Buffer
			status := Run("demo", testUsage, func(l *Lesson, args []string) error {
				l.Flags.Int("n", 0, "a number")
				if err := l.Parse(args); err != nil {
					return err
				}
				rest, err := l.Args()
				got = rest
				return err
			}, tt.args, strings.NewReader(""), &bytes.Buffer{}, &errOut)
			if tt.wantErr == "" {
				assert.Equal(t, ExitOK, status, errOut.String())
				assert.Equal(t, tt.want, strings.Join(got, " "))
				return
			}
			assert.Equal(t, ExitUsage, status)
			assert.Equal(t, "demo: "+tt.wantErr+" (run with -h for usage)\n", errOut.String(), "the whole of stderr")
		})
	}
}
