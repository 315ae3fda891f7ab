/*
 * smtp_session - one connection to one server address
 *
 * smtp_session_create() takes ownership of the stream and records the
 * names used in logs: "host[addr]" and "host[addr]:port" (for a
 * UNIX-domain LMTP server "host[path]", with no port, as Postfix logs it).
 * smtp_session_free() closes the connection without any goodbye.
 */
#include <stdlib.h>

#include "smtp.h"
#include "smtp_sasl.h"
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
	stream_close(session->stream);
	smtp_sasl_cleanup(session);
	free(session->host);
	free(session->addr);
	free(session->namaddr);
	free(session->namaddrport);
	free(session);
}
