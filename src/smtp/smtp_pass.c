/*
 * smtp_pass - hand recipients to another delivery transport
 *
 * smtp_pass_all() passes every recipient still pending to the transport
 * named by best_mx_transport ("transport" or "transport:nexthop"), one
 * delivery request per recipient, as Postfix's deliver_pass_all() does
 * when mail for a destination loops back to this host.  The other
 * transport reads the same queue file, reports each recipient's outcome
 * itself and marks it done; this agent only learns whether it deferred.
 * A transport that cannot be reached, or answers nonsense, gets the
 * recipient deferred here ("mail transport unavailable", "unknown mail
 * transport error", 4.3.0).
 *
 * It returns 0 when every recipient was taken care of for good, -1 when
 * any was deferred.
 */
#include <stdlib.h>
#include <string.h>

#include "global/attr.h"
#include "global/mail_connect.h"
#include "global/params.h"
#include "global/report.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* send_request - one delivery request with one recipient */
static int
send_request(struct stream *s, const struct deliver_request *req,
	     const char *nexthop, const struct recipient *rcpt)
{
	attr_put_int(s, "flags", req->flags);
	attr_put_str(s, "queue_name", req->queue_name);
	attr_put_str(s, "queue_id", req->queue_id);
	attr_put_long(s, "offset", req->data_offset);
	attr_put_long(s, "size", req->data_size);
	attr_put_str(s, "nexthop", nexthop);
	attr_put_str(s, "encoding", req->encoding);
	attr_put_int(s, "smtputf8", req->smtputf8);
	attr_put_str(s, "sender", req->sender);
	attr_put_str(s, "envelope_id", req->dsn_envid);
	attr_put_int(s, "ret_flags", req->dsn_ret);
	attr_put_data(s, "time", &req->msg_stats, sizeof(req->msg_stats));
	attr_put_str(s, "log_client_name", req->client_name);
	attr_put_str(s, "log_client_address", req->client_addr);
	attr_put_str(s, "log_client_port", req->client_port);
	attr_put_str(s, "log_protocol_name", req->client_proto);
	attr_put_str(s, "log_helo_name", req->client_helo);
	attr_put_str(s, "sasl_method", req->sasl_method);
	attr_put_str(s, "sasl_username", req->sasl_username);
	attr_put_str(s, "sasl_sender", req->sasl_sender);
	attr_put_str(s, "log_ident", req->log_ident);
	attr_put_str(s, "rewrite_context", req->rewrite_context);
	attr_put_int(s, "recipient_count", 1);
	attr_put_end(s);
	attr_put_str(s, "original_recipient", rcpt->orig_addr);
	attr_put_str(s, "recipient", rcpt->address);
	attr_put_long(s, "offset", rcpt->offset);
	attr_put_str(s, "dsn_orig_rcpt", rcpt->dsn_orcpt);
	attr_put_int(s, "notify_flags", rcpt->dsn_notify);
	attr_put_end(s);
	return stream_flush(s);
}

/* read_status - the final reply: a DSN, then status; -1 if malformed */
static int
read_status(struct stream *s, int *status)
{
	struct strbuf name = STRBUF_INIT, value = STRBUF_INIT;
	int r, found = 0;

	while ((r = attr_read_pair(s, &name, &value)) == 1) {
		if (strcmp(strbuf_str(&name), "status") == 0) {
			*status = atoi(strbuf_str(&value));
			found = 1;
		}
	}
	strbuf_release(&name);
	strbuf_release(&value);
	return r == 0 && found ? 0 : -1;
}

/* pass_one - one recipient; 0 done, 1 deferred (by whoever) */
static int
pass_one(struct smtp_state *state, const char *transport,
	 const char *nexthop, int i)
{
	struct deliver_request *req = state->req;
	struct recipient *rcpt = &req->rcpt[i];
	const char *problem = NULL;
	struct stream *s;
	int status = 0;

	msg_info("%s: passing <%s> to transport=%s", req->queue_id,
		 rcpt->address, transport);
	if ((s = mail_connect("private", transport,
			      "delivery_request_protocol",
			      var_ipc_timeout)) == NULL
	    || send_request(s, req, nexthop, rcpt) < 0)
		problem = "mail transport unavailable";
	else if (read_status(s, &status) < 0)
		problem = "unknown mail transport error";
	if (s)
		stream_close(s);
	if (problem) {
		struct dsn *d = dsn_create("4.3.0", "", problem, "", "",
					   "", "");

		(void)report_defer(req->flags & DEL_REQ_TRACE_FLAGS,
				   req->queue_id, &req->msg_stats, rcpt, "none",
				   d);
		dsn_free(d);
		return 1;
	}
	return status != 0;
}

/* smtp_pass_all - every pending recipient to best_mx_transport */
int
smtp_pass_all(struct smtp_state *state, const char *service)
{
	char *transport = xstrdup(service), *nexthop;
	int deferred = 0;

	if ((nexthop = strchr(transport, ':')) != NULL)
		*nexthop++ = 0;
	if (nexthop == NULL || *nexthop == 0)
		nexthop = state->req->nexthop;
	if (*transport == 0)
		msg_fatal("missing transport name in \"%s\"", service);
	for (int i = 0; i < state->req->rcpt_count; i++) {
		if (state->rcpt_state[i] != SMTP_RCPT_PENDING)
			continue;
		deferred |= pass_one(state, transport, nexthop, i);
		state->rcpt_state[i] = SMTP_RCPT_DROPPED;
		state->rcpt_left--;
	}
	free(transport);
	return deferred ? -1 : 0;
}
