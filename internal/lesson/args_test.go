//go:build linux

package lesson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestArgsWantFlagsFirst(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // the positional arguments, joined by spaces
		wantErr string
	}{
		{[]string{"5"}, "5", ""},
		{[]string{"-n", "3", "5", "6"}, "5 6", ""},
		{[]string{"5", "-n", "3"}, "", `-n comes after the argument "5": flags go before the arguments`},
		{[]string{"5", "6", "-step"}, "", `-step comes after the argument "6": flags go before the arguments`},
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
