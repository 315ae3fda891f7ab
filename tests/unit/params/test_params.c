/*
 * test_params - main.cf parsing, -o overrides, $name expansion,
 * conversions and SMTP/LMTP name selection
 *
 * The expected values come from Postfix 3.7.11 itself: "postconf -x" for
 * expansion results and error cases, and its smtp(8) run with bad
 * main.cf values for the fatal messages.  Fatal paths run in a child
 * process (run_child()) whose stderr is captured.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "global/params.h"
#include "util/msg.h"
#include "util/xmalloc.h"

static char *conf_dir;

/* write_main_cf - replace the test main.cf and read it */
static void
write_main_cf(const char *text)
{
	char *path = xasprintf("%s/main.cf", conf_dir);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(path);
	params_read_main_cf(conf_dir);
}

/* no_main_cf - read a directory without main.cf: all defaults */
static void
no_main_cf(void)
{
	char *path = xasprintf("%s/main.cf", conf_dir);

	unlink(path);
	free(path);
	params_read_main_cf(conf_dir);
}

/* expand - param_expand() that must succeed; caller frees */
static char *
expand_ok(const char *text)
{
	const char *err = NULL;
	char *out = param_expand(text, &err);

	if (out == NULL)
		fail_msg("\"%s\": unexpected error: %s", text, err);
	assert_null(err);
	return out;
}

#define assert_expands(text, want) do { \
		char *_got = expand_ok(text); \
		if (strcmp(_got, (want)) != 0) \
			fail_msg("\"%s\" -> \"%s\", want \"%s\"", (text), \
				 _got, (want)); \
		free(_got); \
	} while (0)

#define assert_expand_error(text, want_substring) do { \
		const char *_err = NULL; \
		char *_got = param_expand((text), &_err); \
		if (_got != NULL) \
			fail_msg("\"%s\" -> \"%s\", want an error", (text), \
				 _got); \
		assert_non_null(_err); \
		if (strstr(_err, (want_substring)) == NULL) \
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", (text), \
				 _err, (want_substring)); \
	} while (0)

/* run_child - run fn in a child; return its exit status and stderr */
static int
run_child(void (*fn)(const void *), const void *arg, char *out, size_t size)
{
	int fds[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		msg_stderr_enable(1);
		msg_fatal_delay = 0;
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while (got + 1 < size
	       && (n = read(fds[0], out + got, size - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* child_read_main_cf - child: write and read the given main.cf */
static void
child_read_main_cf(const void *text)
{
	write_main_cf(text);
}

/* child_override - child: record one -o option */
static void
child_override(const void *text)
{
	params_override(text);
}

/* child_load - child: read the given main.cf, load in SMTP mode */
static void
child_load(const void *text)
{
	write_main_cf(text);
	params_load(0);
}

/* child_load_lmtp - child: read the given main.cf, load in LMTP mode */
static void
child_load_lmtp(const void *text)
{
	write_main_cf(text);
	params_load(1);
}

#define assert_fatal(fn, arg, want_substring) do { \
		char _buf[4096]; \
		int _st = run_child((fn), (arg), _buf, sizeof(_buf)); \
		if (_st != 1 || strstr(_buf, (want_substring)) == NULL) \
			fail_msg("status %d, stderr \"%s\", want 1 and " \
				 "\"%s\"", _st, _buf, (want_substring)); \
	} while (0)

static int
group_setup(void **state)
{
	char tmpl[] = "/tmp/postern-params-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	conf_dir = xstrdup(tmpl);
	return 0;
}

static int
group_teardown(void **state)
{
	char *path = xasprintf("%s/main.cf", conf_dir);

	unlink(path);
	rmdir(conf_dir);
	free(path);
	free(conf_dir);
	return 0;
}

/* Each test starts from an empty main.cf and no overrides it made. */
static int
test_setup(void **state)
{
	no_main_cf();
	return 0;
}

static void
test_expand_plain(void **state)
{
	write_main_cf("a = A\nempty =\na_b = X\n1a = One\n");
	assert_expands("$a", "A");
	assert_expands("${a}", "A");
	assert_expands("$(a)", "A");
	assert_expands("${ a }", "A");
	assert_expands("x${a}y$(a)z", "xAyAz");
	assert_expands("$$a", "$a");
	assert_expands("$$$$", "$$");
	assert_expands("$a.b", "A.b");		/* name stops at '.' */
	assert_expands("$a_b-c", "X-c");
	assert_expands("$1a", "One");
	assert_expands("$undefined", "");
	assert_expands("${undefined}z", "z");
	assert_expands("x$ay", "x");		/* the name is "ay" */
	assert_expands("$empty", "");
	assert_expands("{a}", "{a}");
	assert_expands("${a}}", "A}");
	assert_expands("${a}{", "A{");
	assert_expands("", "");
}

static void
test_expand_conditional(void **state)
{
	write_main_cf("a = A\nempty =\nref = $empty\n");
	/* ${name?value}: value when name is non-empty */
	assert_expands("${a?yes}", "yes");
	assert_expands("${empty?yes}", "");
	assert_expands("${undefined?yes}", "");
	assert_expands("${a? yes}", "yes");
	assert_expands("${a?yes }", "yes");
	assert_expands("${a?yes:no}", "yes:no");	/* the old form */
	assert_expands("${a?$a$a}", "AA");
	assert_expands("$(a?x(y)z)", "x(y)z");
	assert_expands("$(a?x)y)", "xy)");
	assert_expands("${a?x}y}", "xy}");
	assert_expands("${a?}", "");
	/* ${name:value}: value when name is empty or undefined */
	assert_expands("${a:no}", "");
	assert_expands("${empty:no}", "no");
	assert_expands("${undefined:no}", "no");
	assert_expands("${empty: no}", "no");
	assert_expands("${a  :x}", "");
	assert_expands("${empty  :x}", "x");
	assert_expands("${a:}", "");
	/* The 3.x braced forms */
	assert_expands("${a?{yes}}", "yes");
	assert_expands("${a?{yes}:{no}}", "yes");
	assert_expands("${empty?{yes}:{no}}", "no");
	assert_expands("${undefined?{yes}:{no}}", "no");
	assert_expands("${a ? {yes} : {no}}", "yes");
	assert_expands("${ a ?x}", "x");
	assert_expands("${a?{yes}:no}", "yes");
	assert_expands("${empty?{yes}:no}", "no");
	assert_expands("${a:{no}}", "");
	assert_expands("${empty:{no}}", "no");
	assert_expands("${a?{}:{no}}", "");
	assert_expands("${a?{$a}}", "A");
	assert_expands("${a?{x{y}z}}", "x{y}z");
	assert_expands("${a?x{y}z}", "x{y}z");
	/* Postfix tests the raw value: "$empty" is not empty. */
	assert_expands("${ref?set}${ref:unset}", "set");
	/* Only the chosen branch is expanded. */
	assert_expands("${a?{x}:{${bad-name}}}", "x");
	assert_expands("${empty?{${bad-name}}:{y}}", "y");
}

static void
test_expand_expression(void **state)
{
	write_main_cf("a = A\nlev = 3.6\nnum = 10\n");
	assert_expands("${{A} == {$a} ? {eq} : {ne}}", "eq");
	assert_expands("${{A} != {$a} ? {eq} : {ne}}", "ne");
	assert_expands("${{A}=={$a}?{eq}:{ne}}", "eq");
	assert_expands("${ {A} == {$a} ? {eq} : {ne} }", "eq");
	assert_expands("${{A}   ==   {A}   ?   {t}   :   {f}   }", "t");
	assert_expands("${{ 2 } == {2} ? {eq} : {ne}}", "ne");
	assert_expands("${{2} == {02} ? {x} : {y}}", "x");
	/* Without branches: "true" or nothing; a lone branch */
	assert_expands("${{A} == {A}}", "true");
	assert_expands("${{A} != {A}}", "");
	assert_expands("${{A} == {A} ? {x}}", "x");
	assert_expands("${{A} != {A} ? {x}}", "");
	assert_expands("${{A} == {A} ? {x} :}", "x");
	assert_expands("${{A} == {A} : {x}}", "");
	assert_expands("${{A} != {A} : {x}}", "x");
	assert_expands("${{A} == {A} ? x : y}", "x : y");
	assert_expands("${{A}=={A}?{t}: x }", "t");
	/* Compatibility levels compare per component. */
	assert_expands("${{3.6} <level {3.10} ? {lt} : {ge}}", "lt");
	assert_expands("${{$lev} <=level {3.6} ? {le} : {gt}}", "le");
	assert_expands("${{$lev} >level {3.6} ? {gt} : {le}}", "le");
	assert_expands("${{$lev} >=level {3.6} ? {ge} : {lt}}", "ge");
	assert_expands("${{3.10.1} >level {3.10} ? {gt} : {le}}", "gt");
	assert_expands("${{3} ==level {3.0} ? {x} : {y}}", "x");
	assert_expands("${{3.6} !=level {3.6.0}?{t}:{f}}", "f");
	assert_expands("${{1} <level {0} ? {x} : {y}}", "y");
	assert_expands("${{03.6} >=level {3.6} ? {x} : {y}}", "x");
	assert_expands("${{3.6.2} <level {3.6.10}?{x}:{y}}", "x");
	assert_expands("${{+3} ==level {3}?{x}:{y}}", "x");
	/* The others compare numbers when both are numbers */
	assert_expands("${{2} < {10} ? {lt} : {ge}}", "lt");
	assert_expands("${{$num} <= {10} ? {le} : {gt}}", "le");
	assert_expands("${{a} < {10} ? {lt} : {ge}}", "ge");
	assert_expands("${{2} < {b} ? {lt} : {ge}}", "lt");
	assert_expands("${{-2} < {1} ? {x} : {y}}", "x");
	/* Nested */
	assert_expands("${{${a?x}} == {x} ? {y} : {n}}", "y");
	assert_expands("${{A}=={A}?{${{B}=={B}?{deep}:{no}}}:{n}}", "deep");
	assert_expands("${{$undefined} == {} ? {u} : {d}}", "u");
	/* The defaults that use it */
	assert_expands("${{$compatibility_level} <level {3.6} ? {md5} : "
		       "{sha256}}", "md5");
}

static void
test_expand_recursive(void **state)
{
	write_main_cf("a = $b\nb = ${c}!\nc = $(d)\nd = deep\n"
		      "dollar = $$x\nwrapped = [$dollar]\n");
	assert_expands("$a", "deep!");
	/* "$$" yields a "$" that is not expanded again. */
	assert_expands("$dollar", "$x");
	assert_expands("$wrapped", "[$x]");
	assert_string_equal(param_get("a"), "deep!");
	assert_string_equal(param_get_raw("a"), "$b");
	/* Table defaults take part too. */
	assert_expands("$smtp_sasl_tls_verified_security_options",
		       "noplaintext, noanonymous");
	assert_expands("$syslog_name", "postfix");
	assert_expands("$smtp_per_request_deadline", "no");
	write_main_cf("multi_instance_name = pf2\n"
		      "smtp_per_record_deadline = yes\n");
	assert_expands("$syslog_name", "pf2");
	assert_expands("$smtp_per_request_deadline", "yes");
}

static void
test_expand_errors(void **state)
{
	struct {
		const char *text;
		const char *err;
	} *c, cases[] = {
		{"${a", "truncated macro reference"},
		{"$(a}", "truncated macro reference"},
		{"${a?{yes}", "truncated macro reference"},
		{"${{a} == {a}?{t{}:{f}}", "truncated macro reference"},
		{"${a?x{}", "truncated macro reference"},
		{"$", "empty macro name"},
		{"a$", "empty macro name"},
		{"$ a", "empty macro name"},
		{"${}", "empty macro name"},
		{"${?x}", "empty macro name"},
		{"${a-b}", "attribute name syntax error"},
		{"${a.b}", "attribute name syntax error"},
		{"${a?{yes}junk}", "\":\" expected"},
		{"${a?{x} {y}}", "\":\" expected"},
		{"${a:{x}:{y}}", "unexpected input"},
		{"${a?{x}:{y}:{z}}", "unexpected input"},
		{"${{A} === {A} ? {x} : {y}}", "\"==\" or \"!=\""},
		{"${{A} <> {A}?{t}:{f}}", "\"==\" or \"!=\""},
		{"${{A} =< {A}?{t}:{f}}", "\"==\" or \"!=\""},
		{"${{A} {A}}", "\"==\" or \"!=\""},
		{"${{A}}", "\"==\" or \"!=\""},
		{"${{A} <lev {A}?{t}:{f}}", "bad operator suffix"},
		{"${{A} <levelx {A}?{t}:{f}}", "bad operator suffix"},
		{"${{A}==LEVEL{A}?{t}:{f}}", "bad operator suffix"},
		{"${{A} ==}", "\"{expression}\" expected"},
		{"${{A} == {A} ? {x} : {y} z}", "unexpected input"},
		{"${{a} <level {3} ? {lt} : {ge}}", "malformed compatibility"},
		{"${{3.6x} >=level {3.6} ? {x} : {y}}", "malformed compat"},
		{"${{3.} >=level {3.6} ? {x} : {y}}", "malformed compat"},
		{"${{} <level {3.6} ? {x} : {y}}", "malformed compat"},
		{"${{-3} <level {3}?{t}:{f}}", "malformed compat"},
		{"${{3.6.2.1} ==level {3.6.2}?{t}:{f}}", "malformed compat"},
		{"${{3.-1} ==level {3}?{t}:{f}}", "malformed compat"},
		{"$loop1", "unreasonable macro call nesting"},
		{"$self", "unreasonable macro call nesting"},
		{"${a?{$self}}", "unreasonable macro call nesting"},
		{"$bad", "attribute name syntax error"},
		{NULL, NULL},
	};

	write_main_cf("a = A\nloop1 = $loop2\nloop2 = x${loop1}\n"
		      "self = x$self\nbad = ${x-y}\n");
	for (c = cases; c->text; c++)
		assert_expand_error(c->text, c->err);
	/* A name that is not referenced is not expanded: no error. */
	assert_expands("$a", "A");
	/* A legal chain longer than the depth limit is refused. */
	{
		char *cf = xstrdup("");
		char *next;
		int i;

		for (i = 0; i < 150; i++) {
			next = xasprintf("%sn%d = $n%d\n", cf, i, i + 1);
			free(cf);
			cf = next;
		}
		write_main_cf(cf);
		free(cf);
		assert_expand_error("$n0", "unreasonable macro call nesting");
		assert_expands("$n100", "");
	}
}

static void
test_main_cf_syntax(void **state)
{
	write_main_cf("# comment\n"
		      "\n"
		      "a = one\n"
		      "  two\n"
		      "\tthree\n"
		      "b=x=y\n"
		      "c   =   spaced   \n"
		      "d = v # not a comment\n"
		      "e = first\n"
		      "  # an indented comment inside a continued line\n"
		      "\n"
		      "   \n"
		      "  second\n"
		      "f = crlf\r\n"
		      "g =\n"
		      "h =\n"
		      "  only continued\n"
		      "i = kept  \n"
		      " trailing\n"
		      "dup = 1\n"
		      "dup = 2\n"
		      "#j = commented out\n");
	assert_string_equal(param_get_raw("a"), "one  two\tthree");
	assert_string_equal(param_get_raw("b"), "x=y");
	assert_string_equal(param_get_raw("c"), "spaced");
	assert_string_equal(param_get_raw("d"), "v # not a comment");
	assert_string_equal(param_get_raw("e"), "first  second");
	assert_string_equal(param_get_raw("f"), "crlf");
	assert_string_equal(param_get_raw("g"), "");
	assert_string_equal(param_get_raw("h"), "only continued");
	assert_string_equal(param_get_raw("i"), "kept   trailing");
	assert_string_equal(param_get_raw("dup"), "2");
	assert_null(param_get_raw("j"));
	assert_null(param_get("j"));

	/* Reading again replaces the earlier main.cf entirely. */
	write_main_cf("k = K\n");
	assert_null(param_get_raw("a"));
	assert_string_equal(param_get("k"), "K");

	/* No main.cf at all: every default. */
	no_main_cf();
	assert_null(param_get("k"));
	assert_string_equal(param_get("smtp_connect_timeout"), "30s");
}

static void
test_main_cf_leading_space(void **state)
{
	char buf[4096];

	/* postconf skips it with a warning; so do we. */
	assert_int_equal(run_child(child_read_main_cf,
				   "  x = y\nsmtp_helo_name = a\n",
				   buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "warning: "));
	assert_non_null(strstr(buf, "main.cf, line 1: logical line must "
			       "not start with whitespace"));
}

static void
test_main_cf_fatal(void **state)
{
	assert_fatal(child_read_main_cf, "a = 1\n# c\nfoo\n",
		     "main.cf, line 3: missing '=' after attribute name: "
		     "\"foo\"");
	assert_fatal(child_read_main_cf, "smtp helo = a\n",
		     "main.cf, line 1: missing '=' after attribute name");
	assert_fatal(child_read_main_cf, "a = 1\n= x\n",
		     "main.cf, line 2: missing attribute name: \"= x\"");
	/* The line number is where the logical line starts. */
	assert_fatal(child_read_main_cf, "a = 1\nb\n  = 2\nc\n",
		     "main.cf, line 4: missing '='");
}

static void
test_overrides(void **state)
{
	write_main_cf("smtp_helo_name = from.main.cf\nx = main\n");
	assert_string_equal(param_get("x"), "main");
	params_override("x=override");
	assert_string_equal(param_get("x"), "override");
	params_override("  y  =  spaced value  ");
	assert_string_equal(param_get_raw("y"), "spaced value");
	/* main.cf read after -o does not beat -o */
	write_main_cf("x = main2\n");
	assert_string_equal(param_get("x"), "override");
	/* Later writes win: params_set() after -o and vice versa. */
	params_set("x", "set");
	assert_string_equal(param_get("x"), "set");
	params_override("x=again");
	assert_string_equal(param_get("x"), "again");
	/* $service_name in an -o value expands to the program's value. */
	params_override("syslog_name=postfix/$service_name");
	params_set("service_name", "relay");
	assert_string_equal(param_get("syslog_name"), "postfix/relay");
	params_set("x", NULL);
	params_set("y", NULL);
	params_set("syslog_name", NULL);
	params_set("service_name", NULL);
	assert_string_equal(param_get("x"), "main2");
	assert_null(param_get("y"));
	assert_string_equal(param_get("syslog_name"), "postfix");
}

static void
test_override_fatal(void **state)
{
	assert_fatal(child_override, "novalue",
		     "expected name=value");
	assert_fatal(child_override, "=x",
		     "expected name=value");
}

static void
test_parse_bool(void **state)
{
	int v = -1;

	assert_int_equal(param_parse_bool("yes", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(param_parse_bool("NO", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(param_parse_bool("Yes", &v), 0);
	assert_int_equal(v, 1);
	/* Postfix: "bad boolean configuration: smtp_use_tls = true" */
	assert_int_equal(param_parse_bool("true", &v), -1);
	assert_int_equal(param_parse_bool("false", &v), -1);
	assert_int_equal(param_parse_bool("1", &v), -1);
	assert_int_equal(param_parse_bool("", &v), -1);
	assert_int_equal(param_parse_bool("yes ", &v), -1);
}

static void
test_parse_time(void **state)
{
	int v = -1;

	assert_int_equal(param_parse_time("30s", 's', &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(param_parse_time("30", 's', &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(param_parse_time("2", 'd', &v), 0);
	assert_int_equal(v, 2 * 86400);
	assert_int_equal(param_parse_time("5m", 'd', &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(param_parse_time("2h", 's', &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(param_parse_time("1w", 's', &v), 0);
	assert_int_equal(v, 604800);
	assert_int_equal(param_parse_time("0", 's', &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(param_parse_time("+5s", 's', &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(param_parse_time("05s", 's', &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(param_parse_time("2147483647s", 's', &v), 0);
	assert_int_equal(v, 2147483647);
	/* Postfix: "bad time value or unit" */
	assert_int_equal(param_parse_time("1W", 's', &v), -1);
	assert_int_equal(param_parse_time("1x", 's', &v), -1);
	assert_int_equal(param_parse_time("-1", 's', &v), -1);
	assert_int_equal(param_parse_time("1 s", 's', &v), -1);
	assert_int_equal(param_parse_time("0x10s", 's', &v), -1);
	assert_int_equal(param_parse_time("", 's', &v), -1);
	assert_int_equal(param_parse_time("s", 's', &v), -1);
	assert_int_equal(param_parse_time("2147483648s", 's', &v), -1);
	assert_int_equal(param_parse_time("3551w", 's', &v), -1);
	assert_int_equal(param_parse_time("99999999999999999999", 's', &v),
			 -1);
	/* Postfix 3.7 ignores junk after the unit; we do not. */
	assert_int_equal(param_parse_time("1mx", 's', &v), -1);
	assert_int_equal(param_parse_time("1ms", 's', &v), -1);
}

static void
test_parse_long(void **state)
{
	long v = -1;

	assert_int_equal(param_parse_long("10", &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(param_parse_long("-3", &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(param_parse_long("+5", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(param_parse_long("010", &v), 0);	/* decimal */
	assert_int_equal(v, 10);
	assert_int_equal(param_parse_long("0x10", &v), -1);
	assert_int_equal(param_parse_long("5x", &v), -1);
	assert_int_equal(param_parse_long("", &v), -1);
	assert_int_equal(param_parse_long("-", &v), -1);
	assert_int_equal(param_parse_long("99999999999999999999", &v), -1);
}

static void
test_load_smtp_defaults(void **state)
{
	char host[256] = "";

	params_load(0);
	assert_int_equal(params_lmtp_mode, 0);
	assert_int_equal(var_smtp_connect_timeout, 30);
	assert_int_equal(var_smtp_helo_timeout, 300);
	assert_int_equal(var_smtp_sasl_auth_cache_time, 90 * 86400);
	assert_int_equal(var_smtp_skip_quit_response, 1);
	assert_int_equal(var_smtp_line_length_limit, 998);
	assert_int_equal(var_max_use, 100);
	assert_int_equal(var_max_idle, 100);
	assert_int_equal(var_smtputf8_enable, 0);	/* level 0 */
	assert_int_equal(var_smtp_per_request_deadline, 0);
	assert_string_equal(var_smtp_tcp_port, "smtp");
	assert_string_equal(var_smtp_tls_fingerprint_digest, "md5");
	assert_string_equal(var_smtp_tls_dane_insecure_mx_policy, "may");
	assert_string_equal(var_smtp_helo_name, var_myhostname);
	assert_string_equal(var_myorigin, var_myhostname);
	assert_string_equal(var_smtp_sasl_tls_security_options,
			    "noplaintext, noanonymous");
	assert_string_equal(var_address_verify_service_name, "verify");
	assert_string_equal(var_syslog_name, "postfix");
	/* RAW rows keep their text; param_get() still expands it. */
	assert_string_equal(var_transport_destination_recipient_limit,
			    "$default_destination_recipient_limit");
	assert_string_equal(param_get("transport_destination_recipient_limit"),
			    "50");
	/* The LMTP-only row gets its default in SMTP mode. */
	assert_string_equal(var_lmtp_cache_connection, "yes");
	/* Run-time defaults */
	assert_int_equal(var_process_id, (int)getpid());
	assert_string_equal(var_process_name, program_invocation_short_name);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	if (strchr(host, '.')) {
		assert_string_equal(var_myhostname, host);
	} else {
		char *want = xasprintf("%s.localdomain", host);

		assert_string_equal(var_myhostname, want);
		assert_string_equal(var_mydomain, "localdomain");
		free(want);
	}
}

static void
test_load_smtp_main_cf(void **state)
{
	write_main_cf("smtp_connect_timeout = 2\n"
		      "lmtp_connect_timeout = 9\n"
		      "smtp_sasl_auth_cache_time = 2\n"
		      "smtp_helo_timeout = 5m\n"
		      "myhostname = mx.example.com\n"
		      "smtp_use_tls = YES\n"
		      "compatibility_level = 3.6\n"
		      "transport_destination_recipient_limit = $$bogus\n"
		      "max_use = 7\n");
	params_override("max_use=8");
	params_load(0);
	assert_int_equal(var_smtp_connect_timeout, 2);
	assert_int_equal(var_smtp_sasl_auth_cache_time, 2 * 86400);
	assert_int_equal(var_smtp_helo_timeout, 300);
	assert_int_equal(var_smtp_use_tls, 1);
	assert_int_equal(var_smtputf8_enable, 1);
	assert_int_equal(var_max_use, 8);
	assert_string_equal(var_smtp_tls_fingerprint_digest, "sha256");
	assert_string_equal(var_smtp_helo_name, "mx.example.com");
	assert_string_equal(var_mydomain, "example.com");
	assert_string_equal(var_transport_destination_recipient_limit,
			    "$$bogus");
	params_set("max_use", NULL);
}

static void
test_load_lmtp(void **state)
{
	write_main_cf("smtp_connect_timeout = 5s\n"
		      "smtp_helo_name = smtp.example\n"
		      "lmtp_lhlo_name = lmtp.example\n"
		      "smtp_tls_security_level = encrypt\n"
		      "lmtp_rcpt_timeout = 1h\n"
		      "smtp_rcpt_timeout = 2h\n"
		      "max_idle = 7\n"
		      "smtp_sasl_security_options = smtp-only\n"
		      "lmtp_assume_final = yes\n");
	params_load(1);
	assert_int_equal(params_lmtp_mode, 1);
	/* lmtp_* names, with their own defaults */
	assert_int_equal(var_smtp_connect_timeout, 0);
	assert_int_equal(var_smtp_skip_quit_response, 0);
	assert_string_equal(var_smtp_tcp_port, "24");
	assert_string_equal(var_smtp_fallback_relay, "");
	assert_string_equal(var_smtp_tls_secure_cert_match, "nexthop");
	assert_string_equal(var_smtp_helo_name, "lmtp.example");
	assert_int_equal(var_smtp_rcpt_timeout, 3600);
	assert_string_equal(var_smtp_tls_security_level, "");
	/* lmtp_sasl_tls_security_options = $lmtp_sasl_security_options */
	assert_string_equal(var_smtp_sasl_tls_security_options,
			    "noplaintext, noanonymous");
	/* Shared rows are read by their one name in both modes. */
	assert_int_equal(var_max_idle, 7);
	assert_int_equal(var_lmtp_assume_final, 1);
	/* No lmtp_ twin: LMTP reads the smtp_ name, whose default refers
	 * to the smtp_ level, as postconf shows. */
	assert_string_equal(var_smtp_tls_dane_insecure_mx_policy, "may");
	/* Back to SMTP mode */
	params_load(0);
	assert_int_equal(var_smtp_connect_timeout, 5);
	assert_string_equal(var_smtp_helo_name, "smtp.example");
	assert_int_equal(var_smtp_rcpt_timeout, 7200);
	assert_string_equal(var_smtp_tcp_port, "smtp");
	assert_string_equal(var_smtp_tls_dane_insecure_mx_policy, "may");
	assert_int_equal(var_lmtp_assume_final, 1);
}

static void
test_load_fatal(void **state)
{
	assert_fatal(child_load, "smtp_use_tls = true\n",
		     "fatal: bad boolean configuration: smtp_use_tls = true");
	assert_fatal(child_load, "max_use = 0\n",
		     "fatal: invalid max_use parameter value 0 < 1");
	assert_fatal(child_load, "line_length_limit = 100\n",
		     "invalid line_length_limit parameter value 100 < 512");
	assert_fatal(child_load, "smtp_helo_timeout = 0\n",
		     "fatal: invalid smtp_helo_timeout: 0 (min 1)");
	assert_fatal(child_load, "delay_logging_resolution_limit = 7\n",
		     "invalid delay_logging_resolution_limit parameter value "
		     "7 > 6");
	assert_fatal(child_load, "smtp_connect_timeout = 1x\n",
		     "parameter smtp_connect_timeout: bad time value or unit: "
		     "1x");
	assert_fatal(child_load, "smtp_mx_address_limit = 99999999999\n",
		     "bad numerical configuration: smtp_mx_address_limit = "
		     "99999999999");
	assert_fatal(child_load, "smtp_helo_name = ${oops\n",
		     "fatal: main.cf: parameter smtp_helo_name: bad syntax: "
		     "truncated macro reference");
	assert_fatal(child_load, "compatibility_level = three\n",
		     "main.cf: parameter smtp_tls_fingerprint_digest: bad "
		     "syntax: malformed compatibility level");
	assert_fatal(child_load, "smtp_per_record_deadline = maybe\n",
		     "bad boolean configuration: smtp_per_request_deadline = "
		     "maybe");
	/* Strings: min and max bound the length. */
	assert_fatal(child_load, "smtp_helo_name =\n",
		     "fatal: bad string length 0 < 1: smtp_helo_name = ");
	assert_fatal(child_load, "mydomain = ${empty}\n",
		     "fatal: bad string length 0 < 1: mydomain = ");
	/* Postfix fails on this too ("bad string length 0 < 1: mydomain") */
	assert_fatal(child_load, "myhostname = mail.$mydomain\n",
		     "unreasonable macro call nesting");
	assert_fatal(child_load_lmtp, "lmtp_lhlo_name =\n",
		     "fatal: bad string length 0 < 1: lmtp_lhlo_name = ");
	/* LMTP mode checks the lmtp_ name, not the smtp_ one. */
	assert_fatal(child_load_lmtp, "lmtp_rset_timeout = 0\n",
		     "invalid lmtp_rset_timeout: 0 (min 1)");
	{
		char buf[4096];

		assert_int_equal(run_child(child_load_lmtp,
					   "smtp_rset_timeout = 0\n"
					   "smtp_helo_name =\n", buf,
					   sizeof(buf)), 0);
		assert_int_equal(run_child(child_load,
					   "lmtp_rset_timeout = 0\n", buf,
					   sizeof(buf)), 0);
		/* Values Postfix accepts: no check for min 0 rows */
		assert_int_equal(run_child(child_load,
					   "smtp_mx_address_limit = -1\n"
					   "smtp_connect_timeout = 0\n", buf,
					   sizeof(buf)), 0);
		/* RAW rows are never converted */
		assert_int_equal(run_child(child_load,
					   "smtp_skip_4xx_greeting = ${x\n",
					   buf, sizeof(buf)), 0);
	}
}

static void
test_param_get(void **state)
{
	write_main_cf("custom = <$myhostname>\nempty =\n");
	params_set("myhostname", "h.example.net");
	assert_string_equal(param_get("custom"), "<h.example.net>");
	assert_string_equal(param_get("mydomain"), "example.net");
	assert_string_equal(param_get("empty"), "");
	assert_null(param_get("no_such_parameter"));
	assert_null(param_get_raw("no_such_parameter"));
	/* Table names without main.cf: the default of their column */
	assert_string_equal(param_get_raw("lmtp_tcp_port"), "24");
	assert_string_equal(param_get_raw("smtp_tcp_port"), "smtp");
	assert_string_equal(param_get_raw("smtp_tls_key_file"),
			    "$smtp_tls_cert_file");
	assert_string_equal(param_get_raw("lmtp_tls_key_file"),
			    "$lmtp_tls_cert_file");
	/* The result stays put while nothing changes. */
	{
		const char *a = param_get("custom");
		const char *b = param_get("smtp_helo_name");

		assert_ptr_equal(a, param_get("custom"));
		assert_string_equal(b, "h.example.net");
	}
	params_set("myhostname", NULL);
	/* mydomain set explicitly is appended to a dot-less host name */
	params_set("mydomain", "example.org");
	{
		char host[256] = "";
		char *want;

		assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
		want = strchr(host, '.') ? xstrdup(host)
		    : xasprintf("%s.example.org", host);
		assert_string_equal(param_get("myhostname"), want);
		free(want);
	}
	params_set("mydomain", NULL);
}

static void
test_table_sanity(void **state)
{
	int i, j;

	assert_true(param_table_size >= 200);
	for (i = 0; i < param_table_size; i++) {
		const struct param_info *r = param_table + i;

		assert_true(r->smtp_name || r->lmtp_name);
		assert_true(r->type >= PARAM_STR && r->type <= PARAM_TIME);
		assert_non_null(r->var);
		if (r->lmtp_name == NULL)
			assert_null(r->lmtp_default);
		if (r->min && r->max)
			assert_true(r->min <= r->max);
		for (j = 0; j < i; j++) {
			const struct param_info *s = param_table + j;

			if (r->smtp_name && s->smtp_name)
				assert_string_not_equal(r->smtp_name,
							s->smtp_name);
			if (r->lmtp_name && s->lmtp_name)
				assert_string_not_equal(r->lmtp_name,
							s->lmtp_name);
			if (r->smtp_name && s->lmtp_name)
				assert_string_not_equal(r->smtp_name,
							s->lmtp_name);
			if (r->lmtp_name && s->smtp_name)
				assert_string_not_equal(r->lmtp_name,
							s->smtp_name);
			assert_ptr_not_equal(r->var, s->var);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_expand_plain, test_setup),
		cmocka_unit_test_setup(test_expand_conditional, test_setup),
		cmocka_unit_test_setup(test_expand_expression, test_setup),
		cmocka_unit_test_setup(test_expand_recursive, test_setup),
		cmocka_unit_test_setup(test_expand_errors, test_setup),
		cmocka_unit_test_setup(test_main_cf_syntax, test_setup),
		cmocka_unit_test_setup(test_main_cf_leading_space, test_setup),
		cmocka_unit_test_setup(test_main_cf_fatal, test_setup),
		cmocka_unit_test_setup(test_overrides, test_setup),
		cmocka_unit_test_setup(test_override_fatal, test_setup),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test_setup(test_load_smtp_defaults, test_setup),
		cmocka_unit_test_setup(test_load_smtp_main_cf, test_setup),
		cmocka_unit_test_setup(test_load_lmtp, test_setup),
		cmocka_unit_test_setup(test_load_fatal, test_setup),
		cmocka_unit_test_setup(test_param_get, test_setup),
		cmocka_unit_test(test_table_sanity),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
