/*
 * report - per-recipient outcomes to bounce/defer/trace/verify, and the log
 *
 * report_sent(), report_bounce() and report_defer() are the three
 * outcomes of a delivery attempt; report_trace() adds a record to the
 * message's trace log (sendmail -v, sendmail -bv, DSN SUCCESS).  They
 * follow Postfix's rules:
 *
 * - An address probe from verify(8) (MTA_VRFY) only updates the verify
 *   service; one from "sendmail -bv" (USR_VRFY) only writes a trace
 *   record.  Nothing is bounced or deferred for a probe.
 * - A bounce goes to bounce(8) (with soft_bounce, to defer(8) with the
 *   status made 4.x.x, and the recipient stays queued).  When bounce(8)
 *   or a needed trace record fails, the recipient is deferred with 4.3.0
 *   instead: mail is never lost for want of a report.
 * - A deferral goes to defer(8) and is logged even when defer(8) fails;
 *   the recipient stays queued either way.
 * - A success needs a trace record with "sendmail -v" and with DSN
 *   NOTIFY=SUCCESS; when that fails the recipient is deferred.
 *
 * Each request uses a fresh connection, as Postfix does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/attr.h"
#include "global/log_adhoc.h"
#include "global/mail_connect.h"
#include "global/params.h"
#include "global/report.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define BOUNCE_CMD_APPEND	0

/* Verify(8) recipient status codes */
#define VRFY_STAT_OK		0
#define VRFY_STAT_DEFER		1
#define VRFY_STAT_BOUNCE	2

#define VERIFY_ATTEMPTS		5

static report_filter_fn status_filter;
static report_flush_match_fn flush_match;

/* report_set_flush_domains - install the fast_flush_domains matcher */
void
report_set_flush_domains(report_flush_match_fn fn)
{
	flush_match = fn;
}

/*
 * flush_add - tell flush(8) that mail for the recipient's domain waits;
 * a failure is logged and changes nothing (the mail stays deferred).
 */
static void
flush_add(const char *id, const char *address)
{
	const char *domain = strrchr(address, '@');
	struct stream *s;
	int status = -1, match;

	if (flush_match == NULL || domain == NULL || *++domain == 0)
		return;
	if ((match = flush_match(domain)) == 0)
		return;
	if (match > 0 && (s = mail_connect("public", var_flush_service_name,
					   "queue_flush_protocol",
					   var_ipc_timeout)) != NULL) {
		attr_put_str(s, "request", "add");
		attr_put_str(s, "site", domain);
		attr_put_str(s, "queue_id", id);
		attr_put_end(s);
		if (stream_flush(s) == 0
		    && attr_get_int(s, "status", &status) == 0)
			(void)attr_skip_to_end(s);
		stream_close(s);
	}
	/* 0: added; 4: flush(8) itself declined the site. */
	if (status != 0 && status != 4)
		msg_warn("%s: %s service failure", id, var_flush_service_name);
}

/* report_set_status_filter - install the delivery status filter */
void
report_set_status_filter(report_filter_fn fn)
{
	status_filter = fn;
}

/*
 * filter - apply the status filter to *d.  Returns 1 when d was replaced
 * (status and reason then live in buf), 0 otherwise.
 */
static int
filter(struct dsn *d, struct strbuf *buf, char *status, size_t size)
{
	struct strbuf key = STRBUF_INIT;
	const char *result, *text;
	int error = 0, ndr = d->status[0] != '2', len;

	if (status_filter == NULL)
		return 0;
	strbuf_printf(&key, "%s %s", d->status, d->reason);
	result = status_filter(strbuf_str(&key), &error);
	strbuf_release(&key);
	if (result == NULL)
		return 0;
	len = dsn_valid(result);
	if (len == 0 || (ndr && result[0] == '2') || (!ndr && result[0] != '2')) {
		msg_warn("%s_delivery_status_filter: bad status code: %s",
			 "smtp", result);
		return 0;
	}
	snprintf(status, size, "%.*s", len, result);
	for (text = result + len; *text == ' ' || *text == '\t'; text++)
		;
	strbuf_set(buf, text);
	d->status = status;
	d->reason = buf->data;
	if (result[0] == '4')
		d->action = "delayed";
	else if (result[0] == '5')
		d->action = "failed";
	return 1;
}

/* rcpt_attr_put - the five recipient attributes */
static void
rcpt_attr_put(struct stream *s, const struct recipient *rcpt)
{
	attr_put_str(s, "original_recipient", rcpt->orig_addr);
	attr_put_str(s, "recipient", rcpt->address);
	attr_put_long(s, "offset", rcpt->offset);
	attr_put_str(s, "dsn_orig_rcpt", rcpt->dsn_orcpt);
	attr_put_int(s, "notify_flags", rcpt->dsn_notify);
}

/* status_append - one append request to bounce/defer/trace; 0 ok */
static int
status_append(const char *service, int flags, const char *id,
	      const struct recipient *rcpt, const struct dsn *dsn)
{
	struct stream *s;
	int status = -1;

	s = mail_connect("private", service, "delivery_status_protocol",
			 var_ipc_timeout);
	if (s == NULL)
		return -1;
	attr_put_int(s, "nrequest", BOUNCE_CMD_APPEND);
	attr_put_int(s, "flags", flags & DEL_REQ_TRACE_FLAGS);
	attr_put_str(s, "queue_id", id);
	rcpt_attr_put(s, rcpt);
	dsn_attr_put(s, dsn);
	attr_put_end(s);
	if (stream_flush(s) == 0 && attr_get_int(s, "status", &status) == 0)
		(void)attr_skip_to_end(s);
	else
		status = -1;
	stream_close(s);
	return status == 0 ? 0 : -1;
}

/* verify_update - tell verify(8) about one address; 0 ok */
static int
verify_update(const char *address, int vrfy_stat, const char *reason)
{
	for (int attempt = 0; attempt < VERIFY_ATTEMPTS; attempt++) {
		struct stream *s;
		int status = -1;

		if (attempt)
			sleep(1);
		s = mail_connect("private", var_address_verify_service_name,
				 "address_verification_prrotocol",
				 var_ipc_timeout);
		if (s == NULL)
			continue;
		attr_put_str(s, "request", "update");
		attr_put_str(s, "address", address);
		attr_put_int(s, "recipient_status", vrfy_stat);
		attr_put_str(s, "reason", reason);
		attr_put_end(s);
		if (stream_flush(s) == 0
		    && attr_get_int(s, "status", &status) == 0)
			(void)attr_skip_to_end(s);
		stream_close(s);
		if (status == 0)
			return 0;
	}
	return -1;
}

/* report_verify - a verify(8) probe result */
static int
report_verify(const char *id, struct msg_stats *stats,
	      struct recipient *rcpt, const char *relay,
	      const struct dsn *dsn, const char *action, int vrfy_stat)
{
	struct dsn my = *dsn;
	int ok = 0;

	my.action = (char *)action;
	if (var_address_verify_negative_cache || vrfy_stat == VRFY_STAT_OK) {
		if (*rcpt->orig_addr)
			ok = verify_update(rcpt->orig_addr, vrfy_stat,
					   dsn->reason);
		/* The final address is updated too when it differs. */
		if (ok == 0 && strcmp(rcpt->address, rcpt->orig_addr) != 0)
			ok = verify_update(rcpt->address, vrfy_stat,
					   dsn->reason);
	} else {
		my.action = "undeliverable-but-not-cached";
	}
	if (ok != 0) {
		msg_warn("%s: %s service failure", id,
			 var_address_verify_service_name);
		return -1;
	}
	log_adhoc(id, stats, rcpt, relay, &my, my.action);
	return 0;
}

/* report_trace - add a record to the message's trace log */
int
report_trace(int flags, const char *id, struct msg_stats *stats,
	     struct recipient *rcpt, const char *relay, const struct dsn *dsn)
{
	struct strbuf why = STRBUF_INIT;
	struct dsn my = *dsn;
	int ret = 0;

	if (strcmp(relay, "none") != 0)
		strbuf_printf(&why, "delivery via %s: ", relay);
	strbuf_puts(&why, dsn->reason);
	my.reason = why.data;
	if (status_append(var_trace_service_name, flags, id, rcpt, &my) != 0) {
		msg_warn("%s: %s service failure", id, var_trace_service_name);
		ret = -1;
	} else if (flags & DEL_REQ_FLAG_USR_VRFY) {
		log_adhoc(id, stats, rcpt, relay, dsn, dsn->action);
	}
	strbuf_release(&why);
	return ret;
}

/* defer_intern - defer without status checks or filters */
static int
defer_intern(int flags, const char *id, struct msg_stats *stats,
	     struct recipient *rcpt, const char *relay,
	     const struct dsn *dsn)
{
	struct dsn my = *dsn;

	if (flags & DEL_REQ_FLAG_MTA_VRFY)
		return report_verify(id, stats, rcpt, relay, dsn,
				     "undeliverable", VRFY_STAT_DEFER);
	if (flags & DEL_REQ_FLAG_USR_VRFY) {
		my.action = "undeliverable";
		return report_trace(flags, id, stats, rcpt, relay, &my);
	}
	my.action = "delayed";
	if (status_append(var_defer_service_name, flags, id, rcpt, &my) != 0)
		msg_warn("%s: %s service failure", id, var_defer_service_name);
	log_adhoc(id, stats, rcpt, relay, &my, "deferred");
	if ((flags & DEL_REQ_FLAG_RECORD)
	    && report_trace(flags, id, stats, rcpt, relay, &my) != 0)
		msg_warn("%s: %s service failure", id, var_trace_service_name);
	flush_add(id, rcpt->address);
	return -1;
}

/* bounce_intern - bounce without status checks or filters */
static int
bounce_intern(int flags, const char *id, struct msg_stats *stats,
	      struct recipient *rcpt, const char *relay,
	      const struct dsn *dsn)
{
	struct dsn my = *dsn;
	char status[sizeof("5.999.999")];
	struct strbuf why = STRBUF_INIT;
	int ret;

	if (flags & DEL_REQ_FLAG_MTA_VRFY)
		return report_verify(id, stats, rcpt, relay, dsn,
				     "undeliverable", VRFY_STAT_BOUNCE);
	if (flags & DEL_REQ_FLAG_USR_VRFY) {
		my.action = "undeliverable";
		return report_trace(flags, id, stats, rcpt, relay, &my);
	}
	snprintf(status, sizeof(status), "%s", dsn->status);
	my.status = status;
	if (var_soft_bounce) {
		status[0] = '4';
		my.action = "delayed";
	} else {
		my.action = "failed";
	}
	if (status_append(var_soft_bounce ? var_defer_service_name
			  : var_bounce_service_name, flags, id, rcpt, &my) == 0
	    && (!(flags & DEL_REQ_FLAG_RECORD)
		|| report_trace(flags, id, stats, rcpt, relay, &my) == 0)) {
		log_adhoc(id, stats, rcpt, relay, &my,
			  var_soft_bounce ? "SOFTBOUNCE" : "bounced");
		return var_soft_bounce ? -1 : 0;
	}
	/* Could not record the bounce: keep the recipient queued. */
	my.status = "4.3.0";
	strbuf_printf(&why, "%s or %s service failure",
		      var_bounce_service_name, var_trace_service_name);
	my.reason = why.data;
	ret = defer_intern(flags, id, stats, rcpt, relay, &my);
	strbuf_release(&why);
	return ret;
}

/*
 * report_failure - a bounce (class '5') or a deferral (class '4'): a
 * status of the other class is replaced with X.0.0 (as Postfix's
 * bounce_append and defer_append do), and the status filter may move the
 * recipient to the other outcome.
 */
static int
report_failure(char class, int flags, const char *id,
	       struct msg_stats *stats, struct recipient *rcpt,
	       const char *relay, const struct dsn *dsn)
{
	struct dsn my = *dsn;
	struct strbuf buf = STRBUF_INIT;
	char status[16];
	int ret, bounce;

	if (dsn->status[0] != class || !dsn_valid(dsn->status)) {
		msg_warn("%s_append: ignoring dsn code \"%s\"",
			 class == '5' ? "bounce" : "defer", dsn->status);
		my.status = class == '5' ? "5.0.0" : "4.0.0";
	}
	bounce = class == '5';
	if (filter(&my, &buf, status, sizeof(status)))
		bounce = my.status[0] == '5' ? 1 : my.status[0] == '4' ? 0
		    : bounce;
	ret = bounce ? bounce_intern(flags, id, stats, rcpt, relay, &my)
	    : defer_intern(flags, id, stats, rcpt, relay, &my);
	strbuf_release(&buf);
	return ret;
}

/* report_bounce - a permanent failure */
int
report_bounce(int flags, const char *id, struct msg_stats *stats,
	      struct recipient *rcpt, const char *relay,
	      const struct dsn *dsn)
{
	return report_failure('5', flags, id, stats, rcpt, relay, dsn);
}

/* report_defer - a temporary failure */
int
report_defer(int flags, const char *id, struct msg_stats *stats,
	     struct recipient *rcpt, const char *relay,
	     const struct dsn *dsn)
{
	return report_failure('4', flags, id, stats, rcpt, relay, dsn);
}

static int sent_intern(int, const char *, struct msg_stats *,
		       struct recipient *, const char *, const struct dsn *);

/* report_sent - a success */
int
report_sent(int flags, const char *id, struct msg_stats *stats,
	    struct recipient *rcpt, const char *relay, const struct dsn *dsn)
{
	struct dsn my = *dsn;
	int ret;

	struct strbuf fbuf = STRBUF_INIT;
	char fstatus[16];

	if (dsn->status[0] != '2' || !dsn_valid(dsn->status)) {
		msg_warn("sent: ignoring dsn code \"%s\"", dsn->status);
		my.status = "2.0.0";
	}
	filter(&my, &fbuf, fstatus, sizeof(fstatus));
	ret = sent_intern(flags, id, stats, rcpt, relay, &my);
	strbuf_release(&fbuf);
	return ret;
}

/* sent_intern - a success, after checks and the filter */
static int
sent_intern(int flags, const char *id, struct msg_stats *stats,
	    struct recipient *rcpt, const char *relay, const struct dsn *dsn)
{
	struct dsn my = *dsn;
	struct strbuf why = STRBUF_INIT;
	int need_dly_trace, ret;

	if (flags & DEL_REQ_FLAG_MTA_VRFY)
		return report_verify(id, stats, rcpt, relay, &my,
				     "deliverable", VRFY_STAT_OK);
	if (flags & DEL_REQ_FLAG_USR_VRFY) {
		my.action = "deliverable";
		return report_trace(flags, id, stats, rcpt, relay, &my);
	}
	if (*my.action == 0)
		my.action = "delivered";
	need_dly_trace = (flags & DEL_REQ_FLAG_REC_DLY_SENT)
	    && (rcpt->dsn_notify == 0 || (rcpt->dsn_notify & DSN_NOTIFY_DELAY));
	if ((!(flags & DEL_REQ_FLAG_RECORD) && !need_dly_trace)
	    || report_trace(flags, id, stats, rcpt, relay, &my) == 0) {
		if (!(rcpt->dsn_notify & DSN_NOTIFY_SUCCESS)
		    || report_trace(flags, id, stats, rcpt, relay, &my) == 0) {
			log_adhoc(id, stats, rcpt, relay, &my, "sent");
			return 0;
		}
	}
	strbuf_printf(&why, "%s: %s service failed", id,
		      var_trace_service_name);
	my.reason = why.data;
	my.status = "4.3.0";
	ret = report_defer(flags, id, stats, rcpt, relay, &my);
	strbuf_release(&why);
	return ret;
}
