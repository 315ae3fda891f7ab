/*
 * post_mail - submit a new message to the cleanup(8) service
 *
 * A program that must tell someone something (the SMTP client's
 * postmaster notices) hands cleanup(8) a complete message as Postfix's
 * own daemons do, without sendmail(1):
 *
 *   1. connect to public/$cleanup_service_name; cleanup speaks first:
 *      protocol=cleanup_protocol, queue_id=<the new message's id>;
 *   2. send flags=<request flags> (attr0);
 *   3. stream queue-file records: T (arrival time "sec usec"),
 *      A log_message_origin=local, A trace_flags=N, S sender,
 *      R recipient, M (content follows), then one N record per line of
 *      content, starting with the Received: and Date: headers; X and E
 *      end the message;
 *   4. read status=N: 0 when the message was queued.
 *
 * post_mail_fopen_nowait() does steps 1 to 3 up to the Date: header;
 * post_mail_fprintf()/post_mail_fputs() add content lines;
 * post_mail_fclose() does the end and step 4.
 *
 * The request flags are those Postfix gives its internal mail:
 * address mapping allowed, content filters and Milters only when
 * internal_mail_filter_classes names the source class, SMTPUTF8
 * autodetection only when smtputf8_autodetect_classes names it.
 *
 * Errors: a failure to connect or to agree with cleanup is a warning and
 * a NULL stream (Postfix exits with a fatal error when the handshake
 * fails after the connection; we never give up a delivery for a notice).
 * An unknown class name in the two class parameters is a warning and is
 * ignored (Postfix: fatal).
 *
 * SEE ALSO
 *	postfix-interfaces.md 5.5; Postfix post_mail(3), cleanup(8)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "global/attr.h"
#include "global/mail_connect.h"
#include "global/params.h"
#include "global/post_mail.h"
#include "global/record.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Source class names, as the two class parameters spell them. */
static const struct source_class {
	const char *name;
	int mask;
} source_classes[] = {
	{"sendmail", MAIL_SRC_MASK_SENDMAIL},
	{"smtpd", MAIL_SRC_MASK_SMTPD},
	{"qmqpd", MAIL_SRC_MASK_QMQPD},
	{"forward", MAIL_SRC_MASK_FORWARD},
	{"bounce", MAIL_SRC_MASK_BOUNCE},
	{"notify", MAIL_SRC_MASK_NOTIFY},
	{"verify", MAIL_SRC_MASK_VERIFY},
	{"all", -1},
	{NULL, 0},
};

/*
 * class_mask - the classes a parameter names.  "all" counts only where
 * Postfix accepts it (smtputf8_autodetect_classes); internal mail
 * filtering knows only notify and bounce, the other names are valid but
 * select nothing.  Names are case-sensitive, as in Postfix.
 */
static int
class_mask(const char *param, const char *value, int known, int allow_all)
{
	char *copy = xstrdup(value), *rest = copy, *word;
	int mask = 0;

	while ((word = strsep(&rest, ", \t\r\n")) != NULL) {
		const struct source_class *c;

		if (*word == 0)
			continue;
		for (c = source_classes; c->name; c++)
			if (strcmp(c->name, word) == 0
			    && (c->mask != -1 || allow_all))
				break;
		if (c->name == NULL)
			msg_warn("unknown %s value \"%s\" in \"%s\" (ignored)",
				 param, word, value);
		else
			mask |= c->mask & known;
	}
	free(copy);
	if (mask == 0 && *value)
		msg_warn("%s: bad input: %s", param, value);
	return mask;
}

/* cleanup_flags - the request flags for mail of one source class */
static int
cleanup_flags(int source_class)
{
	int flags = CLEANUP_FLAG_MAP_OK;

	if (*var_internal_mail_filter_classes
	    && (class_mask("internal_mail_filter_classes",
			   var_internal_mail_filter_classes,
			   MAIL_SRC_MASK_NOTIFY | MAIL_SRC_MASK_BOUNCE, 0)
		& source_class))
		flags |= CLEANUP_FLAG_FILTER | CLEANUP_FLAG_MILTER;
	if (*var_smtputf8_autodetect_classes
	    && (class_mask("smtputf8_autodetect_classes",
			   var_smtputf8_autodetect_classes, -1, 1)
		& source_class))
		flags |= CLEANUP_FLAG_AUTOUTF8;
	return flags;
}

/*
 * post_mail_date - RFC 5322 date as Postfix writes it: day of month
 * padded with a space, numeric offset from UTC, then the zone name.
 */
const char *
post_mail_date(time_t when)
{
	static char buf[100];
	struct tm gmt, lt;
	char zone[64];
	int off;
	size_t n;

	gmtime_r(&when, &gmt);
	localtime_r(&when, &lt);
	/* The offset in minutes, worked out by hand like Postfix does. */
	off = (lt.tm_hour - gmt.tm_hour) * 60 + lt.tm_min - gmt.tm_min;
	if (lt.tm_year != gmt.tm_year)
		off += lt.tm_year < gmt.tm_year ? -24 * 60 : 24 * 60;
	else if (lt.tm_yday != gmt.tm_yday)
		off += lt.tm_yday < gmt.tm_yday ? -24 * 60 : 24 * 60;
	n = strftime(buf, sizeof(buf), "%a, %e %b %Y %H:%M:%S ", &lt);
	if (strftime(zone, sizeof(zone), "%Z", &lt) == 0)
		zone[0] = 0;
	snprintf(buf + n, sizeof(buf) - n, "%+03d%02d (%s)", off / 60,
		 abs(off) % 60, zone);
	return buf;
}

/* handshake - announcement and queue id in, flags out */
static int
handshake(struct stream *s, int flags, struct strbuf *queue_id)
{
	if (attr_expect(s, "protocol", "cleanup_protocol") < 0
	    || attr_get_str(s, "queue_id", queue_id) < 0
	    || attr_get_end(s) < 0)
		return -1;
	attr_put_int(s, "flags", flags);
	attr_put_end(s);
	return stream_flush(s) < 0 ? -1 : 0;
}

/* post_mail_fopen_nowait - connect, agree, write envelope and headers */
struct stream *
post_mail_fopen_nowait(const char *sender, const char *recipient,
		       int source_class, int trace_flags)
{
	struct strbuf id = STRBUF_INIT;
	struct stream *s;
	struct timeval now;
	const char *date;

	if ((s = mail_connect_raw("public", var_cleanup_service_name,
				  var_ipc_timeout)) == NULL)
		return NULL;
	if (handshake(s, cleanup_flags(source_class), &id) < 0) {
		int saved = stream_error(s) == STREAM_IOERR
		    && s->err_no ? s->err_no : EPROTO;

		msg_warn("unable to contact the %s service",
			 var_cleanup_service_name);
		stream_close(s);
		strbuf_release(&id);
		errno = saved;
		return NULL;
	}
	gettimeofday(&now, NULL);
	date = post_mail_date(now.tv_sec);
	rec_fprintf(s, REC_TYPE_TIME, "%ld %ld", (long)now.tv_sec,
		    (long)now.tv_usec);
	rec_fprintf(s, REC_TYPE_ATTR, "%s=%s", "log_message_origin", "local");
	rec_fprintf(s, REC_TYPE_ATTR, "%s=%d", "trace_flags", trace_flags);
	rec_put(s, REC_TYPE_FROM, sender, strlen(sender));
	rec_put(s, REC_TYPE_RCPT, recipient, strlen(recipient));
	rec_put(s, REC_TYPE_MESG, "", 0);
	post_mail_fprintf(s, "Received: by %s (%s)", var_myhostname,
			  var_mail_name);
	post_mail_fprintf(s, "\tid %s; %s", strbuf_str(&id), date);
	post_mail_fprintf(s, "Date: %s", date);
	strbuf_release(&id);
	return s;
}

/* post_mail_fprintf - one formatted line of content */
int
post_mail_fprintf(struct stream *s, const char *fmt, ...)
{
	struct strbuf line = STRBUF_INIT;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = strbuf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (ret == 0)
		ret = post_mail_fputs(s, strbuf_str(&line));
	else
		ret = CLEANUP_STAT_WRITE;
	strbuf_release(&line);
	return ret;
}

/* post_mail_fputs - one line of content */
int
post_mail_fputs(struct stream *s, const char *line)
{
	return rec_put(s, REC_TYPE_NORM, line, strlen(line)) == REC_TYPE_NORM
	    ? 0 : CLEANUP_STAT_WRITE;
}

/* post_mail_fclose - end the message and read cleanup's verdict */
int
post_mail_fclose(struct stream *s)
{
	int status = CLEANUP_STAT_WRITE;

	/* The end marker goes out only when everything before it did. */
	if (stream_error(s) == STREAM_OK) {
		rec_put(s, REC_TYPE_XTRA, "", 0);
		rec_put(s, REC_TYPE_END, "", 0);
		/* The reply is status=N, then maybe a reason we ignore. */
		if (stream_flush(s) < 0
		    || attr_get_int(s, "status", &status) < 0
		    || attr_skip_to_end(s) < 0)
			status = CLEANUP_STAT_WRITE;
	}
	stream_close(s);
	return status;
}
