//go:build linux

package main

import "github.com/learn-sysv/shm-course/internal/lesson"

const name = "06-sync"

const usage = `usage: go run ./06-sync [race|producer|consumer] [flags]`

func main() { lesson.Main(name, usage, run) }

func run(l *lesson.Lesson, args []string) error { return nil }
