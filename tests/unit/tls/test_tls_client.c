/* test_tls_client - protocol lists as OpenSSL version ranges */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "tls/tls_client.h"

static void
check(const char *list, int want_min, int want_max, long want_no)
{
	int min = -1, max = -1;
	long no = -1;

	assert_int_equal(tls_client_protocols(list, &min, &max, &no), 0);
	assert_int_equal(min, want_min);
	assert_int_equal(max, want_max);
	assert_int_equal(no, want_no);
}

static void
test_ranges(void **state)
{
	(void)state;
	/* Postfix 3.7's default: TLSv1 and up, no upper bound. */
	check(">=TLSv1", TLS1_VERSION, 0, 0);
	check("", 0, 0, 0);
	check("<=TLSv1.2", 0, TLS1_2_VERSION, 0);
	check(">=TLSv1.2 <=TLSv1.2", TLS1_2_VERSION, TLS1_2_VERSION, 0);
	/* Exclusions at the ends narrow the range; SSLv2 is ignored. */
	check("!SSLv2, !SSLv3", TLS1_VERSION, 0, SSL_OP_NO_SSLv3);
	check("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", TLS1_2_VERSION, 0,
	      SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
	/* A list of names: only those. */
	check("TLSv1.2 TLSv1.3", TLS1_2_VERSION, 0,
	      SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
	/* A hole in the middle stays a hole. */
	check(">=TLSv1 !TLSv1.1", TLS1_VERSION, 0, SSL_OP_NO_TLSv1_1);
}

static void
test_bad_lists(void **state)
{
	int min, max;
	long no;

	(void)state;
	assert_int_equal(tls_client_protocols(">=TLSv9", &min, &max, &no), -1);
	assert_int_equal(tls_client_protocols("bogus", &min, &max, &no), -1);
	/* Nothing left. */
	assert_int_equal(tls_client_protocols(">=TLSv1.3 <=TLSv1.2", &min, &max,
					      &no), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_bad_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
