/*
 * smtp_trouble - turn delivery problems into reports
 *
 * Every failure becomes a DSN (status, reason, and the remote reply when
 * there was one) in state->why, and then:
 *
 * smtp_rcpt_fail() - one recipient was refused.  A soft refusal (or a
 *	hard one under soft_bounce) while another server remains to be
 *	tried only logs "<id>: <reason>": the recipient waits for that
 *	server.  Otherwise the recipient is bounced or deferred.
 * smtp_site_fail(), smtp_sess_fail(), smtp_stream_except() - the server
 *	or the connection failed; every pending recipient is handled as
 *	above, and a destination-wide problem becomes the request's hop
 *	status so that qmgr throttles the destination.
 * smtp_mesg_fail() - the message was refused (MAIL FROM, DATA, end of
 *	data); as site failures, but the destination is not throttled.
 * smtp_rcpt_done() - a recipient was accepted for delivery.
 *
 * A recipient is marked done in the queue file only when its outcome was
 * recorded (report_* returned 0).  All of them return -1 (failure) for
 * the caller's convenience, except smtp_rcpt_done().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "global/params.h"
#include "global/report.h"
#include "smtp.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* smtp_relay_name - "host[addr]:port" of the current session, or "none" */
const char *
smtp_relay_name(const struct smtp_state *state)
{
	return state->session ? state->session->namaddrport : "none";
}

/* fill_why - record a failure as state->why */
static void
fill_why(struct smtp_state *state, const char *mta_name, const char *status,
	 const char *reply, const char *fmt, va_list ap)
{
	struct strbuf reason = STRBUF_INIT;

	/* A reply outside 4xx/5xx where a failure was expected. */
	if (mta_name && status && status[0] != '4' && status[0] != '5') {
		if (state->session)
			state->session->error_mask |= SMTP_ERR_CLASS_PROTOCOL;
		strbuf_puts(&reason, "Protocol error: ");
		status = "5.5.0";
	}
	strbuf_vprintf(&reason, fmt, ap);
	dsn_free(state->why);
	state->why = dsn_create(status, "", strbuf_str(&reason),
				reply ? "smtp" : "", reply,
				mta_name ? "dns" : "", mta_name);
	strbuf_release(&reason);
}

/* report_one - bounce or defer one recipient; mark it done if final */
static int
report_one(struct smtp_state *state, int i, int soft)
{
	struct deliver_request *req = state->req;
	int flags = req->flags & DEL_REQ_TRACE_FLAGS;
	int status;

	status = (soft ? report_defer : report_bounce)
	    (flags, req->queue_id, &req->msg_stats, &req->rcpt[i],
	     smtp_relay_name(state), state->why);
	if (status == 0)
		deliver_completed(req, i);
	state->rcpt_state[i] = SMTP_RCPT_DROPPED;
	state->rcpt_left--;
	return status;
}

/* bulk_fail - apply state->why to every pending recipient */
static int
bulk_fail(struct smtp_state *state, int throttle)
{
	struct deliver_request *req = state->req;
	int soft = state->why->status[0] == '4';
	int soft_bounce = state->why->status[0] == '5' && var_soft_bounce;
	int aggregate = 0;

	if (throttle && state->session)
		state->session->expire_time = -1;	/* not for the cache */
	if ((soft || soft_bounce) && !state->final_server) {
		/* Let the next server have a go at these recipients. */
		msg_info("%s: %s", req->queue_id, state->why->reason);
		for (int i = 0; i < req->rcpt_count; i++)
			if (state->rcpt_state[i] == SMTP_RCPT_PENDING)
				state->rcpt_state[i] = SMTP_RCPT_KEEP;
		return -1;
	}
	if (req->msg_stats.conn_setup_done.tv_sec == 0) {
		gettimeofday(&req->msg_stats.conn_setup_done, NULL);
		req->msg_stats.deliver_done = req->msg_stats.conn_setup_done;
	} else {
		gettimeofday(&req->msg_stats.deliver_done, NULL);
	}
	for (int i = 0; i < req->rcpt_count; i++) {
		if (state->rcpt_state[i] != SMTP_RCPT_PENDING)
			continue;
		aggregate |= report_one(state, i, soft);
	}
	state->status |= aggregate;
	/* A destination that completed a session is not "unreachable". */
	if (throttle && aggregate && req->hop_status == NULL
	    && !state->complete_session)
		deliver_request_set_hop_status(req, state->why);
	return -1;
}

/*
 * check_code - replies that show a protocol problem on either side: a
 * failure code outside 4xx/5xx, 500-509 (RFC 5321: syntax errors and
 * unknown or unimplemented commands), 555 (RFC 1869: MAIL/RCPT parameter
 * not recognized).  Only these, among refusals, earn a postmaster notice
 * (notify_classes = protocol); a plain 550 for a recipient does not.
 */
static void
check_code(struct smtp_state *state, int code)
{
	if (state->session && (code < 400 || code > 599 || code == 555
			       || (code >= 500 && code < 510)))
		state->session->error_mask |= SMTP_ERR_CLASS_PROTOCOL;
}

/* smtp_site_fail - the server refused to talk; throttle */
int
smtp_site_fail(struct smtp_state *state, const char *mta_name,
	       const struct smtp_resp *resp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fill_why(state, mta_name, resp->dsn, strbuf_str(&resp->text), fmt, ap);
	va_end(ap);
	if (mta_name)
		check_code(state, resp->code);
	return bulk_fail(state, 1);
}

/* smtp_mesg_fail - the server refused the message; no throttle */
int
smtp_mesg_fail(struct smtp_state *state, const char *mta_name,
	       const struct smtp_resp *resp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fill_why(state, mta_name, resp->dsn, strbuf_str(&resp->text), fmt, ap);
	va_end(ap);
	if (mta_name)
		check_code(state, resp->code);
	return bulk_fail(state, 0);
}

/* smtp_set_why - remember a local failure reason without reporting it */
void
smtp_set_why(struct smtp_state *state, const char *status,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fill_why(state, NULL, status, NULL, fmt, ap);
	va_end(ap);
}

/* smtp_sess_fail_why - apply the remembered reason; throttle */
int
smtp_sess_fail_why(struct smtp_state *state)
{
	if (state->why == NULL || *state->why->status == 0)
		smtp_set_why(state, "4.3.0",
			     "server unavailable or unable to receive mail");
	return bulk_fail(state, 1);
}

/* smtp_sess_fail - the session failed for a local reason; throttle */
int
smtp_sess_fail(struct smtp_state *state, const char *status,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fill_why(state, NULL, status, NULL, fmt, ap);
	va_end(ap);
	return bulk_fail(state, 1);
}

/* smtp_stream_except - the connection broke or timed out at a stage */
int
smtp_stream_except(struct smtp_state *state, const char *where)
{
	struct smtp_session *session = state->session;

	if (session == NULL)
		msg_panic("smtp_stream_except: no session");
	if (session->data_error) {
		session->error_mask |= SMTP_ERR_CLASS_DATA;
		return smtp_sess_fail(state, "4.3.0",
				      "local data error while talking to %s",
				      session->namaddr);
	}
	if (stream_error(session->stream) == STREAM_TIMEOUT)
		return smtp_sess_fail(state, "4.4.2",
				      "conversation with %s timed out while %s",
				      session->namaddr, where);
	return smtp_sess_fail(state, "4.4.2", "lost connection with %s while %s",
			      session->namaddr, where);
}

/* smtp_rcpt_fail - one recipient refused */
void
smtp_rcpt_fail(struct smtp_state *state, int i, const char *mta_name,
	       const struct smtp_resp *resp, const char *fmt, ...)
{
	va_list ap;
	int soft, soft_bounce;

	if (state->rcpt_state[i] != SMTP_RCPT_PENDING)
		msg_panic("smtp_rcpt_fail: recipient <%s> was already handled",
			  state->req->rcpt[i].address);
	va_start(ap, fmt);
	fill_why(state, mta_name, resp->dsn, strbuf_str(&resp->text), fmt, ap);
	va_end(ap);
	soft = state->why->status[0] == '4';
	soft_bounce = state->why->status[0] == '5' && var_soft_bounce;
	if (mta_name)
		check_code(state, resp->code);
	if ((soft || soft_bounce) && !state->final_server) {
		msg_info("%s: %s", state->req->queue_id, state->why->reason);
		state->rcpt_state[i] = SMTP_RCPT_KEEP;	/* next server */
		return;
	}
	state->status |= report_one(state, i, soft);
}

/* smtp_rcpt_done - the server accepted responsibility for a recipient */
void
smtp_rcpt_done(struct smtp_state *state, int i, const struct smtp_resp *resp)
{
	struct deliver_request *req = state->req;
	struct smtp_session *session = state->session;
	struct recipient *rcpt = &req->rcpt[i];
	const char *action = "relayed";
	int status;

	if (session->features & SMTP_FEATURE_DSN)
		rcpt->dsn_notify &= ~DSN_NOTIFY_SUCCESS;
	if (!(session->features & SMTP_FEATURE_DSN) && state->lmtp
	    && var_lmtp_assume_final)
		action = "delivered";
	dsn_free(state->why);
	state->why = dsn_create(resp->dsn, action, strbuf_str(&resp->text),
				"smtp", strbuf_str(&resp->text), "dns",
				session->host);
	status = report_sent(req->flags & DEL_REQ_TRACE_FLAGS, req->queue_id,
			     &req->msg_stats, rcpt, session->namaddrport,
			     state->why);
	if (status == 0 && (req->flags & DEL_REQ_FLAG_SUCCESS))
		deliver_completed(req, i);
	state->rcpt_state[i] = SMTP_RCPT_DROPPED;
	state->rcpt_left--;
	state->status |= status;
}
