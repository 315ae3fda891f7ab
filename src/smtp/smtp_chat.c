/*
 * smtp_chat - the session transcript and the postmaster notice
 *
 * Every command the client sends is kept as "Out: <command>" and every
 * server reply line as "In:  <line>" (two spaces, so that both line up),
 * in the order they went over the wire; a reply line rewritten by
 * smtp_reply_filter is followed by "Replaced-by: " and "     <new line>".
 * Message content is never kept.  Reply lines are kept only while the
 * reply so far is shorter than line_length_limit, as Postfix does.  AUTH
 * dialogue lines are kept as the verbose log shows them ("AUTH PLAIN
 * ********"): Postfix would mail the base64 password to the postmaster.
 *
 * When a session ends with an error of a class listed in notify_classes
 * (the agent raises "protocol": a malformed or out-of-protocol reply, or
 * one of the codes that suggest a client bug, and "data": a local lookup
 * failure mid-session), the transcript goes to error_notice_recipient
 * as a new message through cleanup(8) (post_mail.c), in Postfix 3.7's
 * words and layout.  Mail from the null sender or from the double-bounce
 * address never causes a notice, so notices cannot breed notices.
 *
 *   smtp_chat_init()	parse notify_classes and header_from_format
 *			(fatal when invalid: before any delivery)
 *   smtp_chat_append()	add one transcript line
 *   smtp_chat_cmd()	add "Out: <command>"
 *   smtp_chat_free()	forget the transcript
 *   smtp_chat_notify()	at the end of a session: send the notice when
 *			the rules above say so
 *   smtp_printable()	replace what is not printable by '?', keeping
 *			UTF-8 when smtputf8_enable is on (Postfix's rule)
 *
 * A notice that cannot be posted is a warning; it never changes the
 * outcome of the delivery that caused it.
 *
 * SEE ALSO
 *	postfix-interfaces.md 5.5; Postfix smtp(8) "notify_classes"
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/params.h"
#include "global/post_mail.h"
#include "smtp.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Width and continuation indent of transcript lines in the notice. */
#define NOTICE_WIDTH	78
#define NOTICE_INDENT	4

/* Error classes of notify_classes; this agent raises two of them. */
static const struct error_class {
	const char *name;
	int mask;
} error_classes[] = {
	{"bounce", SMTP_ERR_CLASS_BOUNCE},
	{"2bounce", SMTP_ERR_CLASS_2BOUNCE},
	{"data", SMTP_ERR_CLASS_DATA},
	{"delay", SMTP_ERR_CLASS_DELAY},
	{"policy", SMTP_ERR_CLASS_POLICY},
	{"protocol", SMTP_ERR_CLASS_PROTOCOL},
	{"resource", SMTP_ERR_CLASS_RESOURCE},
	{"software", SMTP_ERR_CLASS_SOFTWARE},
	{NULL, 0},
};

static int notify_mask;		/* classes that earn a notice */
static int hfrom_obsolete;	/* header_from_format = obsolete */

/*
 * smtp_chat_init - the two settings, checked at start-up.  Names are
 * case-sensitive in notify_classes and not in header_from_format, as in
 * Postfix; an unknown name is a configuration error.
 */
void
smtp_chat_init(void)
{
	char *copy = xstrdup(var_notify_classes), *rest = copy, *word;

	notify_mask = 0;
	while ((word = strsep(&rest, ", \t\r\n")) != NULL) {
		const struct error_class *c;

		if (*word == 0)
			continue;
		for (c = error_classes; c->name; c++)
			if (strcmp(c->name, word) == 0)
				break;
		if (c->name == NULL)
			msg_fatal("unknown %s value \"%s\" in \"%s\"",
				  "notify_classes", word, var_notify_classes);
		notify_mask |= c->mask;
	}
	free(copy);
	if (strcasecmp(var_header_from_format, "standard") == 0)
		hfrom_obsolete = 0;
	else if (strcasecmp(var_header_from_format, "obsolete") == 0)
		hfrom_obsolete = 1;
	else
		msg_fatal("invalid setting: \"%s = %s\"", "header_from_format",
			  var_header_from_format);
}

/*
 * smtp_printable - censor in place: printable ASCII stays; with
 * smtputf8_enable, so does a byte from 0xc2 to 0xfe followed by
 * continuation bytes (all of them, checked no further, like Postfix);
 * anything else becomes '?'.
 */
char *
smtp_printable(char *text)
{
	unsigned char *cp = (unsigned char *)text;

	for (; *cp; cp++) {
		if (*cp >= 0x20 && *cp < 0x7f)
			continue;
		if (var_smtputf8_enable && *cp >= 0xc2 && *cp <= 0xfe
		    && cp[1] >= 0x80 && cp[1] < 0xc0) {
			while (cp[1] >= 0x80 && cp[1] < 0xc0)
				cp++;
			continue;
		}
		*cp = '?';
	}
	return text;
}

/* smtp_chat_append - one more transcript line: prefix then text */
void
smtp_chat_append(struct smtp_session *session, const char *prefix,
		 const char *text)
{
	if (session->history_len == session->history_cap) {
		session->history_cap = session->history_cap
		    ? 2 * session->history_cap : 16;
		session->history = xrealloc(session->history,
					    (size_t)session->history_cap
					    * sizeof(*session->history));
	}
	session->history[session->history_len++] = xasprintf("%s%s", prefix,
							     text);
}

/* smtp_chat_cmd - a command as it goes to the server (without CRLF) */
void
smtp_chat_cmd(struct smtp_session *session, const char *command)
{
	smtp_chat_append(session, "Out: ", command);
}

/* smtp_chat_free - forget the transcript */
void
smtp_chat_free(struct smtp_session *session)
{
	for (int i = 0; i < session->history_len; i++)
		free(session->history[i]);
	free(session->history);
	session->history = NULL;
	session->history_len = session->history_cap = 0;
}

/* notice_line - one output line: a space, the indent, the text */
static void
notice_line(struct stream *notice, const char *text, size_t len, int indent)
{
	post_mail_fprintf(notice, " %*s%.*s", indent, "", (int)len, text);
}

/* trimmed - length of text[0..len) without trailing white space */
static size_t
trimmed(const char *text, size_t len)
{
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	return len;
}

/*
 * wrap_line - write one transcript line folded at word boundaries, as
 * Postfix's line_wrap() does: a line breaks before the word that would
 * take it past the width (a single long word is never cut), trailing
 * blanks are dropped, blanks at the start of a continuation are skipped,
 * and continuation lines are indented and correspondingly narrower.
 * Words are separated by single blanks, so a run of blanks counts as
 * empty words in between.
 */
static void
wrap_line(struct stream *notice, const char *text)
{
	size_t start = 0;	/* of the output line being built */
	size_t word = 0;	/* start of the current word */
	size_t width = NOTICE_WIDTH;
	int indent = 0;
	int first = 1;

	for (;;) {
		size_t end = word + strcspn(text + word, " \t");

		if (word > start && end - start > width) {
			notice_line(notice, text + start,
				    trimmed(text + start, word - start), indent);
			start = word;
			while (text[start] == ' ' || text[start] == '\t')
				start++;
			if (first) {
				indent += NOTICE_INDENT;
				width -= NOTICE_INDENT;
				first = 0;
			}
		}
		if (text[end] == 0)
			break;
		word = end + 1;
	}
	notice_line(notice, text + start,
		    trimmed(text + start, strlen(text + start)), indent);
}

/* smtp_chat_notify - mail the transcript to the postmaster if due */
void
smtp_chat_notify(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	const char *sender = state->req->sender;
	char *double_bounce;
	struct stream *notice;

	if (session == NULL || session->history_len == 0
	    || (session->error_mask & notify_mask) == 0 || *sender == 0)
		return;
	/* No notices about mail that is itself a notice or a bounce. */
	double_bounce = xasprintf("%s@%s", var_double_bounce_sender,
				  var_myhostname);
	if (strcmp(sender, double_bounce) == 0) {
		free(double_bounce);
		return;
	}
	if (msg_verbose)
		msg_info("smtp_chat_notify: notify postmaster");
	notice = post_mail_fopen_nowait(double_bounce,
					var_error_notice_recipient,
					MAIL_SRC_MASK_NOTIFY, 0);
	free(double_bounce);
	if (notice == NULL) {
		msg_warn("postmaster notify: %m");
		return;
	}
	if (hfrom_obsolete) {
		post_mail_fprintf(notice, "From: MAILER-DAEMON@%s "
				  "(Mail Delivery System)", var_myhostname);
		post_mail_fprintf(notice, "To: %s (Postmaster)",
				  var_error_notice_recipient);
	} else {
		post_mail_fprintf(notice, "From: Mail Delivery System "
				  "<MAILER-DAEMON@%s>", var_myhostname);
		post_mail_fprintf(notice, "To: Postmaster <%s>",
				  var_error_notice_recipient);
	}
	post_mail_fprintf(notice, "Subject: %s %s client: errors from %s",
			  var_mail_name, state->lmtp ? "LMTP" : "SMTP",
			  session->namaddrport);
	post_mail_fputs(notice, "");
	post_mail_fprintf(notice, "Unexpected response from %s.",
			  session->namaddrport);
	post_mail_fputs(notice, "");
	post_mail_fputs(notice, "Transcript of session follows.");
	post_mail_fputs(notice, "");
	/* Every line starts with a space: this text came from outside. */
	for (int i = 0; i < session->history_len; i++)
		wrap_line(notice, smtp_printable(session->history[i]));
	post_mail_fputs(notice, "");
	post_mail_fputs(notice, "For other details, see the local mail "
			"logfile");
	/* Like Postfix, the verdict is not looked at. */
	(void)post_mail_fclose(notice);
}
