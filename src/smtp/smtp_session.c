/*
 * smtp_session - one connection to one server address
 *
 * smtp_session_create() takes ownership of the stream and records the
 * names used in logs: "host[addr]" and "host[addr]:port" (for a
 * UNIX-domain LMTP server "host[path]", with no port, as Postfix logs it).
 * smtp_session_free() closes the connection without any goodbye and
 * forgets the session's transcript.
 *
 * Connection caching (see smtp_reuse.c):
 * smtp_session_passivate() writes what must survive in the cache into two
 *	property strings and frees the session, returning its descriptor.
 * smtp_session_activate() makes a session from a cached descriptor and
 *	its properties; NULL (and the descriptor closed) when the
 *	properties are unreadable.
 * smtp_session_cached(), smtp_session_expired() and
 *	smtp_session_dont_cache() are Postfix's THIS_SESSION_IS_CACHED,
 *	THIS_SESSION_IS_EXPIRED and DONT_CACHE_THIS_SESSION.
 *
 * Properties use Postfix 3.7's names, order, "plain" encoding
 * (name=value lines, then an empty line) and feature bit numbers, so
 * that what one agent stores another can read:
 *	destination: destination, host_name, host_addr, destination_features
 *	endpoint: tls_level, reuse_count, endpoint_features, expire_time
 * As in Postfix, the SIZE limit is not kept: a reused session has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "smtp.h"
#include "smtp_sasl.h"
#include "tls/tls_client.h"
#include "util/msg.h"
#include "util/xmalloc.h"

int smtp_lmtp_mode;		/* set once from the program name */

/* smtp_session_create - wrap a connected stream */
struct smtp_session *
smtp_session_create(struct stream *stream, const char *host,
		    const char *addr, int port)
{
	struct smtp_session *session = xcalloc(1, sizeof(*session));

	session->stream = stream;
	session->host = xstrdup(host);
	session->addr = xstrdup(addr);
	session->port = port;
	/* Until an MX lookup says otherwise, this is the best MX host. */
	session->features = SMTP_FEATURE_BEST_MX;
	session->namaddr = xasprintf("%s[%s]", host, addr);
	smtp_debug_peer_check(host, addr);
	session->namaddrport = port ? xasprintf("%s[%s]:%d", host, addr, port)
	    : xstrdup(session->namaddr);
	return session;
}

/* smtp_session_free - close and forget */
void
smtp_session_free(struct smtp_session *session)
{
	if (session == NULL)
		return;
	smtp_debug_peer_restore();
	if (session->tls)
		tls_client_stop(session->stream, session->tls,
				session->stream == NULL
				|| stream_error(session->stream) != STREAM_OK);
	if (session->stream)
		stream_close(session->stream);
	smtp_sasl_cleanup(session);
	smtp_chat_free(session);
	free(session->host);
	free(session->addr);
	free(session->namaddr);
	free(session->namaddrport);
	free(session->dest);
	free(session);
}

/* smtp_session_cached - will this session go to the cache after use? */
int
smtp_session_cached(const struct smtp_session *session)
{
	/* A protocol error may leave the conversation out of step. */
	return session->expire_time > 0
	    && !(session->error_mask & SMTP_ERR_CLASS_PROTOCOL)
	    && !session->data_error;
}

/* smtp_session_expired - cached, but used long or often enough */
int
smtp_session_expired(const struct smtp_session *session)
{
	return smtp_session_cached(session)
	    && (session->expire_time < time(NULL)
		|| (var_smtp_connection_reuse_count_limit > 0
		    && session->reuse_count
		    >= var_smtp_connection_reuse_count_limit));
}

/* smtp_session_dont_cache - close after use (keeps "throttled") */
void
smtp_session_dont_cache(struct smtp_session *session)
{
	if (session->expire_time > 0)
		session->expire_time = 0;
}

/*
 * Feature bits as Postfix 3.7 numbers them in cached properties.  Ours
 * without a Postfix twin (ENHANCEDSTATUSCODES, never acted upon) are
 * not kept.
 */
static const struct feature_map {
	int ours;
	long postfix;
} feature_map[] = {
	{SMTP_FEATURE_ESMTP, 1L << 0},
	{SMTP_FEATURE_8BITMIME, 1L << 1},
	{SMTP_FEATURE_PIPELINING, 1L << 2},
	{SMTP_FEATURE_SIZE, 1L << 3},
	{SMTP_FEATURE_STARTTLS, 1L << 4},
	{SMTP_FEATURE_AUTH, 1L << 5},
	{SMTP_FEATURE_XFORWARD_NAME, 1L << 7},
	{SMTP_FEATURE_XFORWARD_ADDR, 1L << 8},
	{SMTP_FEATURE_XFORWARD_PROTO, 1L << 9},
	{SMTP_FEATURE_XFORWARD_HELO, 1L << 10},
	{SMTP_FEATURE_XFORWARD_DOMAIN, 1L << 11},
	{SMTP_FEATURE_BEST_MX, 1L << 12},
	{SMTP_FEATURE_DSN, 1L << 15},
	{SMTP_FEATURE_PIX_NO_ESMTP, 1L << 16},
	{SMTP_FEATURE_PIX_DELAY_DOTCRLF, 1L << 17},
	{SMTP_FEATURE_XFORWARD_PORT, 1L << 18},
	{SMTP_FEATURE_XFORWARD_IDENT, 1L << 20},
	{SMTP_FEATURE_SMTPUTF8, 1L << 21},
	{0, 0},
};

/* to_postfix - our feature bits (those in mask) as Postfix's */
static long
to_postfix(int features, int mask)
{
	long out = 0;

	for (const struct feature_map *m = feature_map; m->ours; m++)
		if (features & mask & m->ours)
			out |= m->postfix;
	return out;
}

/* from_postfix - Postfix's feature bits as ours; unknown bits dropped */
static int
from_postfix(long features)
{
	int out = 0;

	for (const struct feature_map *m = feature_map; m->ours; m++)
		if (features & m->postfix)
			out |= m->ours;
	return out;
}

/* smtp_session_passivate - properties out, session freed, fd returned */
int
smtp_session_passivate(struct smtp_session *session,
		       const struct smtp_state *state,
		       struct strbuf *dest_prop, struct strbuf *endp_prop)
{
	int fd;

	strbuf_reset(dest_prop);
	strbuf_printf(dest_prop, "destination=%s\nhost_name=%s\nhost_addr=%s\n"
		      "destination_features=%ld\n\n",
		      session->dest ? session->dest : "", session->host,
		      session->addr,
		      to_postfix(session->features, SMTP_FEATURE_BEST_MX));
	/* No TLS yet: always level 0 ("none"), and no TLS context. */
	strbuf_reset(endp_prop);
	strbuf_printf(endp_prop, "tls_level=%d\nreuse_count=%d\n"
		      "endpoint_features=%ld\nexpire_time=%ld\n\n", 0,
		      session->reuse_count,
		      to_postfix(session->features, ~SMTP_FEATURE_BEST_MX),
		      (long)session->expire_time);
	fd = stream_fd(session->stream);
	stream_free(session->stream);	/* the descriptor stays open */
	session->stream = NULL;
	smtp_session_free(session);
	return fd;
}

/*
 * prop_get - one value of a plain-encoded property list: the first
 * "name=value" line before the empty line that ends the list.  Returns
 * an xmalloc'd copy, or NULL when absent.
 */
static char *
prop_get(const char *props, const char *name)
{
	size_t nlen = strlen(name);
	const char *line = props, *end;

	while (*line && *line != '\n') {
		end = strchr(line, '\n');
		if (end == NULL)
			return NULL;	/* not terminated: malformed */
		if ((size_t)(end - line) > nlen && strncmp(line, name, nlen) == 0
		    && line[nlen] == '=')
			return xstrndup(line + nlen + 1,
					(size_t)(end - line) - nlen - 1);
		line = end + 1;
	}
	return NULL;
}

/* prop_long - a numeric property; -1 when absent or malformed */
static int
prop_long(const char *props, const char *name, long *value)
{
	char *text = prop_get(props, name), *end;
	int ret = -1;

	if (text && *text) {
		*value = strtol(text, &end, 10);
		ret = *end ? -1 : 0;
	}
	free(text);
	return ret;
}

/* smtp_session_activate - a cached descriptor back into a session */
struct smtp_session *
smtp_session_activate(int fd, const char *host, const char *addr, int port,
		      const char *dest_prop, const char *endp_prop)
{
	struct smtp_session *session;
	char *dest = NULL, *dhost = NULL, *daddr = NULL;
	long tls_level, reuse_count, endp_features, expire_time;
	long dest_features = 0;

	if (prop_long(endp_prop, "tls_level", &tls_level) < 0
	    || prop_long(endp_prop, "reuse_count", &reuse_count) < 0
	    || prop_long(endp_prop, "endpoint_features", &endp_features) < 0
	    || prop_long(endp_prop, "expire_time", &expire_time) < 0
	    || tls_level != 0) {
		msg_warn("smtp_session_activate: bad cached endp properties");
		goto bad;
	}
	if (dest_prop && *dest_prop) {
		/* Cached by destination: the server is the one cached. */
		if ((dest = prop_get(dest_prop, "destination")) == NULL
		    || (dhost = prop_get(dest_prop, "host_name")) == NULL
		    || (daddr = prop_get(dest_prop, "host_addr")) == NULL
		    || prop_long(dest_prop, "destination_features",
				 &dest_features) < 0) {
			msg_warn("smtp_session_activate: bad cached dest "
				 "properties");
			goto bad;
		}
		host = dhost;
		addr = daddr;
	}
	session = smtp_session_create(stream_fdopen(fd), host, addr, port);
	session->features = from_postfix(endp_features | dest_features);
	session->dest = dest;
	session->expire_time = (time_t)expire_time;
	session->reuse_count = (int)reuse_count + 1;
	session->from_cache = 1;
	if (msg_verbose)
		msg_info("smtp_session_activate: host=%s addr=%s port=%d "
			 "features=0x%x ttl=%ld reuse=%ld", host, addr, port,
			 session->features, expire_time - (long)time(NULL),
			 reuse_count);
	free(dhost);
	free(daddr);
	return session;
bad:
	free(dest);
	free(dhost);
	free(daddr);
	close(fd);
	return NULL;
}
