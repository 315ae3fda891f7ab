/* test_xsasl_mech - SASL security option names and the mechanism filter */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sasl/sasl.h>

#include "sasl/xsasl.h"

static void
test_security_names(void **state)
{
	(void)state;
	assert_int_equal(xsasl_security_parse(""), 0);
	assert_int_equal(xsasl_security_parse("noplaintext, noanonymous"),
			 SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS);
	assert_int_equal(xsasl_security_parse("noactive\tnodictionary,"
					      "mutual_auth"),
			 SASL_SEC_NOACTIVE | SASL_SEC_NODICTIONARY
			 | SASL_SEC_MUTUAL_AUTH);
	/* Unknown names and other cases are refused, as Postfix does. */
	assert_int_equal(xsasl_security_parse("noplaintext, bogus"), -1);
	assert_int_equal(xsasl_security_parse("NOPLAINTEXT"), -1);
}

static void
check(const char *spec, const char *words, const char *want)
{
	struct xsasl_mech_filter *f = xsasl_mech_filter_create("t", spec);
	char *got = xsasl_mech_filter_apply(f, words);

	assert_string_equal(got, want);
	free(got);
	xsasl_mech_filter_free(f);
}

static void
test_filter(void **state)
{
	(void)state;
	/* No filter: the words as given. */
	check("", "PLAIN LOGIN", "PLAIN LOGIN");
	check("  ", "PLAIN  LOGIN", "PLAIN  LOGIN");
	/* Names in any case, server order kept, single spaces. */
	check("login, plain", "CRAM-MD5 PLAIN  LOGIN", "PLAIN LOGIN");
	check("Cram-MD5", "cram-md5 PLAIN", "cram-md5");
	/* First match decides; "!" excludes; no match drops. */
	check("!plain, plain, login", "PLAIN LOGIN", "LOGIN");
	check("!!plain", "PLAIN LOGIN", "PLAIN");
	check("gssapi", "PLAIN LOGIN", "");
	/* Tables: a mechanism found in the table passes. */
	check("inline:{scram-sha-256=yes, plain=yes}",
	      "PLAIN LOGIN SCRAM-SHA-256", "PLAIN SCRAM-SHA-256");
	check("!inline:{plain=x}, static:all", "PLAIN LOGIN", "LOGIN");
	check("login", "", "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_security_names),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
