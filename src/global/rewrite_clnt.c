/*
 * rewrite_clnt - address canonicalisation by Postfix's trivial-rewrite(8)
 *
 * rewrite_clnt_canon() asks the rewrite service (private/$rewrite_service_name,
 * relative to the current directory: the queue directory, chrooted or
 * not) to rewrite an external-form address with the "local" rule set, as
 * Postfix's canon_addr_external() does: "user" becomes "user@$myorigin",
 * "user@host" may get ".$mydomain", source routes go, and so on, with
 * the instance's own settings.  The result replaces out.
 *
 * Protocol (Postfix attribute protocol):
 *	server: protocol=trivial_rewrite_protocol
 *	client: request=rewrite rule=local address=ADDR
 *	server: flags=N address=RESULT
 * A non-zero flags value asks the client to reconnect next time.
 *
 * The last answer is reused for 30 seconds, as Postfix's client does.
 * Like Postfix's client, this one retries once a second until the
 * service answers (it is a local service that master(8) restarts): a
 * wrong answer here would send mail to the wrong place.  The connection
 * is kept for later requests and dropped after $ipc_idle of silence or
 * $ipc_ttl of age, as Postfix's clients do.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global/attr.h"
#include "global/mail_connect.h"
#include "global/params.h"
#include "global/rewrite_clnt.h"
#include "util/msg.h"

static struct stream *rewrite_stream;
static time_t opened, last_used;

/* drop - forget the connection */
static void
drop(void)
{
	if (rewrite_stream)
		stream_close(rewrite_stream);
	rewrite_stream = NULL;
}

/* ask - one request; 0 with the answer in out, -1 on any failure */
static int
ask(const char *rule, const char *addr, struct strbuf *out)
{
	time_t now = time(NULL);
	int flags;

	if (rewrite_stream && (now - last_used >= var_ipc_idle
			       || now - opened >= var_ipc_ttl))
		drop();
	if (rewrite_stream == NULL) {
		rewrite_stream = mail_connect("private", var_rewrite_service,
					      "trivial_rewrite_protocol",
					      var_ipc_timeout);
		if (rewrite_stream == NULL)
			return -1;
		opened = now;
	}
	attr_put_str(rewrite_stream, "request", "rewrite");
	attr_put_str(rewrite_stream, "rule", rule);
	attr_put_str(rewrite_stream, "address", addr);
	attr_put_end(rewrite_stream);
	if (stream_flush(rewrite_stream) < 0
	    || attr_get_int(rewrite_stream, "flags", &flags) < 0
	    || attr_get_str(rewrite_stream, "address", out) < 0
	    || attr_get_end(rewrite_stream) < 0) {
		drop();
		return -1;
	}
	last_used = time(NULL);
	if (flags != 0)
		drop();		/* the server wants a fresh connection */
	return 0;
}

/* The last answer, reused for 30 seconds (as Postfix's client does). */
static struct strbuf last_addr, last_result;
static time_t last_expire;

/* rewrite_clnt_canon - the "local" rule set applied to an address */
void
rewrite_clnt_canon(struct strbuf *out, const char *addr)
{
	if (time(NULL) < last_expire
	    && strcmp(addr, strbuf_str(&last_addr)) == 0) {
		strbuf_set(out, strbuf_str(&last_result));
		if (msg_verbose)
			msg_info("rewrite_clnt: cached: local: %s -> %s", addr,
				 strbuf_str(out));
		return;
	}
	/* A stale kept connection fails once without being worth a word. */
	for (int attempt = 1; ask("local", addr, out) < 0; attempt++) {
		if (attempt == 1)
			continue;
		msg_warn("problem talking to service %s: %m",
			 var_rewrite_service);
		sleep(1);
	}
	if (msg_verbose)
		msg_info("rewrite_clnt: local: %s -> %s", addr,
			 strbuf_str(out));
	strbuf_set(&last_addr, addr);
	strbuf_set(&last_result, strbuf_str(out));
	last_expire = time(NULL) + 30;
}
