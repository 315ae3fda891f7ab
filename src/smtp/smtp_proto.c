/*
 * smtp_proto - the SMTP/LMTP conversation with one server
 *
 * smtp_helo() reads the greeting and sends EHLO (falling back to HELO) or
 * LHLO, and learns the server's features.  smtp_xfer() performs one mail
 * transaction: MAIL FROM, one RCPT TO per pending recipient, DATA, the
 * message content and the final dot, pipelined when the server offers
 * PIPELINING (RFC 2920).  smtp_quit() says goodbye.
 *
 * Each returns 0 when the conversation went as far as it should (which
 * says nothing about whether the mail was accepted: every outcome has
 * already been reported recipient by recipient), or -1 after a failure
 * that ended the session (also reported).
 *
 * The transfer is table-driven: each command kind has a row with its
 * reply timeout, the phrase used in "in reply to X command" and the stage
 * named in "lost connection ... while X".  Commands are queued in order
 * and replies are matched to them in the same order; the sender stops to
 * let the receiver catch up when the server does not pipeline, when too
 * many command bytes are unacknowledged, and at DATA, the sync point.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "global/params.h"
#include "global/header_opts.h"
#include "global/mime_state.h"
#include "global/quote_addr.h"
#include "global/record.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "smtp_sasl.h"
#include "tls/tls_client.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Unacknowledged pipelined command bytes before we stop to read replies. */
#define PIPELINING_WINDOW	4096

enum smtp_step {
	STEP_XFORWARD1,
	STEP_XFORWARD2,
	STEP_MAIL,
	STEP_RCPT,
	STEP_DATA,
	STEP_DOT,
	STEP_RSET,
	STEP_QUIT,
};

static const struct smtp_step_info {
	const char *request;	/* "in reply to %s command" */
	const char *where;	/* "lost connection ... while %s" */
	int *timeout;
} step_info[] = {
	[STEP_XFORWARD1] = {"XFORWARD name/address",
			    "sending XFORWARD name/address",
			    &var_smtp_xforward_timeout},
	[STEP_XFORWARD2] = {"XFORWARD helo/protocol",
			    "sending XFORWARD protocol/helo_name",
			    &var_smtp_xforward_timeout},
	[STEP_MAIL] = {"MAIL FROM", "sending MAIL FROM", &var_smtp_mail_timeout},
	[STEP_RCPT] = {"RCPT TO", "sending RCPT TO", &var_smtp_rcpt_timeout},
	[STEP_DATA] = {"DATA", "sending DATA command",
		       &var_smtp_data_init_timeout},
	[STEP_DOT] = {"end of DATA",
		      "sending end of data -- message may be sent more than once",
		      &var_smtp_data_done_timeout},
	[STEP_RSET] = {"RSET", "sending final RSET", &var_smtp_rset_timeout},
	[STEP_QUIT] = {"QUIT", "sending QUIT", &var_smtp_quit_timeout},
};

struct pending {
	enum smtp_step step;
	int rcpt;		/* recipient index for STEP_RCPT */
	size_t bytes;		/* command length, for the window */
};

/* One transaction in progress. */
struct xfer {
	struct smtp_state *state;
	struct pending *queue;
	int head, tail;		/* queue[head..tail-1] await replies */
	size_t unacked;		/* bytes sent without a reply yet */
	int mail_rejected;
	int nrcpt;		/* RCPTs accepted; -1 once DATA refused */
	int *accepted;		/* indices of accepted recipients, in order */
	int got_354;
	int verify_data;	/* address probe that goes up to DATA */
	struct smtp_resp resp;
};

/*
 * smtp_stream_setup - the time limit for the next stage: per read/write,
 * or with smtp_per_request_deadline a budget for the whole stage that the
 * message content replenishes at smtp_min_data_rate.
 */
void
smtp_stream_setup(struct smtp_session *session, int timeout, int data_phase)
{
	if (var_smtp_per_request_deadline) {
		stream_set_budget(session->stream, timeout,
				  data_phase ? var_smtp_min_data_rate : 0);
	} else {
		stream_clear_budget(session->stream);
		stream_set_timeout(session->stream, timeout);
	}
}

/* send_command - format, log when verbose, queue for its reply */
static void __attribute__((format(printf, 4, 5)))
send_command(struct xfer *x, enum smtp_step step, int rcpt,
	     const char *fmt, ...)
{
	struct smtp_session *session = x->state->session;
	struct strbuf cmd = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(&cmd, fmt, ap);
	va_end(ap);
	smtp_chat_cmd(session, strbuf_str(&cmd));
	if (msg_verbose)
		msg_info("> %s: %s", session->namaddrport, strbuf_str(&cmd));
	strbuf_puts(&cmd, "\r\n");
	smtp_stream_setup(session, *step_info[step].timeout, 0);
	stream_write(session->stream, cmd.data, cmd.len);
	x->queue[x->tail].step = step;
	x->queue[x->tail].rcpt = rcpt;
	x->queue[x->tail].bytes = cmd.len;
	x->tail++;
	x->unacked += cmd.len;
	strbuf_release(&cmd);
}

/* xtext_append - RFC 3461 xtext, with extra characters to encode */
static void
xtext_append(struct strbuf *out, const char *text, const char *special)
{
	for (const unsigned char *cp = (const unsigned char *)text; *cp; cp++) {
		if (*cp != '+' && *cp > 32 && *cp < 127
		    && strchr(special, *cp) == NULL)
			strbuf_putc(out, *cp);
		else
			strbuf_printf(out, "+%02X", *cp);
	}
}

/* all_ascii - no byte above 127 */
static int
all_ascii(const char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text > 127)
			return 0;
	return 1;
}

/*
 * uxtext_append - RFC 6533 "uxtext": printable ASCII as is, anything else
 * (and the special characters) as \x{HEX} of its Unicode code point.
 * Returns -1 for text that is not valid UTF-8.
 */
static int
uxtext_append(struct strbuf *out, const char *text, const char *special)
{
	const unsigned char *cp = (const unsigned char *)text;

	for (; *cp; cp++) {
		unsigned ch = *cp, code;
		int more;

		if (ch != '\\' && ch > 32 && ch < 127
		    && strchr(special, (int)ch) == NULL) {
			strbuf_putc(out, (int)ch);
			continue;
		}
		if (ch < 0x80) {
			code = ch;
			more = 0;
		} else if ((ch & 0xe0) == 0xc0) {
			code = ch & 0x1f;
			more = 1;
		} else if ((ch & 0xf0) == 0xe0) {
			code = ch & 0x0f;
			more = 2;
		} else if ((ch & 0xf8) == 0xf0) {
			code = ch & 0x07;
			more = 3;
		} else {
			return -1;
		}
		while (more-- > 0) {
			ch = *++cp;
			if ((ch & 0xc0) != 0x80)
				return -1;
			code = code << 6 | (ch & 0x3f);
		}
		strbuf_printf(out, "\\x{%02X}", code);
	}
	return 0;
}

/* dot_string_ok - is the local part an RFC 821 dot-string */
static int
dot_string_ok(const char *start, const char *end)
{
	if (start == end || *start == '.' || end[-1] == '.')
		return 0;
	for (const char *cp = start; cp < end; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if ((ch == '.' && cp + 1 < end && cp[1] == '.') || ch == ' '
		    || iscntrl(ch) || strchr("<>()[]\\,;:@\"", ch))
			return 0;
	}
	return 1;
}

/* smtp_quote_address - quote the local part for MAIL FROM / RCPT TO */
static void
smtp_quote_address(struct strbuf *out, const char *addr)
{
	const char *at;

	if (*addr == 0 || !var_smtp_quote_rfc821_envelope) {
		strbuf_puts(out, addr);
		return;
	}
	if ((at = strrchr(addr, '@')) == NULL)
		at = addr + strlen(addr);
	if (dot_string_ok(addr, at)) {
		strbuf_puts(out, addr);
		return;
	}
	strbuf_putc(out, '"');
	for (const char *cp = addr; cp < at; cp++) {
		if (*cp == '\r' || *cp == '\n' || *cp == '"' || *cp == '\\')
			strbuf_putc(out, '\\');
		strbuf_putc(out, *cp);
	}
	strbuf_putc(out, '"');
	strbuf_puts(out, at);
}

/* downgrading - must 8-bit content become quoted-printable here? */
static int
downgrading(const struct smtp_state *state)
{
	return !var_disable_mime_output_conversion
	    && !(state->session->features & SMTP_FEATURE_8BITMIME)
	    && strcmp(state->req->encoding, "7bit") != 0;
}

/* send_mail_from - MAIL FROM with the ESMTP parameters the server takes */
static void
send_mail_from(struct xfer *x)
{
	struct smtp_state *state = x->state;
	struct smtp_session *session = state->session;
	struct deliver_request *req = state->req;
	struct strbuf cmd = STRBUF_INIT, addr = STRBUF_INIT;

	req->msg_stats.reuse_count = session->reuse_count;
	gettimeofday(&req->msg_stats.conn_setup_done, NULL);
	strbuf_set(&addr, req->sender);
	smtp_generic_addr(&addr);	/* smtp_generic_maps; "" stays "" */
	strbuf_puts(&cmd, "MAIL FROM:<");
	smtp_quote_address(&cmd, strbuf_str(&addr));
	strbuf_putc(&cmd, '>');
	/* A downgraded message grows: its size is unknown. */
	if ((session->features & SMTP_FEATURE_SIZE) && !downgrading(state))
		strbuf_printf(&cmd, " SIZE=%lu", (unsigned long)req->data_size);
	if (session->features & SMTP_FEATURE_8BITMIME) {
		if (strcmp(req->encoding, "8bit") == 0)
			strbuf_puts(&cmd, " BODY=8BITMIME");
		else if (strcmp(req->encoding, "7bit") == 0)
			strbuf_puts(&cmd, " BODY=7BIT");
		else if (*req->encoding)
			msg_warn("%s: unknown content encoding: %s",
				 req->queue_id, req->encoding);
	}
	if (session->features & SMTP_FEATURE_DSN) {
		if (*req->dsn_envid) {
			strbuf_puts(&cmd, " ENVID=");
			xtext_append(&cmd, req->dsn_envid, "+=");
		}
		if (req->dsn_ret == DSN_RET_FULL)
			strbuf_puts(&cmd, " RET=FULL");
		else if (req->dsn_ret == DSN_RET_HDRS)
			strbuf_puts(&cmd, " RET=HDRS");
	}
	if ((session->features & SMTP_FEATURE_SMTPUTF8)
	    && (req->smtputf8 & SMTPUTF8_FLAG_REQUESTED))
		strbuf_puts(&cmd, " SMTPUTF8");
	if (var_smtp_sasl_auth_enable && var_smtp_send_dummy_mail_auth
	    && (session->features & SMTP_FEATURE_AUTH))
		strbuf_puts(&cmd, " AUTH=<>");
	send_command(x, STEP_MAIL, -1, "%s", strbuf_str(&cmd));
	strbuf_release(&cmd);
	strbuf_release(&addr);
}

/* known - a client attribute that is present and not "unknown" */
static int
known(const char *value)
{
	return *value && strcasecmp(value, "unknown") != 0;
}

/* xforward_attr - append " NAME=xtext" when offered and available */
static int
xforward_attr(struct strbuf *cmd, int features, int feature,
	      const char *name, const char *value, int avail)
{
	if (!(features & feature) || !avail)
		return 0;
	strbuf_printf(cmd, " %s=", name);
	xtext_append(cmd, value, "");
	return 1;
}

/*
 * send_xforward - the origin of the message for a content filter
 * (smtp_send_xforward_command), in the two commands Postfix uses: client
 * name/address/port, then protocol/helo/ident/source.
 */
static void
send_xforward(struct xfer *x)
{
	struct smtp_session *session = x->state->session;
	struct deliver_request *req = x->state->req;
	int f = session->features;
	struct strbuf cmd = STRBUF_INIT;
	const char *source;

	if (!var_smtp_send_xforward_command)
		return;
	strbuf_puts(&cmd, "XFORWARD");
	if (xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_NAME, "NAME",
			  req->client_name, known(req->client_name))
	    + xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_ADDR, "ADDR",
			    req->client_addr, known(req->client_addr))
	    + xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_PORT, "PORT",
			    req->client_port, known(req->client_port)) > 0)
		send_command(x, STEP_XFORWARD1, -1, "%s", strbuf_str(&cmd));
	strbuf_set(&cmd, "XFORWARD");
	source = strcmp(req->rewrite_context, "local") ? "REMOTE" : "LOCAL";
	if (xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_PROTO, "PROTO",
			  req->client_proto, known(req->client_proto))
	    + xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_HELO, "HELO",
			    req->client_helo, *req->client_helo)
	    + xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_IDENT, "IDENT",
			    req->log_ident, *req->log_ident)
	    + xforward_attr(&cmd, f, SMTP_FEATURE_XFORWARD_DOMAIN, "SOURCE",
			    source, *req->rewrite_context) > 0)
		send_command(x, STEP_XFORWARD2, -1, "%s", strbuf_str(&cmd));
	strbuf_release(&cmd);
}

/* send_rcpt_to - RCPT TO with DSN parameters when offered */
static void
send_rcpt_to(struct xfer *x, int i)
{
	struct smtp_session *session = x->state->session;
	struct recipient *rcpt = &x->state->req->rcpt[i];
	struct strbuf cmd = STRBUF_INIT, addr = STRBUF_INIT;

	/* The wire gets the generic form; logs and ORCPT keep the original. */
	strbuf_set(&addr, rcpt->address);
	smtp_generic_addr(&addr);
	strbuf_puts(&cmd, "RCPT TO:<");
	smtp_quote_address(&cmd, strbuf_str(&addr));
	strbuf_putc(&cmd, '>');
	strbuf_release(&addr);
	if (session->features & SMTP_FEATURE_DSN) {
		struct strbuf orcpt = STRBUF_INIT;

		if (*rcpt->dsn_orcpt) {
			strbuf_puts(&orcpt, rcpt->dsn_orcpt);
		} else if (*rcpt->orig_addr) {
			struct strbuf q = STRBUF_INIT;

			quote_822_local(&q, rcpt->orig_addr);
			strbuf_printf(&orcpt, "%s;%s", x->state->req->smtputf8
				      && !all_ascii(strbuf_str(&q)) ? "utf-8"
				      : "rfc822", strbuf_str(&q));
			strbuf_release(&q);
		}
		if (orcpt.len && strncasecmp(orcpt.data, "utf-8;", 6) == 0) {
			/* RFC 6533 uxtext; an invalid UTF-8 ORCPT is left out */
			struct strbuf u = STRBUF_INIT;

			if (uxtext_append(&u, strbuf_str(&orcpt), "+=") == 0)
				strbuf_printf(&cmd, " ORCPT=%s", strbuf_str(&u));
			strbuf_release(&u);
		} else if (orcpt.len) {
			strbuf_puts(&cmd, " ORCPT=");
			xtext_append(&cmd, strbuf_str(&orcpt), "=");
		}
		strbuf_release(&orcpt);
		if (rcpt->dsn_notify & DSN_NOTIFY_NEVER) {
			strbuf_puts(&cmd, " NOTIFY=NEVER");
		} else if (rcpt->dsn_notify) {
			const char *sep = " NOTIFY=";

			if (rcpt->dsn_notify & DSN_NOTIFY_SUCCESS) {
				strbuf_printf(&cmd, "%sSUCCESS", sep);
				sep = ",";
			}
			if (rcpt->dsn_notify & DSN_NOTIFY_FAILURE) {
				strbuf_printf(&cmd, "%sFAILURE", sep);
				sep = ",";
			}
			if (rcpt->dsn_notify & DSN_NOTIFY_DELAY)
				strbuf_printf(&cmd, "%sDELAY", sep);
		}
	}
	send_command(x, STEP_RCPT, i, "%s", strbuf_str(&cmd));
	strbuf_release(&cmd);
}

/* handle_reply - act on the reply to the oldest unanswered command */
static void
handle_reply(struct xfer *x, const struct pending *p)
{
	struct smtp_state *state = x->state;
	struct smtp_session *session = state->session;
	struct smtp_resp *resp = &x->resp;
	const char *said = strbuf_str(&resp->text);

	switch (p->step) {
	case STEP_XFORWARD1:
	case STEP_XFORWARD2:
		/* A refused XFORWARD is only worth a warning. */
		if (resp->code / 100 != 2)
			msg_warn("host %s said: %s (in reply to %s command)",
				 session->namaddrport, said,
				 step_info[p->step].request);
		break;
	case STEP_MAIL:
		if (resp->code / 100 != 2) {
			smtp_mesg_fail(state, session->host, resp,
				       "host %s said: %s (in reply to %s command)",
				       session->namaddr, said,
				       step_info[STEP_MAIL].request);
			x->mail_rejected = 1;
		}
		break;
	case STEP_RCPT:
		if (x->mail_rejected)
			break;
		if (resp->code / 100 == 2) {
			x->accepted[x->nrcpt++] = p->rcpt;
			if (DEL_REQ_TRACE_ONLY(state->req->flags)
			    && !x->verify_data)
				smtp_rcpt_done(state, p->rcpt, resp);
		} else {
			smtp_rcpt_fail(state, p->rcpt, session->host, resp,
				       "host %s said: %s (in reply to %s command)",
				       session->namaddr, said,
				       step_info[STEP_RCPT].request);
		}
		break;
	case STEP_DATA:
		if (resp->code / 100 != 3) {
			if (x->nrcpt > 0)
				smtp_mesg_fail(state, session->host, resp,
					       "host %s said: %s (in reply to %s command)",
					       session->namaddr, said,
					       step_info[STEP_DATA].request);
			x->nrcpt = -1;
		} else {
			x->got_354 = 1;
			if (x->verify_data) {
				/* Probe up to DATA: the 354 is the verdict. */
				snprintf(resp->dsn, sizeof(resp->dsn), "2.0.0");
				for (int i = 0; i < x->nrcpt; i++)
					if (state->rcpt_state[x->accepted[i]]
					    == SMTP_RCPT_PENDING)
						smtp_rcpt_done(state,
							       x->accepted[i],
							       resp);
			}
		}
		break;
	case STEP_DOT:
		gettimeofday(&state->req->msg_stats.deliver_done, NULL);
		if (x->nrcpt <= 0)
			break;
		if (!state->lmtp) {
			if (resp->code / 100 != 2) {
				smtp_mesg_fail(state, session->host, resp,
					       "host %s said: %s (in reply to %s command)",
					       session->namaddr, said,
					       step_info[STEP_DOT].request);
			} else {
				for (int i = 0; i < x->nrcpt; i++)
					if (state->rcpt_state[x->accepted[i]]
					    == SMTP_RCPT_PENDING)
						smtp_rcpt_done(state,
							       x->accepted[i],
							       resp);
			}
		} else {
			if (resp->code / 100 != 2)
				smtp_rcpt_fail(state, x->accepted[p->rcpt],
					       session->host, resp,
					       "host %s said: %s (in reply to %s command)",
					       session->namaddr, said,
					       step_info[STEP_DOT].request);
			else
				smtp_rcpt_done(state, x->accepted[p->rcpt],
					       resp);
		}
		break;
	case STEP_RSET:
	case STEP_QUIT:
		break;
	}
}

/* read_replies - read replies until at most keep commands are unanswered */
static int
read_replies(struct xfer *x, int keep)
{
	struct smtp_session *session = x->state->session;

	if (stream_flush(session->stream) < 0) {
		/* The reply (if any) explains better; fall through to read. */
	}
	while (x->tail - x->head > keep) {
		struct pending *p = &x->queue[x->head];

		smtp_stream_setup(session, *step_info[p->step].timeout, 0);
		if (smtp_resp_read(session, &x->resp) < 0) {
			if (p->step == STEP_QUIT)
				return 0;	/* after QUIT nobody cares */
			smtp_stream_except(x->state, step_info[p->step].where);
			return -1;
		}
		x->head++;
		x->unacked -= p->bytes;
		handle_reply(x, p);
	}
	return 0;
}

/* maybe_sync - stop to read replies when the server does not pipeline */
static int
maybe_sync(struct xfer *x)
{
	struct smtp_session *session = x->state->session;

	if (!(session->features & SMTP_FEATURE_PIPELINING))
		return read_replies(x, 0);
	if (x->unacked > PIPELINING_WINDOW)
		return read_replies(x, 1);
	return 0;
}

/* text_out - one queue-file record as SMTP DATA text (Postfix's rules) */
static void
text_out(struct smtp_state *state, int rec_type, const char *text,
	 size_t len)
{
	size_t *space_left = &state->space_left;
	struct stream *out = state->session->stream;
	size_t limit = (size_t)var_smtp_line_length_limit;
	const char *data = text;
	size_t left = len;

	do {
		/* Dot-stuff at the start of a logical line. */
		if (*space_left == limit && left > 0 && *data == '.')
			stream_write(out, ".", 1);
		if (limit > 0 && left >= *space_left) {
			stream_write(out, data, *space_left);
			stream_write(out, "\r\n", 2);
			data += *space_left;
			left -= *space_left;
			*space_left = limit;
			if (left > 0 || rec_type == REC_TYPE_CONT) {
				stream_write(out, " ", 1);
				*space_left -= 1;
				if (!state->logged_line_break) {
					msg_info("%s: breaking line > %d bytes "
						 "with <CR><LF>SPACE",
						 state->req->queue_id,
						 var_smtp_line_length_limit);
					state->logged_line_break = 1;
				}
			}
		} else {
			stream_write(out, data, left);
			if (rec_type == REC_TYPE_CONT) {
				*space_left -= left;
			} else {
				stream_write(out, "\r\n", 2);
				*space_left = limit;
			}
			break;
		}
	} while (left > 0);
}

/* mark_corrupt - make the queue manager move the file to corrupt/ */
static void
mark_corrupt(struct smtp_state *state)
{
	if (fchmod(stream_fd(state->req->fp), S_IRUSR) < 0)
		msg_warn("%s: cannot mark corrupt: %m", state->req->queue_path);
	else
		msg_warn("corrupted queue file: %s", state->req->queue_path);
}

/* mime_header_out - a (possibly multi-line) header from the MIME parser */
static void
mime_header_out(void *ctx, int header_class, const struct header_opts *info,
		struct strbuf *buf, off_t offset)
{
	const char *line = strbuf_str(buf), *nl;

	for (;;) {
		nl = strchr(line, '\n');
		text_out(ctx, REC_TYPE_NORM, line,
			 nl ? (size_t)(nl - line) : strlen(line));
		if (nl == NULL)
			break;
		line = nl + 1;
	}
}

/* mime_body_out - a body line (or quoted-printable line) from the parser */
static void
mime_body_out(void *ctx, int rec_type, const char *text, size_t len,
	      off_t offset)
{
	text_out(ctx, rec_type, text, len);
}

/*
 * Header and body checks on the outgoing copy (smtp_header_checks and
 * friends): the table's value is an action.  hbc_action() returns the
 * text to send (the line itself, or a replacement the caller frees when
 * it differs), or NULL when the line must be dropped.
 */
static void
hbc_log(struct smtp_state *state, const char *action, const char *where,
	const char *content, const char *text)
{
	if (*text)
		msg_info("%s: %s: %s %.60s: %s", state->req->queue_id, action,
			 where, content, text);
	else
		msg_info("%s: %s: %s %.60s", state->req->queue_id, action,
			 where, content);
}

/* is_header - "name:" with a non-empty printable name */
static int
is_header(const char *text)
{
	const char *cp = text;

	while (*cp && *cp != ':' && *cp > ' ' && *cp < 0x7f)
		cp++;
	if (cp == text)
		return 0;
	while (*cp == ' ' || *cp == '\t')
		cp++;
	return *cp == ':';
}

static char *
hbc_action(struct smtp_state *state, const char *table, const char *where,
	   const char *action, const char *line)
{
	size_t len = strcspn(action, " \t");
	const char *args = action + len;

	while (*args == ' ' || *args == '\t')
		args++;
#define IS_CMD(name) (len == strlen(name) && strncasecmp(action, name, len) == 0)
	if (IS_CMD("WARN") || IS_CMD("INFO")) {
		hbc_log(state, IS_CMD("WARN") ? "warning" : "info", where,
			line, args);
		return (char *)line;
	}
	if (IS_CMD("REPLACE") || IS_CMD("PREPEND")) {
		int replace = IS_CMD("REPLACE");

		if (*args == 0) {
			msg_warn("%s action without text in %s map",
				 replace ? "REPLACE" : "PREPEND", table);
		} else if (strcmp(where, "header") == 0 && !is_header(args)) {
			msg_warn("bad %s header text \"%s\" in %s map -- "
				 "need \"headername: headervalue\"",
				 replace ? "REPLACE" : "PREPEND", args, table);
		} else if (replace) {
			hbc_log(state, "replace", where, line, args);
			return xstrdup(args);
		} else {
			hbc_log(state, "prepend", where, line, args);
			text_out(state, REC_TYPE_NORM, args, strlen(args));
		}
		return (char *)line;
	}
	if (IS_CMD("STRIP")) {
		hbc_log(state, "strip", where, line, args);
		return NULL;
	}
	if (IS_CMD("IGNORE"))
		return NULL;
	if (IS_CMD("DUNNO") || IS_CMD("OK"))
		return (char *)line;
#undef IS_CMD
	msg_warn("unsupported command in %s map: %s", table, action);
	return (char *)line;
}

/* mime_header_checked - a header through smtp_*header_checks, then out */
static void
mime_header_checked(void *ctx, int header_class,
		    const struct header_opts *info, struct strbuf *buf,
		    off_t offset)
{
	struct smtp_state *state = ctx;
	const char *action, *title;
	int which, error;
	char *result;

	/* MIME headers anywhere are checked as MIME headers (Postfix). */
	which = header_class == MIME_HDR_PRIMARY ? 0
	    : header_class == MIME_HDR_MULTIPART ? 1 : 2;
	if (info && (info->flags & HDR_OPT_MIME))
		which = 1;
	action = smtp_header_checks_find(which, strbuf_str(buf), &error,
					 &title);
	if (action == NULL && error) {
		msg_warn("%s: smtp header checks lookup error",
			 state->req->queue_id);
		state->session->data_error = 1;
		return;
	}
	if (action) {
		result = hbc_action(state, title, "header", action,
				    strbuf_str(buf));
		if (result == NULL)
			return;
		if (result != strbuf_str(buf)) {
			strbuf_set(buf, result);
			free(result);
		}
	}
	/*
	 * smtp_generic_maps: sender and recipient headers of the message
	 * itself only (not of attached messages), after the checks, as
	 * classified before them (Postfix).
	 */
	if (header_class == MIME_HDR_PRIMARY && smtp_generic_active())
		smtp_generic_header(buf, info);
	mime_header_out(ctx, header_class, info, buf, offset);
}

/* mime_body_checked - a body line through smtp_body_checks, then out */
static void
mime_body_checked(void *ctx, int rec_type, const char *text, size_t len,
		  off_t offset)
{
	struct smtp_state *state = ctx;
	const char *action, *title;
	char *line, *result;
	int error;

	if (!smtp_body_checks_active()) {
		text_out(state, rec_type, text, len);
		return;
	}
	line = xstrndup(text, len);
	action = smtp_body_checks_find(line, &error, &title);
	if (action == NULL && error) {
		msg_warn("%s: smtp body checks lookup error",
			 state->req->queue_id);
		state->session->data_error = 1;
	} else if (action == NULL) {
		text_out(state, rec_type, text, len);
	} else if ((result = hbc_action(state, title, "body", action, line))
		   != NULL) {
		text_out(state, rec_type, result, strlen(result));
		if (result != line)
			free(result);
	}
	free(line);
}

/* mime_fail - the MIME parser refused the message: bounce as Postfix */
static void
mime_fail(struct smtp_state *state, int errs)
{
	const struct mime_state_detail *detail = mime_state_detail(errs);
	struct smtp_resp fake;

	smtp_resp_init(&fake);
	snprintf(fake.dsn, sizeof(fake.dsn), "%s", detail->dsn);
	smtp_mesg_fail(state, NULL, &fake, "%s", detail->text);
	smtp_resp_release(&fake);
}

/*
 * send_content - the message from the queue file, dot-stuffed, with CRLF
 * line ends, through the MIME parser when 8-bit content must be
 * downgraded for a server without 8BITMIME.  Returns 0, or -1 when the
 * message cannot be sent (corrupt queue file, MIME error: reported; the
 * session must be dropped without the final dot).
 */
static int
send_content(struct smtp_state *state)
{
	static const struct mime_state_cb mime_cb = {
		.header = mime_header_out,
		.body = mime_body_out,
	};
	static const struct mime_state_cb checks_cb = {
		.header = mime_header_checked,
		.body = mime_body_checked,
	};
	struct deliver_request *req = state->req;
	struct stream *out = state->session->stream;
	struct strbuf rec = STRBUF_INIT;
	struct mime_state *mime = NULL;
	int type, prev = 0, errs = 0, ret = -1;

	smtp_stream_setup(state->session, var_smtp_data_xfer_timeout, 1);
	if (stream_seek(req->fp, req->data_offset) < 0)
		msg_fatal("seek queue file %s: %m", req->queue_path);
	/*
	 * The MIME parser runs when content must be downgraded, checked, or
	 * have its header addresses rewritten.  For rewriting alone it only
	 * needs to find the primary headers (MIME processing off), as with
	 * Postfix, so attachments are never looked into.
	 */
	if (downgrading(state))
		mime = mime_state_create(MIME_OPT_DOWNGRADE
					 | MIME_OPT_REPORT_NESTING,
					 smtp_checks_active()
					 || smtp_generic_active() ? &checks_cb
					 : &mime_cb, state);
	else if (smtp_checks_active())
		mime = mime_state_create(0, &checks_cb, state);
	else if (smtp_generic_active())
		mime = mime_state_create(MIME_OPT_DISABLE_MIME, &checks_cb,
					 state);
	state->space_left = (size_t)var_smtp_line_length_limit;
	while ((type = rec_get(req->fp, &rec, 0, REC_FLAG_DEFAULT)) > 0) {
		if (type != REC_TYPE_NORM && type != REC_TYPE_CONT)
			break;
		if (mime)
			errs = mime_state_update(mime, type, strbuf_str(&rec),
						 rec.len);
		else
			text_out(state, type, strbuf_str(&rec), rec.len);
		prev = type;
		if (errs || stream_error(out) || state->session->data_error)
			break;
	}
	strbuf_release(&rec);
	if (state->session->data_error) {
		/* A check's table failed: "local data error", session dropped */
		stream_discard_output(out);
		stream_set_error(out, STREAM_IOERR, 0);
		ret = 0;
		goto out;
	}
	if (stream_error(out)) {
		ret = 0;	/* the caller reports the broken connection */
		goto out;
	}
	/* As Postfix: the parser's end-of-content check comes first. */
	if (mime && errs == 0)
		errs = mime_state_update(mime, type, "", 0);
	if (errs) {
		/* What was written still goes out; then the session drops. */
		mime_fail(state, errs);
		stream_flush(out);
		goto out;
	}
	if (stream_error(req->fp) == STREAM_IOERR)
		msg_fatal("queue file read error: %s", req->queue_path);
	if (type != REC_TYPE_XTRA) {
		struct smtp_resp fake;

		msg_warn("%s: bad record type: %d in message content",
			 req->queue_id, type);
		smtp_resp_init(&fake);
		snprintf(fake.dsn, sizeof(fake.dsn), "5.3.0");
		smtp_mesg_fail(state, NULL, &fake,
			       "unreadable mail queue entry");
		smtp_resp_release(&fake);
		stream_discard_output(out);
		if (state->status == 0)
			mark_corrupt(state);
		goto out;
	}
	if (mime == NULL && prev == REC_TYPE_CONT) {
		stream_write(out, "\r\n", 2);	/* unterminated last line */
	}
	if (state->session->features & SMTP_FEATURE_PIX_DELAY_DOTCRLF) {
		/* Some PIX firewalls need ".<CR><LF>" in its own packet. */
		stream_flush(out);
		sleep((unsigned)var_smtp_pix_workaround_delay_time);
	}
	ret = 0;
out:
	mime_state_free(mime);
	return ret;
}

/*
 * finish_with_quit - QUIT after the last command: pipelined with it when
 * the server pipelines, else only after its reply.  The QUIT reply is
 * read only with smtp_skip_quit_response = no.
 */
static int
finish_with_quit(struct xfer *x)
{
	if (!(x->state->session->features & SMTP_FEATURE_PIPELINING)
	    && read_replies(x, 0) < 0)
		return -1;
	send_command(x, STEP_QUIT, -1, "QUIT");
	return read_replies(x, var_smtp_skip_quit_response ? 1 : 0);
}

/*
 * finish - end of the transaction (after the final dot or RSET): a
 * session that goes to the cache gets no QUIT, only its replies read.
 * The choice is made here, as the last command goes out; a session past
 * its reuse time or count limit is closed instead.  Sets *cached.
 */
static int
finish(struct xfer *x, int *cached)
{
	struct smtp_session *session = x->state->session;

	if (smtp_session_expired(session))
		smtp_session_dont_cache(session);
	if (!smtp_session_cached(session))
		return finish_with_quit(x);
	*cached = 1;
	return read_replies(x, 0);
}

/* smtp_xfer - one mail transaction */
int
smtp_xfer(struct smtp_state *state)
{
	struct deliver_request *req = state->req;
	struct smtp_session *session = state->session;
	struct xfer x;
	int ret = -1, cached = 0;
	int probe = DEL_REQ_TRACE_ONLY(req->flags);

	if (session->size_limit > 0 && session->size_limit < req->data_size) {
		struct smtp_resp fake;

		smtp_resp_init(&fake);
		snprintf(fake.dsn, sizeof(fake.dsn), "5.3.4");
		smtp_mesg_fail(state, NULL, &fake,
			       "message size %lu exceeds size limit %.0f of "
			       "server %s", (unsigned long)req->data_size,
			       (double)session->size_limit, session->namaddr);
		smtp_resp_release(&fake);
		return 0;
	}

	memset(&x, 0, sizeof(x));
	x.state = state;
	x.queue = xcalloc(2 * (size_t)req->rcpt_count + 10, sizeof(*x.queue));
	x.accepted = xcalloc((size_t)req->rcpt_count, sizeof(int));
	smtp_resp_init(&x.resp);
	if (probe && strcasecmp(var_smtp_address_verify_target, "data") == 0) {
		x.verify_data = 1;
		probe = 0;	/* send DATA like a real delivery */
	}

	send_xforward(&x);
	if (maybe_sync(&x) < 0)
		goto out;
	send_mail_from(&x);
	if (maybe_sync(&x) < 0)
		goto out;
	for (int i = 0; i < req->rcpt_count && !x.mail_rejected; i++) {
		if (state->rcpt_state[i] != SMTP_RCPT_PENDING)
			continue;
		send_rcpt_to(&x, i);
		if (maybe_sync(&x) < 0)
			goto out;
	}
	if (!probe && !x.mail_rejected
	    && ((session->features & SMTP_FEATURE_PIPELINING) || x.nrcpt > 0))
		send_command(&x, STEP_DATA, -1, "DATA");
	if (read_replies(&x, 0) < 0)
		goto out;

	if (x.verify_data && x.got_354) {
		/* Leave without sending content; the session is not reused. */
		ret = 0;
		goto out;
	}
	if (probe || !x.got_354 || x.nrcpt < 0 || x.mail_rejected) {
		/* No message to send: end the transaction and leave. */
		send_command(&x, STEP_RSET, -1, "RSET");
		if (finish(&x, &cached) < 0)
			goto out;
		ret = 0;
		goto out;
	}

	/* 354: the content, the final dot, and QUIT in one go. */
	if (x.nrcpt > 0 && send_content(state) < 0)
		goto out;	/* corrupt queue file: drop the session */
	if (stream_error(session->stream)) {
		smtp_stream_except(state, "sending message body");
		goto out;
	}
	if (state->lmtp && x.nrcpt > 0) {
		/* LMTP: one reply per accepted recipient after the dot. */
		smtp_stream_setup(session, var_smtp_data_done_timeout, 0);
		smtp_chat_cmd(session, ".");
		stream_write(session->stream, ".\r\n", 3);
		for (int i = 0; i < x.nrcpt; i++) {
			x.queue[x.tail].step = STEP_DOT;
			x.queue[x.tail].rcpt = i;
			x.queue[x.tail].bytes = 0;
			x.tail++;
		}
	} else {
		send_command(&x, STEP_DOT, -1, ".");
	}
	if (finish(&x, &cached) < 0)
		goto out;
	ret = 0;
out:
	/* Anything but a clean end without QUIT: not for the cache. */
	if (ret < 0 || !cached)
		smtp_session_dont_cache(session);
	/* Later failures elsewhere must not mark the destination dead. */
	if (ret == 0 && stream_error(session->stream) == STREAM_OK)
		state->complete_session = 1;
	smtp_resp_release(&x.resp);
	free(x.queue);
	free(x.accepted);
	return ret;
}

/* EHLO keywords an administrator may tell us to ignore. */
#define EHLO_MASK_8BITMIME	(1 << 0)
#define EHLO_MASK_AUTH		(1 << 1)
#define EHLO_MASK_ETRN		(1 << 2)
#define EHLO_MASK_PIPELINING	(1 << 3)
#define EHLO_MASK_SIZE		(1 << 4)
#define EHLO_MASK_VERP		(1 << 5)
#define EHLO_MASK_VRFY		(1 << 6)
#define EHLO_MASK_XCLIENT	(1 << 7)
#define EHLO_MASK_XFORWARD	(1 << 8)
#define EHLO_MASK_STARTTLS	(1 << 9)
#define EHLO_MASK_ENHANCEDSTATUSCODES (1 << 10)
#define EHLO_MASK_DSN		(1 << 11)
#define EHLO_MASK_SMTPUTF8	(1 << 12)
#define EHLO_MASK_CHUNKING	(1 << 13)
#define EHLO_MASK_SILENT	(1 << 14)

/*
 * Names in the order Postfix prints them.  The odd "EHLO_MASK_SMTPUTF8"
 * spelling is what Postfix 3.7 logs for a discarded SMTPUTF8 (its table
 * lists that name first); we log the same so log parsers agree.
 */
static const struct ehlo_name {
	const char *name;
	int mask;
} ehlo_names[] = {
	{"8BITMIME", EHLO_MASK_8BITMIME},
	{"AUTH", EHLO_MASK_AUTH},
	{"ETRN", EHLO_MASK_ETRN},
	{"PIPELINING", EHLO_MASK_PIPELINING},
	{"SIZE", EHLO_MASK_SIZE},
	{"VERP", EHLO_MASK_VERP},
	{"VRFY", EHLO_MASK_VRFY},
	{"XCLIENT", EHLO_MASK_XCLIENT},
	{"XFORWARD", EHLO_MASK_XFORWARD},
	{"STARTTLS", EHLO_MASK_STARTTLS},
	{"ENHANCEDSTATUSCODES", EHLO_MASK_ENHANCEDSTATUSCODES},
	{"DSN", EHLO_MASK_DSN},
	{"EHLO_MASK_SMTPUTF8", EHLO_MASK_SMTPUTF8},
	{"SMTPUTF8", EHLO_MASK_SMTPUTF8},
	{"CHUNKING", EHLO_MASK_CHUNKING},
	{"SILENT-DISCARD", EHLO_MASK_SILENT},
	{NULL, 0},
};

/* ehlo_mask - keyword list to mask; unknown words are ignored */
static int
ehlo_mask(const char *words)
{
	char *copy = xstrdup(words), *rest = copy, *w;
	int mask = 0;

	while ((w = strsep(&rest, ", \t\r\n")) != NULL) {
		for (const struct ehlo_name *n = ehlo_names; n->name; n++)
			if (*w && strcasecmp(w, n->name) == 0)
				mask |= n->mask;
	}
	free(copy);
	return mask;
}

/* ehlo_mask_str - mask to "NAME NAME", as Postfix logs it */
static void
ehlo_mask_str(struct strbuf *out, int mask)
{
	for (const struct ehlo_name *n = ehlo_names; n->name; n++) {
		if (mask & n->mask) {
			if (out->len)
				strbuf_putc(out, ' ');
			strbuf_puts(out, n->name);
			mask &= ~n->mask;
		}
	}
}

/* EHLO keywords we act on: the feature each enables, and its discard bit. */
static const struct ehlo_keyword {
	const char *name;
	int feature;
	int discard;
} ehlo_keywords[] = {
	{"8BITMIME", SMTP_FEATURE_8BITMIME, EHLO_MASK_8BITMIME},
	{"PIPELINING", SMTP_FEATURE_PIPELINING, EHLO_MASK_PIPELINING},
	{"SIZE", SMTP_FEATURE_SIZE, EHLO_MASK_SIZE},
	{"STARTTLS", SMTP_FEATURE_STARTTLS, EHLO_MASK_STARTTLS},
	{"AUTH", SMTP_FEATURE_AUTH, EHLO_MASK_AUTH},
	{"DSN", SMTP_FEATURE_DSN, EHLO_MASK_DSN},
	{"SMTPUTF8", SMTP_FEATURE_SMTPUTF8, EHLO_MASK_SMTPUTF8},
	{"ENHANCEDSTATUSCODES", SMTP_FEATURE_ENHANCEDSTATUSCODES,
	 EHLO_MASK_ENHANCEDSTATUSCODES},
	{"XFORWARD", 0, EHLO_MASK_XFORWARD},	/* features from its words */
	{NULL, 0, 0},
};

/* XFORWARD attribute names and the features they announce. */
static const struct ehlo_keyword xforward_attrs[] = {
	{"NAME", SMTP_FEATURE_XFORWARD_NAME, 0},
	{"ADDR", SMTP_FEATURE_XFORWARD_ADDR, 0},
	{"PROTO", SMTP_FEATURE_XFORWARD_PROTO, 0},
	{"HELO", SMTP_FEATURE_XFORWARD_HELO, 0},
	{"SOURCE", SMTP_FEATURE_XFORWARD_DOMAIN, 0},
	{"PORT", SMTP_FEATURE_XFORWARD_PORT, 0},
	{"IDENT", SMTP_FEATURE_XFORWARD_IDENT, 0},
	{NULL, 0, 0},
};

/* keyword_find - a table row by case-insensitive name, or NULL */
static const struct ehlo_keyword *
keyword_find(const struct ehlo_keyword *table, const char *word)
{
	for (; table->name; table++)
		if (strcasecmp(table->name, word) == 0)
			return table;
	return NULL;
}

/* size_limit - the SIZE parameter, 0 (none) when absent or malformed */
static long
size_limit(struct smtp_session *session, const char *word)
{
	char *end;
	long n;

	if (word == NULL || *word == 0)
		return 0;
	errno = 0;
	n = strtol(word, &end, 10);
	if (*end || errno || n < 0 || !isdigit((unsigned char)*word)) {
		msg_warn("bad EHLO SIZE limit \"%s\" from %s", word,
			 session->namaddrport);
		return 0;
	}
	return n;
}

/*
 * parse_ehlo - learn features from the EHLO/LHLO reply lines.  Lines are
 * "code(-| )keyword[( |=)params]"; the first names the server.  The
 * "=" form is an old AUTH draft that some servers still use.
 */
static void
parse_ehlo(struct smtp_session *session, const char *lines, int discard)
{
	char *copy = xstrdup(lines);
	char *rest = copy, *line;
	int n = 0;

	while ((line = strsep(&rest, "\n")) != NULL) {
		char *word, *words = line + (strlen(line) > 4 ? 4 : strlen(line));
		const struct ehlo_keyword *kw;

		if (n++ == 0)
			continue;	/* the server's name */
		while (*words == ' ')
			words++;
		word = strsep(&words, " \t=");
		if (word == NULL || *word == 0
		    || (kw = keyword_find(ehlo_keywords, word)) == NULL
		    || (discard & kw->discard))
			continue;
		if (kw->feature == SMTP_FEATURE_AUTH) {
			/* Postfix notes AUTH only when SASL is turned on. */
			if (var_smtp_sasl_auth_enable)
				smtp_sasl_helo_auth(session, words ? words : "");
			continue;
		}
		session->features |= kw->feature;
		if (kw->feature == SMTP_FEATURE_SIZE) {
			session->size_limit =
			    size_limit(session, words ? strsep(&words, " \t")
				       : NULL);
		} else if (kw->discard == EHLO_MASK_XFORWARD) {
			while (words && (word = strsep(&words, " \t")))
				if ((kw = keyword_find(xforward_attrs, word)))
					session->features |= kw->feature;
		}
	}
	free(copy);
}

/* chat - send one command in lock-step and read its reply */
static int
chat(struct smtp_session *session, struct smtp_resp *resp, int timeout,
     const char *verb, const char *arg)
{
	struct strbuf cmd = STRBUF_INIT;

	strbuf_printf(&cmd, "%s %s", verb, arg);
	smtp_chat_cmd(session, strbuf_str(&cmd));
	if (msg_verbose)
		msg_info("> %s: %s", session->namaddrport, strbuf_str(&cmd));
	strbuf_puts(&cmd, "\r\n");
	smtp_stream_setup(session, timeout, 0);
	stream_write(session->stream, cmd.data, cmd.len);
	strbuf_release(&cmd);
	stream_flush(session->stream);
	return smtp_resp_read(session, resp);
}

/* refused - "host X refused to talk to me: reply" as a site failure */
static int
refused(struct smtp_state *state, struct smtp_resp *resp)
{
	struct smtp_session *session = state->session;

	return smtp_site_fail(state, session->host, resp,
			      "host %s refused to talk to me: %s",
			      session->namaddr, strbuf_str(&resp->text));
}

/* fake_fail - a locally made-up reply status for a site/message failure */
static struct smtp_resp *
fake_resp(struct smtp_resp *resp, const char *dsn)
{
	smtp_resp_init(resp);
	snprintf(resp->dsn, sizeof(resp->dsn), "%s", dsn);
	return resp;
}

/* pix_workarounds - a "220 ****" banner means a Cisco PIX is in the way */
static void
pix_workarounds(struct smtp_state *state, const char *banner)
{
	struct smtp_session *session = state->session;
	struct strbuf names = STRBUF_INIT;
	char *copy, *rest, *w;
	int mask = 0;

	const char *words;
	int error;

	if (banner[strspn(banner, "20 *\t\n")] != 0)
		return;
	/* Best effort: a lookup error means the main.cf default. */
	if ((words = smtp_pix_maps_find(session->addr, &error)) == NULL)
		words = var_smtp_pix_workarounds;
	if (*words == 0)
		return;
	copy = rest = xstrdup(words);
	while ((w = strsep(&rest, ", \t\r\n")) != NULL) {
		if (strcasecmp(w, "disable_esmtp") == 0)
			mask |= SMTP_FEATURE_PIX_NO_ESMTP;
		else if (strcasecmp(w, "delay_dotcrlf") == 0)
			mask |= SMTP_FEATURE_PIX_DELAY_DOTCRLF;
	}
	free(copy);
	/* Only old mail gets the slow dot: it probably timed out before. */
	if ((mask & SMTP_FEATURE_PIX_DELAY_DOTCRLF)
	    && state->req->msg_stats.incoming_arrival.tv_sec
	    > time(NULL) - var_smtp_pix_workaround_threshold_time)
		mask &= ~SMTP_FEATURE_PIX_DELAY_DOTCRLF;
	if (mask & SMTP_FEATURE_PIX_NO_ESMTP)
		strbuf_puts(&names, "disable_esmtp");
	if (mask & SMTP_FEATURE_PIX_DELAY_DOTCRLF)
		strbuf_puts(&names, names.len ? " delay_dotcrlf" : "delay_dotcrlf");
	msg_info("%s: enabling PIX workarounds: %s for %s",
		 state->req->queue_id, strbuf_str(&names),
		 session->namaddrport);
	session->features |= mask;
	strbuf_release(&names);
}

/* first_word - the first word after the reply code of a reply */
static char *
first_word(const char *lines)
{
	const char *cp = lines + strspn(lines, "0123456789");
	size_t len;

	cp += strspn(cp, "- ");
	len = strcspn(cp, " \t\n");
	return xstrndup(cp, len);
}

/* nexthop_domain - a next hop without [], :port or service */
static char *
nexthop_domain(const char *dest)
{
	const char *cp = dest, *end;

	if (strncasecmp(cp, "inet:", 5) == 0)
		cp += 5;
	if (*cp == '[' && (end = strchr(cp, ']')) != NULL)
		return xstrndup(cp + 1, (size_t)(end - cp - 1));
	end = strrchr(cp, ':');
	return end ? xstrndup(cp, (size_t)(end - cp)) : xstrdup(cp);
}

#define TLS_STEP_PLAIN	0	/* go on in plaintext */
#define TLS_STEP_AGAIN	1	/* TLS is up: EHLO again */
#define TLS_STEP_FAILED	2	/* recipients reported */
#define TLS_STEP_BROKEN	3	/* the connection failed */

/* starttls_level - starttls() once the policy is known */
static int
starttls_level(struct smtp_state *state, struct smtp_resp *resp, int level,
	       const struct smtp_tls_attrs *attrs, struct smtp_why *why)
{
	struct smtp_session *session = state->session;
	struct tls_client_props props;
	struct smtp_resp fake;
	char *nexthop;

	if (level == SMTP_TLS_LEV_INVALID) {
		/* smtp_tls_prune() refused these already; be safe. */
		smtp_site_fail(state, NULL, fake_resp(&fake, why->status),
			       "%s", strbuf_str(&why->reason));
		smtp_resp_release(&fake);
		return TLS_STEP_FAILED;
	}
	if ((session->features & SMTP_FEATURE_STARTTLS)
	    && var_smtp_tls_note_starttls_offer && level <= SMTP_TLS_LEV_NONE)
		msg_info("Host offered STARTTLS: [%s]", session->host);
	if ((session->features & SMTP_FEATURE_STARTTLS)
	    && tls_client_enabled() && level >= SMTP_TLS_LEV_MAY) {
		smtp_stream_setup(session, var_smtp_starttls_timeout, 0);
		smtp_chat_cmd(session, "STARTTLS");
		if (msg_verbose)
			msg_info("> %s: STARTTLS", session->namaddrport);
		stream_puts(session->stream, "STARTTLS\r\n");
		if (stream_flush(session->stream) != 0
		    || smtp_resp_read(session, resp) < 0)
			return TLS_STEP_BROKEN;
		if (resp->code / 100 == 2)
			goto handshake;
		session->features &= ~SMTP_FEATURE_STARTTLS;
		if (TLS_REQUIRED(level)) {
			smtp_site_fail(state, session->host, resp,
				       "TLS is required, but host %s refused "
				       "to start TLS: %s", session->namaddr,
				       strbuf_str(&resp->text));
			return TLS_STEP_FAILED;
		}
		return TLS_STEP_PLAIN;
	}
	if (TLS_REQUIRED(level)) {
		if (!(session->features & SMTP_FEATURE_STARTTLS))
			smtp_site_fail(state, NULL, fake_resp(&fake, "4.7.4"),
				       "TLS is required, but was not offered "
				       "by host %s", session->namaddr);
		else
			smtp_site_fail(state, NULL, fake_resp(&fake, "4.7.5"),
				       "TLS is required, but our TLS engine is "
				       "unavailable");
		smtp_resp_release(&fake);
		return TLS_STEP_FAILED;
	}
	return TLS_STEP_PLAIN;

handshake:
	/* The SASL mechanisms of the plaintext EHLO are void now. */
	if (session->features & SMTP_FEATURE_AUTH)
		smtp_sasl_cleanup(session);
	/* Whatever came after the reply was sent in clear: drop it. */
	stream_discard_input(session->stream);
	/* The cache does not keep TLS state: never cache this session. */
	smtp_session_dont_cache(session);
	/* Over a UNIX socket, "nexthop" is this host, as in Postfix. */
	nexthop = session->port == 0 ? xstrdup(var_myhostname)
	    : nexthop_domain(state->dest ? state->dest : session->host);
	memset(&props, 0, sizeof(props));
	props.level = level;
	props.namaddr = session->namaddrport;
	props.host = session->host;
	props.nexthop = nexthop;
	props.matches = attrs->match;
	props.grade = attrs->grade;
	props.protocols = attrs->protocols;
	props.exclusions = attrs->exclude;
	props.timeout = var_smtp_starttls_timeout;
	session->tls = tls_client_start(session->stream, &props);
	free(nexthop);
	if (session->tls == NULL) {
		/* The peer is in an unknown state: no more I/O, not even QUIT. */
		stream_set_error(session->stream, STREAM_IOERR, EPROTO);
		/*
		 * "may": the same server again, in clear, for mail that
		 * waited at least minimal_backoff_time (or a probe), unless
		 * we would authenticate (the server may offer AUTH only
		 * over TLS).  New mail is deferred: one failed handshake
		 * must not send it in clear at once.
		 */
		if (level == SMTP_TLS_LEV_MAY
		    && (DEL_REQ_TRACE_ONLY(state->req->flags)
			|| state->req->msg_stats.active_arrival.tv_sec
			- state->req->msg_stats.incoming_arrival.tv_sec
			>= var_min_backoff_time)
		    && !smtp_sasl_have_credentials(state)) {
			session->tls_retry_plain = 1;
			state->final_server = 0;
		}
		fake_resp(&fake, "4.7.5");
		if (level == SMTP_TLS_LEV_MAY)
			smtp_mesg_fail(state, NULL, &fake, "Cannot start TLS: "
				       "handshake failure");
		else
			smtp_site_fail(state, NULL, &fake, "Cannot start TLS: "
				       "handshake failure");
		smtp_resp_release(&fake);
		return TLS_STEP_FAILED;
	}
	if (TLS_MUST_MATCH(level) && !tls_client_matched(session->tls)) {
		smtp_site_fail(state, NULL, fake_resp(&fake, "4.7.5"),
			       "Server certificate not verified");
		smtp_resp_release(&fake);
		return TLS_STEP_FAILED;
	}
	return TLS_STEP_AGAIN;
}

/*
 * starttls - after EHLO: STARTTLS when the level asks for TLS and the
 * server offers it, the handshake, and the certificate check of the
 * level; or the deferral when TLS is required but cannot be had.
 */
static int
starttls(struct smtp_state *state, struct smtp_resp *resp)
{
	struct smtp_session *session = state->session;
	struct smtp_why why = { "", STRBUF_INIT };
	struct smtp_tls_attrs attrs = { NULL, NULL, NULL, NULL };
	int level, ret;

	if (session->tls)
		return TLS_STEP_PLAIN;	/* this is the EHLO after TLS */
	/* A retry in clear: not for the cache, whose label has the level. */
	if (state->tls_off)
		smtp_session_dont_cache(session);
	level = state->tls_off ? SMTP_TLS_LEV_NONE
	    : smtp_tls_policy(state->dest ? state->dest : "", session->host,
			      &why, &attrs);
	ret = starttls_level(state, resp, level, &attrs, &why);
	smtp_tls_attrs_free(&attrs);
	strbuf_release(&why.reason);
	return ret;
}

/* smtp_helo - greeting, then EHLO/HELO or LHLO */
int
smtp_helo(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	struct deliver_request *req = state->req;
	struct smtp_resp resp, fake;
	const char *where = "receiving the initial server greeting";
	int loop_detect = !state->lmtp && session->port == 25;
	int ret = -1, discard, saved_features;
	char *name;

	smtp_resp_init(&resp);
	smtp_stream_setup(session, var_smtp_helo_timeout, 0);
	if (smtp_resp_read(session, &resp) < 0)
		goto broken;
	switch (resp.code / 100) {
	case 2:
		break;
	case 5:
		if (var_smtp_skip_5xx_greeting)
			resp.dsn[0] = '4';
		/* FALLTHROUGH */
	default:
		refused(state, &resp);
		goto out;
	}
	pix_workarounds(state, strbuf_str(&resp.lines));

	/* ESMTP is assumed unless configured otherwise (smtp(8) rules). */
	if (state->lmtp) {
		session->features |= SMTP_FEATURE_ESMTP;
	} else {
		char *copy = xstrdup(strbuf_str(&resp.lines));
		char *rest = copy, *word;
		int n = 0;

		strsep(&rest, "- ");	/* the code */
		while ((word = strsep(&rest, " \t\n")) != NULL) {
			if (*word == 0)
				continue;
			if (n++ == 0 && strcasecmp(word, var_myhostname) == 0) {
				if (loop_detect)
					msg_warn("host %s greeted me with my "
						 "own hostname %s",
						 session->namaddrport,
						 var_myhostname);
			} else if (strcasecmp(word, "ESMTP") == 0) {
				session->features |= SMTP_FEATURE_ESMTP;
			}
		}
		free(copy);
		if (var_smtp_always_send_ehlo
		    && !(session->features & SMTP_FEATURE_PIX_NO_ESMTP))
			session->features |= SMTP_FEATURE_ESMTP;
		if (var_smtp_never_send_ehlo
		    || (session->features & SMTP_FEATURE_PIX_NO_ESMTP))
			session->features &= ~SMTP_FEATURE_ESMTP;
	}

	saved_features = session->features;
ehlo_again:
	if (state->lmtp) {
		where = "performing the LHLO handshake";
		if (chat(session, &resp, var_smtp_helo_timeout, "LHLO",
			 var_smtp_helo_name) < 0)
			goto broken;
		if (resp.code / 100 != 2) {
			refused(state, &resp);
			goto out;
		}
	} else {
		if (session->features & SMTP_FEATURE_ESMTP) {
			where = "performing the EHLO handshake";
			if (chat(session, &resp, var_smtp_helo_timeout,
				 "EHLO", var_smtp_helo_name) < 0)
				goto broken;
			if (resp.code / 100 != 2) {
				if (resp.code == 421) {
					refused(state, &resp);
					goto out;
				}
				session->features &= ~SMTP_FEATURE_ESMTP;
			}
		}
		if (!(session->features & SMTP_FEATURE_ESMTP)) {
			where = "performing the HELO handshake";
			if (chat(session, &resp, var_smtp_helo_timeout,
				 "HELO", var_smtp_helo_name) < 0)
				goto broken;
			if (resp.code / 100 != 2) {
				refused(state, &resp);
				goto out;
			}
		}
	}
	if (session->features & SMTP_FEATURE_ESMTP) {
		/* The server calls itself by our name: a mail loop. */
		name = first_word(strbuf_str(&resp.lines));
		if (loop_detect && strcasecmp(name, var_myhostname) == 0) {
			free(name);
			msg_warn("host %s replied to HELO/EHLO with my own "
				 "hostname %s", session->namaddrport,
				 var_myhostname);
			smtp_site_fail(state, NULL, fake_resp(&fake,
				       (session->features & SMTP_FEATURE_BEST_MX)
				       ? "5.4.6" : "4.4.6"),
				       "mail for %s loops back to myself",
				       req->nexthop);
			smtp_resp_release(&fake);
			goto out;
		}
		free(name);
		{
			int error;
			const char *words =
			    smtp_ehlo_discard_find(session->addr, &error);

			if (words == NULL && error) {
				msg_warn("%s: %s map lookup error for %s",
					 req->queue_id, smtp_maps_title(2),
					 session->addr);
				session->data_error = 1;
				goto broken;
			}
			discard = ehlo_mask(words ? words
					    : var_smtp_discard_ehlo_keywords);
		}
		if (discard && !(discard & EHLO_MASK_SILENT)) {
			struct strbuf names = STRBUF_INIT;

			ehlo_mask_str(&names, discard);
			msg_info("discarding EHLO keywords: %s",
				 strbuf_str(&names));
			strbuf_release(&names);
		}
		parse_ehlo(session, strbuf_str(&resp.lines), discard);
	}

	/* STARTTLS, and EHLO again over TLS. */
	switch (starttls(state, &resp)) {
	case TLS_STEP_PLAIN:
		break;
	case TLS_STEP_AGAIN:
		session->features = saved_features;
		smtp_stream_setup(session, var_smtp_helo_timeout, 0);
		goto ehlo_again;
	case TLS_STEP_BROKEN:
		where = "receiving the STARTTLS response";
		goto broken;
	default:
		goto out;
	}

	/* Mail that needs SMTPUTF8 cannot go to a server without it. */
	if (!(session->features & SMTP_FEATURE_SMTPUTF8)
	    && (req->smtputf8 & SMTPUTF8_FLAG_REQUESTED)
	    && (req->smtputf8 & ~SMTPUTF8_FLAG_REQUESTED)) {
		smtp_mesg_fail(state, NULL, fake_resp(&fake, "5.6.7"),
			       "SMTPUTF8 is required, but was not offered by "
			       "host %s", session->namaddr);
		smtp_resp_release(&fake);
		goto out;
	}
	if ((session->features & SMTP_FEATURE_SMTPUTF8)
	    && !(session->features & SMTP_FEATURE_8BITMIME)) {
		msg_info("host %s offers SMTPUTF8 support, but not 8BITMIME",
			 session->namaddr);
		session->features |= SMTP_FEATURE_8BITMIME;
	}
	/* AUTH, with the security options of the channel. */
	switch (smtp_sasl_helo_login(state, session->tls == NULL
				     ? SMTP_SASL_CLEAR
				     : tls_client_matched(session->tls)
				     ? SMTP_SASL_TLS_VERIFIED : SMTP_SASL_TLS)) {
	case 0:
		break;
	case SMTP_SASL_BROKEN:
		goto broken;
	default:
		goto out;
	}
	ret = 0;
	goto out;
broken:
	smtp_stream_except(state, where);
out:
	smtp_resp_release(&resp);
	return ret;
}

/*
 * smtp_rset - the RSET probe of a session taken from the cache: 0 when
 * the server answered (session->rset_rejected tells whether with 2xx),
 * -1 when the connection is gone.  Nothing is logged or reported: the
 * caller just makes a new connection.
 */
int
smtp_rset(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	struct smtp_resp resp;
	int ret = -1;

	smtp_resp_init(&resp);
	if (msg_verbose)
		msg_info("> %s: RSET", session->namaddrport);
	smtp_stream_setup(session, var_smtp_rset_timeout, 0);
	smtp_chat_cmd(session, "RSET");
	stream_puts(session->stream, "RSET\r\n");
	if (stream_flush(session->stream) == 0
	    && smtp_resp_read(session, &resp) == 0) {
		if (resp.code / 100 != 2)
			session->rset_rejected = 1;
		ret = 0;
	}
	smtp_resp_release(&resp);
	return ret;
}

/* smtp_quit - polite goodbye; the session is not cached after this */
void
smtp_quit(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	struct smtp_resp resp;

	smtp_session_dont_cache(session);
	if (stream_error(session->stream))
		return;
	smtp_resp_init(&resp);
	smtp_stream_setup(session, var_smtp_quit_timeout, 0);
	smtp_chat_cmd(session, "QUIT");
	stream_puts(session->stream, "QUIT\r\n");
	if (stream_flush(session->stream) == 0 && !var_smtp_skip_quit_response)
		(void)smtp_resp_read(session, &resp);
	smtp_resp_release(&resp);
}
