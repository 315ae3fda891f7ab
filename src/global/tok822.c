/*
 * tok822 - RFC 822 address lists as token trees, Postfix's way
 *
 * tok822_scan()	text -> flat token list
 * tok822_parse()	text -> token list with address nodes
 * tok822_grep()	top-level tokens of one type
 * tok822_externalize()	tokens -> quoted text (message headers)
 * tok822_internalize()	tokens -> unquoted text (table lookups)
 * tok822_free_tree()	release a list and everything under it
 *
 * Nothing here fails on bad input: text that does not parse as an
 * address list stays in the list as it came, so it converts back.
 *
 * The parser walks the token list from right to left, which makes the
 * decisions local: a '>' closes a route address whose members run back
 * to the matching '<'; a ';' closes a group whose members run back to
 * the ':' after the group name; a ',' separates two addresses; and a
 * word directly left of another word (no operator between them) starts a
 * new address, with a ',' inserted to say so.  Comments found inside an
 * address are moved to its right so that lookups see the bare address.
 *
 * SEE ALSO
 *	RFC 822 section 6, RFC 5322 section 3.4; Postfix tok822(3) for the
 *	behaviour matched here (including its '%', '!' and '|' operators).
 */
#include <stdlib.h>
#include <string.h>

#include "global/quote_addr.h"
#include "global/tok822.h"
#include "util/msg.h"
#include "util/xmalloc.h"

/* Characters that are tokens by themselves. */
static const char operators[] = "|%!()<>@,;:\\\".[]";

#define IS_BLANK(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' \
			 || (c) == '\n')
#define IS_OPERATOR(c)	((c) != 0 && strchr(operators, (c)) != NULL)

/* Parser state bits */
#define WANT_WORD	(1 << 0)	/* a word here continues no address */
#define IN_GROUP	(1 << 1)	/* a ';' was seen: ':' starts a group */

/* Non-address text allowed per address expression (TOK822_STR_TRNC). */
#define NONADDR_MAX	250

/* tok_new - a detached token */
static struct tok822 *
tok_new(int type)
{
	struct tok822 *tp = xcalloc(1, sizeof(*tp));

	tp->type = type;
	strbuf_init(&tp->text, 0);
	return tp;
}

/* tok_link_after - put detached tp right after pos, with pos's owner */
static void
tok_link_after(struct tok822 *pos, struct tok822 *tp)
{
	tp->prev = pos;
	tp->next = pos->next;
	if (pos->next)
		pos->next->prev = tp;
	pos->next = tp;
	tp->owner = pos->owner;
}

/* tok_link_before - put detached tp right before pos, with pos's owner */
static void
tok_link_before(struct tok822 *pos, struct tok822 *tp)
{
	tp->next = pos;
	tp->prev = pos->prev;
	if (pos->prev)
		pos->prev->next = tp;
	pos->prev = tp;
	tp->owner = pos->owner;
}

/* tok_unlink - detach tp from its peers; returns its left neighbour */
static struct tok822 *
tok_unlink(struct tok822 *tp)
{
	struct tok822 *left = tp->prev;

	if (tp->prev)
		tp->prev->next = tp->next;
	if (tp->next)
		tp->next->prev = tp->prev;
	tp->prev = tp->next = NULL;
	return left;
}

/*
 * collect - a quoted string, domain literal or atom body: bytes up to a
 * stop character (not consumed), with backslash escapes resolved and
 * line-break characters made spaces.  For atoms, blanks and operators
 * stop too.  Returns where scanning stopped.
 */
static const char *
collect(struct strbuf *out, const char *cp, int stop, int atom)
{
	unsigned char ch;

	while ((ch = (unsigned char)*cp) != 0) {
		if (ch == '\\') {
			if ((ch = (unsigned char)*++cp) == 0)
				break;
		} else if (ch == stop
			   || (atom && (IS_BLANK(ch) || IS_OPERATOR(ch)))) {
			break;
		}
		strbuf_putc(out, IS_BLANK(ch) ? ' ' : ch);
		cp++;
	}
	return cp;
}

/* comment - a comment kept as written, "(" included; nesting counts */
static const char *
comment(struct strbuf *out, const char *cp)
{
	int depth = 1;
	unsigned char ch;

	strbuf_putc(out, '(');
	while ((ch = (unsigned char)*cp) != 0) {
		strbuf_putc(out, ch);
		cp++;
		if (ch == '(') {
			depth++;
		} else if (ch == ')') {
			if (--depth == 0)
				break;
		} else if (ch == '\\') {
			if (*cp == 0)
				break;
			strbuf_putc(out, *cp++);
		}
	}
	return cp;
}

/* needs_quotes - would this atom text be misread without quotes */
static int
needs_quotes(const struct strbuf *text)
{
	for (size_t i = 0; i < text->len; i++) {
		unsigned char ch = (unsigned char)text->data[i];

		/* 8-bit bytes pass as they are (RFC 822 is 7-bit anyway). */
		if (ch == ' ' || ch < 32 || ch == 127 || IS_OPERATOR(ch))
			return 1;
	}
	return 0;
}

/* tok822_scan - text to a flat list of tokens */
struct tok822 *
tok822_scan(const char *text, struct tok822 **tailp)
{
	struct tok822 *first = NULL, *last = NULL, *tp;
	const char *cp = text;
	unsigned char ch;

	while ((ch = (unsigned char)*cp) != 0) {
		if (IS_BLANK(ch)) {
			cp++;
			continue;
		}
		if (ch == '(') {
			tp = tok_new(TOK822_COMMENT);
			cp = comment(&tp->text, cp + 1);
		} else if (ch == '[' || ch == '"') {
			tp = tok_new(ch == '[' ? TOK822_DOMLIT : TOK822_QSTRING);
			cp = collect(&tp->text, cp + 1, ch == '[' ? ']' : '"',
				     0);
			if (*cp)
				cp++;	/* the closing bracket or quote */
		} else if (ch != '\\' && IS_OPERATOR(ch)) {
			tp = tok_new(ch);
			cp++;
		} else {
			tp = tok_new(TOK822_ATOM);
			cp = collect(&tp->text, cp, 0, 1);
			/* Escaped specials make it a quoted string. */
			if (needs_quotes(&tp->text))
				tp->type = TOK822_QSTRING;
		}
		if (last)
			tok_link_after(last, tp);
		else
			first = tp;
		last = tp;
	}
	if (tailp)
		*tailp = last;
	return first;
}

/*
 * make_addr - move the tokens strictly between left and right under a
 * new address node in their place; with sep, also put a separator token
 * of that type right after left.  Nothing happens when no token lies
 * between.  Returns left.
 */
static struct tok822 *
make_addr(struct tok822 *left, struct tok822 *right, int sep)
{
	struct tok822 *first = left->next, *addr, *tp;

	if (left == right || first == right)
		return left;
	addr = tok_new(TOK822_ADDR);
	addr->head = first;
	addr->tail = right->prev;
	first->prev = NULL;
	addr->tail->next = NULL;
	for (tp = first; tp; tp = tp->next)
		tp->owner = addr;
	left->next = right;
	right->prev = left;
	tok_link_after(left, addr);
	if (sep)
		tok_link_after(left, tok_new(sep));
	return left;
}

/* move_comment - put comment tp just left of *right, which it becomes */
static struct tok822 *
move_comment(struct tok822 *tp, struct tok822 **right)
{
	struct tok822 *left = tok_unlink(tp);

	tok_link_before(*right, tp);
	*right = tp;
	return left;
}

/* tok822_parse - text to a token list with address nodes */
struct tok822 *
tok822_parse(const char *text)
{
	struct tok822 *first, *last, *start, *end, *right, *tp;
	int state = WANT_WORD;

	if ((first = tok822_scan(text, &last)) == NULL)
		return NULL;

	/* Type-0 sentinels at both ends stop every leftward walk. */
	start = tok_new(0);
	end = tok_new(0);
	start->next = first;
	first->prev = start;
	last->next = end;
	end->prev = last;

	right = end;
	tp = end->prev;
	while (tp->type != 0) {
		switch (tp->type) {
		case TOK822_COMMENT:
			tp = move_comment(tp, &right);
			continue;
		case ';':
			/* End of a group; what follows it is one address. */
			right = make_addr(tp, right, ',');
			state = IN_GROUP | WANT_WORD;
			break;
		case ':':
			if (!(state & IN_GROUP)) {
				state |= WANT_WORD;
				break;
			}
			tp->type = TOK822_STARTGRP;
			make_addr(tp, right, 0);
			/* Leave the group name alone: back to a ','. */
			while (tp->type != 0 && tp->type != ',')
				tp = tp->prev;
			right = tp;
			continue;
		case '>':
			/* A route address: <...>, comments moved out. */
			right = make_addr(tp, right, ',');
			while (tp->type != 0 && tp->type != '<') {
				if (tp->type == TOK822_COMMENT) {
					tp = move_comment(tp, &right);
					continue;
				}
				tp = tp->prev;
			}
			make_addr(tp, right, 0);
			/* The phrase before '<' is not part of any address. */
			while (tp->type != 0 && (tp->type > 0xff
				|| strchr(">;,:", tp->type) == NULL))
				tp = tp->prev;
			right = tp;
			state |= WANT_WORD;
			continue;
		case TOK822_ATOM:
		case TOK822_QSTRING:
		case TOK822_DOMLIT:
			/* Word next to word: two addresses, missing ','. */
			if (!(state & WANT_WORD))
				right = make_addr(tp, right, ',')->next;
			state &= ~WANT_WORD;
			break;
		case ',':
			right = make_addr(tp, right, 0);
			state |= WANT_WORD;
			break;
		default:
			state |= WANT_WORD;
			break;
		}
		tp = tp->prev;
	}
	make_addr(tp, right, 0);

	first = start->next != end ? start->next : NULL;
	if (first) {
		first->prev = NULL;
		end->prev->next = NULL;
	}
	start->next = end->prev = NULL;
	tok822_free_tree(start);
	tok822_free_tree(end);
	return first;
}

/* tok822_free_tree - free tokens from tree on, and their members */
void
tok822_free_tree(struct tok822 *tree)
{
	struct tok822 *next;

	for (; tree; tree = next) {
		next = tree->next;
		tok822_free_tree(tree->head);
		strbuf_release(&tree->text);
		free(tree);
	}
}

/* tok822_grep - top-level tokens of a type (0: all) */
struct tok822 **
tok822_grep(struct tok822 *tree, int type)
{
	struct tok822 **list;
	size_t n = 0;

	for (struct tok822 *tp = tree; tp; tp = tp->next)
		if (type == 0 || tp->type == type)
			n++;
	list = xcalloc(n + 1, sizeof(*list));
	n = 0;
	for (struct tok822 *tp = tree; tp; tp = tp->next)
		if (type == 0 || tp->type == type)
			list[n++] = tp;
	return list;
}

/* is_word - a token that needs a space before a following word */
static int
is_word(const struct tok822 *tp)
{
	return tp->type == TOK822_ATOM || tp->type == TOK822_QSTRING
	    || tp->type == TOK822_COMMENT || tp->type == TOK822_DOMLIT
	    || tp->type == TOK822_ADDR;
}

/* space_after - does a space go between tp and its successor */
static int
space_after(const struct tok822 *tp)
{
	const struct tok822 *next = tp->next;

	/* Address members are written without spaces. */
	if (next == NULL || tp->owner != NULL)
		return 0;
	if (tp->type == ',' || tp->type == TOK822_STARTGRP || next->type == '<')
		return 1;
	return is_word(tp) && is_word(next);
}

/* escape_append - text with a backslash before each byte of special */
static void
escape_append(struct strbuf *out, const struct strbuf *text,
	      const char *special)
{
	for (size_t i = 0; i < text->len; i++) {
		char ch = text->data[i];

		if (ch != 0 && strchr(special, ch))
			strbuf_putc(out, '\\');
		strbuf_putc(out, ch);
	}
}

/* tok822_internalize - tokens to unquoted text */
void
tok822_internalize(struct strbuf *out, const struct tok822 *tree, int flags)
{
	if (flags & TOK822_STR_WIPE)
		strbuf_reset(out);
	for (const struct tok822 *tp = tree; tp; tp = tp->next) {
		switch (tp->type) {
		case ',':
			strbuf_putc(out, ',');
			if (flags & TOK822_STR_LINE) {
				strbuf_putc(out, '\n');
				continue;
			}
			break;
		case TOK822_ADDR:
			tok822_internalize(out, tp->head, 0);
			break;
		case TOK822_ATOM:
		case TOK822_QSTRING:
		case TOK822_COMMENT:
			strbuf_append(out, tp->text.data ? tp->text.data : "",
				      tp->text.len);
			break;
		case TOK822_DOMLIT:
			strbuf_putc(out, '[');
			strbuf_append(out, tp->text.data ? tp->text.data : "",
				      tp->text.len);
			strbuf_putc(out, ']');
			break;
		case TOK822_STARTGRP:
			strbuf_putc(out, ':');
			break;
		default:
			if (tp->type > 0xff)
				msg_panic("tok822_internalize: bad token type %d",
					  tp->type);
			strbuf_putc(out, tp->type);
			break;
		}
		if (space_after(tp))
			strbuf_putc(out, ' ');
	}
}

/* printable_copy - text with non-printable bytes shown as '?' */
static char *
printable_copy(const char *text, size_t max)
{
	size_t len = strnlen(text, max);
	char *copy = xstrndup(text, len);

	for (char *cp = copy; *cp; cp++)
		if ((unsigned char)*cp < 32 || (unsigned char)*cp >= 127)
			*cp = '?';
	return copy;
}

/*
 * strip_to_address - replace out[start..] (one address expression) with
 * "<address>": the Sendmail buffer overflow guard (CERT CA-2003-07).
 */
static void
strip_to_address(struct strbuf *out, size_t start, const struct tok822 *addr)
{
	char *shown = printable_copy(strbuf_str(out) + start, 100);

	msg_warn("stripping too many comments from address: %s...", shown);
	free(shown);
	strbuf_truncate(out, start);
	strbuf_putc(out, '<');
	if (addr && addr->head) {
		struct strbuf bare = STRBUF_INIT;

		tok822_internalize(&bare, addr->head, 0);
		quote_822_local_flags(out, strbuf_str(&bare), QUOTE_8BITCLEAN);
		strbuf_release(&bare);
	}
	strbuf_putc(out, '>');
}

/* tok822_externalize - tokens to quoted text */
void
tok822_externalize(struct strbuf *out, const struct tok822 *tree, int flags)
{
	/* Per address expression: where it starts, its address, its size. */
	size_t start = 0, addr_len = 0;
	const struct tok822 *addr = NULL;
	int limit = (flags & TOK822_STR_TRNC) != 0;

	if (flags & TOK822_STR_WIPE)
		strbuf_reset(out);
#define EXPR_BEGIN() do { start = out->len; addr = NULL; addr_len = 0; } \
	while (0)
#define EXPR_END() do { if (limit && addr \
	&& out->len - addr_len > start + NONADDR_MAX) \
	strip_to_address(out, start, addr); } while (0)
	EXPR_BEGIN();
	for (const struct tok822 *tp = tree; tp; tp = tp->next) {
		switch (tp->type) {
		case ',':
			EXPR_END();
			strbuf_putc(out, ',');
			strbuf_putc(out, (flags & TOK822_STR_LINE) ? '\n' : ' ');
			EXPR_BEGIN();
			continue;
		case TOK822_ADDR:{
				struct strbuf bare = STRBUF_INIT;
				size_t before = out->len;

				addr = tp;
				tok822_internalize(&bare, tp->head, 0);
				quote_822_local_flags(out, strbuf_str(&bare),
						      QUOTE_8BITCLEAN);
				addr_len = out->len - before;
				strbuf_release(&bare);
				break;
			}
		case TOK822_ATOM:
		case TOK822_COMMENT:
			strbuf_append(out, tp->text.data ? tp->text.data : "",
				      tp->text.len);
			break;
		case TOK822_QSTRING:
			strbuf_putc(out, '"');
			escape_append(out, &tp->text, "\"\\\r\n");
			strbuf_putc(out, '"');
			break;
		case TOK822_DOMLIT:
			strbuf_putc(out, '[');
			escape_append(out, &tp->text, "\\\r\n");
			strbuf_putc(out, ']');
			break;
		case TOK822_STARTGRP:
			strbuf_putc(out, ':');
			break;
		case '<':
			/* "<>" counts as an (empty) address. */
			if (tp->next && tp->next->type == '>') {
				addr = tp;
				addr_len = 0;
			}
			strbuf_putc(out, '<');
			break;
		default:
			if (tp->type > 0xff)
				msg_panic("tok822_externalize: bad token type %d",
					  tp->type);
			strbuf_putc(out, tp->type);
			break;
		}
		if (space_after(tp))
			strbuf_putc(out, ' ');
	}
	EXPR_END();
#undef EXPR_BEGIN
#undef EXPR_END
}
