/* tok822 - RFC 822 address lists as token trees, Postfix's way */
#ifndef GLOBAL_TOK822_H
#define GLOBAL_TOK822_H

#include "util/strbuf.h"

/*
 * A header value such as
 *	Name <a@b> (comment), group: c@d, e@f;
 * becomes a list of tokens; the tokens that make up one address are moved
 * under a node of type TOK822_ADDR (its head..tail).  Everything else
 * (phrases, comments, angle brackets, group names) stays in the top-level
 * list, in order, so the list converts back to text without loss.  Group
 * members are top-level address nodes of their own, between the
 * TOK822_STARTGRP colon and the ';'.
 *
 * The rules are those of Postfix 3.7 (its tok822 module), because the
 * bytes we send after rewriting an address must be the bytes Postfix's
 * smtp(8) sends: the parser is permissive (it never drops text it does
 * not understand, and inserts a ',' between two words that are not
 * separated by one), and the string forms put spaces and line breaks
 * exactly where Postfix does.
 */
struct tok822 {
	int type;		/* a character, or TOK822_* below */
	struct strbuf text;	/* atom, quoted string (unquoted), comment
				 * (with its parentheses, as written), or
				 * domain literal (without brackets) */
	struct tok822 *prev, *next;	/* peers */
	struct tok822 *head, *tail;	/* members of an address node */
	struct tok822 *owner;	/* the address node this is a member of */
};

#define TOK822_ATOM	256	/* run of non-special characters */
#define TOK822_QSTRING	257	/* "..." */
#define TOK822_COMMENT	258	/* (...), nested */
#define TOK822_DOMLIT	259	/* [...] */
#define TOK822_ADDR	260	/* an address: a node with members */
#define TOK822_STARTGRP	261	/* the ':' after a group name */

/* String conversion flags */
#define TOK822_STR_WIPE	(1 << 0)	/* reset the output buffer first */
#define TOK822_STR_LINE	(1 << 2)	/* newline (not space) after ',' */
#define TOK822_STR_TRNC	(1 << 3)	/* limit non-address text */
#define TOK822_STR_DEFL	TOK822_STR_WIPE
#define TOK822_STR_HEAD	(TOK822_STR_LINE | TOK822_STR_TRNC)

/*
 * tok822_scan() splits text into a flat list of tokens (NULL for empty or
 * blank text); *tailp (if not NULL) gets the last one.  tok822_parse()
 * scans and then groups addresses.  Neither fails on malformed input: an
 * unterminated quoted string, comment or domain literal ends at the end
 * of the text; a trailing backslash is dropped.
 *
 * tok822_grep() returns the top-level tokens of a type as an xmalloc'd
 * NULL-terminated vector.
 *
 * tok822_externalize() appends the external (quoted) form; the text of an
 * address node goes through quote_822_local().  With TOK822_STR_TRNC, an
 * address expression (text between commas) with more than 250 bytes of
 * non-address text is reduced to "<address>" with a warning (Postfix's
 * guard for CERT CA-2003-07).  tok822_internalize() appends the internal
 * form: no quotes, no escapes.
 */
struct tok822 *tok822_scan(const char *text, struct tok822 **tailp);
struct tok822 *tok822_parse(const char *text);
void tok822_free_tree(struct tok822 *tree);
struct tok822 **tok822_grep(struct tok822 *tree, int type);
void tok822_externalize(struct strbuf *out, const struct tok822 *tree,
			int flags);
void tok822_internalize(struct strbuf *out, const struct tok822 *tree,
			int flags);

#endif
