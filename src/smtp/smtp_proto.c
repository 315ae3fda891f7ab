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
#include "global/record.h"
#include "smtp.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Unacknowledged pipelined command bytes before we stop to read replies. */
#define PIPELINING_WINDOW	4096

enum smtp_step {
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
	struct smtp_resp resp;
};

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
	if (msg_verbose)
		msg_info("> %s: %s", session->namaddrport, strbuf_str(&cmd));
	strbuf_puts(&cmd, "\r\n");
	stream_set_timeout(session->stream, *step_info[step].timeout);
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

/* send_mail_from - MAIL FROM with the ESMTP parameters the server takes */
static void
send_mail_from(struct xfer *x)
{
	struct smtp_state *state = x->state;
	struct smtp_session *session = state->session;
	struct deliver_request *req = state->req;
	struct strbuf cmd = STRBUF_INIT;

	req->msg_stats.reuse_count = 0;
	gettimeofday(&req->msg_stats.conn_setup_done, NULL);
	strbuf_puts(&cmd, "MAIL FROM:<");
	smtp_quote_address(&cmd, req->sender);
	strbuf_putc(&cmd, '>');
	if (session->features & SMTP_FEATURE_SIZE)
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
	send_command(x, STEP_MAIL, -1, "%s", strbuf_str(&cmd));
	strbuf_release(&cmd);
}

/* send_rcpt_to - RCPT TO with DSN parameters when offered */
static void
send_rcpt_to(struct xfer *x, int i)
{
	struct smtp_session *session = x->state->session;
	struct recipient *rcpt = &x->state->req->rcpt[i];
	struct strbuf cmd = STRBUF_INIT;

	strbuf_puts(&cmd, "RCPT TO:<");
	smtp_quote_address(&cmd, rcpt->address);
	strbuf_putc(&cmd, '>');
	if (session->features & SMTP_FEATURE_DSN) {
		if (*rcpt->dsn_orcpt) {
			strbuf_puts(&cmd, " ORCPT=");
			xtext_append(&cmd, rcpt->dsn_orcpt, "=");
		} else if (*rcpt->orig_addr) {
			struct strbuf orcpt = STRBUF_INIT;

			strbuf_puts(&orcpt, "rfc822;");
			strbuf_puts(&orcpt, rcpt->orig_addr);
			strbuf_puts(&cmd, " ORCPT=");
			xtext_append(&cmd, strbuf_str(&orcpt), "=");
			strbuf_release(&orcpt);
		}
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
			if (DEL_REQ_TRACE_ONLY(state->req->flags))
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

		stream_set_timeout(session->stream, *step_info[p->step].timeout);
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
	 size_t len, size_t *space_left)
{
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

/*
 * send_content - the message from the queue file, dot-stuffed, with CRLF
 * line ends.  Returns 0, or -1 when the queue file content is corrupt
 * (reported, session must be dropped without the final dot).
 */
static int
send_content(struct smtp_state *state)
{
	struct deliver_request *req = state->req;
	struct stream *out = state->session->stream;
	struct strbuf rec = STRBUF_INIT;
	size_t space_left = (size_t)var_smtp_line_length_limit;
	int type, prev = 0;

	stream_set_timeout(out, var_smtp_data_xfer_timeout);
	if (stream_seek(req->fp, req->data_offset) < 0)
		msg_fatal("seek queue file %s: %m", req->queue_path);
	while ((type = rec_get(req->fp, &rec, 0, REC_FLAG_DEFAULT)) > 0) {
		if (type != REC_TYPE_NORM && type != REC_TYPE_CONT)
			break;
		text_out(state, type, strbuf_str(&rec), rec.len, &space_left);
		prev = type;
		if (stream_error(out))
			break;
	}
	strbuf_release(&rec);
	if (stream_error(out))
		return 0;	/* the caller reports the broken connection */
	if (prev == REC_TYPE_CONT)
		stream_write(out, "\r\n", 2);	/* unterminated last line */
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
		return -1;
	}
	return 0;
}

/* send_quit - queue QUIT (its reply is read only if configured) */
static void
send_quit(struct xfer *x)
{
	send_command(x, STEP_QUIT, -1, "QUIT");
}

/* smtp_xfer - one mail transaction */
int
smtp_xfer(struct smtp_state *state)
{
	struct deliver_request *req = state->req;
	struct smtp_session *session = state->session;
	struct xfer x;
	int ret = -1;
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
	x.queue = xcalloc(2 * (size_t)req->rcpt_count + 8, sizeof(*x.queue));
	x.accepted = xcalloc((size_t)req->rcpt_count, sizeof(int));
	smtp_resp_init(&x.resp);

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

	if (probe || !x.got_354 || x.nrcpt < 0 || x.mail_rejected) {
		/* No message to send: end the transaction and leave. */
		send_command(&x, STEP_RSET, -1, "RSET");
		send_quit(&x);
		if (read_replies(&x, var_smtp_skip_quit_response ? 1 : 0) < 0)
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
		stream_set_timeout(session->stream, var_smtp_data_done_timeout);
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
	send_quit(&x);
	if (read_replies(&x, var_smtp_skip_quit_response ? 1 : 0) < 0)
		goto out;
	ret = 0;
out:
	smtp_resp_release(&x.resp);
	free(x.queue);
	free(x.accepted);
	return ret;
}

/* parse_ehlo - learn features from the EHLO/LHLO reply lines */
static void
parse_ehlo(struct smtp_session *session, const char *lines)
{
	char *copy = xstrdup(lines);
	char *rest = copy, *line;
	int n = 0;

	while ((line = strsep(&rest, "\n")) != NULL) {
		char *word, *words = line + (strlen(line) > 4 ? 4 : strlen(line));

		if (n++ == 0)
			continue;	/* the server's name */
		while (*words == ' ')
			words++;
		word = strsep(&words, " \t=");
		if (word == NULL || *word == 0)
			continue;
		if (strcasecmp(word, "8BITMIME") == 0) {
			session->features |= SMTP_FEATURE_8BITMIME;
		} else if (strcasecmp(word, "PIPELINING") == 0) {
			session->features |= SMTP_FEATURE_PIPELINING;
		} else if (strcasecmp(word, "SIZE") == 0) {
			session->features |= SMTP_FEATURE_SIZE;
			if (words && (word = strsep(&words, " \t")) && *word) {
				char *end;

				errno = 0;
				session->size_limit = strtol(word, &end, 10);
				if (*end || errno || session->size_limit < 0
				    || !isdigit((unsigned char)*word)) {
					msg_warn("bad EHLO SIZE limit \"%s\" "
						 "from %s", word,
						 session->namaddrport);
					session->size_limit = 0;
				}
			}
		} else if (strcasecmp(word, "STARTTLS") == 0) {
			session->features |= SMTP_FEATURE_STARTTLS;
		} else if (strcasecmp(word, "AUTH") == 0) {
			session->features |= SMTP_FEATURE_AUTH;
		} else if (strcasecmp(word, "DSN") == 0) {
			session->features |= SMTP_FEATURE_DSN;
		} else if (strcasecmp(word, "SMTPUTF8") == 0) {
			session->features |= SMTP_FEATURE_SMTPUTF8;
		} else if (strcasecmp(word, "ENHANCEDSTATUSCODES") == 0) {
			session->features |= SMTP_FEATURE_ENHANCEDSTATUSCODES;
		} else if (strcasecmp(word, "XFORWARD") == 0) {
			while (words && (word = strsep(&words, " \t"))) {
				if (strcasecmp(word, "NAME") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_NAME;
				else if (strcasecmp(word, "ADDR") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_ADDR;
				else if (strcasecmp(word, "PROTO") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_PROTO;
				else if (strcasecmp(word, "HELO") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_HELO;
				else if (strcasecmp(word, "SOURCE") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_DOMAIN;
				else if (strcasecmp(word, "PORT") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_PORT;
				else if (strcasecmp(word, "IDENT") == 0)
					session->features |=
					    SMTP_FEATURE_XFORWARD_IDENT;
			}
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
	if (msg_verbose)
		msg_info("> %s: %s", session->namaddrport, strbuf_str(&cmd));
	strbuf_puts(&cmd, "\r\n");
	stream_set_timeout(session->stream, timeout);
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

/* smtp_helo - greeting, then EHLO/HELO or LHLO */
int
smtp_helo(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	struct smtp_resp resp;
	const char *where = "receiving the initial server greeting";
	int ret = -1;

	smtp_resp_init(&resp);
	stream_set_timeout(session->stream, var_smtp_helo_timeout);
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
			if (n++ == 0 && strcasecmp(word, var_myhostname) == 0)
				continue;
			if (strcasecmp(word, "ESMTP") == 0)
				session->features |= SMTP_FEATURE_ESMTP;
		}
		free(copy);
		if (var_smtp_always_send_ehlo)
			session->features |= SMTP_FEATURE_ESMTP;
		if (var_smtp_never_send_ehlo)
			session->features &= ~SMTP_FEATURE_ESMTP;
	}

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
	if (session->features & SMTP_FEATURE_ESMTP)
		parse_ehlo(session, strbuf_str(&resp.lines));
	ret = 0;
	goto out;
broken:
	smtp_stream_except(state, where);
out:
	smtp_resp_release(&resp);
	return ret;
}

/* smtp_quit - polite goodbye after a failed handshake */
void
smtp_quit(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	struct smtp_resp resp;

	if (stream_error(session->stream))
		return;
	smtp_resp_init(&resp);
	stream_set_timeout(session->stream, var_smtp_quit_timeout);
	stream_puts(session->stream, "QUIT\r\n");
	if (stream_flush(session->stream) == 0 && !var_smtp_skip_quit_response)
		(void)smtp_resp_read(session, &resp);
	smtp_resp_release(&resp);
}
