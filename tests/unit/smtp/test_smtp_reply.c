/* test_smtp_reply - reading and classifying server replies */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "global/params.h"
#include "../../../src/smtp/smtp.h"
#include "util/xmalloc.h"

struct fixture {
	struct smtp_session *session;
	int peer;
	struct smtp_resp resp;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->session = smtp_session_create(stream_fdopen(sv[0]), "mx.test",
					 "192.0.2.1", 25);
	f->session->queue_id = "QID";
	stream_set_timeout(f->session->stream, 5);
	f->peer = sv[1];
	smtp_resp_init(&f->resp);
	var_line_length_limit = 2048;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	smtp_resp_release(&f->resp);
	smtp_session_free(f->session);
	close(f->peer);
	free(f);
	return 0;
}

/* feed - the server says text, then (optionally) hangs up */
static int
feed(struct fixture *f, const char *text, int hangup)
{
	assert_int_equal(write(f->peer, text, strlen(text)),
			 (ssize_t)strlen(text));
	if (hangup)
		shutdown(f->peer, SHUT_WR);
	return smtp_resp_read(f->session, &f->resp);
}

static void
test_single_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed(f, "250 2.1.0 Ok\r\n", 0), 0);
	assert_int_equal(f->resp.code, 250);
	assert_string_equal(f->resp.dsn, "2.1.0");
	assert_string_equal(strbuf_str(&f->resp.text), "250 2.1.0 Ok");
}

static void
test_multi_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed(f, "550-5.7.1 first\r\n550-5.7.1 second\r\n"
			      "550 5.7.2 third\r\n", 0), 0);
	assert_int_equal(f->resp.code, 550);
	/* Postfix takes the enhanced status from the last line */
	assert_string_equal(f->resp.dsn, "5.7.2");
	assert_string_equal(strbuf_str(&f->resp.text),
			    "550-5.7.1 first 550-5.7.1 second 550 5.7.2 third");
	assert_string_equal(strbuf_str(&f->resp.lines),
			    "550-5.7.1 first\n550-5.7.1 second\n550 5.7.2 third");
}

static void
test_made_up_status(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed(f, "451 try later\r\n", 0), 0);
	assert_string_equal(f->resp.dsn, "4.0.0");
	/* class mismatch: 5.x.x in a 4xx reply is not believed */
	assert_int_equal(feed(f, "450 5.1.1 nope\r\n", 0), 0);
	assert_string_equal(f->resp.dsn, "4.0.0");
	/* bare code, bare LF */
	assert_int_equal(feed(f, "354\n", 0), 0);
	assert_int_equal(f->resp.code, 354);
	/* 3xx has no DSN class of its own */
	assert_string_equal(f->resp.dsn, "5.5.0");
}

static void
test_garbage_is_skipped(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed(f, "hello there\r\n2500 x\r\n220 ok\r\n", 0), 0);
	assert_int_equal(f->resp.code, 220);
	assert_int_equal(f->session->error_mask, SMTP_ERR_CLASS_PROTOCOL);
	/* control characters are made printable */
	assert_int_equal(feed(f, "250 a\001b\r\n", 0), 0);
	assert_string_equal(strbuf_str(&f->resp.text), "250 a?b");
	/* every line, garbage included, is in the transcript */
	assert_int_equal(f->session->history_len, 4);
	assert_string_equal(f->session->history[0], "In:  hello there");
	assert_string_equal(f->session->history[1], "In:  2500 x");
	assert_string_equal(f->session->history[2], "In:  220 ok");
	assert_string_equal(f->session->history[3], "In:  250 a?b");
}

static void
test_eight_bit(void **state)
{
	struct fixture *f = *state;

	/* UTF-8 stays with smtputf8_enable; other 8-bit bytes do not */
	var_smtputf8_enable = 1;
	assert_int_equal(feed(f, "250 caf\303\251 \377x \303\r\n", 0), 0);
	assert_string_equal(strbuf_str(&f->resp.text), "250 caf\303\251 ?x ?");
	var_smtputf8_enable = 0;
	assert_int_equal(feed(f, "250 caf\303\251\r\n", 0), 0);
	assert_string_equal(strbuf_str(&f->resp.text), "250 caf??");
	assert_string_equal(f->session->history[1], "In:  250 caf??");
	assert_int_equal(f->session->error_mask, 0);
}

static void
test_transcript_stops_at_limit(void **state)
{
	struct fixture *f = *state;
	struct strbuf reply = STRBUF_INIT;

	/* 600-byte lines, limit 512: only the first line is kept */
	var_line_length_limit = 512;
	for (int i = 0; i < 3; i++) {
		strbuf_puts(&reply, i < 2 ? "250-" : "250 ");
		for (int j = 0; j < 596; j++)
			strbuf_putc(&reply, 'a' + i);
		strbuf_puts(&reply, "\r\n");
	}
	assert_int_equal(feed(f, strbuf_str(&reply), 0), 0);
	assert_int_equal(f->resp.code, 250);
	assert_int_equal(f->session->history_len, 1);
	assert_int_equal(strlen(f->session->history[0]), 5 + 512);
	strbuf_release(&reply);
}

static void
test_eof_and_long_lines(void **state)
{
	struct fixture *f = *state;
	char *big = xmalloc(5000);

	memset(big, 'x', 4990);
	memcpy(big, "250 ", 4);
	memcpy(big + 4990, "\r\n", 3);
	assert_int_equal(feed(f, big, 0), 0);
	assert_int_equal(f->resp.code, 250);
	assert_int_equal(f->resp.text.len, 2048);	/* cut, not grown */
	free(big);
	assert_int_equal(feed(f, "250-more\r\n", 1), -1);
	assert_int_equal(stream_error(f->session->stream), STREAM_EOF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_made_up_status, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage_is_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_eof_and_long_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_eight_bit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_transcript_stops_at_limit,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
