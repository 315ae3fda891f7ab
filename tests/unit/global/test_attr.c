/*
 * test_attr - unit tests for global/attr: the attr0 protocol
 *
 * Readers are fed the bytes captured from Postfix 3.7 (tests/fixtures/bin,
 * see tests/fixtures/README); writers must reproduce the bytes Postfix's
 * smtp(8) wrote, byte for byte.  Malformed input must give -1 with one
 * warning and never crash.
 */
#include "testlib.h"

#include <limits.h>

#include "global/attr.h"
#include "util/strbuf.h"

#define REQ_M2		"bin/smtp.22940-004-read-qmgr_conn_accepted.bin"
#define REQ_PMASTER	"bin/smtp.22940-045-read-qmgr_conn_accepted.bin"
#define REQ_VERIFY	"bin/smtp.25943-004-read-qmgr_conn_accepted.bin"
#define REQ_LMTP	"bin/lmtp.23910-004-read-qmgr_conn_accepted.bin"

/* Every captured attr0 stream, for the generic round trip. */
static const char *const all_attr_fixtures[] = {
	"bin/smtp.22940-003-write-qmgr_conn_accepted.bin",
	REQ_M2,
	"bin/smtp.22940-011-read-private_bounce.bin",
	"bin/smtp.22940-012-write-private_bounce.bin",
	"bin/smtp.22940-013-read-private_bounce.bin",
	"bin/smtp.22940-017-write-private_defer.bin",
	"bin/smtp.22940-025-write-qmgr_conn_accepted.bin",
	"bin/smtp.22940-041-write-qmgr_conn_accepted.bin",
	REQ_PMASTER,
	"bin/smtp.22940-047-write-private_scache.bin",
	"bin/smtp.22940-048-read-private_scache.bin",
	"bin/smtp.22940-062-write-private_scache.bin",
	"bin/smtp.22940-065-read-private_scache.bin",
	"bin/smtp.22940-083-write-private_trace.bin",
	"bin/smtp.22940-130-write-private_trace.bin",
	"bin/smtp.22940-157-write-private_defer.bin",
	"bin/smtp.22940-160-write-qmgr_conn_accepted.bin",
	REQ_VERIFY,
	"bin/smtp.25943-011-read-private_verify.bin",
	"bin/smtp.25943-012-write-private_verify.bin",
	REQ_LMTP,
	NULL,
};

/*
 * A delivery request as the test reads it: strings are copied out so the
 * test can compare them after the stream is gone.
 */
#define REQ_NSTR	16
#define REQ_MAX_RCPT	4

struct test_rcpt {
	char *orig, *addr, *orcpt;
	long offset;
	int notify;
};

struct test_req {
	int flags, smtputf8, ret_flags, rcpt_count;
	long offset, size;
	char *str[REQ_NSTR];	/* in the order of req_str_names */
	struct strbuf time;
	struct test_rcpt rcpt[REQ_MAX_RCPT];
};

enum {
	R_QUEUE_NAME, R_QUEUE_ID, R_NEXTHOP, R_ENCODING, R_SENDER, R_ENVID,
	R_CLIENT_NAME, R_CLIENT_ADDR, R_CLIENT_PORT, R_PROTO, R_HELO,
	R_SASL_METHOD, R_SASL_USER, R_SASL_SENDER, R_LOG_IDENT, R_REWRITE,
};

/* get_copy - attr_get_str into a new string */
static int
get_copy(struct stream *s, const char *name, char **out)
{
	struct strbuf buf = STRBUF_INIT;
	int ret = attr_get_str(s, name, &buf);

	if (ret == 0)
		*out = xstrdup(strbuf_str(&buf));
	strbuf_release(&buf);
	return ret;
}

/* read_request - the documented request, strictly typed and ordered */
static int
read_request(struct stream *s, struct test_req *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->time, 0);
	if (attr_get_int(s, "flags", &r->flags) < 0
	    || get_copy(s, "queue_name", &r->str[R_QUEUE_NAME]) < 0
	    || get_copy(s, "queue_id", &r->str[R_QUEUE_ID]) < 0
	    || attr_get_long(s, "offset", &r->offset) < 0
	    || attr_get_long(s, "size", &r->size) < 0
	    || get_copy(s, "nexthop", &r->str[R_NEXTHOP]) < 0
	    || get_copy(s, "encoding", &r->str[R_ENCODING]) < 0
	    || attr_get_int(s, "smtputf8", &r->smtputf8) < 0
	    || get_copy(s, "sender", &r->str[R_SENDER]) < 0
	    || get_copy(s, "envelope_id", &r->str[R_ENVID]) < 0
	    || attr_get_int(s, "ret_flags", &r->ret_flags) < 0
	    || attr_get_data(s, "time", &r->time) < 0
	    || get_copy(s, "log_client_name", &r->str[R_CLIENT_NAME]) < 0
	    || get_copy(s, "log_client_address", &r->str[R_CLIENT_ADDR]) < 0
	    || get_copy(s, "log_client_port", &r->str[R_CLIENT_PORT]) < 0
	    || get_copy(s, "log_protocol_name", &r->str[R_PROTO]) < 0
	    || get_copy(s, "log_helo_name", &r->str[R_HELO]) < 0
	    || get_copy(s, "sasl_method", &r->str[R_SASL_METHOD]) < 0
	    || get_copy(s, "sasl_username", &r->str[R_SASL_USER]) < 0
	    || get_copy(s, "sasl_sender", &r->str[R_SASL_SENDER]) < 0
	    || get_copy(s, "log_ident", &r->str[R_LOG_IDENT]) < 0
	    || get_copy(s, "rewrite_context", &r->str[R_REWRITE]) < 0
	    || attr_get_int(s, "recipient_count", &r->rcpt_count) < 0
	    || attr_get_end(s) < 0)
		return -1;
	if (r->rcpt_count < 1 || r->rcpt_count > REQ_MAX_RCPT)
		return -1;
	for (int i = 0; i < r->rcpt_count; i++) {
		struct test_rcpt *rc = &r->rcpt[i];

		if (get_copy(s, "original_recipient", &rc->orig) < 0
		    || get_copy(s, "recipient", &rc->addr) < 0
		    || attr_get_long(s, "offset", &rc->offset) < 0
		    || get_copy(s, "dsn_orig_rcpt", &rc->orcpt) < 0
		    || attr_get_int(s, "notify_flags", &rc->notify) < 0
		    || attr_get_end(s) < 0)
			return -1;
	}
	return 0;
}

/* free_request - release what read_request allocated */
static void
free_request(struct test_req *r)
{
	for (int i = 0; i < REQ_NSTR; i++)
		free(r->str[i]);
	for (int i = 0; i < REQ_MAX_RCPT; i++) {
		free(r->rcpt[i].orig);
		free(r->rcpt[i].addr);
		free(r->rcpt[i].orcpt);
	}
	strbuf_release(&r->time);
}

/* at_eof - nothing follows in the stream */
static int
at_eof(struct stream *s)
{
	return stream_getc(s) < 0 && stream_error(s) == STREAM_EOF;
}

/* test_request_m2 - the captured 3-recipient request, every value */
static void
test_request_m2(void **state)
{
	struct stream *s = fixture_stream(REQ_M2);
	struct test_req r;
	int64_t tv[10];
	int reuse;

	assert_int_equal(read_request(s, &r), 0);
	assert_true(at_eof(s));
	assert_int_equal(r.flags, 3);
	assert_string_equal(r.str[R_QUEUE_NAME], "active");
	assert_string_equal(r.str[R_QUEUE_ID], "38561A72925");
	assert_int_equal(r.offset, 399);
	assert_int_equal(r.size, 256);
	assert_string_equal(r.str[R_NEXTHOP], "[127.0.0.1]:23026");
	assert_string_equal(r.str[R_ENCODING], "");
	assert_int_equal(r.smtputf8, 0);
	assert_string_equal(r.str[R_SENDER], "from@client.test");
	assert_string_equal(r.str[R_ENVID], "");
	assert_int_equal(r.ret_flags, 0);
	for (int i = R_CLIENT_NAME; i <= R_LOG_IDENT; i++)
		assert_string_equal(r.str[i], "");
	assert_string_equal(r.str[R_REWRITE], "local");

	/* MSG_STATS: 5 timevals, an int, 4 bytes of padding */
	assert_int_equal(r.time.len, 88);
	memcpy(tv, r.time.data, sizeof(tv));
	memcpy(&reuse, r.time.data + 80, sizeof(reuse));
	assert_int_equal(tv[0], 1795606386);
	assert_int_equal(tv[1], 223250);
	assert_int_equal(tv[2], 1795606386);
	assert_int_equal(tv[3], 236840);
	for (int i = 4; i < 10; i++)
		assert_int_equal(tv[i], 0);
	assert_int_equal(reuse, 0);

	/* qmgr's order, not the queue file's */
	assert_int_equal(r.rcpt_count, 3);
	assert_string_equal(r.rcpt[0].orig, "hard1@dest.test");
	assert_string_equal(r.rcpt[0].addr, "hard1@dest.test");
	assert_int_equal(r.rcpt[0].offset, 308);
	assert_string_equal(r.rcpt[0].orcpt, "rfc822;hard1@dest.test");
	assert_int_equal(r.rcpt[0].notify, 0);
	assert_string_equal(r.rcpt[1].addr, "ok2@dest.test");
	assert_int_equal(r.rcpt[1].offset, 238);
	assert_string_equal(r.rcpt[1].orcpt, "rfc822;ok2@dest.test");
	assert_string_equal(r.rcpt[2].orig, "soft1@dest.test");
	assert_int_equal(r.rcpt[2].offset, 380);
	assert_int_equal(r.rcpt[2].notify, 0);
	free_request(&r);
	stream_close(s);
}

/* test_request_others - the other captured requests parse completely */
static void
test_request_others(void **state)
{
	static const struct {
		const char *file;
		int flags, count;
		const char *nexthop, *encoding, *sender, *orig0, *addr0;
		long offset0;
	} cases[] = {
		{REQ_PMASTER, 6147, 1, "[127.0.0.1]:23026", "8bit",
		 "double-bounce@client.test", "postmaster",
		 "postmaster@client.test", 265},
		{REQ_VERIFY, 259, 1, "[127.0.0.1]:23026", "",
		 "double-bounce@client.test", "vrfy9@dest.test",
		 "vrfy9@dest.test", 265},
		{REQ_LMTP, 3, 2, "inet:127.0.0.1:23027", "",
		 "from@client.test", "a6@lmtp.test", "a6@lmtp.test", 236},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stream *s = fixture_stream(cases[i].file);
		struct test_req r;

		assert_int_equal(read_request(s, &r), 0);
		assert_true(at_eof(s));
		assert_int_equal(r.flags, cases[i].flags);
		assert_int_equal(r.rcpt_count, cases[i].count);
		assert_string_equal(r.str[R_NEXTHOP], cases[i].nexthop);
		assert_string_equal(r.str[R_ENCODING], cases[i].encoding);
		assert_string_equal(r.str[R_SENDER], cases[i].sender);
		assert_string_equal(r.rcpt[0].orig, cases[i].orig0);
		assert_string_equal(r.rcpt[0].addr, cases[i].addr0);
		assert_int_equal(r.rcpt[0].offset, cases[i].offset0);
		assert_int_equal(r.time.len, 88);
		free_request(&r);
		stream_close(s);
	}
}

/* test_request_truncated - every proper prefix of a request fails */
static void
test_request_truncated(void **state)
{
	size_t len;
	unsigned char *data = fixture_load(REQ_M2, &len);

	warn_begin();
	for (size_t cut = 0; cut < len; cut++) {
		struct stream *s = mem_stream(data, cut);
		struct test_req r;

		if (read_request(s, &r) != -1)
			fail_msg("prefix of %zu bytes was accepted", cut);
		free_request(&r);
		stream_close(s);
	}
	free(warn_end());
	free(data);
}

/* test_request_truncated_warning - what a cut-off request logs */
static void
test_request_truncated_warning(void **state)
{
	size_t len;
	unsigned char *data = fixture_load(REQ_M2, &len);
	/* cut inside the value of "sender" */
	const char *at = memmem(data, len, "from@client", 11);
	struct stream *s = mem_stream(data, (size_t)(at - (char *)data) + 4);
	struct test_req r;
	char *text;

	warn_begin();
	assert_int_equal(read_request(s, &r), -1);
	text = warn_end();
	assert_one_warning(text, "premature end of input while reading "
			   "value of attribute \"sender\"");
	assert_int_equal(stream_error(s), STREAM_EOF);
	free(text);
	free_request(&r);
	stream_close(s);
	free(data);
}

/* check_write - compare what fn writes with a fixture */
static void
check_write(const char *fixture, void (*fn)(struct stream *))
{
	struct stream *s = out_stream();
	size_t want_len, got_len;
	unsigned char *want = fixture_load(fixture, &want_len);
	unsigned char *got;

	fn(s);
	got = out_bytes(s, &got_len);
	assert_bytes_equal(got, got_len, want, want_len);
	free(got);
	free(want);
	stream_close(s);
}

/* put_rcpt - the five recipient attributes, as report.c sends them */
static void
put_rcpt(struct stream *s, const char *orig, const char *addr, long offset,
	 const char *orcpt, int notify)
{
	attr_put_str(s, "original_recipient", orig);
	attr_put_str(s, "recipient", addr);
	attr_put_long(s, "offset", offset);
	attr_put_str(s, "dsn_orig_rcpt", orcpt);
	attr_put_int(s, "notify_flags", notify);
}

/* put_dsn - the seven DSN attributes */
static void
put_dsn(struct stream *s, const char *status, const char *dtype,
	const char *dtext, const char *mtype, const char *mname,
	const char *action, const char *reason)
{
	attr_put_str(s, "status", status);
	attr_put_str(s, "diag_type", dtype);
	attr_put_str(s, "diag_text", dtext);
	attr_put_str(s, "mta_type", mtype);
	attr_put_str(s, "mta_mname", mname);
	attr_put_str(s, "action", action);
	attr_put_str(s, "reason", reason);
}

static void
write_bounce(struct stream *s)
{
	attr_put_int(s, "nrequest", 0);
	attr_put_int(s, "flags", 0);
	attr_put_str(s, "queue_id", "38561A72925");
	put_rcpt(s, "hard1@dest.test", "hard1@dest.test", 308,
		 "rfc822;hard1@dest.test", 0);
	put_dsn(s, "5.1.1", "smtp", "550 5.1.1 <hard1@dest.test>: Recipient "
		"address rejected: User unknown", "dns", "127.0.0.1", "failed",
		"host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <hard1@dest.test>: "
		"Recipient address rejected: User unknown (in reply to RCPT TO "
		"command)");
	attr_put_end(s);
}

static void
write_defer(struct stream *s)
{
	attr_put_int(s, "nrequest", 0);
	attr_put_int(s, "flags", 0);
	attr_put_str(s, "queue_id", "38561A72925");
	put_rcpt(s, "soft1@dest.test", "soft1@dest.test", 380,
		 "rfc822;soft1@dest.test", 0);
	put_dsn(s, "4.2.0", "smtp", "450 4.2.0 <soft1@dest.test>: Recipient "
		"address rejected: Try again later", "dns", "127.0.0.1",
		"delayed", "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 "
		"<soft1@dest.test>: Recipient address rejected: Try again later"
		" (in reply to RCPT TO command)");
	attr_put_end(s);
}

static void
write_defer_refused(struct stream *s)
{
	attr_put_int(s, "nrequest", 0);
	attr_put_int(s, "flags", 0);
	attr_put_str(s, "queue_id", "5069DA73263");
	put_rcpt(s, "r7@refused.test", "r7@refused.test", 242,
		 "rfc822;r7@refused.test", 0);
	/* a local error: NULL and "" both go out as empty values */
	put_dsn(s, "4.4.1", NULL, "", NULL, "", "delayed",
		"connect to 127.0.0.1[127.0.0.1]:23099: Connection refused");
	attr_put_end(s);
}

static void
write_trace_record(struct stream *s)
{
	attr_put_int(s, "nrequest", 0);
	attr_put_int(s, "flags", 1024);
	attr_put_str(s, "queue_id", "3B985A72272");
	put_rcpt(s, "ok3@dest.test", "ok3@dest.test", 256,
		 "rfc822;ok3@dest.test", 0);
	put_dsn(s, "2.0.0", "smtp", "250 2.0.0 Ok: queued as ABC123", "dns",
		"127.0.0.1", "relayed", "delivery via 127.0.0.1[127.0.0.1]:"
		"23026: 250 2.0.0 Ok: queued as ABC123");
	attr_put_end(s);
}

static void
write_trace_expand(struct stream *s)
{
	attr_put_int(s, "nrequest", 0);
	attr_put_int(s, "flags", 512);
	attr_put_str(s, "queue_id", "44856A731F1");
	put_rcpt(s, "ok5@dest.test", "ok5@dest.test", 255,
		 "rfc822;ok5@dest.test", 0);
	put_dsn(s, "2.1.5", "smtp", "250 2.1.5 Ok", "dns", "127.0.0.1",
		"deliverable", "delivery via 127.0.0.1[127.0.0.1]:23026: "
		"250 2.1.5 Ok");
	attr_put_end(s);
}

static void
write_verify(struct stream *s)
{
	attr_put_str(s, "request", "update");
	attr_put_str(s, "address", "vrfy9@dest.test");
	attr_put_int(s, "recipient_status", 0);
	attr_put_str(s, "reason", "250 2.1.5 Ok");
	attr_put_end(s);
}

static void
write_announce(struct stream *s)
{
	attr_put_str(s, "protocol", "delivery_request_protocol");
	attr_put_end(s);
}

static void
write_reply_defer(struct stream *s)
{
	put_dsn(s, "", "", "", "", "", "", "");
	attr_put_int(s, "status", -1);
	attr_put_end(s);
}

static void
write_reply_final(struct stream *s)
{
	put_dsn(s, "", "", "", "", "", "", "");
	attr_put_int(s, "status", 0);
	attr_put_end(s);
}

static void
write_reply_hop(struct stream *s)
{
	put_dsn(s, "4.4.1", "", "", "", "", "",
		"connect to 127.0.0.1[127.0.0.1]:23099: Connection refused");
	attr_put_int(s, "status", -1);
	attr_put_end(s);
}

static void
write_scache_find(struct stream *s)
{
	attr_put_str(s, "request", "find_dest");
	attr_put_str(s, "label", "smtp\n[127.0.0.1]:23026\n");
	attr_put_end(s);
}

static void
write_scache_save(struct stream *s)
{
	attr_put_str(s, "request", "save_dest");
	attr_put_int(s, "ttl", 2);
	attr_put_str(s, "label", "smtp\n[127.0.0.1]:23026\n");
	attr_put_str(s, "property", "destination=[127.0.0.1]:23026\n"
		     "host_name=127.0.0.1\nhost_addr=127.0.0.1\n"
		     "destination_features=4096\n\n");
	attr_put_str(s, "label", "smtp\n127.0.0.1\n23026\n0\n");
	attr_put_end(s);
}

/* test_write_exact - the writers reproduce the agent's captured bytes */
static void
test_write_exact(void **state)
{
	check_write("bin/smtp.22940-012-write-private_bounce.bin",
		    write_bounce);
	check_write("bin/smtp.22940-017-write-private_defer.bin", write_defer);
	check_write("bin/smtp.22940-157-write-private_defer.bin",
		    write_defer_refused);
	check_write("bin/smtp.22940-083-write-private_trace.bin",
		    write_trace_record);
	check_write("bin/smtp.22940-130-write-private_trace.bin",
		    write_trace_expand);
	check_write("bin/smtp.25943-012-write-private_verify.bin",
		    write_verify);
	check_write("bin/smtp.22940-003-write-qmgr_conn_accepted.bin",
		    write_announce);
	check_write("bin/smtp.22940-025-write-qmgr_conn_accepted.bin",
		    write_reply_defer);
	check_write("bin/smtp.22940-041-write-qmgr_conn_accepted.bin",
		    write_reply_final);
	check_write("bin/smtp.22940-160-write-qmgr_conn_accepted.bin",
		    write_reply_hop);
	check_write("bin/smtp.22940-047-write-private_scache.bin",
		    write_scache_find);
	check_write("bin/smtp.22940-062-write-private_scache.bin",
		    write_scache_save);
}

/* test_read_replies - service replies and announcements */
static void
test_read_replies(void **state)
{
	struct strbuf v = STRBUF_INIT;
	struct stream *s;
	int status = 12345;

	/* our own DEFER reply: 4294967295 reads back as -1 */
	s = fixture_stream("bin/smtp.22940-025-write-qmgr_conn_accepted.bin");
	for (int i = 0; i < 7; i++) {
		static const char *const names[] = {"status", "diag_type",
			"diag_text", "mta_type", "mta_mname", "action",
			"reason"};

		assert_int_equal(attr_get_str(s, names[i], &v), 0);
		assert_int_equal(v.len, 0);
	}
	assert_int_equal(attr_get_int(s, "status", &status), 0);
	assert_int_equal(status, -1);
	assert_int_equal(attr_get_end(s), 0);
	assert_true(at_eof(s));
	stream_close(s);

	s = mem_stream("status\0" "4294967295\0", 19);
	assert_int_equal(attr_get_int(s, "status", &status), 0);
	assert_int_equal(status, -1);
	stream_close(s);

	/* bounce's reply */
	s = fixture_stream("bin/smtp.22940-013-read-private_bounce.bin");
	assert_int_equal(attr_get_int(s, "status", &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(attr_skip_to_end(s), 0);
	assert_true(at_eof(s));
	stream_close(s);

	/* announcements, checked with attr_expect */
	s = fixture_stream("bin/smtp.22940-011-read-private_bounce.bin");
	assert_int_equal(attr_expect(s, "protocol",
				     "delivery_status_protocol"), 0);
	assert_int_equal(attr_get_end(s), 0);
	stream_close(s);
	s = fixture_stream("bin/smtp.25943-011-read-private_verify.bin");
	assert_int_equal(attr_expect(s, "protocol",
				     "address_verification_prrotocol"), 0);
	assert_int_equal(attr_get_end(s), 0);
	stream_close(s);

	/* scache miss: status 2 and two empty properties */
	s = fixture_stream("bin/smtp.22940-048-read-private_scache.bin");
	assert_int_equal(attr_get_int(s, "status", &status), 0);
	assert_int_equal(status, 2);
	assert_int_equal(attr_get_str(s, "property", &v), 0);
	assert_string_equal(strbuf_str(&v), "");
	assert_int_equal(attr_get_str(s, "property", &v), 0);
	assert_int_equal(attr_get_end(s), 0);
	stream_close(s);

	/* the fd-passing handshake: "dummy" with an empty value */
	s = fixture_stream("bin/smtp.22940-065-read-private_scache.bin");
	assert_int_equal(attr_expect(s, "dummy", ""), 0);
	assert_int_equal(attr_get_end(s), 0);
	assert_true(at_eof(s));
	stream_close(s);
	strbuf_release(&v);
}

/* test_roundtrip_fixtures - read any pairs, write them, same bytes */
static void
test_roundtrip_fixtures(void **state)
{
	struct strbuf name = STRBUF_INIT, value = STRBUF_INIT;

	for (const char *const *f = all_attr_fixtures; *f; f++) {
		struct stream *in = fixture_stream(*f);
		struct stream *out = out_stream();
		size_t want_len, got_len;
		unsigned char *want = fixture_load(*f, &want_len);
		unsigned char *got;
		int lists = 0, ret;

		/* a stream may hold several lists (request + recipients) */
		while (stream_getc(in) >= 0) {
			assert_true(stream_seek(in, stream_tell(in) - 1) >= 0);
			while ((ret = attr_read_pair(in, &name, &value)) > 0)
				attr_put_str(out, name.data, value.data);
			assert_int_equal(ret, 0);
			attr_put_end(out);
			lists++;
		}
		assert_int_equal(stream_error(in), STREAM_EOF);
		assert_true(lists >= 1);
		got = out_bytes(out, &got_len);
		assert_bytes_equal(got, got_len, want, want_len);
		free(got);
		free(want);
		stream_close(in);
		stream_close(out);
	}
	strbuf_release(&name);
	strbuf_release(&value);
}

/* test_numbers - int and long values both ways, and their limits */
static void
test_numbers(void **state)
{
	static const struct {
		int value;
		const char *text;
	} ints[] = {
		{0, "0"}, {1, "1"}, {-1, "4294967295"}, {INT_MAX, "2147483647"},
		{INT_MIN, "2147483648"}, {-2, "4294967294"},
	};
	static const struct {
		long value;
		const char *text;
	} longs[] = {
		{0, "0"}, {399, "399"}, {-1, "18446744073709551615"},
		{LONG_MAX, "9223372036854775807"},
		{LONG_MIN, "9223372036854775808"},
	};

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		struct stream *s = out_stream();
		char *want = xasprintf("n%c%s%c", 0, ints[i].text, 0);
		size_t want_len = 3 + strlen(ints[i].text), len;
		unsigned char *got;
		int back = 7;

		attr_put_int(s, "n", ints[i].value);
		got = out_bytes(s, &len);
		assert_bytes_equal(got, len, (unsigned char *)want, want_len);
		assert_true(stream_seek(s, 0) == 0);
		assert_int_equal(attr_get_int(s, "n", &back), 0);
		assert_int_equal(back, ints[i].value);
		free(got);
		free(want);
		stream_close(s);
	}
	for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
		struct stream *s = out_stream();
		long back = 7;

		attr_put_long(s, "n", longs[i].value);
		assert_int_equal(stream_flush(s), 0);
		assert_true(stream_seek(s, 0) == 0);
		assert_int_equal(attr_get_long(s, "n", &back), 0);
		assert_true(back == longs[i].value);
		stream_close(s);
	}
}

/* test_bad_numbers - each refused with one warning naming the value */
static void
test_bad_numbers(void **state)
{
	static const char *const bad_int[] = {
		"", "x", "-1", "+1", " 1", "1 ", "1x", "0x10", "4294967296",
		"99999999999999999999999999", "1.5",
	};
	static const char *const bad_long[] = {
		"", "-5", "18446744073709551616", "12a", "\t3",
	};

	for (size_t i = 0; i < sizeof(bad_int) / sizeof(bad_int[0]); i++) {
		char *bytes = xasprintf("size%c%s%c%c", 0, bad_int[i], 0, 0);
		struct stream *s = mem_stream(bytes, 7 + strlen(bad_int[i]));
		char *want = xasprintf("bad number \"%s\" for attribute "
				       "\"size\"", bad_int[i]);
		char *text;
		int v = 42;

		warn_begin();
		assert_int_equal(attr_get_int(s, "size", &v), -1);
		text = warn_end();
		assert_one_warning(text, want);
		assert_int_equal(v, 42);
		free(text);
		free(want);
		free(bytes);
		stream_close(s);
	}
	for (size_t i = 0; i < sizeof(bad_long) / sizeof(bad_long[0]); i++) {
		char *bytes = xasprintf("size%c%s%c", 0, bad_long[i], 0);
		struct stream *s = mem_stream(bytes, 6 + strlen(bad_long[i]));
		char *text;
		long v = 42;

		warn_begin();
		assert_int_equal(attr_get_long(s, "size", &v), -1);
		text = warn_end();
		assert_one_warning(text, "bad number \"");
		assert_int_equal(v, 42);
		free(text);
		free(bytes);
		stream_close(s);
	}
}

/* test_wrong_name - strict order: another name is an error */
static void
test_wrong_name(void **state)
{
	struct strbuf v = STRBUF_INIT;
	struct stream *s = fixture_stream(REQ_M2);
	char *text;
	int flags;

	/* the request starts with "flags", not "queue_id" */
	warn_begin();
	assert_int_equal(attr_get_str(s, "queue_id", &v), -1);
	text = warn_end();
	assert_one_warning(text, "unexpected attribute \"flags\" "
			   "(expected \"queue_id\")");
	free(text);
	stream_close(s);

	/* a premature end of list */
	s = mem_stream("flags\0" "3\0" "\0", 9);
	assert_int_equal(attr_get_int(s, "flags", &flags), 0);
	warn_begin();
	assert_int_equal(attr_get_str(s, "queue_name", &v), -1);
	text = warn_end();
	assert_one_warning(text, "unexpected end of attribute list "
			   "(expected \"queue_name\")");
	free(text);
	stream_close(s);

	/* a missing end marker: another attribute instead */
	s = mem_stream("status\0" "0\0" "extra\0" "1\0" "\0", 18);
	assert_int_equal(attr_get_int(s, "status", &flags), 0);
	warn_begin();
	assert_int_equal(attr_get_end(s), -1);
	text = warn_end();
	assert_one_warning(text, "unexpected attribute \"extra\" "
			   "(expected end of list)");
	free(text);
	stream_close(s);

	/* a missing end marker: the input just stops */
	s = mem_stream("status\0" "0\0", 9);
	assert_int_equal(attr_get_int(s, "status", &flags), 0);
	warn_begin();
	assert_int_equal(attr_get_end(s), -1);
	text = warn_end();
	assert_one_warning(text, "premature end of input while reading "
			   "attribute name (expected end of list)");
	free(text);
	stream_close(s);

	/* a prefix of the right name is not the name */
	s = mem_stream("queue\0" "x\0" "\0", 9);
	warn_begin();
	assert_int_equal(attr_get_str(s, "queue_id", &v), -1);
	free(warn_end());
	stream_close(s);

	/* attr_expect: right name, wrong value */
	s = fixture_stream("bin/smtp.22940-011-read-private_bounce.bin");
	warn_begin();
	assert_int_equal(attr_expect(s, "protocol",
				     "connection_cache_protocol"), -1);
	text = warn_end();
	assert_one_warning(text, "unexpected value "
			   "\"delivery_status_protocol\" for attribute "
			   "\"protocol\" (expected "
			   "\"connection_cache_protocol\")");
	free(text);
	stream_close(s);
	strbuf_release(&v);
}

/* test_eof - end of input at each point of a pair */
static void
test_eof(void **state)
{
	struct strbuf v = STRBUF_INIT;
	struct stream *s;
	char *text;

	/* nothing at all */
	s = mem_stream("", 0);
	warn_begin();
	assert_int_equal(attr_get_str(s, "queue_id", &v), -1);
	text = warn_end();
	assert_one_warning(text, "premature end of input while reading "
			   "attribute name (expected \"queue_id\")");
	free(text);
	stream_close(s);

	/* inside the name */
	s = mem_stream("queue_", 6);
	warn_begin();
	assert_int_equal(attr_get_str(s, "queue_id", &v), -1);
	free(warn_end());
	stream_close(s);

	/* name read, no value */
	s = mem_stream("queue_id\0", 9);
	warn_begin();
	assert_int_equal(attr_get_str(s, "queue_id", &v), -1);
	text = warn_end();
	assert_one_warning(text, "premature end of input while reading "
			   "value of attribute \"queue_id\"");
	free(text);
	stream_close(s);

	/* attr_read_pair: 1, then 0 at the marker, then -1 at EOF */
	s = mem_stream("a\0" "b\0" "\0", 5);
	{
		struct strbuf n = STRBUF_INIT;

		assert_int_equal(attr_read_pair(s, &n, &v), 1);
		assert_string_equal(n.data, "a");
		assert_string_equal(v.data, "b");
		assert_int_equal(attr_read_pair(s, &n, &v), 0);
		assert_int_equal(n.len, 0);
		warn_begin();
		assert_int_equal(attr_read_pair(s, &n, &v), -1);
		text = warn_end();
		assert_one_warning(text, "premature end of input");
		free(text);
		strbuf_release(&n);
	}
	stream_close(s);

	/* attr_skip_to_end without a marker */
	s = mem_stream("a\0" "b\0", 4);
	warn_begin();
	assert_int_equal(attr_skip_to_end(s), -1);
	free(warn_end());
	stream_close(s);
	strbuf_release(&v);
}

/* test_huge - names and values over ATTR_VALUE_MAX are refused */
static void
test_huge(void **state)
{
	size_t big = ATTR_VALUE_MAX + 10;
	char *bytes = xmalloc(big + 32);
	struct strbuf v = STRBUF_INIT;
	struct stream *s;
	char *text;

	/* a value of exactly the limit is fine */
	memcpy(bytes, "v\0", 2);
	memset(bytes + 2, 'x', ATTR_VALUE_MAX);
	memcpy(bytes + 2 + ATTR_VALUE_MAX, "\0\0", 2);
	s = mem_stream(bytes, ATTR_VALUE_MAX + 4);
	assert_int_equal(attr_get_str(s, "v", &v), 0);
	assert_int_equal(v.len, ATTR_VALUE_MAX);
	assert_int_equal(attr_get_end(s), 0);
	stream_close(s);

	/* one byte more is not */
	memset(bytes + 2, 'x', ATTR_VALUE_MAX + 1);
	memcpy(bytes + 3 + ATTR_VALUE_MAX, "\0\0", 2);
	s = mem_stream(bytes, ATTR_VALUE_MAX + 5);
	warn_begin();
	assert_int_equal(attr_get_str(s, "v", &v), -1);
	text = warn_end();
	assert_one_warning(text, "value of attribute \"v\" longer than "
			   "1048576 bytes");
	free(text);
	stream_close(s);

	/* nor a huge name, nor a huge name with no NUL at all */
	memset(bytes, 'n', big);
	s = mem_stream(bytes, big);
	warn_begin();
	assert_int_equal(attr_get_str(s, "v", &v), -1);
	text = warn_end();
	assert_one_warning(text, "attribute name (expected \"v\") longer than");
	free(text);
	stream_close(s);

	/* a caller's ceiling is honoured too */
	{
		struct strbuf small = STRBUF_INIT;

		strbuf_init(&small, 8);
		s = mem_stream("v\0" "123456789\0", 12);
		warn_begin();
		assert_int_equal(attr_get_str(s, "v", &small), -1);
		text = warn_end();
		assert_one_warning(text, "longer than 8 bytes");
		free(text);
		stream_close(s);
		s = mem_stream("v\0" "12345678\0", 11);
		assert_int_equal(attr_get_str(s, "v", &small), 0);
		assert_string_equal(small.data, "12345678");
		stream_close(s);
		strbuf_release(&small);
	}
	free(bytes);
	strbuf_release(&v);
}

/* test_base64 - RFC 4648 vectors, chunking, and malformed text */
static void
test_base64(void **state)
{
	static const char *const vec[][2] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zg===", "Z===", "====", "Zm9v Yg==", " Zm9v",
		"Zm9v\n", "Zm9vYg=a", "Zm=vYg==", "Zm9!", "Zm9v\xc3\xa9===",
	};
	struct strbuf out = STRBUF_INIT, back = STRBUF_INIT;
	unsigned char *blob;
	size_t n = 10000;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		attr_base64_encode(&out, vec[i][0], strlen(vec[i][0]));
		assert_string_equal(strbuf_str(&out), vec[i][1]);
		assert_int_equal(attr_base64_decode(&back, vec[i][1],
						    strlen(vec[i][1])), 0);
		assert_int_equal(back.len, strlen(vec[i][0]));
		assert_memory_equal(strbuf_str(&back), vec[i][0], back.len);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (attr_base64_decode(&back, bad[i], strlen(bad[i])) != -1)
			fail_msg("accepted bad base64 \"%s\"", bad[i]);

	/* longer than one encoder/decoder chunk, every length near it */
	blob = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		blob[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 3060; len < 3080; len++) {
		attr_base64_encode(&out, blob, len);
		assert_int_equal(out.len, 4 * ((len + 2) / 3));
		assert_int_equal(attr_base64_decode(&back, out.data, out.len),
				 0);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.data, blob, len);
	}
	attr_base64_encode(&out, blob, n);
	assert_int_equal(attr_base64_decode(&back, out.data, out.len), 0);
	assert_int_equal(back.len, n);
	assert_memory_equal(back.data, blob, n);
	free(blob);
	strbuf_release(&out);
	strbuf_release(&back);
}

/* test_data_attr - attr_put_data / attr_get_data, and bad base64 */
static void
test_data_attr(void **state)
{
	static const unsigned char bin[] = {0, 1, 2, 0xff, 0, 0x80, 'x'};
	struct strbuf v = STRBUF_INIT;
	struct stream *s = out_stream();
	char *text;

	attr_put_data(s, "time", bin, sizeof(bin));
	attr_put_data(s, "empty", "", 0);
	attr_put_end(s);
	assert_int_equal(stream_flush(s), 0);
	assert_true(stream_seek(s, 0) == 0);
	assert_int_equal(attr_get_data(s, "time", &v), 0);
	assert_int_equal(v.len, sizeof(bin));
	assert_memory_equal(v.data, bin, sizeof(bin));
	assert_int_equal(attr_get_data(s, "empty", &v), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(attr_get_end(s), 0);
	stream_close(s);

	s = mem_stream("time\0" "cscGawAAAAA!\0" "\0", 19);
	warn_begin();
	assert_int_equal(attr_get_data(s, "time", &v), -1);
	text = warn_end();
	assert_one_warning(text, "bad base64 data \"cscGawAAAAA!\" for "
			   "attribute \"time\"");
	free(text);
	stream_close(s);

	/* decoded, 8 bytes do not fit a ceiling of 7 */
	{
		struct strbuf small = STRBUF_INIT;

		strbuf_init(&small, 7);
		s = mem_stream("d\0" "AAAAAAAAAAA=\0", 15);
		warn_begin();
		assert_int_equal(attr_get_data(s, "d", &small), -1);
		text = warn_end();
		assert_one_warning(text, "decoded value of attribute \"d\" "
				   "longer than 7 bytes");
		free(text);
		stream_close(s);
		strbuf_release(&small);
	}

	/* the captured time value with its padding cut off */
	s = mem_stream("time\0" "cscGawAAAAASaAMA\0" "\0", 23);
	assert_int_equal(attr_get_data(s, "time", &v), 0);
	assert_int_equal(v.len, 12);
	stream_close(s);
	s = mem_stream("time\0" "cscGawAAAAASaAM\0" "\0", 22);
	warn_begin();
	assert_int_equal(attr_get_data(s, "time", &v), -1);
	free(warn_end());
	stream_close(s);
	strbuf_release(&v);
}

/* test_garbage - random bytes never crash the readers */
static void
test_garbage(void **state)
{
	size_t len;
	unsigned char *orig = fixture_load(REQ_M2, &len);
	unsigned int seed = 12345;

	warn_begin();
	for (int round = 0; round < 500; round++) {
		unsigned char *data = xmalloc(len);
		struct stream *s;
		struct test_req r;

		memcpy(data, orig, len);
		for (int k = 0; k < 1 + round % 8; k++) {
			seed = seed * 1103515245 + 12345;
			data[(seed >> 8) % len] = (unsigned char)(seed >> 3);
		}
		s = mem_stream(data, len);
		(void)read_request(s, &r);
		free_request(&r);
		stream_close(s);
		free(data);
	}
	free(warn_end());
	free(orig);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_m2),
		cmocka_unit_test(test_request_others),
		cmocka_unit_test(test_request_truncated),
		cmocka_unit_test(test_request_truncated_warning),
		cmocka_unit_test(test_write_exact),
		cmocka_unit_test(test_read_replies),
		cmocka_unit_test(test_roundtrip_fixtures),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_wrong_name),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_data_attr),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
