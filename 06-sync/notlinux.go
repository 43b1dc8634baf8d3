//go:build !linux

package main

import "github.com/learn-sysv/shm-course/internal/lesson"

func main() { lesson.NeedLinux() }
