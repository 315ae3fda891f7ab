/*
 * smtp_connect - find the servers of a request's next hop, connect, and
 * hand each session to the protocol engine
 *
 * smtp_connect() delivers one request.  The next hop is one of
 *
 *   SMTP: domain, domain:port, [host], [host]:port, [address],
 *         [address]:port, [ipv6:address], [ipv6:address]:port, or a list
 *         of these separated by commas or white space (relayhost)
 *   LMTP: unix:/path, inet:host, inet:host:port, inet:[address]:port, or
 *         the same forms without "inet:"
 *
 * where a port is a number or a service name (known_tcp_ports, then
 * services(5)), smtp_tcp_port by default.  smtp_fallback_relay
 * destinations follow the next hop's own.  For each destination in turn,
 * the address list is built (smtp_addr.c: MX lookup unless bracketed or
 * DNS is disabled, then addresses, in Postfix 3.7's order, cut at
 * smtp_mx_address_limit) and sessions are made (smtp_race.c: sequential,
 * or staggered attempts when smtp_connection_race_delay is not 0) until
 * no recipient is left, smtp_mx_session_limit sessions have got through
 * the EHLO handshake, or the list is used up.
 *
 * Only the last server of the last destination is the "final server":
 * before it, a soft failure keeps the recipients for the next server
 * (smtp_trouble.c).  A destination where this host is an MX, or whose
 * mail loops back to this host, is the last one tried.  What is left at
 * the end is deferred or bounced with the last failure, made soft when it
 * points at a configuration problem (relayhost or fallback relay), as
 * Postfix 3.7 does.
 *
 * Mail that loops back to this host goes to best_mx_transport when that
 * is set (smtp_pass.c).
 *
 * Hooks into other modules: smtp_helo() reads the greeting the race left
 * unread in the socket; smtp_stream_except() words a greeting timeout.
 */
#include <arpa/inet.h>
#include <ctype.h>
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
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

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

/* all_digits - a non-empty string of digits */
static int
all_digits(const char *s)
{
	if (*s == 0)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/*
 * parse_dest - split a destination into host and port.  Bad syntax and
 * unknown services are fatal, as they are in Postfix: they are
 * configuration errors, and the queue manager will try again later.
 */
static char *
parse_dest(const char *dest, const char *def_service, int *port)
{
	char *buf = xstrdup(dest), *host, *service = NULL, *cp;
	const char *err = NULL;
	int n;

	if (*buf == '[') {
		host = buf + 1;
		if (strncasecmp(host, "ipv6:", 5) == 0)
			host += 5;
		if ((cp = strchr(host, ']')) == NULL) {
			err = "missing \"]\"";
		} else {
			*cp++ = 0;
			if (*cp == ':')
				service = cp + 1;
			else if (*cp)
				err = "garbage after \"]\"";
		}
	} else {
		host = buf;
		if ((cp = strrchr(buf, ':')) != NULL) {
			*cp = 0;
			service = cp + 1;
		}
	}
	if (err == NULL && *host == 0)
		err = "missing host information";
	if (err == NULL && service && *service == 0)
		err = "missing service information";
	if (err == NULL && !dns_valid_hostname(host) && !dns_valid_hostaddr(host))
		err = "valid hostname or network address required";
	if (err == NULL && service && isdigit((unsigned char)*service)
	    && !all_digits(service))
		err = "garbage after numerical service";
	if (err)
		msg_fatal("%s in server description: %s", err, dest);
	if (service == NULL)
		service = (char *)def_service;
	if ((n = known_port(service)) > 0) {
		*port = n;
	} else if (all_digits(service)) {
		n = atoi(service);
		if (n <= 0 || n >= 65536)
			msg_fatal("bad network port: %s for destination: %s",
				  service, dest);
		*port = n;
	} else {
		struct servent *se = getservbyname(service, "tcp");

		if (se == NULL)
			msg_fatal("unknown service: %s/tcp", service);
		*port = ntohs((unsigned short)se->s_port);
	}
	/* The host (without brackets) lives on in buf. */
	memmove(buf, host, strlen(host) + 1);
	return buf;
}

/* keep_to_pending - recipients kept for a backup server are pending */
static void
keep_to_pending(struct smtp_state *state)
{
	for (int i = 0; i < state->req->rcpt_count; i++)
		if (state->rcpt_state[i] == SMTP_RCPT_KEEP)
			state->rcpt_state[i] = SMTP_RCPT_PENDING;
}

/*
 * session_start - wrap a connected socket; the greeting, if the race
 * already saw it, is still unread in the socket.
 */
static void
session_start(struct smtp_state *state, int fd, const char *host,
	      const char *addr, int port)
{
	struct smtp_session *session;

	session = smtp_session_create(stream_fdopen(fd), host, addr, port);
	session->queue_id = state->req->queue_id;
	session->dest = xstrdup(state->dest ? state->dest : "");
	/* Reusable for smtp_connection_reuse_time_limit from now on. */
	if (state->cache_store)
		session->expire_time = time(NULL)
		    + var_smtp_connection_reuse_time_limit;
	state->session = session;
}

/*
 * session_end - tell the postmaster about trouble (notify_classes), then
 * cache the session or close it; recipients are ready for the next
 * server.  A session that was meant for the cache but has been used long
 * or often enough gets its QUIT now (after the notice, as in Postfix: the
 * QUIT is not part of the transcript).
 */
static void
session_end(struct smtp_state *state)
{
	struct deliver_request *req = state->req;
	struct smtp_session *session = state->session;
	int throttled = session->expire_time < 0;

	smtp_chat_notify(state);
	if (smtp_session_expired(session))
		smtp_quit(state);	/* no longer cached */
	if (smtp_session_cached(session)
	    && stream_error(session->stream) == STREAM_OK)
		smtp_save_session(state);
	else
		smtp_session_free(session);
	state->session = NULL;

	/*
	 * Only the first good session is cached under the request's next
	 * hop, so that later (less preferred) servers never stand in for
	 * it.
	 */
	if (state->request_nexthop && !throttled) {
		free(state->request_nexthop);
		state->request_nexthop = NULL;
	}
	keep_to_pending(state);
	/* Set-up time of the next session starts afresh, as in Postfix. */
	memset(&req->msg_stats.conn_setup_done, 0,
	       sizeof(req->msg_stats.conn_setup_done));
	memset(&req->msg_stats.deliver_done, 0,
	       sizeof(req->msg_stats.deliver_done));
	req->msg_stats.reuse_count = 0;
}

/* connect_unix_socket - a connected descriptor, or -1 (why is set) */
static int
connect_unix_socket(struct smtp_state *state, const char *path)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	int fd, n = 0, err = 0;
	socklen_t errlen = sizeof(err);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		msg_warn("unix-domain name too long: %s", path);
		smtp_set_why(state, "4.3.5", "Server configuration error");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0)) < 0)
		msg_fatal("smtp_connect_unix: socket: %m");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = errno;
		if (err == EINPROGRESS || err == EAGAIN) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			do {
				n = poll(&pfd, 1, var_smtp_connect_timeout > 0
					 ? var_smtp_connect_timeout * 1000 : -1);
			} while (n < 0 && errno == EINTR);
			if (n == 0)
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
					    &errlen) < 0)
				err = errno;
		}
	}
	if (err) {
		close(fd);
		smtp_set_why(state, "4.4.1", "connect to %s[%s]: %s",
			     var_myhostname, path, strerror(err));
		msg_info("%s", state->why->reason);
		return -1;
	}
	return fd;
}

/*
 * connect_unix - LMTP over a UNIX-domain socket.  The connection cache
 * knows it by its path (without "unix:"), and only by destination.
 */
static void
connect_unix(struct smtp_state *state, const char *path)
{
	int fd;

	if (*var_smtp_fallback_relay)
		msg_warn("ignoring \"%s = %s\" setting for non-TCP connections",
			 "lmtp_fallback_relay", var_smtp_fallback_relay);
	state->final_server = 1;
	{
		struct smtp_why why = { "", STRBUF_INIT };
		int refused = smtp_tls_refuse(path, var_myhostname, &why);

		if (refused)
			smtp_set_why(state, why.status, "%s",
				     strbuf_str(&why.reason));
		strbuf_release(&why.reason);
		if (refused)
			return;
	}
	state->dest = path;
	{
		struct smtp_why why = { "", STRBUF_INIT };

		/* As Postfix: no opportunistic TLS over a UNIX socket. */
		if (smtp_tls_level(path, var_myhostname, &why)
		    == SMTP_TLS_LEV_MAY) {
			msg_warn("smtp_connect_local: opportunistic TLS "
				 "encryption is not appropriate for "
				 "unix-domain destinations.");
			state->tls_off = 1;
		}
		strbuf_release(&why.reason);
	}
	smtp_cache_policy(state, path);
	if (state->cache_load || state->cache_store)
		state->request_nexthop = xstrdup(path);
	if (!state->cache_load || smtp_reuse_nexthop(state, 0) == NULL) {
		if ((fd = connect_unix_socket(state, path)) < 0)
			goto out;
		session_start(state, fd, var_myhostname, path, 0);
	}
	if (!state->session->from_cache && smtp_helo(state) != 0)
		smtp_quit(state);
	else
		(void)smtp_xfer(state);
	session_end(state);
out:
	state->tls_off = 0;
	free(state->request_nexthop);
	state->request_nexthop = NULL;
}

/* rr_remove - unlink one record from a list and free it */
static struct dns_rr *
rr_remove(struct dns_rr *list, struct dns_rr *rr)
{
	struct dns_rr **pp;

	for (pp = &list; *pp; pp = &(*pp)->next) {
		if (*pp == rr) {
			*pp = rr->next;
			rr->next = NULL;
			dns_rr_free(rr);
			break;
		}
	}
	return list;
}

/*
 * update_addr_list - after a reused session: forget its address, or the
 * whole list once the session or address limit is reached.
 */
static void
update_addr_list(struct dns_rr **addrs, const char *addr, int count)
{
	char text[INET6_ADDRSTRLEN];

	if (*addrs == NULL)
		return;
	if (count == var_smtp_mx_session_limit
	    || count == var_smtp_mx_address_limit) {
		dns_rr_free(*addrs);
		*addrs = NULL;
		return;
	}
	for (struct dns_rr *rr = *addrs; rr; rr = rr->next) {
		if (strcmp(dns_rr_addr_text(rr, text, sizeof(text)), addr) == 0) {
			*addrs = rr_remove(*addrs, rr);
			break;
		}
	}
}

/* scrub_addr_list - drop addresses already served from the cache */
static void
scrub_addr_list(struct smtp_state *state, struct dns_rr **addrs)
{
	char text[INET6_ADDRSTRLEN];
	struct dns_rr *rr, *next;

	for (rr = *addrs; rr; rr = next) {
		next = rr->next;
		if (smtp_reuse_was_used(state, dns_rr_addr_text(rr, text, sizeof(text))))
			*addrs = rr_remove(*addrs, rr);
	}
}

/*
 * reuse_sessions - deliver over cached connections before making new
 * ones: first the one cached under the request's next hop, then those
 * cached under the addresses of the most preferred servers.  Addresses
 * so used leave the list.  Returns the number of sessions, which count
 * against smtp_mx_session_limit and smtp_mx_address_limit.  A reused
 * session skips the connection race: it is connected already.
 */
static int
reuse_sessions(struct smtp_state *state, struct dns_rr **addrs, int port,
	       int final_nexthop)
{
	struct smtp_session *session;
	struct dns_rr *rr, *next;
	unsigned best_pref = (*addrs)->pref;
	char text[INET6_ADDRSTRLEN];
	int count = 0;

	if (state->rcpt_left > 0 && state->request_nexthop
	    && (session = smtp_reuse_nexthop(state, port)) != NULL) {
		count = 1;
		update_addr_list(addrs, session->addr, count);
		state->final_server = final_nexthop && *addrs == NULL;
		(void)smtp_xfer(state);
		session_end(state);
	}
	for (rr = *addrs; state->rcpt_left > 0 && rr; rr = next) {
		if (rr->pref != best_pref)
			break;
		next = rr->next;
		session = smtp_reuse_addr(state, smtp_addr_hname(rr),
					  dns_rr_addr_text(rr, text, sizeof(text)), port);
		if (session == NULL)
			continue;
		session->features |= SMTP_FEATURE_BEST_MX;
		count++;
		update_addr_list(addrs, text, count);	/* may free rr */
		if (*addrs == NULL)
			next = NULL;
		state->final_server = final_nexthop && next == NULL;
		(void)smtp_xfer(state);
		session_end(state);
	}
	return count;
}

/*
 * retry_in_clear - the same server once more, with TLS off: what Postfix
 * does after a failed handshake at level "may" (see starttls() in
 * smtp_proto.c for when).  A handshake failure is not a session.
 */
static void
retry_in_clear(struct smtp_state *state, const struct dns_rr *rr, int port,
	       int final)
{
	struct smtp_race *race;
	const struct dns_rr *got;
	char text[INET6_ADDRSTRLEN];
	enum smtp_race_result r;
	int fd;

	if (state->rcpt_left <= 0)
		return;
	state->final_server = final;
	race = smtp_race_create(state, (struct dns_rr *)rr, 1, port, 0);
	r = smtp_race_next(race, &fd, &got);
	if (r != SMTP_RACE_NONE) {
		state->tls_off = 1;
		session_start(state, fd, smtp_addr_hname(got),
			      dns_rr_addr_text(got, text, sizeof(text)), port);
		if (r == SMTP_RACE_GREET_TIMEOUT) {
			stream_set_error(state->session->stream, STREAM_TIMEOUT,
					 ETIMEDOUT);
			smtp_stream_except(state,
					   "receiving the initial server greeting");
		} else if (smtp_helo(state) != 0) {
			if (stream_error(state->session->stream) == STREAM_OK)
				smtp_quit(state);
		} else {
			(void)smtp_xfer(state);
		}
		session_end(state);
		state->tls_off = 0;
	}
	smtp_race_abandon_all(race, "no recipient left");
	smtp_race_free(race);
}

/*
 * try_servers - sessions with the addresses of one destination until no
 * recipient is left, the session limit is reached, or no address is
 * left.  final_nexthop says whether this is the last destination; reused
 * is the number of sessions already had from the cache.
 */
static void
try_servers(struct smtp_state *state, struct dns_rr *addrs, int port,
	    int final_nexthop, int delay_ms, int reused)
{
	int count = dns_rr_count(addrs), sessions = reused;
	struct smtp_race *race;

	if (var_smtp_mx_address_limit > 0
	    && count > var_smtp_mx_address_limit - reused)
		count = var_smtp_mx_address_limit - reused;
	if (count <= 0)
		return;
	race = smtp_race_create(state, addrs, count, port, delay_ms);
	while (state->rcpt_left > 0) {
		const struct dns_rr *rr;
		enum smtp_race_result r;
		char text[INET6_ADDRSTRLEN];
		int fd, last;

		r = smtp_race_next(race, &fd, &rr);
		if (r == SMTP_RACE_NONE)
			break;
		last = smtp_race_remaining(race) == 0;
		/* Handshake failures do not count towards the session limit. */
		state->final_server = final_nexthop && last;
		session_start(state, fd, smtp_addr_hname(rr),
			      dns_rr_addr_text(rr, text, sizeof(text)), port);
		if (rr->pref == addrs->pref)
			state->session->features |= SMTP_FEATURE_BEST_MX;
		if (r == SMTP_RACE_GREET_TIMEOUT) {
			stream_set_error(state->session->stream, STREAM_TIMEOUT,
					 ETIMEDOUT);
			smtp_stream_except(state,
					   "receiving the initial server greeting");
		} else if (smtp_helo(state) != 0) {
			int retry = state->session->tls_retry_plain;

			if (stream_error(state->session->stream) == STREAM_OK)
				smtp_quit(state);
			if (retry) {
				session_end(state);
				retry_in_clear(state, rr, port,
					       final_nexthop && last);
				continue;
			}
		} else {
			/* Delivery attempts do count. */
			if (++sessions == var_smtp_mx_session_limit) {
				last = 1;
				smtp_race_abandon_all(race, "session limit "
						      "reached");
			}
			state->final_server = final_nexthop && last;
			(void)smtp_xfer(state);
		}
		session_end(state);
		if (sessions == var_smtp_mx_session_limit)
			break;
	}
	smtp_race_abandon_all(race, "no recipient left");
	smtp_race_free(race);
}

/* race_delay - smtp_connection_race_delay in milliseconds */
static int
race_delay(void)
{
	int ms;

	if (smtp_race_parse_delay(var_smtp_connection_race_delay, &ms) < 0)
		msg_fatal("invalid %s value: \"%s\" (use e.g. 300ms, 1s or 0)",
			  smtp_lmtp_mode ? "lmtp_connection_race_delay"
			  : "smtp_connection_race_delay",
			  var_smtp_connection_race_delay);
	return ms;
}

/* connect_inet - every destination of the next hop, then fallbacks */
static void
connect_inet(struct smtp_state *state, const char *nexthop)
{
	static const char seps[] = ", \t\r\n";
	char *list = xasprintf("%s", nexthop), *rest, *item;
	char **sites = NULL;
	int nsites = 0, non_fallback, stopped = -1, delay_ms = race_delay();
	struct smtp_why why = { "", STRBUF_INIT };

	smtp_addr_init();
	for (rest = list; (item = strsep(&rest, seps)) != NULL;) {
		if (*item == 0)
			continue;
		sites = xrealloc(sites, (size_t)(nsites + 1) * sizeof(*sites));
		sites[nsites++] = xstrdup(item);
	}
	free(list);
	if (nsites == 0)
		msg_panic("null destination: \"%s\"", nexthop);
	non_fallback = nsites;
	list = xstrdup(var_smtp_fallback_relay);
	for (rest = list; (item = strsep(&rest, seps)) != NULL;) {
		if (*item == 0)
			continue;
		sites = xrealloc(sites, (size_t)(nsites + 1) * sizeof(*sites));
		sites[nsites++] = xstrdup(item);
	}
	free(list);

	for (int i = 0; i < nsites && state->rcpt_left > 0; i++) {
		int final_nexthop = (i == nsites - 1), port, found_myself = 0;
		int flags = 0, lookup_mx;
		struct dns_rr *addrs;
		char *host;

		stopped = i;
		state->dest = sites[i];
		host = parse_dest(sites[i], var_smtp_tcp_port, &port);
		if (var_helpful_warnings && !var_smtp_tls_wrappermode
		    && port == 465)
			msg_info("SMTPS wrappermode (TCP port 465) requires "
				 "setting \"%s = yes\", and \"%s = encrypt\" "
				 "(or stronger)", smtp_lmtp_mode
				 ? "lmtp_tls_wrappermode" : "smtp_tls_wrappermode",
				 smtp_lmtp_mode ? "lmtp_tls_security_level"
				 : "smtp_tls_security_level");
		if (msg_verbose)
			msg_info("connecting to %s port %d", host, port);
		if (!state->lmtp && port == 25)
			flags |= SMTP_ADDR_FLAG_LOOP_DETECT;
		lookup_mx = !state->lmtp && smtp_addr_dns_enabled()
		    && sites[i][0] != '[';
		if (lookup_mx) {
			addrs = smtp_domain_addr(host, flags, &why, &found_myself);
			/* When this host is an MX, no non-MX backups. */
			if (found_myself)
				final_nexthop = 1;
		} else {
			addrs = smtp_host_addr(host, flags, &why);
		}
		/* Mail that loops back to this host: fallbacks won't help. */
		if (addrs == NULL && strcmp(why.status, "5.4.6") == 0)
			final_nexthop = 1;
		if (addrs == NULL) {
			if (why.status[0])
				smtp_set_why(state, why.status, "%s",
					     strbuf_str(&why.reason));
		} else if (smtp_tls_prune(&addrs, sites[i], &why) > 0
			   && addrs == NULL) {
			smtp_set_why(state, why.status, "%s",
				     strbuf_str(&why.reason));
		} else {
			int reused = 0;

			/*
			 * The cache policy follows the first next hop's bare
			 * domain; sessions are cached under its full form.
			 */
			if (i == 0) {
				smtp_cache_policy(state, host);
				if (state->cache_load || state->cache_store)
					state->request_nexthop =
					    xstrdup(sites[i]);
			}
			if (state->cache_load) {
				if (state->cache_used_count > 0)
					scrub_addr_list(state, &addrs);
				if (addrs)
					reused = reuse_sessions(state, &addrs,
								port,
								final_nexthop);
			}
			if (addrs && state->rcpt_left > 0)
				try_servers(state, addrs, port, final_nexthop,
					    delay_ms, reused);
		}
		dns_rr_free(addrs);
		free(host);
		if (final_nexthop)
			break;
	}
	strbuf_release(&why.reason);

	/*
	 * Left-overs get the last failure.  A hard one that is about the
	 * relayhost or a fallback relay is a configuration problem: defer.
	 */
	if (state->rcpt_left > 0 && state->why && state->why->status[0] == '5') {
		if (stopped >= non_fallback && stopped < nsites) {
			msg_warn("%s configuration problem", smtp_lmtp_mode
				 ? "lmtp_fallback_relay" : "smtp_fallback_relay");
			dsn_set_status(state->why, "4.3.5");
		} else if (!state->lmtp && strcmp(sites[0], var_relayhost) == 0) {
			msg_warn("relayhost configuration problem");
			dsn_set_status(state->why, "4.3.5");
		} else if (!state->lmtp && strcmp(state->why->status, "5.4.6") == 0
			   && *var_best_mx_transport) {
			/* Mail loops back here: let best_mx_transport have it. */
			dsn_free(state->why);
			state->why = NULL;
			state->status |= smtp_pass_all(state, var_best_mx_transport);
		}
	}
	state->dest = NULL;
	free(state->request_nexthop);
	state->request_nexthop = NULL;
	for (int i = 0; i < nsites; i++)
		free(sites[i]);
	free(sites);
}

/* smtp_connect - deliver to the request's next hop */
int
smtp_connect(struct smtp_state *state)
{
	const char *dest = state->req->nexthop;

	smtp_tls_policy_forget();
	smtp_debug_peer_check(dest, "noaddr");
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
	smtp_debug_peer_restore();
	return 0;
}
