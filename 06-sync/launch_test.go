//go:build linux

package main

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
)

// endedWith runs a shell that ends the way script says and returns how Wait saw
// it: a real exit status or death by a signal, as a child's would be.
func endedWith(t *testing.T, script string) error {
	t.Helper()
	return exec.Command("sh", "-c", script).Run()
}

// TestVerdict: the launcher's last line names first the child whose end started
// it (a signal the launcher did not send, else the first failure), whatever order
// the children were reaped in, and says "stopped" only of a child it stopped.
func TestVerdict(t *testing.T) {
	var (
		ok         = error(nil)
		failed     = endedWith(t, "exit 1")
		interrupt  = endedWith(t, "exit 130")
		terminated = endedWith(t, "exit 143")
		killed     = endedWith(t, "kill -KILL $$")
		termDeath  = endedWith(t, "kill -TERM $$") // SIGTERM before its handler was set up
	)
	consumer := func(err error, stopped bool) end { return end{"consumer", 1, err, stopped} }
	producer := func(err error, stopped bool) end { return end{"producer", 2, err, stopped} }
	tests := []struct {
		name string
		ends []end // in the order reaped
		want string
	}{
		{"all finished", []end{consumer(ok, false), producer(ok, false)}, ""},
		{"SIGTERM to one, the launcher stops the other",
			[]end{producer(terminated, false), consumer(terminated, true)},
			"the producer (pid 2) was stopped by SIGTERM (exit status 143); stopped the consumer (pid 1)"},
		{"the same, the stopped one reaped first",
			[]end{consumer(terminated, true), producer(terminated, false)},
			"the producer (pid 2) was stopped by SIGTERM (exit status 143); stopped the consumer (pid 1)"},
		{"its peer gone, one failed before the signalled one was reaped",
			[]end{consumer(failed, false), producer(interrupt, false)},
			"the producer (pid 2) was stopped by SIGINT (exit status 130); the consumer (pid 1) failed (exit status 1) too"},
		{"the launcher's SIGTERM came after a SIGINT of the learner's",
			[]end{consumer(failed, false), producer(interrupt, true)},
			"the producer (pid 2) was stopped by SIGINT (exit status 130); the consumer (pid 1) failed (exit status 1) too"},
		{"kill -9, the other stopped before its handler was set up",
			[]end{consumer(killed, false), producer(termDeath, true)},
			"the consumer (pid 1) was killed by signal 9 (killed); stopped the producer (pid 2)"},
		{"a failure of its own, the other stopped",
			[]end{consumer(failed, false), producer(terminated, true)},
			"the consumer (pid 1) failed (exit status 1); stopped the producer (pid 2)"},
		{"a failure, the other had finished", []end{producer(ok, true), consumer(failed, false)},
			"the consumer (pid 1) failed (exit status 1)"},
		{"both failed of themselves", []end{consumer(failed, false), producer(failed, false)},
			"the consumer (pid 1) failed (exit status 1); the producer (pid 2) failed (exit status 1) too"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verdict(tt.ends)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.want)
		})
	}
}
