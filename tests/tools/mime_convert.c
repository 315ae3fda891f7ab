/*
 * mime_convert - what Postern sends as DATA to a server without 8BITMIME
 *
 *   mime_convert [-P] [-r] [-t] [-l line_length_limit] [-L smtp_line_length_limit]
 *                [-H header_size_limit] [-N mime_nesting_limit]
 *                [-B mime_boundary_length_limit] < message > wire-bytes
 *
 * Reads a message on standard input and writes the bytes that the SMTP
 * client puts on the wire between the 354 reply and the final ".": the
 * content run through mime_state with MIME_OPT_DOWNGRADE |
 * MIME_OPT_REPORT_NESTING (as Postfix's smtp(8) does when the server lacks
 * 8BITMIME, the request's encoding is not 7bit and
 * disable_mime_output_conversion = no), with CRLF line ends, dot-stuffing
 * and the smtp_line_length_limit folding (CRLF SPACE).
 *
 * Input: by default a message with LF line ends, cut into queue-file
 * records as sendmail(1) does: a line longer than line_length_limit
 * (2048) becomes REC_TYPE_CONT pieces of that size and a final
 * REC_TYPE_NORM piece; a last line without LF is a REC_TYPE_CONT.  With
 * -r the input is queue-file records (type, length, data), e.g. the
 * message content records copied from a real queue file, so that
 * cleanup's own record boundaries are kept.
 *
 * -t prints the parser callbacks instead (one line each: "HEADER class
 * offset name|text", "HEADER END", "BODY type offset|text", "BODY END"),
 * for tests of the parser itself.  -P mimics the test program inside
 * Postfix's own mime_state.c instead (see postfix_driver() below), so that
 * Postfix's mime_*.in/.ref test cases can be replayed.
 *
 * Exit status: 0; 3 when the parser reports an error, after writing what
 * was sent up to that point and "mime_convert: DSN TEXT" on standard
 * error (Postfix then bounces the message with that status and reason and
 * drops the connection without the final "."); 2 for usage errors; 1 for
 * bad -r input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/mime_state.h"
#include "global/params.h"
#include "global/record.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/stream.h"
#include "util/xmalloc.h"

struct out {
	struct strbuf wire;	/* what goes to the server */
	size_t limit;		/* smtp_line_length_limit, 0: none */
	size_t space_left;	/* on the current output line */
	int trace;		/* -t, -P */
};

/* -P: the trace format of Postfix's own mime_state test driver. */
static int postfix_trace;

/* put - append bytes to the wire buffer */
static void
put(struct out *o, const char *data, size_t len)
{
	strbuf_append(&o->wire, data, len);
}

/*
 * text_out - one record as SMTP DATA text, as Postfix's smtp_text_out():
 * a "." at the start of a line is doubled; a line longer than the limit
 * is broken with CRLF and continued after a SPACE; REC_TYPE_CONT pieces
 * are glued without a line end.
 */
static void
text_out(struct out *o, int rec_type, const char *data, size_t left)
{
	do {
		if (o->space_left == o->limit && left > 0 && *data == '.')
			put(o, ".", 1);
		if (o->limit > 0 && left >= o->space_left) {
			put(o, data, o->space_left);
			put(o, "\r\n", 2);
			data += o->space_left;
			left -= o->space_left;
			o->space_left = o->limit;
			if (left > 0 || rec_type == REC_TYPE_CONT) {
				put(o, " ", 1);
				o->space_left -= 1;
			}
		} else {
			put(o, data, left);
			if (rec_type == REC_TYPE_CONT) {
				o->space_left -= left;
			} else {
				put(o, "\r\n", 2);
				o->space_left = o->limit;
			}
			break;
		}
	} while (left > 0);
}

/* header_cb - a header: each line of it as one text line */
static void
header_cb(void *ctx, int header_class, const struct header_opts *info,
	  struct strbuf *buf, off_t offset)
{
	struct out *o = ctx;
	const char *line = strbuf_str(buf);
	const char *end = line + buf->len;
	const char *nl;

	if (postfix_trace) {
		strbuf_printf(&o->wire, "%s %ld\t|",
			      header_class == MIME_HDR_PRIMARY ? "MAIN"
			      : header_class == MIME_HDR_MULTIPART ? "MULT"
								   : "NEST",
			      (long)offset);
		put(o, buf->data, buf->len);
		put(o, "\n", 1);
		return;
	}
	if (o->trace) {
		strbuf_printf(&o->wire, "HEADER %s %ld %s|",
			      header_class == MIME_HDR_PRIMARY ? "MAIN"
			      : header_class == MIME_HDR_MULTIPART ? "MULT"
								   : "NEST",
			      (long)offset, info ? info->name : "-");
		put(o, buf->data, buf->len);
		put(o, "\n", 1);
		return;
	}
	for (;;) {
		nl = memchr(line, '\n', (size_t)(end - line));
		text_out(o, REC_TYPE_NORM, line,
			 (size_t)((nl ? nl : end) - line));
		if (nl == NULL)
			break;
		line = nl + 1;
	}
}

static void
header_end_cb(void *ctx)
{
	struct out *o = ctx;

	if (o->trace)
		strbuf_puts(&o->wire, "HEADER END\n");
}

static void
body_cb(void *ctx, int rec_type, const char *text, size_t len, off_t offset)
{
	struct out *o = ctx;

	if (postfix_trace) {
		strbuf_printf(&o->wire, "BODY %c %ld\t|", rec_type,
			      (long)offset);
		put(o, text, len);
		if (rec_type == REC_TYPE_NORM)
			put(o, "\n", 1);
		return;
	}
	if (o->trace) {
		strbuf_printf(&o->wire, "BODY %c %ld|", rec_type, (long)offset);
		put(o, text, len);
		put(o, "\n", 1);
		return;
	}
	text_out(o, rec_type, text, len);
}

static void
body_end_cb(void *ctx)
{
	struct out *o = ctx;

	if (o->trace)
		strbuf_puts(&o->wire, "BODY END\n");
}

/* error_cb - -P: report as the Postfix driver does (printable, 100 max) */
static void
error_cb(void *ctx, int err, const char *text, size_t len)
{
	struct out *o = ctx;
	size_t i;

	strbuf_printf(&o->wire, "mime_state: warning: %s: ",
		      mime_state_detail(err)->text);
	for (i = 0; i < len && i < 100; i++) {
		unsigned char ch = (unsigned char)text[i];

		strbuf_putc(&o->wire, ch >= 32 && ch < 127 ? ch : '?');
	}
	strbuf_putc(&o->wire, '\n');
}

/* flush - write the wire buffer to standard output */
static void
flush(struct out *o)
{
	size_t done = 0;
	ssize_t n;

	while (done < o->wire.len) {
		n = write(1, o->wire.data + done, o->wire.len - done);
		if (n <= 0) {
			perror("mime_convert: write");
			exit(1);
		}
		done += (size_t)n;
	}
	strbuf_reset(&o->wire);
}

/* feed - one record to the parser; on error, report and stop */
static void
feed(struct mime_state *mime, struct out *o, int type, const char *text,
     size_t len)
{
	int errs = mime_state_update(mime, type, text, len);

	if (errs) {
		const struct mime_state_detail *d = mime_state_detail(errs);

		flush(o);
		fprintf(stderr, "mime_convert: %s %s\n", d->dsn, d->text);
		exit(3);
	}
}

/*
 * postfix_driver - -P: behave as the test program inside Postfix's
 * mime_state.c (every report option plus downgrading, header limit 2000,
 * nesting limit 20, boundary limit 2000, input lines cut at 1024), so its
 * .in/.ref files can be replayed.  Its verbose-only lines ("header_token",
 * "PUSH/POP boundary", "garbage in") are not produced.
 */
static int
postfix_driver(struct out *o)
{
	static const struct mime_state_cb cb = {
		header_cb, header_end_cb, body_cb, body_end_cb, error_cb,
	};
	static const char *const final[] = {
		"message header length exceeds safety limit",
		"MIME nesting exceeds safety limit",
		"improper use of 8-bit data in message header",
		"improper use of 8-bit data in message body",
		"improper message/* or multipart/* encoding domain",
	};
	static const int final_bits[] = {
		MIME_ERR_TRUNC_HEADER, MIME_ERR_NESTING,
		MIME_ERR_8BIT_IN_HEADER, MIME_ERR_8BIT_IN_7BIT_BODY,
		MIME_ERR_ENCODING_DOMAIN,
	};
	struct mime_state *mime;
	struct stream *in = stream_fdopen(0);
	struct strbuf rec = STRBUF_INIT;
	int type, ch, errs = 0;
	size_t i;

	mime = mime_state_create(MIME_OPT_REPORT_8BIT_IN_7BIT_BODY
				 | MIME_OPT_REPORT_8BIT_IN_HEADER
				 | MIME_OPT_REPORT_ENCODING_DOMAIN
				 | MIME_OPT_REPORT_TRUNC_HEADER
				 | MIME_OPT_REPORT_NESTING
				 | MIME_OPT_DOWNGRADE, &cb, o);
	mime_state_limits(mime, 2000, 20, 2000);
	do {
		strbuf_reset(&rec);
		type = REC_TYPE_CONT;
		while (rec.len < 1024) {
			if ((ch = stream_getc(in)) < 0) {
				if (rec.len == 0)
					type = REC_TYPE_EOF;
				break;
			}
			if (ch == '\n') {
				type = REC_TYPE_NORM;
				break;
			}
			strbuf_putc(&rec, ch);
		}
		errs = mime_state_update(mime, type, strbuf_str(&rec), rec.len);
		flush(o);
	} while (type > 0);
	for (i = 0; i < sizeof(final_bits) / sizeof(final_bits[0]); i++)
		if (errs & final_bits[i])
			strbuf_printf(&o->wire, "mime_state: warning: %s\n",
				      final[i]);
	flush(o);
	mime_state_free(mime);
	stream_free(in);
	strbuf_release(&rec);
	return 0;
}

/* usage - complain and exit */
static void
usage(void)
{
	fprintf(stderr, "usage: mime_convert [-rt] [-l line_length_limit] "
		"[-L smtp_line_length_limit] [-H header_size_limit] "
		"[-N mime_nesting_limit] [-B mime_boundary_length_limit]\n");
	exit(2);
}

/* number - a positive -X argument */
static long
number(const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg == 0 || *end != 0 || n < 0)
		usage();
	return n;
}

int
main(int argc, char **argv)
{
	static const struct mime_state_cb cb = {
		header_cb, header_end_cb, body_cb, body_end_cb, NULL,
	};
	struct out o;
	struct mime_state *mime;
	struct stream *in;
	struct strbuf rec = STRBUF_INIT;
	long line_limit = 2048, smtp_limit = 998;
	long header_limit = 0, nesting = 0, bound = 0;
	int records = 0, ch, type = 0;

	memset(&o, 0, sizeof(o));
	strbuf_init(&o.wire, 0);
	msg_set_ident("mime_convert");
	msg_stderr_enable(1);
	while ((ch = getopt(argc, argv, "Prtl:L:H:N:B:")) != -1) {
		switch (ch) {
		case 'P':
			postfix_trace = o.trace = 1;
			break;
		case 'r':
			records = 1;
			break;
		case 't':
			o.trace = 1;
			break;
		case 'l':
			line_limit = number(optarg);
			break;
		case 'L':
			smtp_limit = number(optarg);
			break;
		case 'H':
			header_limit = number(optarg);
			break;
		case 'N':
			nesting = number(optarg);
			break;
		case 'B':
			bound = number(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || line_limit < 1)
		usage();
	o.limit = (size_t)smtp_limit;
	o.space_left = o.limit;

	params_load(0);
	if (postfix_trace) {
		postfix_driver(&o);
		strbuf_release(&o.wire);
		return 0;
	}
	mime = mime_state_create(MIME_OPT_DOWNGRADE | MIME_OPT_REPORT_NESTING,
				 &cb, &o);
	mime_state_limits(mime, header_limit, nesting, bound);

	in = stream_fdopen(0);
	if (records) {
		while ((type = rec_get(in, &rec, 0, REC_FLAG_NONE)) > 0) {
			if (type != REC_TYPE_NORM && type != REC_TYPE_CONT) {
				fprintf(stderr, "mime_convert: record type "
					"%d in content\n", type);
				return 1;
			}
			feed(mime, &o, type, strbuf_str(&rec), rec.len);
		}
		if (type == REC_TYPE_ERROR)
			return 1;
	} else {
		/* Lines cut as sendmail's rec_streamlf_get() cuts them. */
		for (;;) {
			strbuf_reset(&rec);
			type = 0;
			while (rec.len < (size_t)line_limit) {
				if ((ch = stream_getc(in)) < 0)
					break;
				if (ch == '\n') {
					type = REC_TYPE_NORM;
					break;
				}
				strbuf_putc(&rec, ch);
			}
			if (type == 0) {
				if (rec.len == 0)
					break;	/* end of input */
				type = REC_TYPE_CONT;
			}
			feed(mime, &o, type, strbuf_str(&rec), rec.len);
		}
	}
	/* The record that ends the content, as smtp(8) passes it on. */
	feed(mime, &o, REC_TYPE_XTRA, "", 0);
	flush(&o);
	mime_state_free(mime);
	stream_free(in);
	strbuf_release(&rec);
	strbuf_release(&o.wire);
	return 0;
}
