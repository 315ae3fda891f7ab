/*
 * test_tok822 - unit tests for global/tok822 and global/quote_addr
 *
 * The parse trees and strings are the ones Postfix 3.7's tok822 module
 * produces for the same input (its "tok822_parse" test program prints
 * trees in the same shape as dump() below), so that headers rebuilt by
 * smtp_generic_maps are the bytes Postfix's smtp(8) sends.  Malformed
 * input (unterminated quotes, comments and literals, stray brackets,
 * trailing backslashes, control bytes) must parse, convert back and
 * never crash; a pseudo-random sweep checks that under the sanitizers.
 */
#include "testlib.h"

#include "global/quote_addr.h"
#include "global/tok822.h"
#include "util/strbuf.h"

/* dump - the tree as "type(text)" words, members in [] */
static void
dump(struct strbuf *out, const struct tok822 *tp)
{
	for (; tp; tp = tp->next) {
		if (out->len && out->data[out->len - 1] != '[')
			strbuf_putc(out, ' ');
		switch (tp->type) {
		case TOK822_ATOM:
			strbuf_printf(out, "atom(%s)", strbuf_str(&tp->text));
			break;
		case TOK822_QSTRING:
			strbuf_printf(out, "qstr(%s)", strbuf_str(&tp->text));
			break;
		case TOK822_COMMENT:
			strbuf_printf(out, "comment%s", strbuf_str(&tp->text));
			break;
		case TOK822_DOMLIT:
			strbuf_printf(out, "domlit(%s)", strbuf_str(&tp->text));
			break;
		case TOK822_STARTGRP:
			strbuf_puts(out, "group");
			break;
		case TOK822_ADDR:
			strbuf_puts(out, "addr[");
			dump(out, tp->head);
			strbuf_putc(out, ']');
			break;
		default:
			strbuf_printf(out, "'%c'", tp->type);
			break;
		}
	}
}

struct parse_case {
	const char *in;
	const char *tree;	/* dump() of tok822_parse() */
	const char *ext;	/* tok822_externalize(DEFL) */
	const char *head;	/* tok822_externalize(HEAD) */
	const char *addrs;	/* internal form of each top-level address */
};

static const struct parse_case cases[] = {
	{"a@b.c",
	 "addr[atom(a) '@' atom(b) '.' atom(c)]",
	 "a@b.c", "a@b.c", "a@b.c|"},
	{"Name <a@b> (c)",
	 "atom(Name) '<' addr[atom(a) '@' atom(b)] '>' comment(c)",
	 "Name <a@b>(c)", "Name <a@b>(c)", "a@b|"},
	{"\"Last, First\" <u@d>, v@e",
	 "qstr(Last, First) '<' addr[atom(u) '@' atom(d)] '>' ',' "
	 "addr[atom(v) '@' atom(e)]",
	 "\"Last, First\" <u@d>, v@e", "\"Last, First\" <u@d>,\nv@e",
	 "u@d|v@e|"},
	/* A comment inside the address moves out to its right. */
	{"u(x)@d (y)",
	 "addr[atom(u) '@' atom(d)] comment(x) comment(y)",
	 "u@d (x) (y)", "u@d (x) (y)", "u@d|"},
	/* Groups: members are top-level addresses. */
	{"grp: a@b, c@d;",
	 "atom(grp) group addr[atom(a) '@' atom(b)] ',' "
	 "addr[atom(c) '@' atom(d)] ';'",
	 "grp: a@b, c@d;", "grp: a@b,\nc@d;", "a@b|c@d|"},
	{"list: ;",
	 "atom(list) group ';'", "list: ;", "list: ;", ""},
	/* Two words without a comma: a comma is added. */
	{"a b",
	 "addr[atom(a)] ',' addr[atom(b)]", "a, b", "a,\nb", "a|b|"},
	/* Route address: the route stays in the address. */
	{"<@r1,@r2:u@d>",
	 "'<' addr['@' atom(r1) ',' '@' atom(r2) ':' atom(u) '@' atom(d)] '>'",
	 "<@r1,@r2:u@d>", "<@r1,@r2:u@d>", "@r1,@r2:u@d|"},
	{"<>", "'<' '>'", "<>", "<>", ""},
	/* Quoted local part: unquoted inside, quoted again outside. */
	{"\"a b\"@c",
	 "addr[qstr(a b) '@' atom(c)]", "\"a b\"@c", "\"a b\"@c", "a b@c|"},
	{"\"a\\\"b\"@c",
	 "addr[qstr(a\"b) '@' atom(c)]", "\"a\\\"b\"@c", "\"a\\\"b\"@c",
	 "a\"b@c|"},
	/* An escaped special makes an atom a quoted string. */
	{"a\\ b@c",
	 "addr[qstr(a b) '@' atom(c)]", "\"a b\"@c", "\"a b\"@c", "a b@c|"},
	{"u@[1.2.3.4]",
	 "addr[atom(u) '@' domlit(1.2.3.4)]", "u@[1.2.3.4]", "u@[1.2.3.4]",
	 "u@[1.2.3.4]|"},
	/* Nested comments and folded lines. */
	{"u@d (a (b) c)\n\t(d)",
	 "addr[atom(u) '@' atom(d)] comment(a (b) c) comment(d)",
	 "u@d (a (b) c) (d)", "u@d (a (b) c) (d)", "u@d|"},
	{"(only a comment)",
	 "comment(only a comment)", "(only a comment)", "(only a comment)",
	 ""},
	/* Malformed: unterminated pieces end at the end of the text. */
	{"\"open@d", "addr[qstr(open@d)]", "open@d", "open@d",
	 "open@d|"},
	{"u@d (open", "addr[atom(u) '@' atom(d)] comment(open",
	 "u@d (open", "u@d (open", "u@d|"},
	{"u@[open", "addr[atom(u) '@' domlit(open)]", "u@[open]",
	 "u@[open]", "u@[open]|"},
	{"u@d\\", "addr[atom(u) '@' atom(d)]", "u@d", "u@d", "u@d|"},
	{">", "'>'", ">", ">", ""},
	{"<<a>", "'<' '<' addr[atom(a)] '>'", "< <a>", "< <a>", "a|"},
	{";;", "';' ';'", ";;", ";;", ""},
	{"a@b@c", "addr[atom(a) '@' atom(b) '@' atom(c)]", "\"a@b\"@c",
	 "\"a@b\"@c", "a@b@c|"},
	{"", NULL, "", "", ""},
	{" \t\r\n", NULL, "", "", ""},
};

/* test_parse - trees, both string forms and the addresses */
static void
test_parse(void **unused)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		struct strbuf got = STRBUF_INIT;
		struct tok822 *tree = tok822_parse(c->in), **addrs;

		if (c->tree == NULL) {
			assert_null(tree);
		} else {
			dump(&got, tree);
			assert_string_equal(strbuf_str(&got), c->tree);
		}
		tok822_externalize(&got, tree, TOK822_STR_DEFL);
		assert_string_equal(strbuf_str(&got), c->ext);
		strbuf_reset(&got);
		tok822_externalize(&got, tree, TOK822_STR_HEAD);
		assert_string_equal(strbuf_str(&got), c->head);
		strbuf_reset(&got);
		addrs = tok822_grep(tree, TOK822_ADDR);
		for (struct tok822 **ap = addrs; *ap; ap++) {
			struct strbuf one = STRBUF_INIT;

			tok822_internalize(&one, (*ap)->head, TOK822_STR_DEFL);
			strbuf_printf(&got, "%s|", strbuf_str(&one));
			strbuf_release(&one);
		}
		assert_string_equal(strbuf_str(&got), c->addrs);
		free(addrs);
		tok822_free_tree(tree);
		strbuf_release(&got);
	}
}

/* test_scan - the flat token list, no grouping */
static void
test_scan(void **unused)
{
	struct strbuf got = STRBUF_INIT;
	struct tok822 *tail = NULL;
	struct tok822 *list = tok822_scan("x <a@b>, \"q\" (c)", &tail);

	dump(&got, list);
	assert_string_equal(strbuf_str(&got),
			    "atom(x) '<' atom(a) '@' atom(b) '>' ',' qstr(q) "
			    "comment(c)");
	assert_non_null(tail);
	assert_int_equal(tail->type, TOK822_COMMENT);
	assert_null(tail->next);
	tok822_free_tree(list);
	strbuf_release(&got);
}

/* test_truncate - more than 250 bytes of phrase: "<address>", warned */
static void
test_truncate(void **unused)
{
	struct strbuf in = STRBUF_INIT, got = STRBUF_INIT;
	struct tok822 *tree;
	char *warned;

	for (int i = 0; i < 30; i++)
		strbuf_puts(&in, "wordy word ");
	strbuf_puts(&in, "<u@d>, short <v@e>");
	tree = tok822_parse(strbuf_str(&in));
	warn_begin();
	tok822_externalize(&got, tree, TOK822_STR_HEAD);
	warned = warn_end();
	assert_string_equal(strbuf_str(&got), "<u@d>,\nshort <v@e>");
	assert_non_null(strstr(warned, "stripping too many comments from "
				"address: wordy word wordy"));
	free(warned);
	/* Without TOK822_STR_TRNC nothing is stripped. */
	tok822_externalize(&got, tree, TOK822_STR_DEFL);
	assert_true(got.len > 300);
	tok822_free_tree(tree);
	strbuf_release(&in);
	strbuf_release(&got);
}

/* test_quote - quote_822_local() and unquote_822_local() */
static void
test_quote(void **unused)
{
	static const struct {
		const char *internal, *external;
	} q[] = {
		{"user@d", "user@d"},
		{"a b@d", "\"a b\"@d"},
		{"a\"b@d", "\"a\\\"b\"@d"},
		{"a\\b@d", "\"a\\\\b\"@d"},
		{".a@d", "\".a\"@d"},
		{"a..b@d", "\"a..b\"@d"},
		{"a.@d", "\"a.\"@d"},
		{"a@b@d", "\"a@b\"@d"},
		{"@r1,@r2:a b@d", "@r1,@r2:\"a b\"@d"},
		{"caf\xc3\xa9@d", "caf\xc3\xa9@d"},
		{"nodomain", "nodomain"},
		{"", "\"\""},
	};
	struct strbuf got = STRBUF_INIT;

	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		strbuf_reset(&got);
		quote_822_local(&got, q[i].internal);
		assert_string_equal(strbuf_str(&got), q[i].external);
		unquote_822_local(&got, q[i].external);
		assert_string_equal(strbuf_str(&got), q[i].internal);
	}
	/* Not 8-bit clean: 8-bit bytes force quotes and get a backslash. */
	strbuf_reset(&got);
	quote_822_local_flags(&got, "caf\xc3\xa9@d", 0);
	assert_string_equal(strbuf_str(&got), "\"caf\\\xc3\\\xa9\"@d");
	/* The domain part keeps its quotes; a lone backslash goes. */
	unquote_822_local(&got, "\"a\"@\"b\"");
	assert_string_equal(strbuf_str(&got), "a@\"b\"");
	unquote_822_local(&got, "ab\\");
	assert_string_equal(strbuf_str(&got), "ab");
	strbuf_release(&got);
}

/* test_garbage - pseudo-random text of specials never crashes */
static void
test_garbage(void **unused)
{
	static const char alphabet[] = "ab@.,;:<>()[]\"\\ \t\n\r%!|\x01\xc3";
	unsigned seed = 12345;
	char text[64];

	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 63);
		struct strbuf out = STRBUF_INIT;
		struct tok822 *tree, **addrs;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			text[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		text[len] = 0;
		tree = tok822_parse(text);
		tok822_externalize(&out, tree, TOK822_STR_DEFL);
		tok822_externalize(&out, tree, TOK822_STR_HEAD);
		tok822_internalize(&out, tree, TOK822_STR_LINE);
		addrs = tok822_grep(tree, TOK822_ADDR);
		for (struct tok822 **ap = addrs; *ap; ap++) {
			/* What smtp_generic does to each address. */
			struct strbuf bare = STRBUF_INIT;

			tok822_internalize(&bare, (*ap)->head, TOK822_STR_DEFL);
			unquote_822_local(&out, strbuf_str(&bare));
			quote_822_local(&out, strbuf_str(&bare));
			strbuf_release(&bare);
		}
		free(addrs);
		tok822_free_tree(tree);
		strbuf_release(&out);
	}
}

/* golden_tree - the tree as the golden file writes it */
static void
golden_tree(struct strbuf *out, const struct tok822 *tp)
{
	for (; tp; tp = tp->next) {
		strbuf_putc(out, ' ');
		if (tp->type == TOK822_ADDR) {
			strbuf_puts(out, "A[");
			golden_tree(out, tp->head);
			strbuf_putc(out, ']');
		} else if (tp->type == TOK822_STARTGRP) {
			strbuf_putc(out, 'G');
		} else if (tp->type < 256) {
			strbuf_printf(out, "o%c", tp->type);
		} else {
			strbuf_printf(out, "%d(%s)", tp->type,
				      strbuf_str(&tp->text));
		}
	}
}

/* golden_line - "TAG:text" with unprintable bytes and '\\' as \xHH */
static void
golden_line(struct strbuf *out, int tag, const char *text)
{
	strbuf_printf(out, "%c:", tag);
	for (const unsigned char *cp = (const unsigned char *)text; *cp; cp++)
		if (*cp < 32 || *cp > 126 || *cp == '\\')
			strbuf_printf(out, "\\x%02x", *cp);
		else
			strbuf_putc(out, *cp);
	strbuf_putc(out, '\n');
}

/* golden_case - what the golden file says about one input */
static void
golden_case(struct strbuf *out, const char *in)
{
	struct strbuf tmp = STRBUF_INIT;
	struct tok822 *tree = tok822_parse(in), **addrs;

	golden_tree(&tmp, tree);
	golden_line(out, 'T', strbuf_str(&tmp));
	tok822_externalize(&tmp, tree, TOK822_STR_DEFL);
	golden_line(out, 'E', strbuf_str(&tmp));
	tok822_externalize(&tmp, tree, TOK822_STR_DEFL | TOK822_STR_HEAD);
	golden_line(out, 'H', strbuf_str(&tmp));
	tok822_internalize(&tmp, tree, TOK822_STR_DEFL);
	golden_line(out, 'I', strbuf_str(&tmp));
	addrs = tok822_grep(tree, TOK822_ADDR);
	for (struct tok822 **ap = addrs; *ap; ap++) {
		tok822_internalize(&tmp, (*ap)->head, TOK822_STR_DEFL);
		golden_line(out, 'a', strbuf_str(&tmp));
	}
	free(addrs);
	tok822_free_tree(tree);
	strbuf_release(&tmp);
}

/*
 * test_postfix_golden - the results of Postfix's own tok822 code for
 * 602 inputs (random mixes of specials, words and broken syntax; see
 * tests/fixtures/README) must come out the same, byte for byte.
 */
static void
test_postfix_golden(void **unused)
{
	size_t len;
	char *data = (char *)fixture_load("tok822-postfix-3.7.txt", &len);
	char *rest = data, *line;
	struct strbuf want = STRBUF_INIT, got = STRBUF_INIT, in = STRBUF_INIT;
	int ncase = 0;

	/* Each case: "IN:hex", then its result lines up to the next IN:. */
	line = strsep(&rest, "\n");
	while (line) {
		if (strncmp(line, "IN:", 3) != 0) {
			line = strsep(&rest, "\n");
			continue;
		}
		strbuf_reset(&in);
		for (const char *hp = line + 3; hp[0] && hp[1]; hp += 2) {
			unsigned byte;

			assert_int_equal(sscanf(hp, "%2x", &byte), 1);
			strbuf_putc(&in, (int)byte);
		}
		strbuf_reset(&want);
		while ((line = strsep(&rest, "\n")) != NULL
		       && strncmp(line, "IN:", 3) != 0 && *line != 0) {
			strbuf_puts(&want, line);
			strbuf_putc(&want, '\n');
		}
		strbuf_reset(&got);
		golden_case(&got, strbuf_str(&in));
		if (strcmp(strbuf_str(&got), strbuf_str(&want)) != 0)
			print_error("case %d (%s):\nwant:\n%sgot:\n%s", ncase,
				    strbuf_str(&in), strbuf_str(&want),
				    strbuf_str(&got));
		assert_string_equal(strbuf_str(&got), strbuf_str(&want));
		ncase++;
	}
	assert_int_equal(ncase, 602);
	strbuf_release(&want);
	strbuf_release(&got);
	strbuf_release(&in);
	free(data);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_postfix_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
