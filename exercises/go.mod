module github.com/learn-sysv/shm-course/exercises

go 1.22

require (
	github.com/learn-sysv/shm-course v0.0.0
	github.com/stretchr/testify v1.10.0
	golang.org/x/sys v0.30.0
)

replace github.com/learn-sysv/shm-course => ../
