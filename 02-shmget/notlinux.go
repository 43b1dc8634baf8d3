//go:build !linux

// Command 02-shmget needs Linux; elsewhere it says so.
package main

import "github.com/learn-sysv/shm-course/internal/lesson"

func main() { lesson.NeedLinux() }
