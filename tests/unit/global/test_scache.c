/*
 * test_scache - the scache(8) client against a scripted server that
 * checks every byte (the exchanges of postfix-interfaces.md section 6.2)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "global/scache.h"
#include "util/strbuf.h"

#define S(lit)	lit, sizeof(lit) - 1	/* bytes of a literal, NULs kept */

static char dir[] = "/tmp/postern-scache-XXXXXX";
static int listener = -1;

/* expect - the child reads exactly these bytes, else exits 1 */
static void
expect(int fd, const char *want, size_t len)
{
	char buf[512];
	size_t got = 0;
	ssize_t n;

	if (len > sizeof(buf))
		_exit(2);
	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += (size_t)n;
	if (got != len || memcmp(buf, want, len) != 0) {
		fprintf(stderr, "server: unexpected request (%zu bytes)\n", got);
		_exit(1);
	}
}

static void
say(int fd, const char *text, size_t len)
{
	if (write(fd, text, len) != (ssize_t)len)
		_exit(3);
}

static void
pass_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
	struct cmsghdr *c;

	memset(&m, 0, sizeof(m));
	memset(&u, 0, sizeof(u));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &m, 0) != 1)
		_exit(4);
}

static int
take_fd(int sock)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
	int fd = -1;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	if (recvmsg(sock, &m, 0) != 1 || CMSG_FIRSTHDR(&m) == NULL)
		_exit(5);
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

static const char announce[] = "protocol\0connection_cache_protocol\0";

/* server - the scripted scache: one connection, four requests */
static void
server(int pipe_end)
{
	int c = accept(listener, NULL, NULL), got;
	char byte;

	if (c < 0)
		_exit(6);
	say(c, announce, sizeof(announce));	/* includes the end NUL */

	/* find_dest: a miss */
	expect(c, S("request\0find_dest\0label\0smtp\n[127.0.0.1]:23026\n\0"
		    "\0"));
	say(c, S("status\0" "2\0property\0\0property\0\0\0"));

	/* find_endp: a hit, the descriptor between two dummies */
	expect(c, S("request\0find_endp\0label\0smtp\n127.0.0.1\n23026\n0\n"
		    "\0\0"));
	say(c, S("status\0" "0\0property\0EP\0\0"));
	expect(c, S("dummy\0\0\0"));
	pass_fd(c, pipe_end);
	expect(c, S("dummy\0\0\0"));

	/* save_dest, then save_endp with the descriptor */
	expect(c, S("request\0save_dest\0ttl\0" "2\0label\0D\0property\0DP\0"
		    "label\0E\0\0"));
	say(c, S("status\0" "0\0\0"));
	expect(c, S("request\0save_endp\0ttl\0" "2\0label\0E\0property\0EP\0"
		    "\0"));
	say(c, S("dummy\0\0\0"));
	got = take_fd(c);
	say(c, S("status\0" "0\0\0"));
	/* The descriptor works: the parent wrote "z" into the pipe. */
	if (read(got, &byte, 1) != 1 || byte != 'z')
		_exit(7);
	close(c);
	_exit(0);
}

static void
test_protocol(void **unused)
{
	struct scache *cache = scache_create("scache", 5, 5, 1000);
	struct strbuf p1 = STRBUF_INIT, p2 = STRBUF_INIT;
	int pipefd[2], fd, status;
	pid_t pid;
	char byte;

	assert_int_equal(pipe(pipefd), 0);
	if ((pid = fork()) == 0)
		server(pipefd[0]);
	assert_true(pid > 0);
	close(pipefd[0]);

	assert_int_equal(scache_find_dest(cache, "smtp\n[127.0.0.1]:23026\n",
					  &p1, &p2), -1);
	fd = scache_find_endp(cache, "smtp\n127.0.0.1\n23026\n0\n", &p1);
	assert_true(fd >= 0);
	assert_string_equal(strbuf_str(&p1), "EP");
	/* We got the read end of the pipe: write, read it back. */
	assert_int_equal(write(pipefd[1], "y", 1), 1);
	assert_int_equal(read(fd, &byte, 1), 1);
	assert_int_equal(byte, 'y');

	scache_save_dest(cache, 2, "D", "DP", "E");
	assert_int_equal(write(pipefd[1], "z", 1), 1);
	scache_save_endp(cache, 2, "E", "EP", fd);	/* closes fd */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(pipefd[1]);
	scache_free(cache);
	strbuf_release(&p1);
	strbuf_release(&p2);
}

/* Nobody listens: a miss, then the cache gives up ("disabling"). */
static void
test_unreachable(void **unused)
{
	struct scache *cache = scache_create("nosuch", 5, 5, 1000);
	struct strbuf p1 = STRBUF_INIT;
	int pipefd[2];
	char byte;

	assert_int_equal(scache_find_endp(cache, "L", &p1), -1);
	assert_int_equal(pipe(pipefd), 0);
	/* Disabled now: no second wait, and the descriptor is closed. */
	scache_save_endp(cache, 2, "E", "EP", pipefd[0]);
	assert_int_equal(read(pipefd[0], &byte, 1), -1);	/* EBADF */
	close(pipefd[1]);
	scache_free(cache);
	strbuf_release(&p1);
}

static int
setup(void **unused)
{
	struct sockaddr_un sun;

	if (mkdtemp(dir) == NULL || chdir(dir) < 0
	    || mkdir("private", 0700) < 0)
		return -1;
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, "private/scache", sizeof("private/scache"));
	if (bind(listener, (struct sockaddr *)&sun, sizeof(sun)) < 0
	    || listen(listener, 5) < 0)
		return -1;
	return 0;
}

static int
teardown(void **unused)
{
	close(listener);
	unlink("private/scache");
	rmdir("private");
	if (chdir("/") == 0)
		rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
