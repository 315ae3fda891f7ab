/* test_log_adhoc - the status= line and Postfix's delay number format */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "global/log_adhoc.h"
#include "global/params.h"

/* fmt - format_delay of sec.usec with resolution limit r */
static const char *
fmt(long sec, long usec, int r)
{
	static struct strbuf sb = STRBUF_INIT;

	strbuf_reset(&sb);
	format_delay(&sb, sec, usec, 2, r);
	return strbuf_str(&sb);
}

static void
test_format_delay(void **unused)
{
	/* The examples of postfix-interfaces.md section 8.1 */
	assert_string_equal(fmt(12, 500000, 2), "13");
	assert_string_equal(fmt(1190, 0, 2), "1190");
	assert_string_equal(fmt(1, 250000, 2), "1.3");
	assert_string_equal(fmt(9, 950000, 2), "10");
	assert_string_equal(fmt(0, 123456, 2), "0.12");
	assert_string_equal(fmt(0, 5000, 2), "0.01");
	assert_string_equal(fmt(0, 4999, 2), "0");
	assert_string_equal(fmt(0, 995000, 2), "1");
	assert_string_equal(fmt(0, 100000, 2), "0.1");
	assert_string_equal(fmt(2, 0, 2), "2");
	assert_string_equal(fmt(0, 0, 2), "0");
	/* resolution 0: whole seconds only */
	assert_string_equal(fmt(1, 250000, 0), "1");
	assert_string_equal(fmt(0, 600000, 0), "1");
	/* resolution 6: two significant digits below one second */
	assert_string_equal(fmt(0, 1234, 6), "0.0012");
	assert_string_equal(fmt(0, 12, 6), "0.000012");
	/* nonsense input is clamped, never crashes */
	assert_string_equal(fmt(-5, 0, 2), "0");
}

static void
test_status_line(void **unused)
{
	struct msg_stats st;
	struct recipient rcpt = {
		.orig_addr = "postmaster", .address = "root@dest.test",
		.offset = 300, .dsn_orcpt = "", .dsn_notify = 0,
	};
	struct dsn dsn = {
		.status = "2.0.0", .diag_type = "smtp", .diag_text = "",
		.mta_type = "dns", .mta_mname = "h", .action = "relayed",
		.reason = "250 2.0.0 Ok: queued as ABC",
	};
	struct timeval now = { 1000, 0 };
	struct strbuf sb = STRBUF_INIT;

	memset(&st, 0, sizeof(st));
	var_delay_logging_resolution_limit = 2;
	var_info_log_address_format = "external";
	st.incoming_arrival = (struct timeval){ 998, 880000 };
	st.active_arrival = (struct timeval){ 998, 890000 };
	st.agent_handoff = (struct timeval){ 998, 950000 };
	st.conn_setup_done = (struct timeval){ 998, 950000 };
	st.deliver_done = (struct timeval){ 999, 0 };
	log_adhoc_format(&sb, "38561A72925", &st, &rcpt,
			 "127.0.0.1[127.0.0.1]:23026", &dsn, "sent", &now);
	assert_string_equal(strbuf_str(&sb),
			    "38561A72925: to=<root@dest.test>, orig_to=<postmaster>, "
			    "relay=127.0.0.1[127.0.0.1]:23026, delay=0.12, "
			    "delays=0.01/0.06/0/0.05, dsn=2.0.0, "
			    "status=sent (250 2.0.0 Ok: queued as ABC)");

	/* conn_use only when reused; orig_to hidden when equal ignoring case */
	strbuf_reset(&sb);
	st.reuse_count = 1;
	rcpt.orig_addr = "ROOT@dest.test";
	log_adhoc_format(&sb, "X", &st, &rcpt, "none", &dsn, "sent", &now);
	assert_non_null(strstr(strbuf_str(&sb), "relay=none, conn_use=2, "));
	assert_null(strstr(strbuf_str(&sb), "orig_to"));

	/* no time stamps past the queue manager: delays from "now" */
	strbuf_reset(&sb);
	memset(&st, 0, sizeof(st));
	st.incoming_arrival = (struct timeval){ 990, 0 };
	st.active_arrival = (struct timeval){ 995, 0 };
	log_adhoc_format(&sb, "X", &st, &rcpt, "none", &dsn, "deferred", &now);
	assert_non_null(strstr(strbuf_str(&sb), "delay=10, delays=5/5/0/0,"));

	/* external form: a local part that needs it is quoted */
	strbuf_reset(&sb);
	rcpt.address = "a b@dest.test";
	rcpt.orig_addr = "";
	log_adhoc_format(&sb, "X", &st, &rcpt, "none", &dsn, "sent", &now);
	assert_non_null(strstr(strbuf_str(&sb), "to=<\"a b\"@dest.test>"));
	strbuf_reset(&sb);
	var_info_log_address_format = "internal";
	log_adhoc_format(&sb, "X", &st, &rcpt, "none", &dsn, "sent", &now);
	assert_non_null(strstr(strbuf_str(&sb), "to=<a b@dest.test>"));
	var_info_log_address_format = "external";
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_delay),
		cmocka_unit_test(test_status_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
