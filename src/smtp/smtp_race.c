/*
 * smtp_race - connection attempts to a list of server addresses,
 * staggered and concurrent, or one after another
 *
 * smtp_race_create() takes the address list of one destination (most
 *	preferred first) and the stagger delay (smtp_connection_race_delay,
 *	in milliseconds).
 * smtp_race_next() returns the next connection to talk to:
 *	SMTP_RACE_SESSION with a connected descriptor, SMTP_RACE_GREET_TIMEOUT
 *	with a connected descriptor whose server never greeted within
 *	smtp_helo_timeout, or SMTP_RACE_NONE when no address is left.  It can
 *	be called again after the caller is done with a session, to move on
 *	to the next server.
 * smtp_race_remaining() counts the addresses that may still produce a
 *	session (attempts in flight and addresses not yet tried).
 * smtp_race_abandon_all() closes the attempts still in flight.
 * smtp_race_parse_delay() reads "300ms", "1s", "0".
 *
 * With a delay of 0 the attempts are strictly sequential, as in Postfix:
 * connect to one address (for up to smtp_connect_timeout), hand the
 * connection over at once, and try the next address only when asked.
 *
 * With a delay, attempts are started in preference order in the manner
 * of RFC 8305 ("Happy Eyeballs"): when the newest attempt has produced
 * nothing within the delay, or as soon as it fails, the next address
 * gets an attempt too, and the earlier ones keep going.  An attempt is
 * answered only when the server's complete greeting has arrived: a TCP
 * connection alone is not enough, so a server that accepts and never
 * greets loses like one that drops SYNs.  The greeting is looked at with
 * MSG_PEEK and stays unread in the socket, so the protocol engine reads
 * it itself, exactly as after a sequential connect.  The first 2xx
 * greeting wins: the other attempts are closed (QUIT first if they had
 * greeted too) and each is logged as abandoned.  A 4xx/5xx greeting, or
 * a connection that is closed before greeting, is handed over as well
 * (the engine reports it, as Postfix would), while the other attempts
 * continue.
 *
 * Connection failures are logged and recorded in state->why as Postfix
 * words them ("connect to host[addr]:port: Connection refused", 4.4.1).
 * Of several failures, the one of the least preferred address is kept,
 * so that the final reason is the one Postfix's sequential order gives.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "smtp_addr.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#define PEEK_MAX	4096	/* a greeting longer than this: let smtp_helo
				 * read it */
#define RECHECK_MS	20	/* wait for the rest of a partial greeting */

enum attempt_phase {
	ATT_CONNECTING,
	ATT_GREETING,
};

struct attempt {
	int index;		/* into race->addrs */
	int fd;
	enum attempt_phase phase;
	long long started;
	long long conn_deadline;	/* 0: none */
	long long greet_deadline;	/* 0: none */
	long long recheck_at;	/* partial greeting: look again then */
	int greeted;		/* 2xx greeting complete (for a polite QUIT) */
};

struct smtp_race {
	struct smtp_state *state;	/* borrowed */
	struct dns_rr **addrs;	/* borrowed records, in order */
	int count;
	int next;		/* first address not yet tried */
	int port;
	int delay_ms;
	struct attempt *att;
	int natt;
	long long last_start;
	int start_now;		/* the newest attempt failed */
	int why_index;		/* address whose failure is in state->why */
};

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* smtp_race_parse_delay - "300ms", "2s", "0"; 0 ok, -1 bad */
int
smtp_race_parse_delay(const char *value, int *ms)
{
	char *end;
	long n = strtol(value, &end, 10);

	if (end == value || n < 0 || n > 3600000)
		return -1;
	if (*end == 0 || strcmp(end, "ms") == 0)
		*ms = (int)n;
	else if (strcmp(end, "s") == 0 && n <= 3600)
		*ms = (int)(n * 1000);
	else
		return -1;
	/* A bare number is milliseconds, the parameter's unit. */
	return 0;
}

/* smtp_race_create - prepare attempts for a list of addresses */
struct smtp_race *
smtp_race_create(struct smtp_state *state, struct dns_rr *addrs, int count,
		 int port, int delay_ms)
{
	struct smtp_race *race = xcalloc(1, sizeof(*race));
	int i = 0;

	race->state = state;
	race->addrs = xcalloc((size_t)(count ? count : 1),
			      sizeof(*race->addrs));
	for (struct dns_rr *rr = addrs; rr && i < count; rr = rr->next)
		race->addrs[i++] = rr;
	race->count = i;
	race->port = port;
	race->delay_ms = delay_ms;
	race->att = xcalloc((size_t)(race->count ? race->count : 1),
			    sizeof(*race->att));
	race->why_index = -1;
	return race;
}

/* addr_text - printable address of an attempt */
static const char *
addr_text(const struct smtp_race *race, int index, char *buf, size_t len)
{
	return dns_rr_addr_text(race->addrs[index], buf, len);
}

/* fail - log a connection failure and keep it as the reason if due */
static void __attribute__((format(printf, 4, 5)))
fail(struct smtp_race *race, int index, const char *status,
     const char *fmt, ...)
{
	struct strbuf text = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(&text, fmt, ap);
	va_end(ap);
	msg_info("%s", strbuf_str(&text));
	if (index >= race->why_index) {
		smtp_set_why(race->state, status, "%s", strbuf_str(&text));
		race->why_index = index;
	}
	strbuf_release(&text);
}

/* bind_source - smtp_bind_address(6), or the single inet_interfaces one */
static int
bind_source(struct smtp_race *race, int fd, int family)
{
	const char *bind_addr = family == AF_INET6 ? var_smtp_bind_address6
	    : var_smtp_bind_address;
	const char *name = family == AF_INET6
	    ? (smtp_lmtp_mode ? "lmtp_bind_address6" : "smtp_bind_address6")
	    : (smtp_lmtp_mode ? "lmtp_bind_address" : "smtp_bind_address");
	struct addrinfo hints, *res;
	char *copy, *end;
	int err;

	if (*bind_addr == 0)
		return 0;
	copy = xstrdup(bind_addr);
	if (*copy == '[') {
		if ((end = strchr(copy, ']')) == NULL || end[1] != 0)
			msg_fatal("smtp_connect_addr: malformed %s parameter: %s",
				  name, bind_addr);
		*end = 0;
		memmove(copy, copy + 1, strlen(copy));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if ((err = getaddrinfo(copy, NULL, &hints, &res)) != 0)
		msg_fatal("smtp_connect_addr: bad %s parameter: %s: %s", name,
			  bind_addr, gai_strerror(err));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		msg_warn("smtp_connect_addr: bind %s: %m", copy);
		if (var_smtp_bind_address_enforce) {
			freeaddrinfo(res);
			free(copy);
			return -1;
		}
	} else if (msg_verbose) {
		msg_info("smtp_connect_addr: bind %s", copy);
	}
	freeaddrinfo(res);
	free(copy);
	return 0;
}

/* bind_own - a virtual host binds to its only interface of the family */
static void
bind_own(int fd, int family)
{
	struct addrinfo hints, *res, *ai, *own = NULL;
	char *copy, *rest, *item;
	int count = 0;

	if (strcasecmp(var_inet_interfaces, "all") == 0
	    || strcasecmp(var_inet_interfaces, "loopback-only") == 0)
		return;
	copy = xstrdup(var_inet_interfaces);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	for (rest = copy; count < 2 && (item = strsep(&rest, ", \t\r\n"));) {
		if (*item == 0 || getaddrinfo(item, NULL, &hints, &res) != 0)
			continue;
		for (ai = res; ai; ai = ai->ai_next) {
			if (ai->ai_family != family)
				continue;
			if (count++ == 0) {
				own = xmalloc(sizeof(*own));
				*own = *ai;
				own->ai_addr = xmalloc(ai->ai_addrlen);
				memcpy(own->ai_addr, ai->ai_addr, ai->ai_addrlen);
			}
		}
		freeaddrinfo(res);
	}
	free(copy);
	if (own == NULL)
		return;
	if (count == 1) {
		int loopback = family == AF_INET
		    ? (ntohl(((struct sockaddr_in *)own->ai_addr)->sin_addr.s_addr)
		       >> 24) == 127
		    : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)
					     own->ai_addr)->sin6_addr);

		if (!loopback && bind(fd, own->ai_addr, own->ai_addrlen) < 0)
			msg_warn("smtp_connect_addr: bind: %m");
	}
	free(own->ai_addr);
	free(own);
}

/*
 * set_windowsize - tcp_windowsize: cap the socket buffers (and with them
 * the TCP window) before connecting, for broken middleboxes.
 */
static void
set_windowsize(int fd, int size)
{
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
		msg_warn("setsockopt SO_SNDBUF %d: %m", size);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		msg_warn("setsockopt SO_RCVBUF %d: %m", size);
}

/*
 * set_nodelay - no Nagle.  Output is gathered in the stream buffer and
 * written only when the buffer is full or before a reply is awaited, so
 * Nagle never saves a packet; it only holds back the tail of a write that
 * follows a full one (a message larger than the buffer) until the server's
 * delayed ACK, tens of milliseconds later.  Postfix avoids this by sizing
 * its buffer to 4 MSS; a larger message stalls there too.
 */
static void
set_nodelay(int fd)
{
	int on = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
		msg_warn("setsockopt TCP_NODELAY: %m");
}

/* start - begin an attempt at the next address; 0 started, -1 failed */
static int
start(struct smtp_race *race)
{
	int index = race->next++;
	const struct dns_rr *rr = race->addrs[index];
	struct sockaddr_storage ss;
	socklen_t len;
	char text[INET6_ADDRSTRLEN];
	struct attempt *a;
	int fd;

	addr_text(race, index, text, sizeof(text));
	race->last_start = now_ms();
	race->start_now = 0;
	if (dns_rr_to_sockaddr(rr, race->port, &ss, &len) < 0) {
		msg_warn("smtp_connect_addr: skip address type %s",
			 dns_strtype(rr->type));
		fail(race, index, "4.4.0", "network address conversion failed");
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK
			 | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal("smtp_connect_addr: socket: %m");
	if (var_tcp_windowsize > 0)
		set_windowsize(fd, var_tcp_windowsize);
	set_nodelay(fd);
	if (*(ss.ss_family == AF_INET6 ? var_smtp_bind_address6
	      : var_smtp_bind_address)) {
		if (bind_source(race, fd, ss.ss_family) < 0) {
			close(fd);
			fail(race, index, "4.4.0", "server configuration error");
			return -1;
		}
	} else {
		bind_own(fd, ss.ss_family);
	}
	if (msg_verbose)
		msg_info("smtp_connect_addr: trying: %s[%s] port %d...",
			 smtp_addr_hname(rr), text, race->port);
	a = &race->att[race->natt];
	memset(a, 0, sizeof(*a));
	a->index = index;
	a->fd = fd;
	a->started = race->last_start;
	a->conn_deadline = var_smtp_connect_timeout > 0
	    ? a->started + var_smtp_connect_timeout * 1000LL : 0;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		a->phase = ATT_GREETING;
	} else if (errno == EINPROGRESS) {
		a->phase = ATT_CONNECTING;
	} else {
		int err = errno;

		close(fd);
		fail(race, index, "4.4.1", "connect to %s[%s]:%d: %s",
		     smtp_addr_hname(rr), text, race->port, strerror(err));
		race->start_now = 1;
		return -1;
	}
	if (a->phase == ATT_GREETING)
		a->greet_deadline = var_smtp_helo_timeout > 0
		    ? now_ms() + var_smtp_helo_timeout * 1000LL : 0;
	race->natt++;
	return 0;
}

/* drop - remove attempt i from the active list (fd not closed) */
static void
drop(struct smtp_race *race, int i)
{
	race->att[i] = race->att[race->natt - 1];
	race->natt--;
}

/* abandon - close an attempt that lost, politely, and log it */
static void
abandon(struct smtp_race *race, int i, const char *why)
{
	struct attempt *a = &race->att[i];
	char text[INET6_ADDRSTRLEN];

	if (a->greeted) {
		static const char quit[] = "QUIT\r\n";

		(void)send(a->fd, quit, sizeof(quit) - 1,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	close(a->fd);
	msg_info("%s: connection attempt to %s[%s]:%d abandoned after %lld ms "
		 "(%s): %s", race->state->req->queue_id,
		 smtp_addr_hname(race->addrs[a->index]),
		 addr_text(race, a->index, text, sizeof(text)), race->port,
		 now_ms() - a->started,
		 a->phase == ATT_CONNECTING ? "connecting"
		 : a->greeted ? "greeted" : "waiting for greeting", why);
	drop(race, i);
}

/* smtp_race_abandon_all - close whatever is still in flight */
void
smtp_race_abandon_all(struct smtp_race *race, const char *why)
{
	while (race->natt > 0)
		abandon(race, race->natt - 1, why);
}

/* connect_done - a non-blocking connect finished; 0 ok, -1 failed */
static int
connect_done(struct smtp_race *race, struct attempt *a)
{
	int err = 0;
	socklen_t len = sizeof(err);
	char text[INET6_ADDRSTRLEN];

	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		a->phase = ATT_GREETING;
		a->greet_deadline = var_smtp_helo_timeout > 0
		    ? now_ms() + var_smtp_helo_timeout * 1000LL : 0;
		return 0;
	}
	close(a->fd);
	fail(race, a->index, "4.4.1", "connect to %s[%s]:%d: %s",
	     smtp_addr_hname(race->addrs[a->index]),
	     addr_text(race, a->index, text, sizeof(text)), race->port,
	     strerror(err));
	race->start_now = 1;
	return -1;
}

/*
 * peek_greeting - look at what the server sent so far without reading
 * it: 2 = complete 2xx greeting, 1 = complete other reply, connection
 * closed or too long to wait for, 0 = not complete yet.
 */
static int
peek_greeting(struct attempt *a)
{
	char buf[PEEK_MAX + 1];
	ssize_t n = recv(a->fd, buf, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
	char *line, *nl;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
		      || errno == EINTR))
		return 0;
	if (n <= 0)
		return 1;
	buf[n] = 0;
	for (line = buf; (nl = memchr(line, '\n', (size_t)(buf + n - line)));
	     line = nl + 1) {
		int code, last;

		*nl = 0;
		if (nl > line && nl[-1] == '\r')
			nl[-1] = 0;
		if (smtp_resp_parse_line(line, &code, &last) && last)
			return code >= 200 && code <= 299 ? 2 : 1;
	}
	return n >= PEEK_MAX ? 1 : 0;
}

/* smtp_race_remaining - attempts in flight plus addresses not tried */
int
smtp_race_remaining(const struct smtp_race *race)
{
	return race->natt + (race->count - race->next);
}

/* hand_over - give attempt i to the caller */
static enum smtp_race_result
hand_over(struct smtp_race *race, int i, int *fd, const struct dns_rr **rr,
	  enum smtp_race_result result)
{
	*fd = race->att[i].fd;
	*rr = race->addrs[race->att[i].index];
	if (race->att[i].index >= race->why_index)
		race->why_index = race->att[i].index;
	drop(race, i);
	return result;
}

/*
 * smtp_race_next - the next connection to talk to.  The loop starts
 * attempts when due, then waits in poll() for connects, greetings and
 * deadlines, and returns as soon as one connection is ready to hand over.
 */
enum smtp_race_result
smtp_race_next(struct smtp_race *race, int *fd, const struct dns_rr **rr)
{
	int racing = race->delay_ms > 0;

	for (;;) {
		struct pollfd pfd[race->count + 1];
		int map[race->count + 1];
		long long now = now_ms(), wake = -1;
		int n = 0, ready;

		/* Start attempts: the first, after a failure, or when due. */
		while (race->next < race->count
		       && (race->natt == 0 || race->start_now
			   || (racing && now >= race->last_start
			       + race->delay_ms)))
			(void)start(race);
		if (race->natt == 0)
			return SMTP_RACE_NONE;

		/* Sequential mode: a connection is handed over at once. */
		for (int i = 0; i < race->natt; i++)
			if (!racing && race->att[i].phase == ATT_GREETING)
				return hand_over(race, i, fd, rr,
						 SMTP_RACE_SESSION);

		/* Deadlines that have passed. */
		now = now_ms();
		for (int i = 0; i < race->natt; i++) {
			struct attempt *a = &race->att[i];
			char text[INET6_ADDRSTRLEN];

			if (a->phase == ATT_CONNECTING && a->conn_deadline
			    && now >= a->conn_deadline) {
				close(a->fd);
				fail(race, a->index, "4.4.1",
				     "connect to %s[%s]:%d: %s",
				     smtp_addr_hname(race->addrs[a->index]),
				     addr_text(race, a->index, text,
					       sizeof(text)),
				     race->port, strerror(ETIMEDOUT));
				race->start_now = 1;
				drop(race, i);
				goto again;
			}
			if (a->phase == ATT_GREETING && a->greet_deadline
			    && now >= a->greet_deadline)
				return hand_over(race, i, fd, rr,
						 SMTP_RACE_GREET_TIMEOUT);
		}

		/* Wait for sockets and for the next deadline. */
		for (int i = 0; i < race->natt; i++) {
			struct attempt *a = &race->att[i];
			long long t = a->phase == ATT_CONNECTING
			    ? a->conn_deadline : a->greet_deadline;

			if (t && (wake < 0 || t < wake))
				wake = t;
			if (a->phase == ATT_GREETING && a->recheck_at > now) {
				if (wake < 0 || a->recheck_at < wake)
					wake = a->recheck_at;
				continue;
			}
			pfd[n].fd = a->fd;
			pfd[n].events = a->phase == ATT_CONNECTING ? POLLOUT
			    : POLLIN;
			pfd[n].revents = 0;
			map[n++] = i;
		}
		if (racing && race->next < race->count) {
			long long t = race->last_start + race->delay_ms;

			if (wake < 0 || t < wake)
				wake = t;
		}
		ready = poll(pfd, (nfds_t)n, wake < 0 ? -1
			     : (int)(wake > now ? wake - now : 0));
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("smtp_race: poll: %m");
		}
		if (ready == 0)
			continue;

		/*
		 * Connects first, then greetings: of greetings complete in
		 * the same round, the most preferred address wins.
		 */
		{
			int best = -1, best_kind = 0;

			for (int k = 0; k < n; k++) {
				int i = map[k];
				struct attempt *a = &race->att[i];
				int kind;

				if (pfd[k].revents == 0)
					continue;
				if (a->phase == ATT_CONNECTING) {
					if (connect_done(race, a) < 0) {
						a->fd = -1;
						continue;
					}
					if (!racing)
						return hand_over(race, i, fd, rr,
							SMTP_RACE_SESSION);
					continue;
				}
				if ((kind = peek_greeting(a)) == 0) {
					a->recheck_at = now_ms() + RECHECK_MS;
					continue;
				}
				if (kind == 2)
					a->greeted = 1;
				if (best < 0 || kind > best_kind
				    || (kind == best_kind && a->index
					< race->att[best].index)) {
					best = i;
					best_kind = kind;
				}
			}
			/* Failed connects leave fd -1: remove them. */
			for (int i = race->natt - 1; i >= 0; i--)
				if (race->att[i].fd < 0) {
					if (best == race->natt - 1)
						best = i;
					drop(race, i);
				}
			if (best < 0)
				continue;
			if (best_kind == 2) {
				struct strbuf why = STRBUF_INIT;
				char text[INET6_ADDRSTRLEN];
				struct attempt win = race->att[best];

				strbuf_printf(&why, "%s[%s]:%d answered first",
					      smtp_addr_hname(race->addrs[win.index]),
					      addr_text(race, win.index, text,
							sizeof(text)),
					      race->port);
				drop(race, best);
				race->att[race->natt] = win;
				smtp_race_abandon_all(race, strbuf_str(&why));
				strbuf_release(&why);
				race->att[0] = win;
				race->natt = 1;
				return hand_over(race, 0, fd, rr,
						 SMTP_RACE_SESSION);
			}
			return hand_over(race, best, fd, rr, SMTP_RACE_SESSION);
		}
again:
		;
	}
}

/* smtp_race_free - close what is left and free */
void
smtp_race_free(struct smtp_race *race)
{
	if (race == NULL)
		return;
	for (int i = 0; i < race->natt; i++)
		close(race->att[i].fd);
	free(race->addrs);
	free(race->att);
	free(race);
}
