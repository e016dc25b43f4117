/* install_example.c - a program outside the tree that uses the installed
 * library through pkg-config: a parent and a child talk over ipk_pair(). */
#include <ipckit.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(void)
{
	struct ipk_chan *a, *b;
	char buf[64];
	ssize_t n;
	pid_t pid;
	int st;

	if (ipk_pair(&a, &b) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		ipk_close(a);
		n = ipk_recv(b, buf, sizeof(buf), 5000);
		if (n < 0)
			_exit(2);
		ipk_send(b, buf, (size_t)n, 5000);
		ipk_close(b);
		_exit(0);
	}
	ipk_close(b);
	ipk_send(a, "hello", 5, 5000);
	n = ipk_recv(a, buf, sizeof(buf), 5000);
	ipk_close(a);
	waitpid(pid, &st, 0);
	if (n != 5 || memcmp(buf, "hello", 5) != 0)
		return 3;
	printf("echo: %.*s\n", (int)n, buf);
	return 0;
}
