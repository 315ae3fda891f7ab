/*
 * test_maps - unit tests of src/maps: list syntax, lookup order and
 * flags, error semantics, the address search order, domain lists,
 * Berkeley DB key conventions and change detection.  The comparison
 * with Postfix's own postmap is tests/integration/test_maps.py.
 */
#include <db.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

static char tmpdir[] = "/tmp/postern-maps-XXXXXX";

/* write_file - tmpdir/name with text; returns the path (xmalloc'd) */
static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* make_db - a hash:/btree: file; with_nul stores keys/values with NUL */
static void
make_db(const char *path, DBTYPE type, int with_nul, const char **kv)
{
	char *tmp = xasprintf("%s.db.tmp", path), *db_path;
	DB *db;

	unlink(tmp);
	assert_int_equal(db_create(&db, NULL, 0), 0);
	assert_int_equal(db->open(db, NULL, tmp, NULL, type, DB_CREATE, 0644),
			 0);
	for (; kv[0]; kv += 2) {
		DBT k, v;

		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = (void *)kv[0];
		k.size = (u_int32_t)(strlen(kv[0]) + !!with_nul);
		v.data = (void *)kv[1];
		v.size = (u_int32_t)(strlen(kv[1]) + !!with_nul);
		assert_int_equal(db->put(db, NULL, &k, &v, 0), 0);
	}
	db->close(db, 0);
	db_path = xasprintf("%s.db", path);
	/* Replace, as postmap does when it rebuilds. */
	assert_int_equal(rename(tmp, db_path), 0);
	free(db_path);
	free(tmp);
}

static void
test_split_list(void **state)
{
	char **argv = maps_split_list(" hash:/a,regexp:/b\tinline:{a=b, c=d},"
				      " {x y} ,,", 0);

	assert_string_equal(argv[0], "hash:/a");
	assert_string_equal(argv[1], "regexp:/b");
	assert_string_equal(argv[2], "inline:{a=b, c=d}");
	assert_string_equal(argv[3], "{x y}");
	assert_null(argv[4]);
	maps_argv_free(argv);
	argv = maps_split_list("{ x y }, z", 1);
	assert_string_equal(argv[0], "x y");
	assert_string_equal(argv[1], "z");
	maps_argv_free(argv);
	argv = maps_split_list("", 0);
	assert_null(argv[0]);
	maps_argv_free(argv);
}

static void
test_order_fold_flags(void **state)
{
	char *rx = write_file("rx", "/^(.*)@pattern\\.test$/ rx-$1\n"
			      "/^@/ rx-saw-partial\n");
	char *spec = xasprintf("inline:{Fixed=one, k=inline}, regexp:%s, "
			       "static:{fallback value}", rx);
	struct maps *m = maps_create("test_maps", spec, MAPS_FLAGS_DEFAULT);

	assert_string_equal(maps_find(m, "FIXED", 0), "one");
	assert_int_equal(m->error, 0);
	assert_string_equal(maps_find(m, "k", 0), "inline");
	assert_string_equal(maps_find(m, "Joe@pattern.test", 0), "rx-Joe");
	assert_string_equal(maps_find(m, "other", 0), "fallback value");
	/* Partial keys skip pattern tables. */
	assert_string_equal(maps_find(m, "@x", MAPS_FLAG_FIXED),
			    "fallback value");
	assert_string_equal(maps_find(m, "@x", 0), "rx-saw-partial");
	/* Empty keys are never looked up. */
	assert_null(maps_find(m, "", 0));
	assert_int_equal(m->error, 0);
	maps_free(m);
	/* Without folding, fixed tables are case-sensitive. */
	m = maps_create("test_maps", "inline:{k=v}", 0);
	assert_null(maps_find(m, "K", 0));
	assert_string_equal(maps_find(m, "k", 0), "v");
	maps_free(m);
	free(spec);
	free(rx);
}

static void
test_errors(void **state)
{
	struct maps *m;

	/* A missing file: the list keeps a stand-in that fails. */
	m = maps_create("test_maps", "inline:{a=1}, hash:/nonexistent/x, "
			"inline:{b=2}", MAPS_FLAGS_DEFAULT);
	assert_string_equal(maps_find(m, "a", 0), "1");
	assert_null(maps_find(m, "b", 0));
	assert_int_equal(m->error, MAPS_ERR_CONFIG);
	maps_free(m);
	m = maps_create("test_maps", "nosuch:x", MAPS_FLAGS_DEFAULT);
	assert_null(maps_find(m, "b", 0));
	assert_int_equal(m->error, MAPS_ERR_CONFIG);
	maps_free(m);
	m = maps_create("test_maps", "fail:x", MAPS_FLAGS_DEFAULT);
	assert_null(maps_find(m, "b", 0));
	assert_int_equal(m->error, MAPS_ERR_RETRY);
	maps_free(m);
	m = maps_create("test_maps", "inline:{k=}", MAPS_FLAGS_DEFAULT);
	assert_null(maps_find(m, "k", 0));
	assert_int_equal(m->error, MAPS_ERR_CONFIG);
	maps_free(m);
	/* An empty list: not found, no error. */
	m = maps_create("test_maps", "", MAPS_FLAGS_DEFAULT);
	assert_null(maps_find(m, "k", 0));
	assert_int_equal(m->error, 0);
	maps_free(m);
}

static void
test_union_pipe(void **state)
{
	struct maps *m = maps_create("t", "unionmap:{inline:{a=1, b=2}, "
				     "inline:{a=3}}", MAPS_FLAGS_DEFAULT);

	assert_string_equal(maps_find(m, "a", 0), "1,3");
	assert_string_equal(maps_find(m, "b", 0), "2");
	assert_null(maps_find(m, "c", 0));
	maps_free(m);
	m = maps_create("t", "pipemap:{inline:{a=b}, inline:{b=c}}",
			MAPS_FLAGS_DEFAULT);
	assert_string_equal(maps_find(m, "a", 0), "c");
	assert_null(maps_find(m, "b", 0));
	assert_int_equal(m->error, 0);
	maps_free(m);
	m = maps_create("t", "unionmap:{inline:{a=1}, fail:x}",
			MAPS_FLAGS_DEFAULT);
	assert_null(maps_find(m, "a", 0));
	assert_int_equal(m->error, MAPS_ERR_RETRY);
	maps_free(m);
}

/* local_example - example.com is local */
static int
local_example(const char *domain, void *ctx)
{
	return strcmp(domain, "example.com") == 0;
}

static void
test_addr_find(void **state)
{
	struct maps *m = maps_create("t", "inline:{joe+x@example.com=full, "
				     "ann@example.com=bare, bob=local-bob, "
				     "carl@=carl-at, @example.org=at-domain}",
				     MAPS_FLAGS_DEFAULT);
	struct maps_addr_opts opts = { .rcpt_delim = "+",
				       .is_local = local_example };
	char *ext = NULL;

	assert_string_equal(maps_addr_find(m, "joe+x@example.com", &opts,
					   &ext), "full");
	assert_null(ext);
	assert_string_equal(maps_addr_find(m, "ann+y@example.com", &opts,
					   &ext), "bare");
	assert_string_equal(ext, "+y");
	free(ext);
	ext = NULL;
	assert_string_equal(maps_addr_find(m, "bob+z@example.com", &opts,
					   &ext), "local-bob");
	assert_string_equal(ext, "+z");
	free(ext);
	/* Postfix's exceptions to splitting. */
	ext = NULL;
	assert_null(maps_addr_find(m, "+ann@example.com", &opts, &ext));
	assert_null(ext);
	maps_free(m);
	m = maps_create("t", "inline:{owner-list@x.test=o, postmaster@x.test=p,"
			" a@x.test=a}", MAPS_FLAGS_DEFAULT);
	opts.rcpt_delim = "-+";
	assert_null(maps_addr_find(m, "owner-list-x@x.test", &opts, NULL));
	assert_string_equal(maps_addr_find(m, "a+b-c@x.test", &opts, &ext),
			    "a");
	assert_string_equal(ext, "+b-c");
	free(ext);
	maps_free(m);
	opts.rcpt_delim = "+";
	m = maps_create("t", "inline:{joe+x@example.com=full, "
			"ann@example.com=bare, bob=local-bob, "
			"carl@=carl-at, @example.org=at-domain}",
			MAPS_FLAGS_DEFAULT);
	/* bob is a local part only in local domains. */
	assert_null(maps_addr_find(m, "bob@example.net", &opts, NULL));
	assert_string_equal(maps_addr_find(m, "x@EXAMPLE.org", &opts, NULL),
			    "at-domain");
	/* user@ only with LOCALPART_AT(_IF_LOCAL). */
	assert_null(maps_addr_find(m, "carl@example.net", &opts, NULL));
	opts.strategy = MAPS_ADDR_DEFAULT | MAPS_ADDR_LOCALPART_AT;
	assert_string_equal(maps_addr_find(m, "carl@example.net", &opts,
					   NULL), "carl-at");
	maps_free(m);
}

static void
test_quoted_forms(void **state)
{
	struct maps *m = maps_create("t", "", MAPS_FLAGS_DEFAULT);
	struct maps_addr_opts opts = {
		.rcpt_delim = "+", .is_local = local_example,
		.query_form = MAPS_ADDR_QUERY_EXTERNAL_FIRST,
	};
	char *q;

	maps_free(m);
	q = maps_quote_local("john doe@example.com", 0);
	assert_string_equal(q, "\"john doe\"@example.com");
	free(q);
	q = maps_quote_local("a\"b@x", 0);
	assert_string_equal(q, "\"a\\\"b\"@x");
	free(q);
	q = maps_quote_local("plain.user@x", 0);
	assert_string_equal(q, "plain.user@x");
	free(q);
	q = maps_quote_local("a..b", 1);
	assert_string_equal(q, "\"a..b\"");
	free(q);
	q = maps_quote_local("@r1,@r2:x y@z", 0);
	assert_string_equal(q, "@r1,@r2:\"x y\"@z");
	free(q);

	char *f = write_file("q", "\"john doe\"@example.com quoted\n"
			     "\"ann smith\" ann-local\n"
			     "bob.@example.com unquoted-form\n");
	char *spec = xasprintf("texthash:%s", f);

	m = maps_create("t", spec, MAPS_FLAGS_DEFAULT);
	assert_string_equal(maps_addr_find(m, "john doe@example.com", &opts,
					   NULL), "quoted");
	assert_string_equal(maps_addr_find(m, "ann smith@example.com", &opts,
					   NULL), "ann-local");
	/* EXTERNAL_FIRST falls back to the unquoted spelling. */
	assert_string_equal(maps_addr_find(m, "bob.@example.com", &opts,
					   NULL), "unquoted-form");
	opts.query_form = MAPS_ADDR_QUERY_EXTERNAL;
	assert_null(maps_addr_find(m, "bob.@example.com", &opts, NULL));
	opts.query_form = MAPS_ADDR_QUERY_INTERNAL;
	assert_null(maps_addr_find(m, "john doe@example.com", &opts, NULL));
	maps_free(m);
	free(spec);
	free(f);
}

static void
test_domain_list(void **state)
{
	struct maps_domain_list *l =
		maps_domain_list_create("t", "!no.example.com, example.com, "
					".dot.test, inline:{example.org=x}", 0);

	assert_int_equal(maps_domain_list_match(l, "Example.COM"), 1);
	assert_int_equal(maps_domain_list_match(l, "a.example.com"), 0);
	assert_int_equal(maps_domain_list_match(l, "a.dot.test"), 1);
	assert_int_equal(maps_domain_list_match(l, "dot.test"), 0);
	assert_int_equal(maps_domain_list_match(l, "example.org"), 1);
	assert_int_equal(maps_domain_list_match(l, "a.example.org"), 0);
	maps_domain_list_free(l);
	l = maps_domain_list_create("t", "!no.example.com, example.com, "
				    "inline:{example.org=x}, fail:x", 1);
	assert_int_equal(maps_domain_list_match(l, "a.example.com"), 1);
	assert_int_equal(maps_domain_list_match(l, "no.example.com"), 0);
	assert_int_equal(l->error, 0);
	assert_int_equal(maps_domain_list_match(l, "a.b.example.org"), 1);
	assert_int_equal(maps_domain_list_match(l, "other.test"), 0);
	assert_int_equal(l->error, MAPS_ERR_RETRY);
	maps_domain_list_free(l);

	/* /file items: lines of patterns, '#' lines skipped, negation
	 * inherited; a missing file fails lookups that reach it. */
	char *f = write_file("dl", "# comment\nFile.Example a.test\n"
			     "!b.test\n");
	char *spec = xasprintf("!%s, c.test, /nonexistent/file, d.test # x, "
			       "e.test", f);

	l = maps_domain_list_create("t", spec, 0);
	assert_int_equal(maps_domain_list_match(l, "file.example"), 0);
	assert_int_equal(maps_domain_list_match(l, "b.test"), 1);
	assert_int_equal(maps_domain_list_match(l, "c.test"), 1);
	assert_int_equal(l->error, 0);
	assert_int_equal(maps_domain_list_match(l, "d.test"), 0);
	assert_int_equal(l->error, MAPS_ERR_CONFIG);
	assert_int_equal(maps_domain_list_match(l, "e.test"), 0);
	maps_domain_list_free(l);
	free(spec);
	free(f);
}

static void
test_namadr_list(void **state)
{
	struct maps_domain_list *l =
		maps_domain_list_create("t", "!10.0.0.1, 10.0.0.0/8, "
					"[2001:db8::1], [2001:db8:1::]/48, "
					"host.example, inline:{192.0.2.7=x}, "
					"[::ffff:1.2.3.0]/120", 0);

	(void)state;
	assert_int_equal(maps_namadr_list_match(l, "x.test", "10.0.0.1"), 0);
	assert_int_equal(maps_namadr_list_match(l, "x.test", "10.9.8.7"), 1);
	assert_int_equal(maps_namadr_list_match(l, "x.test", "11.0.0.1"), 0);
	assert_int_equal(maps_namadr_list_match(l, "x.test", "2001:DB8::1"), 1);
	assert_int_equal(maps_namadr_list_match(l, "x.test", "2001:db8::2"), 0);
	assert_int_equal(maps_namadr_list_match(l, "x.test",
						"2001:db8:1:ffff::9"), 1);
	assert_int_equal(maps_namadr_list_match(l, "HOST.example", "noaddr"),
			 1);
	assert_int_equal(maps_namadr_list_match(l, "x.test", "192.0.2.7"), 1);
	assert_int_equal(maps_namadr_list_match(l, "x.test", "::ffff:1.2.3.4"),
			 1);
	/* Not an address: no address pattern applies. */
	assert_int_equal(maps_namadr_list_match(l, "x.test", "noaddr"), 0);
	/* A v4 net never matches a v6 address, and a bad mask nothing. */
	maps_domain_list_free(l);
	l = maps_domain_list_create("t", "0.0.0.0/0, 1.2.3.4/99", 0);
	assert_int_equal(maps_namadr_list_match(l, "x", "::1"), 0);
	assert_int_equal(maps_namadr_list_match(l, "x", "1.2.3.4"), 1);
	maps_domain_list_free(l);
}

static void
test_db_nul_and_change(void **state)
{
	static const char *kv[] = { "k1", "v1", "mixed", "m", NULL };
	char *with = xasprintf("%s/with", tmpdir);
	char *without = xasprintf("%s/without", tmpdir);
	char *spec = xasprintf("hash:%s, btree:%s", with, without);
	char *changed = xasprintf("btree:%s(0,lock|fold_fix|utf8_request)",
				  without);
	struct maps *m;

	make_db(with, DB_HASH, 1, kv);
	make_db(without, DB_BTREE, 0, (const char *[]){ "k2", "v2", NULL });
	m = maps_create("t", spec, MAPS_FLAGS_DEFAULT);
	assert_string_equal(maps_find(m, "K1", 0), "v1");
	assert_string_equal(maps_find(m, "k2", 0), "v2");
	assert_null(maps_find(m, "k3", 0));
	assert_int_equal(m->error, 0);
	assert_null(maps_changed());
	sleep(1);		/* time stamps have one-second resolution */
	make_db(without, DB_BTREE, 0, (const char *[]){ "k2", "new", NULL });
	assert_string_equal(maps_changed(), changed);
	maps_free(m);
	assert_null(maps_changed());
	free(changed);
	free(spec);
	free(with);
	free(without);
}

static void
test_text_types(void **state)
{
	char *th = write_file("th", "# c\nKey value\n  continued\nk2 v2\n");
	char *ci = write_file("ci", "10.0.0.0/8 ten\n!10.0.0.0/8 not-ten\n"
			      "[2001:db8::]/32 v6\n");
	char *pc = write_file("pc", "/^(\\w+)\\.(\\w+)$/ $2.$1\n");
	char *spec = xasprintf("texthash:%s cidr:%s pcre:%s", th, ci, pc);
	struct maps *m = maps_create("t", spec, MAPS_FLAGS_DEFAULT);
	char *dup = write_file("dup", "a 1\nA 2\n");
	char *dspec = xasprintf("texthash:%s", dup);
	struct maps *d;

	/* Duplicates: unavailable in daemons, first wins with DUP_WARN. */
	d = maps_create("t", dspec, MAPS_FLAGS_DEFAULT);
	assert_null(maps_find(d, "a", 0));
	assert_int_equal(d->error, MAPS_ERR_CONFIG);
	maps_free(d);
	d = maps_create("t", dspec, MAPS_FLAGS_DEFAULT | MAPS_FLAG_DUP_WARN);
	assert_string_equal(maps_find(d, "a", 0), "1");
	maps_free(d);
	free(dspec);
	free(dup);

	assert_string_equal(maps_find(m, "KEY", 0), "value  continued");
	assert_string_equal(maps_find(m, "10.1.2.3", 0), "ten");
	assert_string_equal(maps_find(m, "11.1.2.3", 0), "not-ten");
	assert_string_equal(maps_find(m, "2001:db8::1", 0), "v6");
	assert_string_equal(maps_find(m, "ab.cd", 0), "cd.ab");
	assert_null(maps_find(m, "2001:db9::1", 0));
	maps_free(m);
	free(spec);
	free(th);
	free(ci);
	free(pc);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_list),
		cmocka_unit_test(test_order_fold_flags),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_union_pipe),
		cmocka_unit_test(test_addr_find),
		cmocka_unit_test(test_quoted_forms),
		cmocka_unit_test(test_domain_list),
		cmocka_unit_test(test_namadr_list),
		cmocka_unit_test(test_db_nul_and_change),
		cmocka_unit_test(test_text_types),
	};
	int rc;
	char cmd[64];

	msg_set_ident("test_maps");
	msg_stderr_enable(1);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
