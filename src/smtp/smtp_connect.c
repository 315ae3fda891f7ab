/*
 * smtp_connect - find the server(s) for a request's next hop, connect,
 * and hand each session to the protocol engine
 *
 * smtp_connect() parses the next-hop forms of smtp(8) and lmtp(8):
 *
 *   SMTP: host, host:port, [host], [host]:port, [address], [address]:port,
 *         [ipv6:address]:port
 *   LMTP: unix:/path, inet:host, inet:host:port, inet:[address]:port
 *
 * resolves host names (for now with getaddrinfo, honouring
 * inet_protocols), and tries each address in turn until no recipient is
 * left.  Only the last address is the "final server": before it, soft
 * failures keep recipients for the next one.  A connection failure is
 * logged as "connect to host[addr]:port: reason" and becomes 4.4.1.
 *
 * Ports: a number, or a service name looked up in known_tcp_ports and
 * then services(5) (which may be absent inside the chroot).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "global/params.h"
#include "smtp.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

struct smtp_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[INET6_ADDRSTRLEN];
};

/* known_port - look a service name up in known_tcp_ports */
static int
known_port(const char *name)
{
	char *copy = xstrdup(var_known_tcp_ports);
	char *rest = copy, *item;
	int port = -1;

	/* Syntax: name=name=...=number, separated by commas/space */
	while (port < 0 && (item = strsep(&rest, ",")) != NULL) {
		char *field, *fields = item;
		int match = 0;

		while ((field = strsep(&fields, "=")) != NULL) {
			char *start = field, *end;

			while (*start == ' ' || *start == '\t')
				start++;
			end = start + strlen(start);
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = 0;
			if (fields == NULL) {	/* the last field: the number */
				if (match)
					port = atoi(start);
			} else if (strcasecmp(start, name) == 0) {
				match = 1;
			}
		}
	}
	free(copy);
	return port;
}

/* smtp_find_port - port number for a number or service name, -1 if bad */
static int
smtp_find_port(const char *service)
{
	struct servent *se;
	char *end;
	long n;

	if (*service == 0)
		return -1;
	n = strtol(service, &end, 10);
	if (*end == 0)
		return (n > 0 && n < 65536) ? (int)n : -1;
	if ((n = known_port(service)) > 0 && n < 65536)
		return (int)n;
	if ((se = getservbyname(service, "tcp")) != NULL)
		return ntohs((unsigned short)se->s_port);
	return -1;
}

/* parse_dest - split "[host]:port" forms; returns 0 or -1 */
static int
parse_dest(const char *dest, char **host, char **service, int *bracketed)
{
	const char *cp;

	*bracketed = 0;
	if (*dest == '[') {
		if ((cp = strchr(dest, ']')) == NULL)
			return -1;
		*host = xstrndup(dest + 1, (size_t)(cp - dest - 1));
		*bracketed = 1;
		cp++;
		if (*cp == ':')
			*service = xstrdup(cp + 1);
		else if (*cp == 0)
			*service = NULL;
		else {
			free(*host);
			return -1;
		}
	} else if ((cp = strrchr(dest, ':')) != NULL
		   && strchr(dest, ':') == cp) {
		*host = xstrndup(dest, (size_t)(cp - dest));
		*service = xstrdup(cp + 1);
	} else {
		*host = xstrdup(dest);
		*service = NULL;
	}
	if (strncasecmp(*host, "ipv6:", 5) == 0) {
		char *v6 = xstrdup(*host + 5);

		free(*host);
		*host = v6;
	}
	return **host ? 0 : -1;
}

/* resolve - addresses for host, in the resolver's order */
static int
resolve(struct smtp_state *state, const char *host, int port,
	struct smtp_addr **out, int *count)
{
	struct addrinfo hints, *res = NULL, *ai;
	int family = AF_UNSPEC, err, n = 0;
	char portstr[16];

	if (strcasecmp(var_inet_protocols, "ipv4") == 0)
		family = AF_INET;
	else if (strcasecmp(var_inet_protocols, "ipv6") == 0)
		family = AF_INET6;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((err = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		int soft = (err == EAI_AGAIN || err == EAI_FAIL
			    || err == EAI_MEMORY || err == EAI_SYSTEM);

		smtp_set_why(state, soft ? "4.4.3" : "5.4.4",
			       "Host or domain name not found. Name service "
			       "error for name=%s type=%s: %s", host,
			       family == AF_INET6 ? "AAAA" : "A",
			       soft ? "Host not found, try again"
			       : "Host not found");
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	*out = xcalloc((size_t)n, sizeof(**out));
	n = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		struct smtp_addr *a = &(*out)[n];
		const void *bin;

		if (ai->ai_addrlen > sizeof(a->sa))
			continue;
		memcpy(&a->sa, ai->ai_addr, ai->ai_addrlen);
		a->len = ai->ai_addrlen;
		bin = ai->ai_family == AF_INET6
		    ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
		    : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		inet_ntop(ai->ai_family, bin, a->text, sizeof(a->text));
		n++;
	}
	freeaddrinfo(res);
	*count = n;
	return 0;
}

/* connect_timed - connect with smtp_connect_timeout; fd or -1 (errno) */
static int
connect_timed(const struct sockaddr *sa, socklen_t len, int timeout)
{
	struct pollfd pfd;
	int fd, err = 0, n;
	socklen_t errlen = sizeof(err);

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC
			 | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		n = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (n < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		goto fail;
	if (err) {
		errno = err;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* run_session - talk to one connected server */
static void
run_session(struct smtp_state *state, struct stream *stream,
	    const char *host, const char *addr, int port)
{
	state->session = smtp_session_create(stream, host, addr, port);
	state->session->queue_id = state->req->queue_id;
	if (smtp_helo(state) == 0)
		(void)smtp_xfer(state);
	else
		smtp_quit(state);
	smtp_session_free(state->session);
	state->session = NULL;
	/* Recipients kept for a backup server become pending again. */
	for (int i = 0; i < state->req->rcpt_count; i++)
		if (state->rcpt_state[i] == SMTP_RCPT_KEEP)
			state->rcpt_state[i] = SMTP_RCPT_PENDING;
}

/* connect_unix - LMTP over a UNIX-domain socket */
static void
connect_unix(struct smtp_state *state, const char *path)
{
	struct sockaddr_un sun;
	int fd;

	state->final_server = 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		smtp_set_why(state, "4.3.5", "unix-domain name too long: %s",
			     path);
		return;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = connect_timed((struct sockaddr *)&sun, sizeof(sun),
			   var_smtp_connect_timeout);
	if (fd < 0) {
		int err = errno;

		smtp_set_why(state, "4.4.1", "connect to %s[%s]: %s",
			     var_myhostname, path, strerror(err));
		msg_info("%s", state->why->reason);
		return;
	}
	run_session(state, stream_fdopen(fd), var_myhostname, path, 0);
}

/* connect_inet - every address of one destination, in order */
static void
connect_inet(struct smtp_state *state, const char *dest)
{
	char *host = NULL, *service = NULL;
	struct smtp_addr *addrs = NULL;
	int bracketed, port, count = 0;

	if (parse_dest(dest, &host, &service, &bracketed) < 0) {
		smtp_set_why(state, "5.4.4", "bad destination syntax: %s",
			     dest);
		goto out;
	}
	port = smtp_find_port(service ? service : var_smtp_tcp_port);
	if (port < 0) {
		smtp_set_why(state, "4.3.5", "unknown service: %s/tcp",
			     service ? service : var_smtp_tcp_port);
		goto out;
	}
	if (resolve(state, host, port, &addrs, &count) < 0)
		goto out;
	for (int i = 0; i < count && state->rcpt_left > 0; i++) {
		struct smtp_addr *a = &addrs[i];
		int fd;

		state->final_server = (i == count - 1);
		fd = connect_timed((struct sockaddr *)&a->sa, a->len,
				   var_smtp_connect_timeout);
		if (fd < 0) {
			int err = errno;

			smtp_set_why(state, "4.4.1", "connect to %s[%s]:%d: %s",
				     host, a->text, port, strerror(err));
			msg_info("%s", state->why->reason);
			continue;
		}
		run_session(state, stream_fdopen(fd), host, a->text, port);
	}
out:
	free(host);
	free(service);
	free(addrs);
}

/* smtp_connect - deliver to the request's next hop */
int
smtp_connect(struct smtp_state *state)
{
	const char *dest = state->req->nexthop;

	if (state->lmtp) {
		if (strncmp(dest, "unix:", 5) == 0)
			connect_unix(state, dest + 5);
		else
			connect_inet(state, strncmp(dest, "inet:", 5) == 0
				     ? dest + 5 : dest);
	} else {
		connect_inet(state, dest);
	}
	/* Left-overs: no server was reachable, or all deferred us. */
	if (state->rcpt_left > 0) {
		state->final_server = 1;
		smtp_sess_fail_why(state);
	}
	return 0;
}
