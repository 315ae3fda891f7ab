/* test_smtp_sasl - the order in which SASL credentials are looked up */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "global/params.h"
#include "maps/maps.h"
#include "../../../src/smtp/smtp_sasl.h"

/* find - user:pass for (sender, host, dest) in an inline table, or "-" */
static char *
find(const char *table, int sender_dep, const char *sender,
     const char *host, const char *dest)
{
	struct maps *maps = maps_create("smtp_sasl_password_maps", table,
					MAPS_FLAGS_DEFAULT);
	char *user = NULL, *pass = NULL, *out;
	static char buf[200];
	int r = smtp_sasl_passwd_find(maps, sender_dep, sender, host, dest,
				      &user, &pass);

	if (r > 0)
		snprintf(buf, sizeof(buf), "%s|%s", user, pass);
	else
		snprintf(buf, sizeof(buf), "%s", r < 0 ? "error" : "-");
	free(user);
	free(pass);
	maps_free(maps);
	out = buf;
	return out;
}

static void
test_order(void **state)
{
	const char *all = "inline:{ a@s.test=sender:1, @s.test=domain:2, "
	    "mx.test=host:3, [mx.test]:587=dest:4, relay.test=nexthop:5 }";

	(void)state;
	if (var_recipient_delimiter == NULL)
		var_recipient_delimiter = "";
	/* Without sender-dependent authentication: host, then destination. */
	assert_string_equal(find(all, 0, "a@s.test", "mx.test", "relay.test"),
			    "host|3");
	assert_string_equal(find(all, 0, "a@s.test", "other.test",
				 "[mx.test]:587"), "dest|4");
	assert_string_equal(find(all, 0, "a@s.test", "other.test",
				 "relay.test"), "nexthop|5");
	/* Sender first: the address, then @domain, then host and dest. */
	assert_string_equal(find(all, 1, "a@s.test", "mx.test", "relay.test"),
			    "sender|1");
	assert_string_equal(find(all, 1, "b@s.test", "mx.test", "relay.test"),
			    "domain|2");
	assert_string_equal(find(all, 1, "b@x.test", "mx.test", "relay.test"),
			    "host|3");
	/* The null sender is not looked up. */
	assert_string_equal(find(all, 1, "", "mx.test", "relay.test"),
			    "host|3");
	/* Keys fold to lower case; nothing found; value forms. */
	assert_string_equal(find(all, 0, "", "MX.Test", "x"), "host|3");
	assert_string_equal(find(all, 0, "", "no.test", "no.test"), "-");
	assert_string_equal(find("inline:{h=user}", 0, "", "h", "d"), "user|");
	assert_string_equal(find("inline:{h=u:p:q}", 0, "", "h", "d"),
			    "u|p:q");
	/* A table that fails: an error, not "not found". */
	assert_string_equal(find("fail:x", 0, "", "h", "d"), "error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
