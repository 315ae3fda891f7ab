/*
 * test_smtp_race - staggered connection attempts (src/smtp/smtp_race.c)
 *
 * Kept with the dns tests because it exercises the address lists that
 * the dns layer produces.  Real loopback sockets: a "black hole" (a
 * listener whose accept queue is full, so the kernel drops SYNs), a
 * refused port, a server that accepts and never greets, and a forked
 * server that greets.  Checks that racing hands over the live server
 * after the stagger delay, that the greeting is still unread in the
 * socket (smtp_helo reads it), that sequential mode waits for the
 * connect timeout, and the delay syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "global/params.h"
#include "../../../src/smtp/smtp.h"
#include "../../../src/smtp/smtp_addr.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* listener - a TCP listener on ip:*port (0: any port, returned) */
static int
listener_on(const char *ip, int backlog, int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	sin.sin_port = htons((unsigned short)*port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
listener(int backlog, int *port)
{
	*port = 0;
	return listener_on("127.0.0.1", backlog, port);
}

/* fill - connect without accepting, until the queue is full */
static void
fill(const char *ip, int port, int *fds, int n)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	sin.sin_port = htons((unsigned short)port);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fds[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	usleep(100000);
}

static struct dns_rr *
addr_ip(const char *host, const char *ip)
{
	struct dns_rr *rr = dns_rr_create(host, host, DNS_T_A, 0, 10);

	inet_pton(AF_INET, ip, rr->addr);
	rr->addr_len = 4;
	return rr;
}

static struct dns_rr *
addr(const char *host)
{
	return addr_ip(host, "127.0.0.1");
}

struct fixture {
	struct smtp_state state;
	struct deliver_request req;
};

static int
setup(void **st)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->req.queue_id = "TESTQID";
	f->state.req = &f->req;
	var_smtp_connect_timeout = 30;
	var_smtp_helo_timeout = 30;
	var_smtp_bind_address = "";
	var_smtp_bind_address6 = "";
	var_inet_interfaces = "all";
	*st = f;
	return 0;
}

static int
teardown(void **st)
{
	struct fixture *f = *st;

	dsn_free(f->state.why);
	free(f);
	return 0;
}

/* A black hole (127.0.0.2) first, a live server (127.0.0.3) second. */
static void
test_race_skips_black_hole(void **st)
{
	struct fixture *f = *st;
	int port = 0, fillers[2], fd;
	int live = listener_on("127.0.0.3", 8, &port);
	int hole = listener_on("127.0.0.2", 0, &port);
	const struct dns_rr *rr;
	struct dns_rr *list;
	struct smtp_race *race;
	char buf[64];
	long long t0;
	pid_t pid;

	fill("127.0.0.2", port, fillers, 2);
	if ((pid = fork()) == 0) {
		int c = accept(live, NULL, NULL);

		(void)write(c, "220 live ESMTP\r\n", 16);
		sleep(5);
		_exit(0);
	}
	list = addr_ip("hole.test", "127.0.0.2");
	list->next = addr_ip("live.test", "127.0.0.3");
	t0 = now_ms();
	race = smtp_race_create(&f->state, list, 2, port, 150);
	assert_int_equal(smtp_race_next(race, &fd, &rr), SMTP_RACE_SESSION);
	assert_string_equal(rr->qname, "live.test");
	assert_true(now_ms() - t0 >= 140);
	assert_true(now_ms() - t0 < 2000);
	/* The black hole attempt was abandoned; nothing is left. */
	assert_int_equal(smtp_race_remaining(race), 0);
	/* The greeting is still unread, for smtp_helo. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 16);
	assert_string_equal(buf, "220 live ESMTP\r\n");
	close(fd);
	smtp_race_free(race);

	/* Sequential: the black hole costs the whole connect timeout. */
	var_smtp_connect_timeout = 1;
	t0 = now_ms();
	race = smtp_race_create(&f->state, list, 1, port, 0);
	assert_int_equal(smtp_race_next(race, &fd, &rr), SMTP_RACE_NONE);
	assert_true(now_ms() - t0 >= 900);
	assert_non_null(strstr(f->state.why->reason, "Connection timed out"));
	smtp_race_free(race);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 2; i++)
		close(fillers[i]);
	close(hole);
	close(live);
	dns_rr_free(list);
}

static void
test_mute_server_times_out(void **st)
{
	struct fixture *f = *st;
	int port, fd, mute = listener(8, &port);
	const struct dns_rr *rr;
	struct dns_rr *list = addr("mute.test");
	struct smtp_race *race;
	long long t0 = now_ms();

	var_smtp_helo_timeout = 1;
	race = smtp_race_create(&f->state, list, 1, port, 100);
	assert_int_equal(smtp_race_next(race, &fd, &rr),
			 SMTP_RACE_GREET_TIMEOUT);
	assert_true(now_ms() - t0 >= 900);
	close(fd);
	smtp_race_free(race);
	close(mute);
	dns_rr_free(list);
}

static void
test_sequential_hands_over_at_connect(void **st)
{
	struct fixture *f = *st;
	int port, fd, mute = listener(8, &port);
	const struct dns_rr *rr;
	struct dns_rr *list = addr("mute.test");
	struct smtp_race *race;
	long long t0 = now_ms();

	/* Delay 0: no waiting for a greeting, as Postfix's smtp_connect. */
	race = smtp_race_create(&f->state, list, 1, port, 0);
	assert_int_equal(smtp_race_next(race, &fd, &rr), SMTP_RACE_SESSION);
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(smtp_race_remaining(race), 0);
	close(fd);
	smtp_race_free(race);
	close(mute);
	dns_rr_free(list);
}

static void
test_refused_reason(void **st)
{
	struct fixture *f = *st;
	int port, fd, l = listener(1, &port);
	const struct dns_rr *rr;
	struct dns_rr *list = addr("gone.test");
	struct smtp_race *race;
	char want[128];

	close(l);		/* now nothing listens there */
	race = smtp_race_create(&f->state, list, 1, port, 300);
	assert_int_equal(smtp_race_next(race, &fd, &rr), SMTP_RACE_NONE);
	snprintf(want, sizeof(want), "connect to gone.test[127.0.0.1]:%d: "
		 "Connection refused", port);
	assert_string_equal(f->state.why->reason, want);
	assert_string_equal(f->state.why->status, "4.4.1");
	smtp_race_free(race);
	dns_rr_free(list);
}

static void
test_parse_delay(void **unused)
{
	int ms;

	assert_int_equal(smtp_race_parse_delay("300ms", &ms), 0);
	assert_int_equal(ms, 300);
	assert_int_equal(smtp_race_parse_delay("250", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(smtp_race_parse_delay("2s", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(smtp_race_parse_delay("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(smtp_race_parse_delay("fast", &ms), -1);
	assert_int_equal(smtp_race_parse_delay("3m", &ms), -1);
	assert_int_equal(smtp_race_parse_delay("-1", &ms), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_race_skips_black_hole,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mute_server_times_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sequential_hands_over_at_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_reason, setup,
						teardown),
		cmocka_unit_test(test_parse_delay),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
