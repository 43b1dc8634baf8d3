//go:build linux

package lesson

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestRolesDispatch(t *testing.T) {
	ran := ""
	roles := Roles{"helper": func(l *Lesson, args []string) error {
		ran = strings.Join(args, " ")
		return nil
	}}
	tests := []struct {
		name       string
		marker     string // EnvParent's value; "" for none
		args       []string
		wantRan    string
		wantStatus int
		wantErr    string
	}{
		{"started by its parent", strconv.Itoa(os.Getppid()), []string{"helper", "1", "2"}, "1 2", ExitOK, ""},
		{"typed by a person", "", []string{"helper", "1"}, "", ExitUsage,
			`demo: "helper" is a part this lesson plays as its own second process; it does not run when typed (run with -h for usage)` + "\n"},
		{"marker naming another process", "1", []string{"helper"}, "", ExitUsage,
			`demo: "helper" is a part this lesson plays as its own second process; it does not run when typed (run with -h for usage)` + "\n"},
		{"not a role", "", []string{"other"}, "", ExitOK, ""},
		{"no arguments", "", nil, "", ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = ""
			if tt.marker != "" {
				t.Setenv(reexec.EnvParent, tt.marker)
			} else {
				t.Setenv(reexec.EnvParent, "")
				os.Unsetenv(reexec.EnvParent)
			}
			var out, errb bytes.Buffer
			status := Run("demo", testUsage, func(l *Lesson, args []string) error {
				_, err := roles.Dispatch(l, args)
				return err
			}, tt.args, strings.NewReader(""), &out, &errb)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantRan, ran)
			assert.Equal(t, tt.wantErr, errb.String(), "the whole of stderr")
		})
	}
}
