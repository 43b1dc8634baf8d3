/*
 * fork.c: attachments across fork, exec and exit, for lesson 04, step 8.
 *
 * A Go program cannot fork(2) safely (it is many threads; the child would hold one),
 * so the lesson compiles this small C program with gcc and runs it. Run by the
 * lesson as
 *
 *     fork ID
 *
 * it checks that segment ID was created by its parent (the lesson), attaches it, and
 * then does what the lesson's lines on its standard input say:
 *
 *     fork   fork(2): the child inherits the attachment, then waits
 *     exec   the child execve(2)s this program again (as "fork --execed FD"), which
 *            drops the inherited attachment
 *     exit   the exec'd child exits, this process waits for it, then exits itself
 *            without shmdt
 *
 * It tells the lesson where it is with protocol lines on standard output, "@@ VERB
 * fields", which the lesson reads with Child.Await; other lines are narration.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

/* expect reads one line from standard input and fails unless it is word. */
static void expect(const char *word)
{
	char line[64];
	if (fgets(line, sizeof line, stdin) == NULL) {
		fprintf(stderr, "fork: the lesson went away before saying %s\n", word);
		exit(1);
	}
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, word) != 0) {
		fprintf(stderr, "fork: the lesson said %s, not %s\n", line, word);
		exit(1);
	}
}

/* execed is the program after the child's execve: it has no attachment. It says so
 * and waits until its parent closes the other end of fd. */
static int execed(const char *fdarg)
{
	int fd = atoi(fdarg);
	char c;
	printf("@@ EXECED %d\n", (int)getpid());
	while (read(fd, &c, 1) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time, even into a pipe */
	if (argc == 3 && strcmp(argv[1], "--execed") == 0)
		return execed(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: fork ID (run by lesson 04, step 8)\n");
		return 2;
	}
	char *end;
	errno = 0;
	long id = strtol(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[1] || id < 0 || id > INT_MAX) {
		fprintf(stderr, "fork: %s is not a segment id\n", argv[1]);
		return 2;
	}
	struct shmid_ds ds;
	if (shmctl((int)id, IPC_STAT, &ds) == -1) {
		fprintf(stderr, "fork: shmctl(%ld, IPC_STAT): %s\n", id, strerror(errno));
		return 1;
	}
	if (ds.shm_cpid != getppid()) {
		fprintf(stderr, "fork: segment %ld was created by pid %d, not by the lesson that started me (pid %d)\n",
			id, (int)ds.shm_cpid, (int)getppid());
		return 1;
	}

	void *p = shmat((int)id, NULL, 0);
	if (p == (void *)-1) {
		fprintf(stderr, "fork: shmat(%ld, NULL, 0): %s\n", id, strerror(errno));
		return 1;
	}
	printf("shmat(%ld, NULL, 0) -> %p\n", id, p);
	printf("@@ ATTACHED %p\n", p);

	expect("fork");
	int go[2]; /* this process writes a byte on go[1]: exec; closes it: exit */
	if (pipe(go) == -1) {
		perror("fork: pipe");
		return 1;
	}
	fflush(stdout);
	pid_t child = fork();
	if (child == -1) {
		perror("fork: fork");
		return 1;
	}
	if (child == 0) {
		/* The child: the same attachment, at the same address, counted again. */
		char c, fd[16];
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		snprintf(fd, sizeof fd, "%d", go[0]);
		printf("child %d: execve(/proc/self/exe, [fork --execed %s])    (no shmdt)\n", (int)getpid(), fd);
		fflush(stdout);
		execl("/proc/self/exe", argv[0], "--execed", fd, (char *)NULL);
		perror("fork: execl");
		_exit(1);
	}
	close(go[0]);
	printf("fork() -> child %d, which inherits the attachment at %p\n", (int)child, p);
	printf("@@ FORKED %d\n", (int)child);

	expect("exec");
	if (write(go[1], "x", 1) != 1) {
		perror("fork: write");
		return 1;
	}
	/* The exec'd child says EXECED itself. */

	expect("exit");
	close(go[1]);
	int status;
	if (waitpid(child, &status, 0) == -1) {
		perror("fork: waitpid");
		return 1;
	}
	printf("child %d has exited; now exiting without shmdt\n", (int)child);
	return 0; /* exit detaches */
}
