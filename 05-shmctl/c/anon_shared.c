/*
 * anon_shared.c: memory shared by MAP_SHARED|MAP_ANONYMOUS with a child made by
 * fork(2). The mapping has no name and no descriptor: fork is the only way another
 * process gets it, which a Go program cannot do (it can only start new programs,
 * and exec(2) drops every mapping). `go run ./05-shmctl alternatives` builds this
 * with gcc and runs it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE 4096
#define HALF 128 /* the parent's message in the first 128 bytes, the reply after */

/* print_maps_line prints the line of /proc/self/maps that holds address p. */
static void print_maps_line(const void *p)
{
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "r");
	if (maps == NULL) {
		perror("anon_shared: /proc/self/maps");
		return;
	}
	while (fgets(line, sizeof line, maps) != NULL) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= (unsigned long)p && (unsigned long)p < hi) {
			printf("/proc/self/maps: %s", line);
			break;
		}
	}
	fclose(maps);
}

int main(void)
{
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("anon_shared: mmap");
		return 1;
	}
	printf("mmap(NULL, %d, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0) -> %p\n", SIZE, (void *)p);
	snprintf(p, HALF, "ping from pid %d", (int)getpid());
	printf("wrote \"%s\"; fork()\n", p);
	fflush(stdout); /* or the child would print the buffered lines again */

	pid_t child = fork();
	if (child < 0) {
		perror("anon_shared: fork");
		return 1;
	}
	if (child == 0) {
		printf("child pid %d, the same mapping at %p: read \"%s\"\n", (int)getpid(), (void *)p, p);
		snprintf(p + HALF, HALF, "pong from pid %d", (int)getpid());
		printf("child pid %d: wrote \"%s\"; exit\n", (int)getpid(), p + HALF);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "anon_shared: the child did not end well\n");
		return 1;
	}
	printf("waitpid(%d): read back \"%s\"\n", (int)child, p + HALF);
	print_maps_line(p);
	return munmap(p, SIZE) == 0 ? 0 : 1;
}
