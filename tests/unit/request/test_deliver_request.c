/* test_deliver_request - requests from qmgr, queue file access, replies */
#include "../global/testlib.h"

#include <fcntl.h>
#include <sys/socket.h>

#include "global/deliver_request.h"
#include "global/params.h"

struct fixture {
	char *dir;
	int qmgr;		/* the queue manager's end */
	struct stream *agent;	/* our end */
};

/* put_file - write bytes to path with mode */
static void
put_file(const char *path, const unsigned char *data, size_t len, int mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	chmod(path, (mode_t)mode);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/postern-req-XXXXXX";
	unsigned char *qf;
	size_t len;
	int sv[2];

	f->dir = xstrdup(mkdtemp(tmpl));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(mkdir("active", 0700), 0);
	/* The m2 queue file, with its two D marks undone: as qmgr sent it. */
	qf = fixture_load("queuefile-m2-after-partial-delivery.bin", &len);
	assert_int_equal(qf[238], 'D');
	assert_int_equal(qf[308], 'D');
	qf[238] = qf[308] = 'R';
	put_file("active/38561A72925", qf, len, 0700);
	free(qf);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->agent = stream_fdopen(sv[0]);
	stream_set_timeout(f->agent, 5);
	f->qmgr = sv[1];
	var_hash_queue_names = "deferred, defer";
	var_hash_queue_depth = 1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);

	assert_int_equal(chdir("/"), 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	stream_close(f->agent);
	close(f->qmgr);
	free(f->dir);
	free(f);
	return 0;
}

/* qmgr_says - the queue manager writes a captured request */
static void
qmgr_says(struct fixture *f, const char *fixture)
{
	size_t len;
	unsigned char *req = fixture_load(fixture, &len);

	assert_int_equal(write(f->qmgr, req, len), (ssize_t)len);
	free(req);
}

/* qmgr_hears - everything the agent wrote, after qmgr hangs up */
static unsigned char *
qmgr_hears(struct fixture *f, size_t *len)
{
	unsigned char *buf = xmalloc(65536);
	size_t got = 0;
	ssize_t n;

	shutdown(stream_fd(f->agent), SHUT_WR);	/* the agent is done */
	while ((n = read(f->qmgr, buf + got, 65536 - got)) > 0)
		got += (size_t)n;
	*len = got;
	return buf;
}

static void
test_captured_request(void **state)
{
	struct fixture *f = *state;
	struct deliver_request *req;
	unsigned char *heard, *expect;
	size_t hlen, elen;
	char byte;

	qmgr_says(f, "bin/smtp.22940-004-read-qmgr_conn_accepted.bin");
	shutdown(f->qmgr, SHUT_WR);	/* qmgr will hang up after the reply */
	req = deliver_request_read(f->agent);
	assert_non_null(req);
	assert_int_equal(req->flags, 3);
	assert_string_equal(req->queue_id, "38561A72925");
	assert_string_equal(req->queue_path, "active/38561A72925");
	assert_int_equal(req->data_offset, 399);
	assert_int_equal(req->data_size, 256);
	assert_string_equal(req->nexthop, "[127.0.0.1]:23026");
	assert_string_equal(req->sender, "from@client.test");
	assert_int_equal(req->msg_stats.incoming_arrival.tv_sec, 1795606386);
	assert_int_equal(req->msg_stats.active_arrival.tv_usec, 236840);
	/* agent_handoff was 0 in the capture: stamped on receipt */
	assert_true(req->msg_stats.agent_handoff.tv_sec > 1700000000);
	assert_int_equal(req->rcpt_count, 3);
	assert_string_equal(req->rcpt[0].address, "hard1@dest.test");
	assert_int_equal(req->rcpt[0].offset, 308);
	assert_string_equal(req->rcpt[1].dsn_orcpt, "rfc822;ok2@dest.test");
	assert_int_equal(req->rcpt[2].offset, 380);

	/* Marking done writes one D over the R record, nothing else. */
	deliver_completed(req, 0);
	deliver_completed(req, 1);
	{
		size_t qlen, olen;
		unsigned char *now = fixture_load("queuefile-m2-after-partial-delivery.bin", &olen);
		int fd = open("active/38561A72925", O_RDONLY);
		unsigned char *buf = xmalloc(olen + 1);

		qlen = (size_t)read(fd, buf, olen + 1);
		close(fd);
		assert_int_equal(qlen, olen);
		assert_memory_equal(buf, now, olen);
		free(buf);
		free(now);
	}

	/* A destination problem travels as the hop status. */
	{
		struct dsn *hop = dsn_create("4.4.1", "", "connect to "
					     "127.0.0.1[127.0.0.1]:23099: "
					     "Connection refused", "", "", "",
					     "");

		deliver_request_set_hop_status(req, hop);
		dsn_free(hop);
	}
	deliver_request_done(f->agent, req, DEL_STAT_DEFER);
	heard = qmgr_hears(f, &hlen);
	expect = fixture_load("bin/smtp.22940-003-write-qmgr_conn_accepted.bin",
			      &elen);
	assert_true(hlen > elen);
	assert_memory_equal(heard, expect, elen);	/* announcement */
	{
		static const char reply[] =
		    "status\0" "4.4.1\0" "diag_type\0" "\0" "diag_text\0" "\0"
		    "mta_type\0" "\0" "mta_mname\0" "\0" "action\0" "\0"
		    "reason\0" "connect to 127.0.0.1[127.0.0.1]:23099: "
		    "Connection refused\0" "status\0" "4294967295\0" "";

		assert_int_equal(hlen - elen, sizeof(reply));
		assert_memory_equal(heard + elen, reply, sizeof(reply));
	}
	(void)byte;
	free(heard);
	free(expect);
}

/* expect_refused - the request is refused and "defer" answered */
static void
expect_refused(struct fixture *f)
{
	static const char tail[] = "status\0" "4294967295\0";
	unsigned char *heard;
	size_t hlen;

	shutdown(f->qmgr, SHUT_WR);
	warn_begin();
	assert_null(deliver_request_read(f->agent));
	free(warn_end());
	heard = qmgr_hears(f, &hlen);
	assert_true(hlen > sizeof(tail));
	assert_memory_equal(heard + hlen - sizeof(tail), tail, sizeof(tail));
	free(heard);
}

static void
test_corrupt_or_missing_file(void **state)
{
	struct fixture *f = *state;

	/* mode 0400: marked corrupt; the agent must not touch it */
	chmod("active/38561A72925", 0400);
	qmgr_says(f, "bin/smtp.22940-004-read-qmgr_conn_accepted.bin");
	expect_refused(f);
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;

	unlink("active/38561A72925");
	qmgr_says(f, "bin/smtp.22940-004-read-qmgr_conn_accepted.bin");
	expect_refused(f);
}

static void
test_truncated_request(void **state)
{
	struct fixture *f = *state;
	size_t len;
	unsigned char *req =
	    fixture_load("bin/smtp.22940-004-read-qmgr_conn_accepted.bin", &len);

	/* qmgr hangs up in the middle: no reply can be sent, no crash */
	assert_int_equal(write(f->qmgr, req, len / 2), (ssize_t)(len / 2));
	free(req);
	shutdown(f->qmgr, SHUT_WR);
	warn_begin();
	assert_null(deliver_request_read(f->agent));
	free(warn_end());
}

static void
test_queue_paths(void **unused)
{
	char *p;

	assert_true(mail_queue_id_ok("38561A72925"));
	assert_false(mail_queue_id_ok("../etc"));
	assert_false(mail_queue_id_ok(""));
	assert_false(mail_queue_name_ok("act/ive"));
	var_hash_queue_names = "deferred, active";
	var_hash_queue_depth = 2;
	p = mail_queue_path("active", "38561A72925");
	assert_string_equal(p, "active/3/8/38561A72925");
	free(p);
	p = mail_queue_path("incoming", "38561A72925");
	assert_string_equal(p, "incoming/38561A72925");
	free(p);
	/* long ids hash on their microseconds, as hex: "0001" -> 00001 */
	var_hash_queue_depth = 1;
	p = mail_queue_path("deferred", "4Xyz0Y0001zB7");
	assert_string_equal(p, "deferred/0/4Xyz0Y0001zB7");
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_captured_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_or_missing_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncated_request, setup,
						teardown),
		cmocka_unit_test(test_queue_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
