/*
 * smtp_reply - read and classify one SMTP/LMTP server reply
 *
 * smtp_resp_read() reads reply lines until the last one ("ddd " or a
 * bare "ddd"), as Postfix does: a line that is not "ddd-" or "ddd " is a
 * protocol error that is noted and skipped, a line longer than
 * line_length_limit is cut there and its rest discarded with a warning,
 * and the text of all lines (capped at line_length_limit bytes) is kept
 * joined by spaces for logs and DSNs.  The reply code and the enhanced
 * status come from the last line; without a valid enhanced status whose
 * class matches the code, it is made up as "X.0.0" (and "5.5.0" for a
 * malformed reply).  Non-printable bytes become '?' (smtp_printable).
 * The lines kept also go to the session transcript (smtp_chat.c), with
 * the replacement when smtp_reply_filter rewrote one.
 *
 * It returns 0, or -1 when the stream failed (EOF, timeout, I/O error):
 * the caller then reports "lost connection" or "timed out" with its
 * current stage.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/params.h"
#include "smtp.h"
#include "util/msg.h"

/* smtp_resp_init - prepare a reply buffer */
void
smtp_resp_init(struct smtp_resp *resp)
{
	resp->code = 0;
	snprintf(resp->dsn, sizeof(resp->dsn), "5.5.0");
	strbuf_init(&resp->text, 0);
	strbuf_init(&resp->lines, 0);
}

/* smtp_resp_release - free a reply buffer's storage */
void
smtp_resp_release(struct smtp_resp *resp)
{
	strbuf_release(&resp->text);
	strbuf_release(&resp->lines);
}

/*
 * smtp_resp_parse_line - classify one line: returns 1 when it has exactly
 * three leading digits followed by '-', ' ' or nothing (setting *code and
 * *last), 0 when malformed.
 */
int
smtp_resp_parse_line(const char *line, int *code, int *last)
{
	int n = 0;

	while (isdigit((unsigned char)line[n]))
		n++;
	if (n != 3)
		return 0;
	if (line[3] == '-') {
		*last = 0;
	} else if (line[3] == ' ' || line[3] == 0) {
		*last = 1;
	} else {
		return 0;
	}
	*code = atoi(line);
	return 1;
}

/* smtp_resp_set_dsn - the enhanced status from the final line */
void
smtp_resp_set_dsn(struct smtp_resp *resp, const char *last_line)
{
	const char *cp;
	int len;

	if (strchr("245", last_line[0]) == NULL || last_line[0] == 0) {
		snprintf(resp->dsn, sizeof(resp->dsn), "5.5.0");
		return;
	}
	cp = last_line + 3;
	if (*cp)
		cp++;
	while (*cp == ' ')
		cp++;
	if ((len = dsn_valid(cp)) > 0 && len < (int)sizeof(resp->dsn)
	    && *cp == last_line[0]) {
		memcpy(resp->dsn, cp, (size_t)len);
		resp->dsn[len] = 0;
	} else {
		resp->dsn[0] = last_line[0];
		snprintf(resp->dsn + 1, sizeof(resp->dsn) - 1, ".0.0");
	}
}

/* smtp_resp_read - read one complete reply */
int
smtp_resp_read(struct smtp_session *session, struct smtp_resp *resp)
{
	struct strbuf line = STRBUF_INIT;
	size_t limit = (size_t)(var_line_length_limit > 0
				? var_line_length_limit : 2048);
	int code = 0, last = 0, ok = 0, warned_multi = 0, keep;

	strbuf_reset(&resp->text);
	strbuf_reset(&resp->lines);
	for (;;) {
		int r;

		strbuf_reset(&line);
		r = stream_getdelim(session->stream, &line, '\n', limit);
		if (r == 0) {
			strbuf_release(&line);
			return -1;
		}
		if (r == STREAM_LINE_LONG) {
			struct strbuf junk = STRBUF_INIT;
			int s;

			msg_warn("%s: response longer than %zu: %.30s...",
				 session->namaddrport, limit, line.data);
			/* discard the rest of this line */
			do {
				strbuf_reset(&junk);
				s = stream_getdelim(session->stream, &junk,
						    '\n', limit);
			} while (s == STREAM_LINE_LONG);
			strbuf_release(&junk);
			if (s == 0) {
				strbuf_release(&line);
				return -1;
			}
		}
		if (line.len && line.data[line.len - 1] == '\r')
			strbuf_truncate(&line, line.len - 1);
		if (line.data)
			smtp_printable(line.data);
		if (msg_verbose)
			msg_info("< %s: %.100s", session->namaddrport,
				 line.data ? line.data : "");
		/* The transcript stops where the kept reply text stops. */
		keep = resp->text.len < limit;
		if (keep)
			smtp_chat_append(session, "In:  ", strbuf_str(&line));
		{
			/* smtp_reply_filter: rewrite a broken server's reply */
			int error;
			const char *repl = smtp_reply_filter_find(
						strbuf_str(&line), &error);

			if (repl) {
				msg_info("%s: replacing server reply \"%s\" "
					 "with \"%s\"", session->namaddrport,
					 strbuf_str(&line), repl);
				strbuf_set(&line, repl);
				if (keep) {
					smtp_chat_append(session,
							 "Replaced-by: ", "");
					smtp_chat_append(session, "     ",
							 repl);
				}
			} else if (error) {
				msg_warn("%s: table %s lookup error for %s",
					 session->queue_id, smtp_maps_title(0),
					 strbuf_str(&line));
				session->data_error = 1;
				strbuf_release(&line);
				return -1;
			}
		}
		if (keep) {
			if (resp->text.len) {
				strbuf_putc(&resp->text, ' ');
				strbuf_putc(&resp->lines, '\n');
			}
			strbuf_append(&resp->text, strbuf_str(&line), line.len);
			strbuf_append(&resp->lines, strbuf_str(&line),
				      line.len);
		} else if (!warned_multi++) {
			msg_warn("%s: multi-line response longer than %zu "
				 "%.30s...", session->namaddrport, limit,
				 strbuf_str(&resp->text));
		}
		ok = smtp_resp_parse_line(strbuf_str(&line), &code, &last);
		if (ok && !last)
			continue;
		if (ok && last)
			break;
		/* Not a reply line: note the protocol error, keep reading. */
		session->error_mask |= SMTP_ERR_CLASS_PROTOCOL;
		if (session->features & SMTP_FEATURE_PIPELINING) {
			msg_warn("%s: non-%s response from %s: %.100s",
				 session->queue_id,
				 smtp_lmtp_mode ? "LMTP" : "ESMTP",
				 session->namaddrport,
				 strbuf_str(&line));
			if (var_helpful_warnings)
				msg_warn("to prevent loss of mail, turn off "
					 "command pipelining for %s with the "
					 "%s parameter", session->addr,
					 smtp_lmtp_mode ?
					 "lmtp_discard_lhlo_keyword_address_maps"
					 : "smtp_discard_ehlo_keyword_address_maps");
		}
	}
	resp->code = code;
	smtp_resp_set_dsn(resp, strbuf_str(&line));
	strbuf_release(&line);
	return 0;
}
