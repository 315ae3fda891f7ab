/*
 * test_mime_state - the MIME parser and header classification
 *
 * Each case feeds text (cut into queue-file records) to a parser whose
 * callbacks write a trace: "H<class> <offset> <name>|<header>" per header
 * (name "-" when not special), "HE" after the primary headers,
 * "B<type> <offset>|<text>" per body record, "BE" at the end, and
 * "E<bits>|<text>" per reported error.  The expectations follow Postfix
 * 3.7's mime_state behaviour (checked against its own test driver and
 * against its smtp(8) on the corpus in tests/fixtures/mime).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "global/header_opts.h"
#include "global/mime_state.h"
#include "global/params.h"
#include "global/record.h"
#include "util/strbuf.h"

static struct strbuf trace;

static void
on_header(void *ctx, int cls, const struct header_opts *info,
	  struct strbuf *buf, off_t offset)
{
	strbuf_printf(&trace, "H%d %ld %s|", cls, (long)offset,
		      info ? info->name : "-");
	strbuf_append(&trace, buf->data, buf->len);
	strbuf_putc(&trace, '\n');
}

static void
on_header_end(void *ctx)
{
	strbuf_puts(&trace, "HE\n");
}

static void
on_body(void *ctx, int type, const char *text, size_t len, off_t offset)
{
	strbuf_printf(&trace, "B%c %ld|", type, (long)offset);
	strbuf_append(&trace, text, len);
	strbuf_putc(&trace, '\n');
}

static void
on_body_end(void *ctx)
{
	strbuf_puts(&trace, "BE\n");
}

static void
on_error(void *ctx, int err, const char *text, size_t len)
{
	strbuf_printf(&trace, "E%d|", err);
	strbuf_append(&trace, text, len);
	strbuf_putc(&trace, '\n');
}

static const struct mime_state_cb cbs = {
	on_header, on_header_end, on_body, on_body_end, on_error,
};

/*
 * run - feed text cut at '\n' and every reclen bytes (REC_TYPE_CONT
 * pieces), then the end record; return the final error bits.  The trace
 * is in the global buffer.
 */
static int
run(int flags, const char *text, size_t reclen, long hlim, long nlim,
    long blim)
{
	struct mime_state *st = mime_state_create(flags, &cbs, NULL);
	const char *p = text, *end = text + strlen(text);
	int errs;

	strbuf_reset(&trace);
	mime_state_limits(st, hlim, nlim, blim);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		while (len > reclen) {
			mime_state_update(st, REC_TYPE_CONT, p, reclen);
			p += reclen;
			len -= reclen;
		}
		mime_state_update(st, nl ? REC_TYPE_NORM : REC_TYPE_CONT, p,
				  len);
		p += len + (nl != NULL);
	}
	errs = mime_state_update(st, REC_TYPE_XTRA, "", 0);
	mime_state_free(st);
	return errs;
}

#define DOWN	(MIME_OPT_DOWNGRADE | MIME_OPT_REPORT_NESTING)

static void
expect(const char *want)
{
	if (strcmp(strbuf_str(&trace), want) != 0)
		fail_msg("trace:\n%s\nwanted:\n%s", strbuf_str(&trace), want);
}

static void
test_header_opts_find(void **state)
{
	static const char *const names[] = {
		"Apparently-To", "Bcc", "Cc", "Content-Description",
		"Content-Disposition", "Content-ID", "Content-Length",
		"Content-Transfer-Encoding", "Content-Type", "Date",
		"Delivered-To", "Disposition-Notification-To", "Errors-To",
		"From", "Mail-Followup-To", "Message-Id", "MIME-Version",
		"Received", "Reply-To", "Resent-Bcc", "Resent-Cc",
		"Resent-Date", "Resent-From", "Resent-Message-Id",
		"Resent-Reply-To", "Resent-Sender", "Resent-To", "Return-Path",
		"Return-Receipt-To", "Sender", "To",
	};
	const struct header_opts *h;
	char buf[64];
	size_t i;

	/* Every name is found (so the bsearch order is right). */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(buf, sizeof(buf), "%s: x", names[i]);
		h = header_opts_find(buf);
		assert_non_null(h);
		assert_string_equal(h->name, names[i]);
	}
	h = header_opts_find("content-TYPE \t: text/plain");
	assert_non_null(h);
	assert_int_equal(h->type, HDR_CONTENT_TYPE);
	assert_int_equal(h->flags, HDR_OPT_MIME);
	h = header_opts_find("to: a@b");
	assert_int_equal(h->flags, HDR_OPT_XRECIP);
	assert_null(header_opts_find("X-Mailer: foo"));
	assert_null(header_opts_find("Subject: foo"));
	assert_null(header_opts_find("Content-Type"));
	assert_null(header_opts_find(": x"));
	assert_null(header_opts_find("Content-Typ: x"));
	assert_null(header_opts_find("Content-Types: x"));
}

static void
test_header_name_len(void **state)
{
	assert_int_equal(header_name_len("Subject: x", 10), 7);
	assert_int_equal(header_name_len("Subject :x", 10), 7);
	assert_int_equal(header_name_len("Subject \t:", 10), 7);
	assert_int_equal(header_name_len("X:", 2), 1);
	assert_int_equal(header_name_len("X", 1), 0);
	assert_int_equal(header_name_len(" X: y", 5), 0);
	assert_int_equal(header_name_len("X Y: z", 6), 0);
	assert_int_equal(header_name_len(": z", 3), 0);
	assert_int_equal(header_name_len("From me", 7), 0);
	assert_int_equal(header_name_len("\xc3\xa4: z", 5), 0);
	assert_int_equal(header_name_len("a\0b: c", 6), 0);
	assert_int_equal(header_name_len("a\x7f: c", 5), 0);
	/* The colon must be within len. */
	assert_int_equal(header_name_len("Subject: x", 7), 0);
}

static void
test_headers_joined(void **state)
{
	/* Folded lines joined with \n, pieces glued, "Name :" normalised. */
	struct mime_state *st;

	run(MIME_OPT_NONE,
	    "Subject : one\n\ttwo\n  three\nTo: x\n\nbody\n", 1000, 0, 0,
	    0);
	/* The header offset advances by the record that ends a header. */
	expect("H1 0 -|Subject: one\n\ttwo\n  three\n"
	       "H1 6 To|To: x\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|body\n"
	       "BE\n");

	/* Record pieces of one line are glued without a line end. */
	strbuf_reset(&trace);
	st = mime_state_create(MIME_OPT_NONE, &cbs, NULL);
	mime_state_update(st, REC_TYPE_CONT, "X-Long: abc", 11);
	mime_state_update(st, REC_TYPE_CONT, "def", 3);
	mime_state_update(st, REC_TYPE_NORM, "ghi", 3);
	mime_state_update(st, REC_TYPE_NORM, "\tjkl", 4);
	mime_state_update(st, REC_TYPE_XTRA, "", 0);
	mime_state_free(st);
	expect("H1 0 -|X-Long: abcdefghi\n\tjkl\n"
	       "HE\n"
	       "BE\n");
}

static void
test_classes_nested(void **state)
{
	run(DOWN,
	    "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n\n"
	    "Subject: inner\n\n"
	    "inner body\n"
	    "--b--\n", 1000, 0, 0, 0);
	expect("H1 0 Content-Type|Content-Type: multipart/mixed; "
	       "boundary=\"b\"\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|--b\n"
	       "H2 0 Content-Type|Content-Type: message/rfc822\n"
	       "BN 0|\n"
	       "H3 0 -|Subject: inner\n"
	       "BN 0|\n"
	       "BN 1|inner body\n"
	       "BN 0|--b--\n"
	       "BE\n");
}

static void
test_downgrade_leaf(void **state)
{
	int errs = run(DOWN,
		       "Content-Transfer-Encoding: 8bit\n"
		       "Content-Type: text/plain\n\n"
		       "caf\xc3\xa9 = ok \n"
		       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		       "xxxxxxxxxxxxxxxxxxxxxxxxx\xff\n"
		       ".\n", 1000, 0, 0, 0);

	assert_int_equal(errs, 0);
	expect("H1 0 Content-Type|Content-Type: text/plain\n"
	       "H1 1 -|Content-Transfer-Encoding: quoted-printable\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|caf=C3=A9 =3D ok=20\n"
	       "BN 21|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxxxxxxxxxxxxxxx=\n"
	       "BN 96|xxxx=FF\n"
	       "BN 104|.\n"
	       "BE\n");
}

static void
test_downgrade_composite(void **state)
{
	/* multipart and message/rfc822 get 7bit; prologue untouched. */
	run(DOWN,
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "Content-Transfer-Encoding: binary\n\n"
	    "pr\xc3\xa9\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "\xc3\xa9\n"
	    "--b--\n", 1000, 0, 0, 0);
	expect("H1 0 Content-Type|Content-Type: multipart/mixed; boundary=b\n"
	       "H1 34 -|Content-Transfer-Encoding: 7bit\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|pr\xc3\xa9\n"
	       "BN 6|--b\n"
	       "H2 0 Content-Type|Content-Type: message/rfc822\n"
	       "H2 32 -|Content-Transfer-Encoding: 7bit\n"
	       "BN 0|\n"
	       "H3 0 -|Content-Transfer-Encoding: quoted-printable\n"
	       "BN 0|\n"
	       "BN 1|=C3=A9\n"
	       "BN 0|--b--\n"
	       "BE\n");
}

static void
test_no_downgrade(void **state)
{
	/* Without the option: everything as it came. */
	run(MIME_OPT_NONE,
	    "Content-Transfer-Encoding: 8bit\n\n\xc3\xa9 \n", 1000, 0, 0, 0);
	expect("H1 0 Content-Transfer-Encoding|Content-Transfer-Encoding: "
	       "8bit\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|\xc3\xa9 \n"
	       "BE\n");
}

static void
test_disable_mime(void **state)
{
	/* Content-* headers ignored: no parts, no conversion. */
	run(MIME_OPT_DISABLE_MIME | MIME_OPT_DOWNGRADE,
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "--b\nSubject: not a header\n\n\xc3\xa9\n", 1000, 0, 0, 0);
	expect("H1 0 Content-Type|Content-Type: multipart/mixed; boundary=b\n"
	       "H1 32 Content-Transfer-Encoding|Content-Transfer-Encoding: "
	       "8bit\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|--b\n"
	       "BN 5|Subject: not a header\n"
	       "BN 27|\n"
	       "BN 28|\xc3\xa9\n"
	       "BE\n");
}

static void
test_header_limit(void **state)
{
	int errs;

	/* Text past the limit is dropped; reported once when asked. */
	errs = run(MIME_OPT_REPORT_TRUNC_HEADER,
		   "X-A: 0123456789\n\tmore\n\tdropped\n\tdropped too\n\nb\n",
		   1000, 20, 0, 0);
	assert_int_equal(errs, MIME_ERR_TRUNC_HEADER);
	expect("E2|X-A: 0123456789\n\tmore\n"
	       "H1 0 -|X-A: 0123456789\n\tmore\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|b\n"
	       "BE\n");
	assert_string_equal(mime_state_detail(errs)->text,
			    "message header length exceeds safety limit");
	/* The limit comes from header_size_limit. */
	params_set("header_size_limit", "20");
	params_load(0);
	assert_int_equal(var_header_size_limit, 20);
	errs = run(MIME_OPT_REPORT_TRUNC_HEADER,
		   "X-A: 0123456789\n\tmore\n\tdropped\n", 1000, 0, 0, 0);
	params_set("header_size_limit", NULL);
	params_load(0);
	assert_int_equal(var_header_size_limit, 102400);
	assert_int_equal(errs, MIME_ERR_TRUNC_HEADER);
	errs = run(MIME_OPT_REPORT_TRUNC_HEADER,
		   "X-A: 0123456789\n\tmore\n\tdropped\n", 1000, 0, 0, 0);
	assert_int_equal(errs, 0);
	/* Not asked: same output, no error. */
	errs = run(MIME_OPT_NONE, "X-A: 0123456789\n\tmore\n\tdropped\n",
		   1000, 20, 0, 0);
	assert_int_equal(errs, 0);
}

static void
test_boundary_limit(void **state)
{
	/* A boundary cut at 5 bytes matches on its first 5. */
	run(MIME_OPT_NONE,
	    "Content-Type: multipart/mixed; boundary=abcdefgh\n\n"
	    "--abcdeXYZ\nSubject: part\n\nx\n--abcde--\n", 1000, 0, 0, 5);
	expect("H1 0 Content-Type|Content-Type: multipart/mixed; "
	       "boundary=abcdefgh\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|--abcdeXYZ\n"
	       "H2 0 -|Subject: part\n"
	       "BN 0|\n"
	       "BN 1|x\n"
	       "BN 0|--abcde--\n"
	       "BE\n");
}

static void
test_nesting_limit(void **state)
{
	const struct mime_state_detail *d;
	int errs;

	/* Limit 1: three levels pass (the count starts below zero). */
	errs = run(DOWN,
		   "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
		   "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		   "Content-Type: multipart/mixed; boundary=c\n\n--c\n",
		   1000, 0, 1, 0);
	assert_int_equal(errs, 0);
	errs = run(DOWN,
		   "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
		   "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		   "Content-Type: multipart/mixed; boundary=c\n\n--c\n"
		   "Content-Type: multipart/mixed; boundary=d\n\n--d\n",
		   1000, 0, 1, 0);
	assert_int_equal(errs, MIME_ERR_NESTING);
	d = mime_state_detail(errs);
	assert_string_equal(d->dsn, "5.6.0");
	assert_string_equal(d->text, "MIME nesting exceeds safety limit");
	/* Not reported without the option. */
	errs = run(MIME_OPT_DOWNGRADE,
		   "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
		   "Content-Type: multipart/mixed; boundary=b\n\n--b\n",
		   1000, 0, 0, 0);
	assert_int_equal(errs, 0);
}

static void
test_boundary_pieces(void **state)
{
	/* A piece that continues a line is never a boundary line. */
	struct mime_state *st;
	static const char ct[] = "Content-Type: multipart/mixed; boundary=b";

	strbuf_reset(&trace);
	st = mime_state_create(MIME_OPT_NONE, &cbs, NULL);
	mime_state_update(st, REC_TYPE_NORM, ct, sizeof(ct) - 1);
	mime_state_update(st, REC_TYPE_NORM, "", 0);
	mime_state_update(st, REC_TYPE_CONT, "0123", 4);
	mime_state_update(st, REC_TYPE_NORM, "--b", 3);
	mime_state_update(st, REC_TYPE_CONT, "--b-", 4);
	mime_state_update(st, REC_TYPE_NORM, "-", 1);
	mime_state_update(st, REC_TYPE_NORM, "Subject: x", 10);
	mime_state_update(st, REC_TYPE_XTRA, "", 0);
	mime_state_free(st);
	/*
	 * "--b" after "0123" is not a boundary.  "--b-" is one (anything
	 * may follow the boundary), not the final one; the rest of its line,
	 * "-", is then read as the part's first header line: not a header,
	 * so the part has no headers and "Subject: x" is body text.
	 */
	expect("H1 0 Content-Type|Content-Type: multipart/mixed; boundary=b\n"
	       "HE\n"
	       "BN 0|\n"
	       "BL 1|0123\n"
	       "BN 6|--b\n"
	       "BL 10|--b-\n"
	       "BN 0|-\n"
	       "BN 2|Subject: x\n"
	       "BE\n");
}

static void
test_end_flush(void **state)
{
	/* A last line without a line end gets one; a header is flushed. */
	run(DOWN, "Content-Transfer-Encoding: 8bit\n\nab\xc3\xa9", 1000, 0, 0,
	    0);
	expect("H1 0 -|Content-Transfer-Encoding: quoted-printable\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 1|ab=C3=A9\n"
	       "BE\n");
	run(DOWN, "Subject: x\nContent-Transfer-Encoding: 8bit\n", 1000, 0, 0,
	    0);
	expect("H1 0 -|Subject: x\n"
	       "H1 32 -|Content-Transfer-Encoding: quoted-printable\n"
	       "HE\n"
	       "BE\n");
}

static void
test_garbage_header(void **state)
{
	/* Primary headers that end in a non-header get an empty line. */
	run(MIME_OPT_NONE, "Subject: x\nnot a header\n", 1000, 0, 0, 0);
	expect("H1 0 -|Subject: x\n"
	       "HE\n"
	       "BN 0|\n"
	       "BN 0|not a header\n"
	       "BE\n");
}

static void
test_reports(void **state)
{
	int errs;

	errs = run(MIME_OPT_REPORT_8BIT_IN_HEADER
		   | MIME_OPT_REPORT_8BIT_IN_7BIT_BODY,
		   "Subject: \xc3\xa9\nX: \xc3\xa9\n\n\xc3\xa9\n\xc3\xa9\n",
		   1000, 0, 0, 0);
	assert_int_equal(errs, MIME_ERR_8BIT_IN_HEADER
			 | MIME_ERR_8BIT_IN_7BIT_BODY);
	expect("E4|Subject: \xc3\xa9\n"
	       "H1 0 -|Subject: \xc3\xa9\n"
	       "H1 6 -|X: \xc3\xa9\n"
	       "HE\n"
	       "BN 0|\n"
	       "E8|\xc3\xa9\n"
	       "BN 1|\xc3\xa9\n"
	       "BN 4|\xc3\xa9\n"
	       "BE\n");
	assert_string_equal(mime_state_detail(errs)->text,
			    "improper use of 8-bit data in message header");
	errs = run(MIME_OPT_REPORT_ENCODING_DOMAIN,
		   "Content-Type: multipart/mixed; boundary=b\n"
		   "Content-Transfer-Encoding: base64\n\n", 1000, 0, 0, 0);
	assert_int_equal(errs, MIME_ERR_ENCODING_DOMAIN);
	assert_string_equal(mime_state_detail(errs)->text,
			    "invalid message/* or multipart/* encoding "
			    "domain");
}

static void
test_free_null(void **state)
{
	mime_state_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_opts_find),
		cmocka_unit_test(test_header_name_len),
		cmocka_unit_test(test_headers_joined),
		cmocka_unit_test(test_classes_nested),
		cmocka_unit_test(test_downgrade_leaf),
		cmocka_unit_test(test_downgrade_composite),
		cmocka_unit_test(test_no_downgrade),
		cmocka_unit_test(test_disable_mime),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_boundary_limit),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_boundary_pieces),
		cmocka_unit_test(test_end_flush),
		cmocka_unit_test(test_garbage_header),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_free_null),
	};
	int rc;

	params_load(0);
	strbuf_init(&trace, 0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	strbuf_release(&trace);
	return rc;
}
