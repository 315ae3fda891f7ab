/*
 * map_regexp - regexp: tables (POSIX regex) and the rule-file engine
 * shared with pcre:
 *
 * map_regexp_open() loads a regexp: file; map_regexp_load() is the
 * engine that map_pcre.c also uses.  A file holds rules, tried in order
 * until one matches:
 *
 *	/pattern/flags result		a match gives result, with $1..$9,
 *	!/pattern/flags result		${n} and $$ substituted
 *	/pattern/!/pattern2/ result	(regexp: only) both must hold
 *	if /pattern/flags		rules up to the matching endif are
 *	endif				tried only if pattern matches
 *
 * Any character may delimit a pattern; a backslash escapes it.  Rules
 * that Postfix would reject (bad pattern, unknown flag, $n beyond the
 * groups) are skipped with Postfix's warning.  The whole key is matched;
 * it is lowercased only with MAPS_FLAG_FOLD_MUL (case is the 'i' flag's
 * business).  Files are read at open time and not watched.
 */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#include "map.h"

enum rule_op { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct rule {
	enum rule_op op;
	int lineno;
	void *re1, *re2;	/* re2: the optional second pattern */
	int match1, match2;	/* 1 = must match, 0 = must not */
	char *repl;		/* RULE_MATCH */
	size_t nsub;		/* groups of re1 */
	size_t endif;		/* RULE_IF: index of its ENDIF (or end) */
};

struct map_re {
	const struct map_re_engine *eng;
	struct rule *rules;
	size_t count;
	long *ovec;
	size_t ovec_pairs;
};

struct pat {
	char *text;
	int match;
	int options;
};

/* get_pat - parse [!...]DELIM pattern DELIM flags; 0 after a warning */
static int
get_pat(struct map *map, const struct map_re_engine *eng, int lineno,
	char **bufp, struct pat *pat, int stop_at_bang)
{
	char *p = *bufp;
	char delim;

	pat->match = 1;
	for (;; p++) {
		if (*p == '!')
			pat->match = !pat->match;
		else if (!isspace((unsigned char)*p))
			break;
	}
	if (*p == 0) {
		msg_warn("%s map %s, line %d: no regexp: skipping this rule",
			 eng->kind, map->name, lineno);
		return 0;
	}
	delim = *p++;
	pat->text = p;
	for (; *p; p++) {
		if (*p == '\\') {
			/* A final backslash ends a regexp: pattern (Postfix's
			 * quirk), but not a pcre: one. */
			if (p[1] == 0) {
				if (eng->final_backslash_closes)
					break;
				p++;
				break;
			}
			p++;
		} else if (*p == delim) {
			break;
		}
	}
	if (*p == 0) {
		msg_warn("%s map %s, line %d: no closing regexp delimiter "
			 "\"%c\": %s this rule", eng->kind, map->name, lineno,
			 delim, strcmp(eng->kind, "pcre") == 0 ? "ignoring"
			 : "skipping");
		return 0;
	}
	*p++ = 0;
	pat->options = eng->default_options;
	for (; *p && !isspace((unsigned char)*p)
	     && !(stop_at_bang && *p == '!'); p++) {
		int r = eng->option(*p, &pat->options);

		if (r < 0) {
			msg_warn("%s map %s, line %d: unknown regexp option "
				 "\"%c\": skipping this rule", eng->kind,
				 map->name, lineno, *p);
			return 0;
		}
		if (r > 0)
			msg_warn("%s map %s, line %d: ignoring obsolete regexp "
				 "option \"%c\"", eng->kind, map->name, lineno,
				 *p);
	}
	*bufp = p;
	return 1;
}

/*
 * Replacement text follows Postfix's mac_parse(): "$$" is a '$'; "$name",
 * "${name}" and "$(name)" are references (name: letters, digits, '_'; a
 * braced name may nest its own brackets); an empty name or a missing
 * closing bracket is a syntax error that stops the scan.  For these
 * tables a name must be a number from 1 up.
 */
#define SUBST_ERROR	1

typedef int (*subst_fn)(int is_ref, const char *text, void *ctx);

/* subst_parse - walk a replacement text, calling fn for each part */
static int
subst_parse(const char *value, subst_fn fn, void *ctx)
{
	struct strbuf buf = STRBUF_INIT;
	const char *vp = value, *ep;
	int status = 0;

	while (*vp) {
		if (*vp != '$') {
			strbuf_putc(&buf, *vp++);
			continue;
		}
		if (vp[1] == '$') {
			strbuf_putc(&buf, '$');
			vp += 2;
			continue;
		}
		if (buf.len > 0) {
			status |= fn(0, strbuf_str(&buf), ctx);
			strbuf_reset(&buf);
		}
		vp++;
		if (*vp == '{' || *vp == '(') {
			char open = *vp, close = open == '{' ? '}' : ')';
			int level = 1;

			for (ep = ++vp; level > 0; ep++) {
				if (*ep == 0) {
					msg_warn("truncated macro reference: "
						 "\"%s\"", value);
					status |= SUBST_ERROR;
					break;
				}
				if (*ep == open)
					level++;
				if (*ep == close)
					level--;
			}
			/* Postfix stops here after any earlier error too. */
			if (status & SUBST_ERROR)
				break;
			strbuf_append(&buf, vp, (size_t)(ep - vp - 1));
			vp = ep;
		} else {
			for (ep = vp; *ep && (isalnum((unsigned char)*ep)
					      || *ep == '_'); ep++)
				;
			strbuf_append(&buf, vp, (size_t)(ep - vp));
			vp = ep;
		}
		if (buf.len == 0) {
			msg_warn("empty macro name: \"%s\"", value);
			status |= SUBST_ERROR;
			break;
		}
		status |= fn(1, strbuf_str(&buf), ctx);
		strbuf_reset(&buf);
	}
	if (buf.len > 0 && !(status & SUBST_ERROR))
		status |= fn(0, strbuf_str(&buf), ctx);
	strbuf_release(&buf);
	return status;
}

struct scan_ctx {
	struct map *map;
	const char *kind;
	int lineno;
	long max_sub;
};

/* scan_part - check one reference at load time */
static int
scan_part(int is_ref, const char *text, void *ptr)
{
	struct scan_ctx *sc = ptr;
	long n;

	if (!is_ref)
		return 0;
	if (text[strspn(text, "0123456789")] != 0) {
		msg_warn("%s map %s, line %d: non-numeric replacement index "
			 "\"%s\"", sc->kind, sc->map->name, sc->lineno, text);
		return SUBST_ERROR;
	}
	n = strlen(text) > 9 ? 999999999 : atol(text);
	if (n < 1) {
		msg_warn("%s map %s, line %d: out%srange replacement index "
			 "\"%s\"", sc->kind, sc->map->name, sc->lineno,
			 strcmp(sc->kind, "pcre") == 0 ? " of " : "-of-",
			 text);
		return SUBST_ERROR;
	}
	if (n > sc->max_sub)
		sc->max_sub = n;
	return 0;
}

/* subst_scan - check a replacement; -1 after a warning, else highest n */
static long
subst_scan(struct map *map, const char *kind, int lineno, const char *repl)
{
	struct scan_ctx sc = { map, kind, lineno, 0 };

	if (subst_parse(repl, scan_part, &sc) & SUBST_ERROR) {
		msg_warn("%s map %s, line %d: bad replacement syntax: "
			 "skipping this rule", kind, map->name, lineno);
		return -1;
	}
	return sc.max_sub;
}

struct expand_ctx {
	struct strbuf *out;
	const char *subject;
	const long *ovec;
	size_t nsub;
};

/* expand_part - literal text, or the text a group matched */
static int
expand_part(int is_ref, const char *text, void *ptr)
{
	struct expand_ctx *ec = ptr;
	size_t n;

	if (!is_ref) {
		strbuf_puts(ec->out, text);
		return 0;
	}
	n = (size_t)atol(text);	/* checked at load time */
	if (n <= ec->nsub && ec->ovec[2 * n] >= 0)
		strbuf_append(ec->out, ec->subject + ec->ovec[2 * n],
			      (size_t)(ec->ovec[2 * n + 1] - ec->ovec[2 * n]));
	return 0;
}

/* subst_expand - the result with group references filled in */
static void
subst_expand(struct strbuf *out, const char *repl, const char *subject,
	     const long *ovec, size_t nsub)
{
	struct expand_ctx ec = { out, subject, ovec, nsub };

	strbuf_reset(out);
	subst_parse(repl, expand_part, &ec);
}

/* compile_pat - compile one parsed pattern, warn on failure */
static void *
compile_pat(struct map *map, const struct map_re_engine *eng, int lineno,
	    struct pat *pat, int nosub, size_t *nsub)
{
	struct strbuf *why = strbuf_create(0);
	void *re = eng->compile(pat->text, pat->options, nosub, nsub, why);

	if (re == NULL)
		msg_warn("%s map %s, line %d: %s", eng->kind, map->name, lineno,
			 why->len ? strbuf_str(why) : "bad regular expression");
	strbuf_free(why);
	return re;
}

/* add_rule - append a rule */
static struct rule *
add_rule(struct map_re *mr, enum rule_op op, int lineno)
{
	struct rule *r;

	mr->rules = xrealloc(mr->rules, (mr->count + 1) * sizeof(*r));
	r = &mr->rules[mr->count++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->lineno = lineno;
	return r;
}

/* parse_rule - one logical line into zero or one rule */
static void
parse_rule(struct map *map, struct map_re *mr, char *p, int lineno,
	   size_t *stack, size_t *depth)
{
	const struct map_re_engine *eng = mr->eng;
	struct pat p1, p2;
	int is_regexp = strcmp(eng->kind, "regexp") == 0;
	size_t nsub = 0, nsub2;

	if (!isalnum((unsigned char)*p)) {
		long max_sub;
		void *re1, *re2 = NULL;

		if (!get_pat(map, eng, lineno, &p, &p1, is_regexp))
			return;
		p2.text = NULL;
		if (*p == '!' && is_regexp
		    && !get_pat(map, eng, lineno, &p, &p2, 0))
			return;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == 0)
			msg_warn("%s map %s, line %d: no replacement text: "
				 "using empty string", eng->kind, map->name,
				 lineno);
		if ((max_sub = subst_scan(map, eng->kind, lineno, p)) < 0)
			return;
		if (max_sub > 0 && p1.match == 0) {
			msg_warn("%s map %s, line %d: $number found in negative "
				 "match replacement text: skipping this rule",
				 eng->kind, map->name, lineno);
			return;
		}
		if ((re1 = compile_pat(map, eng, lineno, &p1, max_sub == 0,
				       &nsub)) == NULL)
			return;
		if ((size_t)max_sub > nsub) {
			msg_warn("%s map %s, line %d: out of range replacement "
				 "index \"%ld\": skipping this rule",
				 eng->kind, map->name, lineno, max_sub);
			eng->free(re1);
			return;
		}
		if (p2.text && (re2 = compile_pat(map, eng, lineno, &p2, 1,
						  &nsub2)) == NULL) {
			eng->free(re1);
			return;
		}
		struct rule *r = add_rule(mr, RULE_MATCH, lineno);

		r->re1 = re1;
		r->match1 = p1.match;
		r->re2 = re2;
		r->match2 = p2.text ? p2.match : 1;
		r->repl = xstrdup(p);
		r->nsub = nsub;
		if (nsub + 1 > mr->ovec_pairs)
			mr->ovec_pairs = nsub + 1;
	} else if (strncasecmp(p, "if", 2) == 0 && !isalnum((unsigned char)p[2])) {
		void *re;

		p += 2;
		if (!get_pat(map, eng, lineno, &p, &p1, 0))
			return;
		while (isspace((unsigned char)*p))
			p++;
		if (*p) {
			msg_warn("%s map %s, line %d: ignoring extra text after "
				 "IF statement: \"%s\"", eng->kind, map->name,
				 lineno, p);
			msg_warn("%s map %s, line %d: do not prepend whitespace "
				 "to statements between IF and ENDIF",
				 eng->kind, map->name, lineno);
		}
		if ((re = compile_pat(map, eng, lineno, &p1, 1, &nsub)) == NULL)
			return;
		struct rule *r = add_rule(mr, RULE_IF, lineno);

		r->re1 = re;
		r->match1 = p1.match;
		if (*depth < 100)
			stack[(*depth)++] = mr->count - 1;
	} else if (strncasecmp(p, "endif", 5) == 0
		   && !isalnum((unsigned char)p[5])) {
		if (*depth == 0) {
			msg_warn("%s map %s, line %d: ignoring ENDIF without "
				 "matching IF", eng->kind, map->name, lineno);
			return;
		}
		for (p += 5; isspace((unsigned char)*p); p++)
			;
		if (*p)
			msg_warn("%s map %s, line %d: ignoring extra text after "
				 "ENDIF", eng->kind, map->name, lineno);
		add_rule(mr, RULE_ENDIF, lineno);
		mr->rules[stack[--(*depth)]].endif = mr->count - 1;
	} else {
		msg_warn("%s map %s, line %d: ignoring unrecognized request",
			 eng->kind, map->name, lineno);
	}
}

/* rule_match - run one expression; 1 when it matched */
static int
rule_match(struct map_re *mr, void *re, const char *key, size_t nsub)
{
	for (size_t i = 0; i < 2 * mr->ovec_pairs; i++)
		mr->ovec[i] = -1;
	return mr->eng->exec(re, key, mr->ovec, nsub) > 0;
}

/* map_regexp_lookup - try the rules in order */
static const char *
map_regexp_lookup(struct map *map, const char *key)
{
	struct map_re *mr = map->priv;

	key = map_fold(map, key, MAPS_FLAG_FOLD_MUL);
	for (size_t i = 0; i < mr->count; i++) {
		struct rule *r = &mr->rules[i];

		switch (r->op) {
		case RULE_IF:
			if (rule_match(mr, r->re1, key, 0) != r->match1)
				i = r->endif;
			break;
		case RULE_ENDIF:
			break;
		case RULE_MATCH:
			if (rule_match(mr, r->re1, key, r->nsub) != r->match1)
				break;
			if (r->re2 && rule_match(mr, r->re2, key, 0) != r->match2)
				break;
			/* re2 did not touch groups: it was compiled nosub,
			 * but re-run re1 to be sure the offsets are its. */
			if (r->re2 && r->match1)
				rule_match(mr, r->re1, key, r->nsub);
			subst_expand(&map->result, r->repl, key, mr->ovec,
				     r->match1 ? r->nsub : 0);
			return strbuf_str(&map->result);
		}
	}
	return NULL;
}

/* map_regexp_close - free the rules */
static void
map_regexp_close(struct map *map)
{
	struct map_re *mr = map->priv;

	if (mr == NULL)
		return;
	for (size_t i = 0; i < mr->count; i++) {
		if (mr->rules[i].re1)
			mr->eng->free(mr->rules[i].re1);
		if (mr->rules[i].re2)
			mr->eng->free(mr->rules[i].re2);
		free(mr->rules[i].repl);
	}
	free(mr->rules);
	free(mr->ovec);
	free(mr);
	map->priv = NULL;
}

/* map_regexp_load - read a rule file with the given engine */
int
map_regexp_load(struct map *map, const struct map_re_engine *eng,
		char **why)
{
	struct map_re *mr = xcalloc(1, sizeof(*mr));
	struct strbuf line = STRBUF_INIT;
	struct map_reader rd;
	size_t stack[100], depth = 0;

	mr->eng = eng;
	mr->ovec_pairs = 1;
	map->priv = mr;
	map->lookup = map_regexp_lookup;
	map->close = map_regexp_close;
	map->flags |= MAPS_FLAG_PATTERN;
	if (map_reader_open(&rd, map->name) < 0) {
		*why = xasprintf("open %s: %m", map->name);
		return -1;
	}
	while (map_reader_next(&rd, &line))
		parse_rule(map, mr, map_trim(line.data), rd.lineno, stack,
			   &depth);
	while (depth > 0) {
		struct rule *r = &mr->rules[stack[--depth]];

		msg_warn("%s map %s, line %d: IF has no matching ENDIF",
			 eng->kind, map->name, r->lineno);
		r->endif = mr->count;
	}
	map_reader_close(&rd);
	strbuf_release(&line);
	mr->ovec = xcalloc(2 * mr->ovec_pairs, sizeof(*mr->ovec));
	return 0;
}

/*
 * The POSIX engine.
 */

/* posix_option - i, m, x toggle REG_ICASE, REG_NEWLINE, REG_EXTENDED */
static int
posix_option(int c, int *options)
{
	switch (c) {
	case 'i':
		*options ^= REG_ICASE;
		return 0;
	case 'm':
		*options ^= REG_NEWLINE;
		return 0;
	case 'x':
		*options ^= REG_EXTENDED;
		return 0;
	}
	return -1;
}

/* posix_compile - regcomp() */
static void *
posix_compile(const char *pattern, int options, int nosub, size_t *nsub,
	      struct strbuf *why)
{
	regex_t *re = xmalloc(sizeof(*re));
	int err;

	if ((err = regcomp(re, pattern, options | (nosub ? REG_NOSUB : 0)))
	    != 0) {
		char buf[256];

		regerror(err, re, buf, sizeof(buf));
		strbuf_set(why, buf);
		free(re);
		return NULL;
	}
	*nsub = re->re_nsub;
	return re;
}

/* posix_exec - regexec() */
static int
posix_exec(void *re, const char *subject, long *ovec, size_t nsub)
{
	regmatch_t pm[nsub + 1];
	int err;

	err = regexec(re, subject, nsub + 1, pm, 0);
	if (err == REG_NOMATCH)
		return 0;
	if (err != 0)
		return -1;
	for (size_t i = 0; i <= nsub; i++) {
		ovec[2 * i] = pm[i].rm_so;
		ovec[2 * i + 1] = pm[i].rm_eo;
	}
	return 1;
}

/* posix_free - regfree() */
static void
posix_free(void *re)
{
	regfree(re);
	free(re);
}

static const struct map_re_engine posix_engine = {
	"regexp", REG_EXTENDED | REG_ICASE, 1, posix_option, posix_compile,
	posix_exec, posix_free,
};

/* map_regexp_open - regexp:/path */
int
map_regexp_open(struct map *map, char **why)
{
	return map_regexp_load(map, &posix_engine, why);
}
