//go:build linux

package lesson

import (
	"fmt"
	"os"
	"strings"
)

func ExampleFirstLines() {
	fmt.Printf("%q\n", FirstLines("\none\ntwo\nthree\n", 2))
	fmt.Printf("%q\n", FirstLines("only", 3))
	// Output:
	// ["one" "two"]
	// ["only"]
}

func ExampleLesson_Excerpt() {
	Run("demo", testUsage, func(l *Lesson, _ []string) error {
		l.Excerpt("unexpected fault address 0x7f00\nfatal error: fault\n\ngoroutine 1 [running]:\n", 2)
		return nil
	}, nil, strings.NewReader(""), os.Stdout, os.Stderr)
	// Output:
	//    | unexpected fault address 0x7f00
	//    | fatal error: fault
}
