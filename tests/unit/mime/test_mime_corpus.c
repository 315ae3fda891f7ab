/*
 * test_mime_corpus - BUILD/tools/mime_convert against Postfix 3.7's output
 *
 * test_corpus: for every tests/fixtures/mime/NAME.rec (message content
 *	records as cleanup(8) stored them), run "mime_convert -r" and compare
 *	with NAME.expected, the bytes Postfix 3.7.11's smtp(8) sent to a
 *	server without 8BITMIME (recorded by tests/integration/mimecorpus.py
 *	--update), and with NAME.outcome ("sent", or "bounced DSN REASON":
 *	then the tool must fail with that DSN and reason, having written
 *	exactly what reached the server: Postfix flushes its output before
 *	it drops the connection).
 * test_postfix_driver: replays the mime_*.in/.ref cases of Postfix's own
 *	mime_state test program through "mime_convert -P", when a Postfix
 *	source repository is at $POSTFIX_GIT (default: the local mirror);
 *	skipped otherwise.  The .ref lines that Postfix prints only in
 *	verbose mode are left out of the comparison.
 *
 * The tool is found beside the test binary: BUILD/tests/mime/THIS ->
 * BUILD/tools/mime_convert.
 */
#include <dirent.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

static char *tool;		/* path of mime_convert */
static char *fixtures;		/* tests/fixtures/mime */
static char *tmpdir;		/* scratch */

/* slurp - a whole file; -1 if unreadable */
static int
slurp(const char *path, struct strbuf *out)
{
	FILE *fp = fopen(path, "rb");
	char buf[8192];
	size_t n;

	strbuf_reset(out);
	if (fp == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		strbuf_append(out, buf, n);
	fclose(fp);
	return 0;
}

/* run_tool - mime_convert ARGS < in > out 2> err; the exit status */
static int
run_tool(const char *args, const char *in, const char *out, const char *err)
{
	char *cmd = xasprintf("'%s' %s < '%s' > '%s' 2> '%s'", tool, args, in,
			      out, err);
	int rc = system(cmd);

	free(cmd);
	assert_true(rc != -1 && WIFEXITED(rc));
	return WEXITSTATUS(rc);
}

/* first_diff - offset of the first differing byte */
static size_t
first_diff(const struct strbuf *a, const struct strbuf *b)
{
	size_t i, n = a->len < b->len ? a->len : b->len;

	for (i = 0; i < n && a->data[i] == b->data[i]; i++)
		;
	return i;
}

/* check_one - one corpus message; 0 when it matches */
static int
check_one(const char *name)
{
	char *rec = xasprintf("%s/%s.rec", fixtures, name);
	char *exp = xasprintf("%s/%s.expected", fixtures, name);
	char *outc = xasprintf("%s/%s.outcome", fixtures, name);
	char *out = xasprintf("%s/out", tmpdir);
	char *err = xasprintf("%s/err", tmpdir);
	struct strbuf want = STRBUF_INIT, got = STRBUF_INIT;
	struct strbuf outcome = STRBUF_INIT, errtext = STRBUF_INIT;
	int rc, bad = 0;

	rc = run_tool("-r", rec, out, err);
	if (slurp(exp, &want) < 0 || slurp(outc, &outcome) < 0
	    || slurp(out, &got) < 0 || slurp(err, &errtext) < 0) {
		print_error("%s: missing golden file\n", name);
		bad = 1;
		goto out;
	}
	while (outcome.len > 0 && outcome.data[outcome.len - 1] == '\n')
		strbuf_truncate(&outcome, outcome.len - 1);
	if (strcmp(strbuf_str(&outcome), "sent") == 0) {
		if (rc != 0 || got.len != want.len
		    || memcmp(got.data, want.data, got.len) != 0) {
			size_t at = first_diff(&got, &want);

			print_error("%s: exit %d, %zu bytes (golden %zu), "
				    "first difference at byte %zu: %s\n",
				    name, rc, got.len, want.len, at,
				    strbuf_str(&errtext));
			bad = 1;
		}
	} else {
		/* "bounced 5.6.0 REASON" -> "mime_convert: 5.6.0 REASON" */
		const char *sp = strchr(strbuf_str(&outcome), ' ');
		char *msg = xasprintf("mime_convert: %s\n", sp ? sp + 1 : "");

		if (rc != 3 || strcmp(strbuf_str(&errtext), msg) != 0) {
			print_error("%s: exit %d, stderr \"%s\", wanted 3 and "
				    "\"%s\"\n", name, rc, strbuf_str(&errtext),
				    msg);
			bad = 1;
		}
		/* Postfix flushes what it wrote before the error. */
		if (want.len != got.len
		    || memcmp(got.data, want.data, want.len) != 0) {
			print_error("%s: %zu bytes (golden %zu), first "
				    "difference at byte %zu\n", name, got.len,
				    want.len, first_diff(&got, &want));
			bad = 1;
		}
		free(msg);
	}
out:
	strbuf_release(&want);
	strbuf_release(&got);
	strbuf_release(&outcome);
	strbuf_release(&errtext);
	free(rec);
	free(exp);
	free(outc);
	free(out);
	free(err);
	return bad;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
is_rec(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && strcmp(d->d_name + n - 4, ".rec") == 0;
}

static void
test_corpus(void **state)
{
	struct dirent **list;
	int n, i, bad = 0;

	n = scandir(fixtures, &list, is_rec, by_name);
	if (n < 0)
		fail_msg("scandir %s", fixtures);
	for (i = 0; i < n; i++) {
		list[i]->d_name[strlen(list[i]->d_name) - 4] = 0;
		bad += check_one(list[i]->d_name);
		free(list[i]);
	}
	free(list);
	print_message("%d corpus messages, %d differ\n", n, bad);
	assert_true(n >= 20);
	assert_int_equal(bad, 0);
}

/* Postfix 3.7.11's mime_state test cases: input and reference names. */
static const char *const driver_cases[][2] = {
	{"mime_test.in", "mime_test.ref"},
	{"mime_nest.in", "mime_nest.ref"},
	{"mime_8bit.in", "mime_8bit.ref"},
	{"mime_dom.in", "mime_dom.ref"},
	{"mime_trunc.in", "mime_trunc.ref"},
	{"mime_cvt.in", "mime_cvt.ref"},
	{"mime_cvt.in2", "mime_cvt.ref2"},
	{"mime_cvt.in3", "mime_cvt.ref3"},
	{"mime_garb1.in", "mime_garb1.ref"},
	{"mime_garb2.in", "mime_garb2.ref"},
	{"mime_garb3.in", "mime_garb3.ref"},
	{"mime_garb4.in", "mime_garb4.ref"},
};

static void
test_postfix_driver(void **state)
{
	const char *git = getenv("POSTFIX_GIT");
	char *in = xasprintf("%s/pf.in", tmpdir);
	char *ref = xasprintf("%s/pf.ref", tmpdir);
	char *out = xasprintf("%s/pf.out", tmpdir);
	char *err = xasprintf("%s/pf.err", tmpdir);
	struct strbuf want = STRBUF_INIT, got = STRBUF_INIT;
	struct stat st;
	size_t i;
	int bad = 0;

	if (git == NULL)
		git = "/work/.mirror/vdukhovni+postfix/repo";
	if (stat(git, &st) < 0) {
		print_message("no Postfix repository at %s\n", git);
		skip();
	}
	for (i = 0; i < sizeof(driver_cases) / sizeof(driver_cases[0]); i++) {
		char *cmd = xasprintf(
			"git -C '%s' show v3.7.11:postfix/src/global/%s > '%s'"
			" && git -C '%s' show v3.7.11:postfix/src/global/%s"
			" | grep -av '^mime_state: \\(header_token:\\|PUSH "
			"boundary\\|POP boundary\\|garbage in\\)' > '%s'",
			git, driver_cases[i][0], in, git, driver_cases[i][1],
			ref);
		int rc = system(cmd);

		free(cmd);
		if (rc != 0) {
			print_message("cannot read %s from %s\n",
				      driver_cases[i][0], git);
			skip();
		}
		assert_int_equal(run_tool("-P", in, out, err), 0);
		assert_int_equal(slurp(ref, &want), 0);
		assert_int_equal(slurp(out, &got), 0);
		if (want.len != got.len
		    || memcmp(want.data, got.data, got.len) != 0) {
			print_error("%s: differs from %s at byte %zu\n",
				    driver_cases[i][0], driver_cases[i][1],
				    first_diff(&got, &want));
			bad++;
		}
	}
	strbuf_release(&want);
	strbuf_release(&got);
	free(in);
	free(ref);
	free(out);
	free(err);
	assert_int_equal(bad, 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_postfix_driver),
	};
	const char *fx = getenv("POSTERN_FIXTURES");
	char *self = xstrdup(argv[0]);
	char *build = dirname(dirname(dirname(self)));
	char tmpl[] = "/tmp/test_mime_corpus.XXXXXX";
	char *cmd;
	int rc;

	tool = getenv("POSTERN_MIME_CONVERT")
		? xstrdup(getenv("POSTERN_MIME_CONVERT"))
		: xasprintf("%s/tools/mime_convert", build);
	fixtures = xasprintf("%s/mime", fx && *fx ? fx : "tests/fixtures");
	if ((tmpdir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cmd = xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	free(cmd);
	free(self);
	free(tool);
	free(fixtures);
	return rc;
}
