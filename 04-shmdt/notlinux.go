//go:build !linux

// Command 04-shmdt needs Linux; elsewhere it says so.
package main

import "github.com/learn-sysv/shm-course/internal/lesson"

func main() { lesson.NeedLinux() }
