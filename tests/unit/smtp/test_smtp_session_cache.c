/*
 * test_smtp_session_cache - cached-session properties, as Postfix 3.7
 * writes and reads them (postfix-interfaces.md section 6.3)
 */
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

/* pair - a connected socket pair; returns our end, *peer the other */
static int
pair(int *peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*peer = sv[1];
	return sv[0];
}

/* Captured from Postfix 3.7.11 (section 6.3). */
static const char pf_endp[] =
    "tls_level=0\nreuse_count=0\nendpoint_features=2129935\n"
    "expire_time=1795606686\n\n";
static const char pf_dest[] =
    "destination=[127.0.0.1]:23026\nhost_name=127.0.0.1\n"
    "host_addr=127.0.0.1\ndestination_features=4096\n\n";

/* Postfix's properties read back: features, reuse count, server name. */
static void
test_activate_postfix_props(void **unused)
{
	int peer, fd = pair(&peer);
	struct smtp_session *s;

	s = smtp_session_activate(fd, "", "", 23026, pf_dest, pf_endp);
	assert_non_null(s);
	assert_int_equal(s->features, SMTP_FEATURE_ESMTP
			 | SMTP_FEATURE_8BITMIME | SMTP_FEATURE_PIPELINING
			 | SMTP_FEATURE_SIZE | SMTP_FEATURE_DSN
			 | SMTP_FEATURE_SMTPUTF8 | SMTP_FEATURE_BEST_MX);
	assert_int_equal(s->reuse_count, 1);
	assert_int_equal(s->from_cache, 1);
	assert_int_equal((long)s->expire_time, 1795606686L);
	assert_string_equal(s->namaddrport, "127.0.0.1[127.0.0.1]:23026");
	assert_string_equal(s->dest, "[127.0.0.1]:23026");
	assert_int_equal(s->size_limit, 0);	/* not kept, as in Postfix */
	smtp_session_free(s);
	close(peer);
}

/* Written back the way Postfix writes them, byte for byte. */
static void
test_passivate_round_trip(void **unused)
{
	int peer, fd = pair(&peer), fd2;
	struct smtp_session *s;
	struct strbuf dprop = STRBUF_INIT, eprop = STRBUF_INIT;
	struct smtp_state state;

	memset(&state, 0, sizeof(state));
	s = smtp_session_activate(fd, "", "", 23026, pf_dest, pf_endp);
	assert_non_null(s);
	s->features |= SMTP_FEATURE_ENHANCEDSTATUSCODES;	/* not kept */
	fd2 = smtp_session_passivate(s, &state, &dprop, &eprop);
	assert_int_equal(fd2, fd);
	assert_string_equal(strbuf_str(&dprop), pf_dest);
	assert_string_equal(strbuf_str(&eprop),
			    "tls_level=0\nreuse_count=1\n"
			    "endpoint_features=2129935\n"
			    "expire_time=1795606686\n\n");
	/* The descriptor is still open: write through it. */
	assert_int_equal(write(fd2, "x", 1), 1);
	close(fd2);
	close(peer);
	strbuf_release(&dprop);
	strbuf_release(&eprop);
}

/* Cached by endpoint: no destination properties, names from the caller. */
static void
test_activate_endpoint_only(void **unused)
{
	int peer, fd = pair(&peer);
	struct smtp_session *s;

	s = smtp_session_activate(fd, "mx.test", "192.0.2.1", 25, NULL,
				  pf_endp);
	assert_non_null(s);
	assert_string_equal(s->namaddrport, "mx.test[192.0.2.1]:25");
	assert_null(s->dest);
	assert_false(s->features & SMTP_FEATURE_BEST_MX);
	smtp_session_free(s);
	close(peer);
}

/* Unreadable properties: NULL, and the descriptor is closed. */
static void
test_activate_bad_props(void **unused)
{
	static const char *const bad[] = {
		"tls_level=0\nreuse_count=0\nexpire_time=1\n\n",
		"tls_level=0\nreuse_count=x\nendpoint_features=1\n"
		"expire_time=1\n\n",
		"tls_level=3\nreuse_count=0\nendpoint_features=1\n"
		"expire_time=1\n\n",	/* TLS: not ours to resume */
		"tls_level=0\nreuse_count=0\nendpoint_features=1\n"
		"expire_time=1",	/* unterminated */
		"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int peer, fd = pair(&peer);
		char c;

		assert_null(smtp_session_activate(fd, "h", "a", 25, NULL,
						  bad[i]));
		/* Our end is closed: the peer sees EOF. */
		assert_int_equal(read(peer, &c, 1), 0);
		close(peer);
	}
	{
		int peer, fd = pair(&peer);

		assert_null(smtp_session_activate(fd, "h", "a", 25,
						  "destination=x\n\n",
						  pf_endp));
		close(peer);
	}
}

/* Reuse limits: time and count, and "don't cache" keeps "throttled". */
static void
test_cache_rules(void **unused)
{
	int peer, fd = pair(&peer);
	struct smtp_session *s;

	s = smtp_session_create(stream_fdopen(fd), "h", "a", 25);
	assert_false(smtp_session_cached(s));
	s->expire_time = time(NULL) + 100;
	assert_true(smtp_session_cached(s));
	assert_false(smtp_session_expired(s));
	var_smtp_connection_reuse_count_limit = 2;
	s->reuse_count = 2;
	assert_true(smtp_session_expired(s));
	var_smtp_connection_reuse_count_limit = 0;
	assert_false(smtp_session_expired(s));
	s->expire_time = time(NULL) - 1;
	assert_true(smtp_session_expired(s));
	s->expire_time = time(NULL) + 100;
	s->error_mask = SMTP_ERR_CLASS_PROTOCOL;
	assert_false(smtp_session_cached(s));
	s->error_mask = 0;
	smtp_session_dont_cache(s);
	assert_int_equal(s->expire_time, 0);
	s->expire_time = -1;
	smtp_session_dont_cache(s);
	assert_int_equal(s->expire_time, -1);
	smtp_session_free(s);
	close(peer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activate_postfix_props),
		cmocka_unit_test(test_passivate_round_trip),
		cmocka_unit_test(test_activate_endpoint_only),
		cmocka_unit_test(test_activate_bad_props),
		cmocka_unit_test(test_cache_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
