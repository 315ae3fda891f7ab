/*
 * test_smtp_chat - the postmaster notice: when it is sent, and the bytes
 * that reach cleanup(8) (a fake one in a child process, listening on
 * public/cleanup under a temporary queue directory)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../global/testlib.h"
#include "global/attr.h"
#include "global/params.h"
#include "global/record.h"
#include "../../../src/smtp/smtp.h"
#include "util/xmalloc.h"

struct fixture {
	char dir[64];
	char *old_cwd;
	struct smtp_state state;
	struct deliver_request req;
	int listen_fd;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	int sv[2];

	snprintf(f->dir, sizeof(f->dir), "/tmp/postern-chat-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->old_cwd = getcwd(NULL, 0);
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(mkdir("public", 0755), 0);
	f->listen_fd = -1;
	var_myhostname = "client.test";
	var_mail_name = "Postfix";
	var_double_bounce_sender = "double-bounce";
	var_error_notice_recipient = "postmaster";
	var_cleanup_service_name = "cleanup";
	var_internal_mail_filter_classes = "";
	var_smtputf8_autodetect_classes = "sendmail, verify";
	var_header_from_format = "standard";
	var_notify_classes = "protocol";
	var_ipc_timeout = 10;
	var_smtputf8_enable = 1;
	smtp_chat_init();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	f->req.sender = "sender@client.test";
	f->req.queue_id = "QID";
	f->state.req = &f->req;
	f->state.session = smtp_session_create(stream_fdopen(sv[0]), "mx.test",
					       "192.0.2.1", 25);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	smtp_session_free(f->state.session);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	unlink("public/cleanup");
	unlink("records");
	rmdir("public");
	assert_int_equal(chdir(f->old_cwd), 0);
	rmdir(f->dir);
	free(f->old_cwd);
	free(f);
	return 0;
}

/* listen_cleanup - bind public/cleanup */
static void
listen_cleanup(struct fixture *f)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "public/cleanup");
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->listen_fd >= 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sun,
			      sizeof(sun)), 0);
	assert_int_equal(listen(f->listen_fd, 1), 0);
}

/*
 * fake_cleanup - in a child: announce, read the flags and the records,
 * write them to the file "records" as "flags=N" and "<type> <data>"
 * lines, answer status 0
 */
static void
fake_cleanup(int listen_fd)
{
	int fd = accept(listen_fd, NULL, NULL);
	struct stream *s;
	struct strbuf data = STRBUF_INIT;
	FILE *out = fopen("records", "w");
	int flags = -1, type;

	if (fd < 0 || out == NULL)
		_exit(2);
	s = stream_fdopen(fd);
	stream_set_timeout(s, 10);
	attr_put_str(s, "protocol", "cleanup_protocol");
	attr_put_str(s, "queue_id", "ABC123");
	attr_put_end(s);
	if (stream_flush(s) < 0 || attr_get_int(s, "flags", &flags) < 0
	    || attr_get_end(s) < 0)
		_exit(3);
	fprintf(out, "flags=%d\n", flags);
	do {
		type = rec_get(s, &data, 0, REC_FLAG_NONE);
		if (type < 0)
			_exit(4);
		fprintf(out, "%c %s\n", type, strbuf_str(&data));
	} while (type != REC_TYPE_END);
	fclose(out);
	attr_put_int(s, "status", 0);
	attr_put_str(s, "reason", "");
	attr_put_end(s);
	_exit(stream_flush(s) < 0 ? 5 : 0);
}

/* notify_with_cleanup - smtp_chat_notify() against the fake; its lines */
static char *
notify_with_cleanup(struct fixture *f)
{
	pid_t pid;
	int status;
	size_t len;
	FILE *fp;
	char *text;

	listen_cleanup(f);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fake_cleanup(f->listen_fd);
	smtp_chat_notify(&f->state);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fp = fopen("records", "r");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	len = (size_t)ftell(fp);
	rewind(fp);
	text = xmalloc(len + 1);
	assert_int_equal(fread(text, 1, len, fp), len);
	text[len] = 0;
	fclose(fp);
	return text;
}

/* next_line - the next "\n"-ended line of *cursor (in place) */
static char *
next_line(char **cursor)
{
	char *line = strsep(cursor, "\n");

	assert_non_null(line);
	return line;
}

static void
transcript(struct smtp_session *session)
{
	smtp_chat_append(session, "In:  ", "220 mx.test ESMTP");
	smtp_chat_cmd(session, "EHLO client.test");
	smtp_chat_append(session, "In:  ", "250-X-A-VERY-LONG-KEYWORD word0 "
			 "word1 word2 word3 word4 word5 word6 word7 word8 "
			 "word9 word10 word11 word12 word13 word14 word15 "
			 "word16 word17 word18 word19 word20 word21 word22 "
			 "word23 word24 word25 word26 word27 word28 word29 "
			 "word30 word31 word32 word33 word34 word35 word36 "
			 "word37 word38 word39");
	smtp_chat_append(session, "In:  ", "250 X-LONGWORD "
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxx");
	smtp_chat_cmd(session, "MAIL FROM:<sender@client.test>");
	smtp_chat_append(session, "In:  ", "250 2.1.0 Ok\001\377");
}

static void
test_notice_records(void **state)
{
	struct fixture *f = *state;
	char *text, *cursor, *line;
	static const char *const want[] = {
		"N Date: ",
		"N From: Mail Delivery System <MAILER-DAEMON@client.test>",
		"N To: Postmaster <postmaster>",
		"N Subject: Postfix SMTP client: errors from mx.test[192.0.2.1]:25",
		"N ",
		"N Unexpected response from mx.test[192.0.2.1]:25.",
		"N ",
		"N Transcript of session follows.",
		"N ",
		"N  In:  220 mx.test ESMTP",
		"N  Out: EHLO client.test",
		/* As Postfix 3.7.11 wrapped it (captured). */
		"N  In:  250-X-A-VERY-LONG-KEYWORD word0 word1 word2 word3 "
		"word4 word5 word6 word7",
		"N      word8 word9 word10 word11 word12 word13 word14 word15 "
		"word16 word17 word18",
		"N      word19 word20 word21 word22 word23 word24 word25 word26 "
		"word27 word28",
		"N      word29 word30 word31 word32 word33 word34 word35 word36 "
		"word37 word38",
		"N      word39",
		"N  In:  250 X-LONGWORD",
		"N      xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxx",
		"N  Out: MAIL FROM:<sender@client.test>",
		"N  In:  250 2.1.0 Ok??",
		"N ",
		"N For other details, see the local mail logfile",
		"X ",
		"E ",
		"",
	};

	transcript(f->state.session);
	f->state.session->error_mask = SMTP_ERR_CLASS_PROTOCOL;
	cursor = text = notify_with_cleanup(f);
	/* Address mapping allowed; nothing else by default. */
	assert_string_equal(next_line(&cursor), "flags=32");
	line = next_line(&cursor);
	assert_true(strncmp(line, "T ", 2) == 0 && strchr(line + 2, ' '));
	assert_string_equal(next_line(&cursor), "A log_message_origin=local");
	assert_string_equal(next_line(&cursor), "A trace_flags=0");
	assert_string_equal(next_line(&cursor), "S double-bounce@client.test");
	assert_string_equal(next_line(&cursor), "R postmaster");
	assert_string_equal(next_line(&cursor), "M ");
	assert_string_equal(next_line(&cursor),
			    "N Received: by client.test (Postfix)");
	line = next_line(&cursor);
	assert_true(strncmp(line, "N \tid ABC123; ", 14) == 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		line = next_line(&cursor);
		if (i == 0)
			assert_true(strncmp(line, want[i], strlen(want[i])) == 0);
		else
			assert_string_equal(line, want[i]);
	}
	assert_null(cursor);
	free(text);
}

static void
test_obsolete_from_and_flags(void **state)
{
	struct fixture *f = *state;
	char *text;

	var_header_from_format = "Obsolete";
	var_internal_mail_filter_classes = "bounce, notify";
	var_smtputf8_autodetect_classes = "all";
	var_notify_classes = "data";
	smtp_chat_init();
	f->state.lmtp = 1;
	smtp_chat_cmd(f->state.session, "LHLO client.test");
	f->state.session->error_mask = SMTP_ERR_CLASS_DATA;
	text = notify_with_cleanup(f);
	/* filter + milter + map ok + autodetect */
	assert_true(strncmp(text, "flags=610\n", 10) == 0);
	assert_non_null(strstr(text, "\nN From: MAILER-DAEMON@client.test "
			       "(Mail Delivery System)\nN To: postmaster "
			       "(Postmaster)\nN Subject: Postfix LMTP client: "
			       "errors from mx.test[192.0.2.1]:25\n"));
	free(text);
}

/* no_notice - nothing is attempted: no warning about public/cleanup */
static void
no_notice(struct fixture *f)
{
	char *warnings;

	warn_begin();
	smtp_chat_notify(&f->state);
	warnings = warn_end();
	assert_string_equal(warnings, "");
	free(warnings);
}

static void
test_when_not(void **state)
{
	struct fixture *f = *state;
	char *warnings;

	/* No transcript, no error, or a class not in notify_classes. */
	f->state.session->error_mask = SMTP_ERR_CLASS_PROTOCOL;
	no_notice(f);
	smtp_chat_cmd(f->state.session, "EHLO client.test");
	f->state.session->error_mask = 0;
	no_notice(f);
	f->state.session->error_mask = SMTP_ERR_CLASS_DATA;
	no_notice(f);
	/* Bounces and notices cause no notice. */
	f->state.session->error_mask = SMTP_ERR_CLASS_PROTOCOL;
	f->req.sender = "";
	no_notice(f);
	f->req.sender = "double-bounce@client.test";
	no_notice(f);
	/* Otherwise it is tried: here nothing listens. */
	f->req.sender = "Double-bounce@client.test";
	warn_begin();
	smtp_chat_notify(&f->state);
	warnings = warn_end();
	assert_non_null(strstr(warnings, "connect to public/cleanup: "));
	assert_non_null(strstr(warnings, "postmaster notify: "));
	free(warnings);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notice_records, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_obsolete_from_and_flags,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_when_not, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
