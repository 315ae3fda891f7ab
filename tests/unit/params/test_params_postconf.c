/*
 * test_params_postconf - the parameter table against Postfix 3.7's postconf
 *
 * For every name in param_table (smtp_name and lmtp_name) this runs
 * "postconf -d -h -c EMPTYDIR NAME" and compares its output with the
 * row's default byte for byte.  Names that 3.7's postconf does not know
 * are listed in not_in_postconf[] and must stay unknown to it; rows
 * whose default is computed at run time are compared with what params.c
 * computes (myhostname, mydomain) or skipped (process_id, process_name).
 * Also: no lmtp_ twin known to postconf is missing from the table, every
 * name of tests/fixtures/params-postfix-3.7-smtp8.txt (the smtp(8)
 * manual's list) is in the table, and param_expand() agrees with
 * "postconf -x" on a set of expressions.
 *
 * Needs postconf(1) of Postfix 3.7 in PATH; skipped without it.  Fixtures
 * come from $POSTERN_FIXTURES, else tests/fixtures (run from the tree).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "global/params.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* In the table, unknown to 3.7.11's postconf (it warns). */
static const char *const not_in_postconf[] = {
	"smtp_skip_4xx_greeting",		/* obsolete, smtp(8) lists it */
	"smtp_tls_cipherlist",			/* obsolete */
	"tls_dane_digest_agility",		/* obsolete */
	"tls_dane_trust_anchor_digest_enable",	/* obsolete */
	"lmtp_cache_connection",		/* obsolete */
	"transport_destination_concurrency_limit",	/* placeholder */
	"transport_destination_recipient_limit",	/* placeholder */
	"smtp_connection_race_delay",		/* Postern's own */
	"lmtp_connection_race_delay",		/* Postern's own */
	NULL,
};

/* Computed at run time: postconf shows its own host, pid and name. */
static const char *const run_time[] = {
	"myhostname", "mydomain", "process_id", "process_name", NULL,
};

static char *empty_dir;
static int have_postconf;

/* in_list - is name one of list */
static int
in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/* in_table - is name a smtp_name or lmtp_name of some row */
static int
in_table(const char *name)
{
	int i;

	for (i = 0; i < param_table_size; i++)
		if ((param_table[i].smtp_name
		     && strcmp(param_table[i].smtp_name, name) == 0)
		    || (param_table[i].lmtp_name
			&& strcmp(param_table[i].lmtp_name, name) == 0))
			return 1;
	return 0;
}

/*
 * run_postconf - run postconf with args; stdout in out (one trailing
 * newline removed), stderr in err; returns the exit status
 */
static int
run_postconf(const char *args, struct strbuf *out, struct strbuf *err)
{
	char *errpath = xasprintf("%s/stderr", empty_dir);
	char *cmd = xasprintf("postconf %s 2>%s", args, errpath);
	char buf[4096];
	size_t n;
	FILE *fp;
	int status;

	strbuf_reset(out);
	strbuf_reset(err);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		strbuf_append(out, buf, n);
	status = pclose(fp);
	if (out->len > 0 && out->data[out->len - 1] == '\n')
		strbuf_truncate(out, out->len - 1);
	if ((fp = fopen(errpath, "r")) != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			strbuf_append(err, buf, n);
		fclose(fp);
	}
	unlink(errpath);
	free(errpath);
	free(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* postconf_default - "postconf -d -h -c EMPTY name"; 1 if it knows it */
static int
postconf_default(const char *name, struct strbuf *out)
{
	struct strbuf err = STRBUF_INIT;
	char *args = xasprintf("-d -h -c %s %s", empty_dir, name);
	int known;

	assert_int_equal(run_postconf(args, out, &err), 0);
	known = strstr(strbuf_str(&err), "unknown parameter") == NULL;
	strbuf_release(&err);
	free(args);
	return known;
}

static int
group_setup(void **state)
{
	char tmpl[] = "/tmp/postern-postconf-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	empty_dir = xstrdup(tmpl);
	have_postconf = system("command -v postconf >/dev/null 2>&1") == 0;
	return 0;
}

static int
group_teardown(void **state)
{
	char *path = xasprintf("%s/main.cf", empty_dir);

	unlink(path);
	rmdir(empty_dir);
	free(path);
	free(empty_dir);
	return 0;
}

/* check_column - compare one name/default pair; count mismatches */
static int
check_column(const char *name, const char *def, struct strbuf *out)
{
	int known = postconf_default(name, out);

	if (in_list(not_in_postconf, name)) {
		if (known) {
			print_error("%s: postconf knows it now (\"%s\"); "
				    "drop it from not_in_postconf\n", name,
				    strbuf_str(out));
			return 1;
		}
		return 0;
	}
	if (!known) {
		print_error("%s: unknown to postconf\n", name);
		return 1;
	}
	if (def == NULL) {
		if (!in_list(run_time, name)) {
			print_error("%s: NULL default\n", name);
			return 1;
		}
		/* The host-dependent ones: what params.c computes. */
		if (strcmp(name, "myhostname") == 0
		    || strcmp(name, "mydomain") == 0) {
			if (strcmp(param_get(name), strbuf_str(out)) != 0) {
				print_error("%s: postconf \"%s\", computed "
					    "\"%s\"\n", name, strbuf_str(out),
					    param_get(name));
				return 1;
			}
		}
		return 0;
	}
	if (strcmp(def, strbuf_str(out)) != 0) {
		print_error("%s: table \"%s\", postconf -d \"%s\"\n", name,
			    def, strbuf_str(out));
		return 1;
	}
	return 0;
}

static void
test_defaults_match_postconf(void **state)
{
	struct strbuf out = STRBUF_INIT;
	int i, bad = 0, checked = 0;

	if (!have_postconf)
		skip();
	params_read_main_cf(empty_dir);	/* no main.cf: defaults */
	for (i = 0; i < param_table_size; i++) {
		const struct param_info *r = param_table + i;

		if (r->smtp_name) {
			bad += check_column(r->smtp_name, r->smtp_default,
					    &out);
			checked++;
		}
		if (r->lmtp_name) {
			bad += check_column(r->lmtp_name, r->lmtp_default,
					    &out);
			checked++;
		}
	}
	strbuf_release(&out);
	print_message("%d names compared with postconf -d, %d mismatches\n",
		      checked, bad);
	assert_int_equal(bad, 0);
}

static void
test_no_missing_lmtp_twin(void **state)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	char *args, *line, *save;
	int i, bad = 0;

	if (!have_postconf)
		skip();
	/* Every lmtp_ parameter that postconf -d lists is in the table. */
	args = xasprintf("-d -c %s", empty_dir);
	assert_int_equal(run_postconf(args, &out, &err), 0);
	free(args);
	for (line = strtok_r(out.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (strncmp(line, "lmtp_", 5) != 0 || sp == NULL)
			continue;
		*sp = 0;
		if (!in_table(line)) {
			print_error("%s: listed by postconf -d, not in the "
				    "table\n", line);
			bad++;
		}
	}
	/* A smtp_ row without twin: postconf has no lmtp_ name for it. */
	for (i = 0; i < param_table_size; i++) {
		const char *s = param_table[i].smtp_name;

		if (s == NULL || param_table[i].lmtp_name
		    || strncmp(s, "smtp_", 5) != 0)
			continue;
		args = xasprintf("lmtp_%s", s + 5);
		if (postconf_default(args, &out)) {
			print_error("%s: postconf knows %s\n", s, args);
			bad++;
		}
		free(args);
	}
	strbuf_release(&out);
	strbuf_release(&err);
	assert_int_equal(bad, 0);
}

static void
test_seed_names_in_table(void **state)
{
	const char *dir = getenv("POSTERN_FIXTURES");
	char *path = xasprintf("%s/params-postfix-3.7-smtp8.txt",
			       dir && *dir ? dir : "tests/fixtures");
	FILE *fp = fopen(path, "r");
	char line[256];
	int count = 0, bad = 0;
	size_t len;

	if (fp == NULL)
		fail_msg("open %s (run from the top of the tree)", path);
	while (fgets(line, sizeof(line), fp)) {
		len = strcspn(line, " \t\r\n");
		line[len] = 0;
		if (len == 0)
			continue;
		count++;
		if (!in_table(line)) {
			print_error("%s: in the smtp(8) list, not in the "
				    "table\n", line);
			bad++;
		}
	}
	fclose(fp);
	free(path);
	assert_int_equal(count, 168);
	assert_int_equal(bad, 0);
}

/* Expressions checked against "postconf -x" (same result or both fail) */
static const char *const expressions[] = {
	"$a", "${a}", "$(a)", "$$a", "x$ay", "$undefined", "${a?yes}",
	"${empty?yes}", "${undefined:no}", "${a?{yes}:{no}}",
	"${empty?{yes}:{no}}", "${a:{no}}", "${a ? {yes} : {no}}",
	"${a?yes:no}", "${a?{yes}:no}", "${ a }", "${a}}", "{a}",
	"${{A} == {$a} ? {eq} : {ne}}", "${{A}=={$a}?{eq}:{ne}}",
	"${{A} != {A}}", "${{A} == {A}}", "${{A} == {A} ? x : y}",
	"${{A} != {A} : {x}}", "${{3.6} <level {3.10} ? {lt} : {ge}}",
	"${{$lev} >=level {3.6} ? {ge} : {lt}}",
	"${{3} ==level {3.0} ? {x} : {y}}", "${{2} < {10} ? {lt} : {ge}}",
	"${{a} < {10} ? {lt} : {ge}}", "${{2} == {02} ? {x} : {y}}",
	"${{${a?x}} == {x} ? {y} : {n}}", "$(a?x(y)z)", "${a?x}y}",
	"${a?{x}:{${bad-name}}}", "[$ref] ${ref?set}",
	"$myhostname $mydomain $myorigin", "$fast_flush_domains",
	"$smtp_tls_fingerprint_digest $smtputf8_enable",
	"$smtp_tls_dane_insecure_mx_policy", "$smtp_per_request_deadline",
	"$lmtp_per_request_deadline", "$syslog_name",
	"$smtp_sasl_tls_verified_security_options", "$smtp_helo_name",
	"$lmtp_lhlo_name", "$default_destination_recipient_limit",
	/* Errors: few, since postconf sleeps a second before a fatal exit */
	"$loop1", "${a", "${{A} === {A} ? {x} : {y}}",
	"${{a} <level {3}?{x}:{y}}",
	NULL,
};

static void
test_expansion_matches_postconf(void **state)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	const char *const *e;
	const char *why;
	char *path = xasprintf("%s/main.cf", empty_dir);
	char *args = xasprintf("-c %s -x -h smtp_helo_name", empty_dir);
	char *ours;
	struct timeval past[2] = {{1000000000, 0}, {1000000000, 0}};
	FILE *fp;
	int bad = 0, rc;

	if (!have_postconf)
		skip();
	for (e = expressions; *e; e++) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fprintf(fp, "a = A\nempty =\nlev = 3.6\nref = $empty\n"
			"compatibility_level = 3.6\nmydomain = example.org\n"
			"loop1 = $loop2\nloop2 = $loop1\n"
			"smtp_helo_name = %s\n", *e);
		fclose(fp);
		/* postconf waits while main.cf looks freshly edited. */
		assert_int_equal(utimes(path, past), 0);
		rc = run_postconf(args, &out, &err);
		params_read_main_cf(empty_dir);
		ours = param_expand(param_get_raw("smtp_helo_name"), &why);
		if (rc != 0 ? ours != NULL
		    : ours == NULL || strcmp(ours, strbuf_str(&out)) != 0) {
			print_error("\"%s\": postconf %s\"%s\", ours %s\"%s\""
				    "\n", *e, rc ? "failed " : "",
				    strbuf_str(&out), ours ? "" : "failed ",
				    ours ? ours : why);
			bad++;
		}
		free(ours);
	}
	unlink(path);
	params_read_main_cf(empty_dir);
	strbuf_release(&out);
	strbuf_release(&err);
	free(path);
	free(args);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_postconf),
		cmocka_unit_test(test_no_missing_lmtp_twin),
		cmocka_unit_test(test_seed_names_in_table),
		cmocka_unit_test(test_expansion_matches_postconf),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
