/*
 * params - main.cf, -o overrides, $name expansion, the parameter table
 *
 * The table rows live in src/global/params.def; this file gives their
 * variables storage and fills them in.
 *
 * params_read_main_cf() reads $config_dir/main.cf in Postfix syntax.
 * params_override() records one "-o name=value"; params_set() sets a value
 *	from the program (service_name, process_name, config_directory).
 *	Both write the same top layer: the later call wins, and it wins over
 *	main.cf.
 * params_load() expands and converts every table row into its variable,
 *	reading lmtp_name instead of smtp_name in LMTP mode.
 * param_get()/param_get_raw() look up any name, table or not.
 * param_expand() expands $name, ${name}, $(name), ${name?value},
 *	${name:value}, ${name?{value}:{value}}, ${{a} OP {b} ? {t} : {f}}.
 * param_parse_bool/time/long() are the conversions params_load() uses.
 *
 * Lookup order for a name: -o / params_set(), then main.cf, then the
 * table default of the column that names it (smtp_default for smtp_name,
 * lmtp_default for lmtp_name), then the run-time defaults (myhostname,
 * mydomain, process_id, process_name).  An unknown $name expands to
 * nothing, as in Postfix daemons.
 *
 * Errors: all configuration errors are fatal, as in Postfix: a main.cf
 * line that is not "name = value" (with file and line), bad expansion
 * syntax ("main.cf: parameter NAME: bad syntax: ..."), and values that
 * do not convert or are out of range, with Postfix's wording ("bad
 * boolean configuration: NAME = VALUE", "invalid NAME: 0 (min 1)",
 * "bad string length 0 < 1: NAME = ", ...).
 * param_expand() itself only reports: NULL and *err.
 *
 * SEE ALSO
 *	include/global/params.h, postconf(5) "parameter expansion"
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "global/params.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Storage for every parameter variable, from the same list. */
#define PARAM(type, sname, lname, sdef, ldef, var, min, max) \
	PARAM_DEF_##type(var);
#define PARAM_DEF_STR(v)	char *v
#define PARAM_DEF_RAW(v)	char *v
#define PARAM_DEF_INT(v)	int v
#define PARAM_DEF_LONG(v)	long v
#define PARAM_DEF_BOOL(v)	int v
#define PARAM_DEF_TIME(v)	int v
#include "params.def"
#undef PARAM

const struct param_info param_table[] = {
#define PARAM(type, sname, lname, sdef, ldef, var, min, max) \
	{PARAM_##type, sname, lname, sdef, ldef, &var, min, max},
#include "params.def"
#undef PARAM
};

const int param_table_size = sizeof(param_table) / sizeof(param_table[0]);

int params_lmtp_mode;

/*
 * Postfix gives up at "unreasonable macro call nesting"; a chain of
 * references this deep is a loop in practice.  A name that is being
 * expanded and is referenced again is reported at once.
 */
#define EXPAND_DEPTH_MAX	100

#define HASH_SIZE	512

/* One known name: a table name, a main.cf name, or an override. */
struct entry {
	char *name;
	char *conf;		/* main.cf value, or NULL */
	char *over;		/* -o / params_set() value, or NULL */
	const struct param_info *row;	/* table row naming it, or NULL */
	int lmtp_col;		/* name is row->lmtp_name */
	char *builtin;		/* cached run-time default */
	char *expanded;		/* cached param_get() result */
	int busy;		/* being expanded: a reference is a loop */
	struct entry *next;
};

static struct entry *hash_table[HASH_SIZE];
static int table_entered;
static char **row_strings;	/* what params_load() allocated per row */
static char errbuf[512];

/* hash - string hash for the name table */
static unsigned
hash(const char *name, size_t len)
{
	unsigned h = 5381;

	while (len-- > 0)
		h = h * 33 + (unsigned char)*name++;
	return h % HASH_SIZE;
}

/* find_n - look up a name given as pointer and length */
static struct entry *
find_n(const char *name, size_t len)
{
	struct entry *e;

	for (e = hash_table[hash(name, len)]; e; e = e->next)
		if (strncmp(e->name, name, len) == 0 && e->name[len] == 0)
			return e;
	return NULL;
}

/* enter_table - put every table name into the name table, once */
static void
enter_table(void)
{
	const struct param_info *row;
	struct entry *e;
	int i, col;

	if (table_entered)
		return;
	table_entered = 1;
	for (i = 0; i < param_table_size; i++) {
		row = param_table + i;
		for (col = 0; col < 2; col++) {
			const char *name = col ? row->lmtp_name : row->smtp_name;
			unsigned h;

			if (name == NULL || find_n(name, strlen(name)))
				continue;
			h = hash(name, strlen(name));
			e = xcalloc(1, sizeof(*e));
			e->name = xstrdup(name);
			e->row = row;
			e->lmtp_col = col;
			e->next = hash_table[h];
			hash_table[h] = e;
		}
	}
}

/* find - look up a name */
static struct entry *
find(const char *name)
{
	enter_table();
	return find_n(name, strlen(name));
}

/* find_or_add - look up a name, adding it when new */
static struct entry *
find_or_add(const char *name)
{
	struct entry *e = find(name);
	unsigned h;

	if (e == NULL) {
		h = hash(name, strlen(name));
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(name);
		e->next = hash_table[h];
		hash_table[h] = e;
	}
	return e;
}

/* invalidate - forget cached expansions after a change */
static void
invalidate(void)
{
	struct entry *e;
	int i;

	for (i = 0; i < HASH_SIZE; i++)
		for (e = hash_table[i]; e; e = e->next) {
			free(e->expanded);
			e->expanded = NULL;
			free(e->builtin);
			e->builtin = NULL;
		}
}

/* set_error - format the message that param_expand() returns */
static int
set_error(const char **err, const char *what, const char *at, size_t len)
{
	if (at)
		snprintf(errbuf, sizeof(errbuf), "%s: \"%.*s\"", what,
			 (int)(len > 200 ? 200 : len), at);
	else
		snprintf(errbuf, sizeof(errbuf), "%s", what);
	*err = errbuf;
	return -1;
}

static int expand_span(const char *text, size_t len, struct strbuf *out,
		       int depth, const char **err);
static const char *raw_lookup(struct entry *e, int depth, const char **err);

/* host_name - gethostname(), once */
static const char *
host_name(void)
{
	static char name[256];

	if (name[0] == 0) {
		if (gethostname(name, sizeof(name) - 1) < 0 || name[0] == 0)
			snprintf(name, sizeof(name), "localhost");
		name[sizeof(name) - 1] = 0;
	}
	return name;
}

/*
 * builtin - run-time defaults, as raw (expandable) text
 *
 * myhostname: the host name when it has a dot; otherwise Postfix appends
 * $mydomain when main.cf (or -o) sets it and ".localdomain" when not
 * (observed with postconf 3.7: host "vm" gives "vm.localdomain").
 * mydomain: $myhostname minus its first label, "localdomain" when it
 * has no dot ("foo.com" gives "com", as postconf does).
 */
static const char *
builtin(struct entry *e, int depth, const char **err)
{
	struct strbuf sb = STRBUF_INIT;
	struct entry *dom;
	const char *dot;

	if (e->builtin)
		return e->builtin;
	if (strcmp(e->name, "myhostname") == 0) {
		if (strchr(host_name(), '.'))
			e->builtin = xstrdup(host_name());
		else if ((dom = find("mydomain")) != NULL
			 && (dom->over || dom->conf))
			e->builtin = xasprintf("%s.$mydomain", host_name());
		else
			e->builtin = xasprintf("%s.localdomain", host_name());
	} else if (strcmp(e->name, "mydomain") == 0) {
		if (expand_span("$myhostname", 11, &sb, depth + 1, err) < 0) {
			strbuf_release(&sb);
			return NULL;
		}
		dot = strchr(strbuf_str(&sb), '.');
		e->builtin = xstrdup(dot && dot[1] ? dot + 1 : "localdomain");
		strbuf_release(&sb);
	} else if (strcmp(e->name, "process_id") == 0) {
		e->builtin = xasprintf("%ld", (long)getpid());
	} else if (strcmp(e->name, "process_name") == 0) {
		e->builtin = xstrdup(program_invocation_short_name);
	} else {
		return NULL;
	}
	return e->builtin;
}

/* raw_lookup - the unexpanded value of a name, NULL if none */
static const char *
raw_lookup(struct entry *e, int depth, const char **err)
{
	const char *def;

	*err = NULL;
	if (e == NULL)
		return NULL;
	if (e->over)
		return e->over;
	if (e->conf)
		return e->conf;
	if (e->row) {
		def = e->lmtp_col ? e->row->lmtp_default : e->row->smtp_default;
		if (def)
			return def;
	}
	return builtin(e, depth, err);
}

/* expand_name - append the expanded value of a name (empty if unknown) */
static int
expand_name(const char *name, size_t len, struct strbuf *out, int depth,
	    const char **err)
{
	struct entry *e = find_n(name, len);
	const char *raw;
	int ret;

	if ((raw = raw_lookup(e, depth, err)) == NULL)
		return *err ? -1 : 0;
	if (e->busy)
		return set_error(err, "unreasonable macro call nesting",
				 name, len);
	e->busy = 1;
	ret = expand_span(raw, strlen(raw), out, depth + 1, err);
	e->busy = 0;
	return ret;
}

/* name_is_set - does the name have a non-empty (raw) value */
static int
name_is_set(const char *name, size_t len, int depth, const char **err)
{
	const char *raw = raw_lookup(find_n(name, len), depth, err);

	if (*err)
		return -1;
	return raw != NULL && *raw != 0;
}

/* skip_space - first non-blank at or after p */
static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

/* is_name_char - may this byte appear in a parameter name */
static int
is_name_char(int ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* find_close - the bracket that closes the one at p, or NULL */
static const char *
find_close(const char *p, const char *end, int open, int close)
{
	int level = 0;

	for (; p < end; p++) {
		if (*p == open)
			level++;
		else if (*p == close && --level == 0)
			return p;
	}
	return NULL;
}

/*
 * A value after "?" or ":" is either "{text}" (then more may follow) or,
 * the older form, all the remaining text with its ends trimmed.
 */
struct span {
	const char *p;
	size_t len;
	int present;
};

/* parse_value - parse one branch value, return the text after it */
static const char *
parse_value(const char *p, const char *end, struct span *v, int *braced,
	    const char **err)
{
	const char *close;
	const char *q;

	p = skip_space(p, end);
	v->present = 1;
	if (p < end && *p == '{') {
		if ((close = find_close(p, end, '{', '}')) == NULL) {
			set_error(err, "truncated macro reference", p,
				  (size_t)(end - p));
			return NULL;
		}
		v->p = p + 1;
		v->len = (size_t)(close - p - 1);
		*braced = 1;
		return skip_space(close + 1, end);
	}
	q = end;
	while (q > p && isspace((unsigned char)q[-1]))
		q--;
	v->p = p;
	v->len = (size_t)(q - p);
	*braced = 0;
	return end;
}

/*
 * parse_branches - "? value [: value]", ": value", or nothing at all
 *
 * t is the "?" value, f the ":" value; each is marked present or not.
 * After a braced "?" value only ":" may follow; after the ":" value
 * nothing may.
 */
static int
parse_branches(const char *p, const char *end, struct span *t,
	       struct span *f, const char **err)
{
	int braced;

	t->present = f->present = 0;
	p = skip_space(p, end);
	if (p >= end)
		return 0;
	if (*p == '?') {
		if ((p = parse_value(p + 1, end, t, &braced, err)) == NULL)
			return -1;
		if (p >= end)
			return 0;
		if (*p != ':')
			return set_error(err, "\":\" expected at", p,
					 (size_t)(end - p));
		p++;
	} else if (*p == ':') {
		p++;
	} else {
		return set_error(err, "unexpected input at", p,
				 (size_t)(end - p));
	}
	if ((p = parse_value(p, end, f, &braced, err)) == NULL)
		return -1;
	if (p < end)
		return set_error(err, "unexpected input at", p,
				 (size_t)(end - p));
	return 0;
}

/* parse_level - compatibility level "major[.minor[.patch]]" */
static int
parse_level(const char *s, unsigned long v[3])
{
	int n;

	v[0] = v[1] = v[2] = 0;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+')
		s++;
	for (n = 0; n < 3; n++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++)
			v[n] = v[n] > (ULONG_MAX - 9) / 10 ? ULONG_MAX
			    : v[n] * 10 + (unsigned long)(*s - '0');
		if (*s == 0)
			return 0;
		if (*s != '.')
			return -1;
		s++;
	}
	return -1;
}

/* parse_decimal - is the text a decimal integer, and which */
static int
parse_decimal(const char *s, long long *out)
{
	char *end;

	if (*s == 0 || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}

/* compare - compare two operands: levels, integers, or strings */
static int
compare(const char *a, const char *b, int level, int *cmp, const char **err)
{
	unsigned long la[3], lb[3];
	long long na, nb;
	int i;

	if (level) {
		if (parse_level(a, la) < 0)
			return set_error(err, "malformed compatibility level "
					 "syntax", a, strlen(a));
		if (parse_level(b, lb) < 0)
			return set_error(err, "malformed compatibility level "
					 "syntax", b, strlen(b));
		for (*cmp = 0, i = 0; i < 3 && *cmp == 0; i++)
			*cmp = la[i] < lb[i] ? -1 : la[i] > lb[i];
	} else if (parse_decimal(a, &na) == 0 && parse_decimal(b, &nb) == 0) {
		*cmp = na < nb ? -1 : na > nb;
	} else {
		*cmp = strcmp(a, b);
	}
	return 0;
}

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

/* parse_operator - "==", "!=", "<", "<=", ">", ">=", each maybe + "level" */
static const char *
parse_operator(const char *p, const char *end, enum op *op, int *level,
	       const char **err)
{
	static const struct {
		const char *text;
		enum op op;
	} ops[] = {
		{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
		{"<", OP_LT}, {">", OP_GT},
	};
	const char *q;
	size_t i, n;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = strlen(ops[i].text);
		if ((size_t)(end - p) >= n && strncmp(p, ops[i].text, n) == 0)
			break;
	}
	if (i == sizeof(ops) / sizeof(ops[0])
	    || (p[n] == '=' || p[n] == '<' || p[n] == '>' || p[n] == '!')) {
		set_error(err, "\"==\" or \"!=\" or \"<\" or \"<=\" or \">=\" "
			  "or \">\" expected at", p, (size_t)(end - p));
		return NULL;
	}
	*op = ops[i].op;
	p += n;
	for (q = p; q < end && isalnum((unsigned char)*q); q++)
		 /* void */ ;
	*level = 0;
	if (q > p) {
		if (q - p != 5 || strncmp(p, "level", 5) != 0) {
			set_error(err, "bad operator suffix at", p,
				  (size_t)(q - p));
			return NULL;
		}
		*level = 1;
	}
	return q;
}

/* expand_braced - expand "{text}" at p into a new string, or NULL */
static char *
expand_braced(const char **pp, const char *end, int depth, const char **err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = *pp;
	const char *close;

	if (p >= end || *p != '{') {
		set_error(err, "\"{expression}\" expected at", p,
			  (size_t)(end - p));
		return NULL;
	}
	if ((close = find_close(p, end, '{', '}')) == NULL) {
		set_error(err, "truncated macro reference", p,
			  (size_t)(end - p));
		return NULL;
	}
	if (expand_span(p + 1, (size_t)(close - p - 1), &sb, depth, err) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	*pp = close + 1;
	return strbuf_take(&sb);
}

/*
 * expand_expression - ${{a} OP {b} ? {t} : {f}}
 *
 * Both operands are expanded, then compared; only the chosen branch is
 * expanded.  Without "?" and ":" the result is "true" or empty, as with
 * Postfix.
 */
static int
expand_expression(const char *p, const char *end, struct strbuf *out,
		  int depth, const char **err)
{
	char *a = NULL, *b = NULL;
	struct span t, f;
	enum op op;
	int level, cmp, truth, ret = -1;

	if ((a = expand_braced(&p, end, depth, err)) == NULL)
		goto out;
	p = skip_space(p, end);
	if ((p = parse_operator(p, end, &op, &level, err)) == NULL)
		goto out;
	p = skip_space(p, end);
	if ((b = expand_braced(&p, end, depth, err)) == NULL)
		goto out;
	if (parse_branches(p, end, &t, &f, err) < 0)
		goto out;
	if (compare(a, b, level, &cmp, err) < 0)
		goto out;
	switch (op) {
	case OP_EQ:
		truth = cmp == 0;
		break;
	case OP_NE:
		truth = cmp != 0;
		break;
	case OP_LT:
		truth = cmp < 0;
		break;
	case OP_LE:
		truth = cmp <= 0;
		break;
	case OP_GT:
		truth = cmp > 0;
		break;
	default:
		truth = cmp >= 0;
		break;
	}
	if (!t.present && !f.present) {
		if (truth)
			strbuf_puts(out, "true");
		ret = 0;
	} else if (truth && t.present) {
		ret = expand_span(t.p, t.len, out, depth, err);
	} else if (!truth && f.present) {
		ret = expand_span(f.p, f.len, out, depth, err);
	} else {
		ret = 0;
	}
out:
	free(a);
	free(b);
	return ret;
}

/*
 * expand_reference - the text between "${" and "}" (or "$(" and ")")
 *
 * "name", "name?value", "name:value", "name?{t}:{f}", or an expression
 * starting with "{".  Blanks around the parts are allowed.
 */
static int
expand_reference(const char *p, const char *end, struct strbuf *out,
		 int depth, const char **err)
{
	const char *name, *q;
	struct span t, f;
	size_t len;
	int set, braced;

	p = skip_space(p, end);
	if (p < end && *p == '{')
		return expand_expression(p, end, out, depth, err);
	for (name = q = p; q < end && is_name_char(*q); q++)
		 /* void */ ;
	len = (size_t)(q - name);
	p = skip_space(q, end);
	if (len == 0)
		return set_error(err, "empty macro name", name,
				 (size_t)(end - name));
	if (p >= end)
		return expand_name(name, len, out, depth, err);
	if (*p != '?' && *p != ':')
		return set_error(err, "attribute name syntax error at", p,
				 (size_t)(end - p));

	/*
	 * "${name?value}": value when name is non-empty; "${name:value}":
	 * value when it is empty or undefined.  Postfix tests the raw value,
	 * so "$empty_param" counts as set.  Only "?{t}" may take ":{f}".
	 */
	if ((set = name_is_set(name, len, depth, err)) < 0)
		return -1;
	if (*p == '?') {
		if (parse_branches(p, end, &t, &f, err) < 0)
			return -1;
		if (set)
			return expand_span(t.p, t.len, out, depth, err);
		return f.present ? expand_span(f.p, f.len, out, depth, err) : 0;
	}
	if ((q = parse_value(p + 1, end, &f, &braced, err)) == NULL)
		return -1;
	if (q < end)
		return set_error(err, "unexpected input at", q,
				 (size_t)(end - q));
	return set ? 0 : expand_span(f.p, f.len, out, depth, err);
}

/* expand_span - expand len bytes of text, appending to out */
static int
expand_span(const char *text, size_t len, struct strbuf *out, int depth,
	    const char **err)
{
	const char *p = text, *end = text + len, *close, *q;

	if (depth > EXPAND_DEPTH_MAX)
		return set_error(err, "unreasonable macro call nesting", text,
				 len);
	while (p < end) {
		if (*p != '$') {
			for (q = p; q < end && *q != '$'; q++)
				 /* void */ ;
			strbuf_append(out, p, (size_t)(q - p));
			p = q;
			continue;
		}
		if (p + 1 >= end)
			return set_error(err, "empty macro name", text, len);
		if (p[1] == '$') {
			strbuf_putc(out, '$');
			p += 2;
		} else if (p[1] == '{' || p[1] == '(') {
			close = find_close(p + 1, end, p[1],
					   p[1] == '{' ? '}' : ')');
			if (close == NULL)
				return set_error(err, "truncated macro "
						 "reference", p,
						 (size_t)(end - p));
			if (expand_reference(p + 2, close, out, depth, err) < 0)
				return -1;
			p = close + 1;
		} else if (is_name_char(p[1])) {
			for (q = p + 1; q < end && is_name_char(*q); q++)
				 /* void */ ;
			if (expand_name(p + 1, (size_t)(q - p - 1), out, depth,
					err) < 0)
				return -1;
			p = q;
		} else {
			return set_error(err, "empty macro name", text, len);
		}
	}
	return 0;
}

/* param_expand - expand a value against the current parameters */
char *
param_expand(const char *value, const char **err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *dummy;

	if (err == NULL)
		err = &dummy;
	*err = NULL;
	enter_table();
	if (expand_span(value, strlen(value), &sb, 0, err) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_take(&sb);
}

/* get_expanded - param_get() with the error handed back */
static const char *
get_expanded(struct entry *e, const char **err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *raw;

	*err = NULL;
	if (e == NULL)
		return NULL;
	if (e->expanded)
		return e->expanded;
	if ((raw = raw_lookup(e, 0, err)) == NULL)
		return NULL;
	e->busy = 1;
	if (expand_span(raw, strlen(raw), &sb, 1, err) < 0) {
		e->busy = 0;
		strbuf_release(&sb);
		return NULL;
	}
	e->busy = 0;
	e->expanded = strbuf_take(&sb);
	return e->expanded;
}

/* param_get - the expanded value of any parameter, NULL if unknown */
const char *
param_get(const char *name)
{
	const char *err;
	const char *value = get_expanded(find(name), &err);

	if (value == NULL && err)
		msg_fatal("main.cf: parameter %s: bad syntax: %s", name, err);
	return value;
}

/* param_get_raw - the configured or default value, unexpanded */
const char *
param_get_raw(const char *name)
{
	const char *err;
	const char *value = raw_lookup(find(name), 0, &err);

	if (value == NULL && err)
		msg_fatal("main.cf: parameter %s: bad syntax: %s", name, err);
	return value;
}

/* param_parse_bool - "yes" or "no", any case (Postfix accepts no more) */
int
param_parse_bool(const char *value, int *out)
{
	if (strcasecmp(value, "yes") == 0)
		*out = 1;
	else if (strcasecmp(value, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* unit_seconds - seconds per unit letter, 0 if not a unit */
static long long
unit_seconds(int unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 604800;
	default:
		return 0;
	}
}

/*
 * param_parse_time - "number[unit]" in seconds; unit is one of s m h d w
 * (lower case only, as Postfix), default_unit when absent.  Postfix 3.7
 * also ignores junk after the unit ("1mx"); we refuse it.
 */
int
param_parse_time(const char *value, int default_unit, int *out)
{
	const char *p = value;
	long long n = 0, mult;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (*p - '0');
		if (n > INT_MAX)
			return -1;
	}
	if (*p == 0)
		mult = unit_seconds(default_unit);
	else if (p[1] == 0)
		mult = unit_seconds(*p);
	else
		return -1;
	if (mult == 0 || n > INT_MAX / mult)
		return -1;
	*out = (int)(n * mult);
	return 0;
}

/* param_parse_long - a decimal number, nothing else */
int
param_parse_long(const char *value, long *out)
{
	char *end;
	const char *p = value;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*out = strtol(value, &end, 10);
	return (*end || errno) ? -1 : 0;
}

/* default_unit - the unit letter of a time default, 's' if none */
static int
default_unit(const char *def)
{
	size_t len = def ? strlen(def) : 0;

	if (len > 0 && unit_seconds(def[len - 1]))
		return def[len - 1];
	return 's';
}

/* load_row - expand, convert and store one table row */
static void
load_row(int i, int lmtp_mode)
{
	const struct param_info *row = param_table + i;
	const char *name, *def, *value, *err;
	char *expanded = NULL;
	long lval;
	int ival;

	if (lmtp_mode && row->lmtp_name) {
		name = row->lmtp_name;
		def = row->lmtp_default;
	} else {
		name = row->smtp_name;
		def = row->smtp_default;
	}
	if (name != NULL && row->type == PARAM_RAW) {
		value = param_get_raw(name);
	} else if (name != NULL) {
		if ((value = get_expanded(find(name), &err)) == NULL && err)
			msg_fatal("main.cf: parameter %s: bad syntax: %s",
				  name, err);
	} else if (row->type == PARAM_RAW) {
		/* LMTP-only row in SMTP mode: no name is read. */
		value = def;
		name = row->lmtp_name;
	} else {
		/* LMTP-only row in SMTP mode: only the default applies. */
		name = row->lmtp_name;
		if (def && (expanded = param_expand(def, &err)) == NULL)
			msg_fatal("main.cf: parameter %s: bad syntax: %s",
				  name, err);
		value = expanded;
	}
	if (value == NULL)
		value = "";

	switch (row->type) {
	case PARAM_STR:
	case PARAM_RAW:
		/* For strings min and max bound the length, as in Postfix. */
		lval = (long)strlen(value);
		if (row->min && lval < row->min)
			msg_fatal("bad string length %ld < %ld: %s = %s", lval,
				  row->min, name, value);
		if (row->max && lval > row->max)
			msg_fatal("bad string length %ld > %ld: %s = %s", lval,
				  row->max, name, value);
		free(row_strings[i]);
		row_strings[i] = xstrdup(value);
		*(char **)row->var = row_strings[i];
		break;
	case PARAM_BOOL:
		if (param_parse_bool(value, &ival) < 0)
			msg_fatal("bad boolean configuration: %s = %s", name,
				  value);
		*(int *)row->var = ival;
		break;
	case PARAM_TIME:
		if (param_parse_time(value, default_unit(def), &ival) < 0)
			msg_fatal("parameter %s: bad time value or unit: %s",
				  name, value);
		if (row->min && ival < row->min)
			msg_fatal("invalid %s: %d (min %ld)", name, ival,
				  row->min);
		if (row->max && ival > row->max)
			msg_fatal("invalid %s: %d (max %ld)", name, ival,
				  row->max);
		*(int *)row->var = ival;
		break;
	case PARAM_INT:
	case PARAM_LONG:
		if (param_parse_long(value, &lval) < 0
		    || (row->type == PARAM_INT
			&& (lval < INT_MIN || lval > INT_MAX)))
			msg_fatal("bad numerical configuration: %s = %s", name,
				  value);
		if (row->min && lval < row->min)
			msg_fatal("invalid %s parameter value %ld < %ld", name,
				  lval, row->min);
		if (row->max && lval > row->max)
			msg_fatal("invalid %s parameter value %ld > %ld", name,
				  lval, row->max);
		if (row->type == PARAM_INT)
			*(int *)row->var = (int)lval;
		else
			*(long *)row->var = lval;
		break;
	default:
		msg_panic("params: %s: bad type %d", name, row->type);
	}
	free(expanded);
}

/* params_load - fill in every table variable */
void
params_load(int lmtp_mode)
{
	int i;

	enter_table();
	params_lmtp_mode = lmtp_mode;
	if (row_strings == NULL)
		row_strings = xcalloc((size_t)param_table_size, sizeof(char *));
	for (i = 0; i < param_table_size; i++)
		load_row(i, lmtp_mode);
}

/* params_set - a value from the program itself (NULL: forget it) */
void
params_set(const char *name, const char *value)
{
	struct entry *e = find_or_add(name);

	free(e->over);
	e->over = value ? xstrdup(value) : NULL;
	invalidate();
}

/* params_override - one "-o name=value" */
void
params_override(const char *name_equals_value)
{
	const char *eq = strchr(name_equals_value, '=');
	const char *p = name_equals_value, *q;
	char *name, *value;

	while (isspace((unsigned char)*p))
		p++;
	if (eq == NULL || eq == p)
		msg_fatal("-o %s: expected name=value", name_equals_value);
	for (q = eq; q > p && isspace((unsigned char)q[-1]); q--)
		 /* void */ ;
	name = xstrndup(p, (size_t)(q - p));
	for (p = eq + 1; isspace((unsigned char)*p); p++)
		 /* void */ ;
	for (q = p + strlen(p); q > p && isspace((unsigned char)q[-1]); q--)
		 /* void */ ;
	value = xstrndup(p, (size_t)(q - p));
	params_set(name, value);
	free(value);
	free(name);
}

/* parse_logical - "name = value" from one logical main.cf line */
static void
parse_logical(const char *line, const char *path, int lineno)
{
	const char *p = line, *name_end, *end;
	struct entry *e;
	char *name;

	while (*p && !isspace((unsigned char)*p) && *p != '=')
		p++;
	name_end = p;
	if (name_end == line)
		msg_fatal("%s, line %d: missing attribute name: \"%s\"", path,
			  lineno, line);
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '=')
		msg_fatal("%s, line %d: missing '=' after attribute name: "
			  "\"%s\"", path, lineno, line);
	for (p++; isspace((unsigned char)*p); p++)
		 /* void */ ;
	for (end = p + strlen(p); end > p && isspace((unsigned char)end[-1]);
	     end--)
		 /* void */ ;
	name = xstrndup(line, (size_t)(name_end - line));
	e = find_or_add(name);
	free(e->conf);
	e->conf = xstrndup(p, (size_t)(end - p));
	free(name);
}

/*
 * params_read_main_cf - read $config_dir/main.cf
 *
 * Postfix syntax: a logical line starts in column 1; a line that starts
 * with a blank continues it (its text is appended as is, without the
 * newline); blank lines and lines whose first non-blank is "#" are
 * skipped anywhere, also inside a continued line.  A continuation with
 * nothing to continue is skipped with a warning, as postconf does.  The
 * last setting of a name wins.
 */
void
params_read_main_cf(const char *config_dir)
{
	char *path = xasprintf("%s/main.cf", config_dir);
	struct strbuf logical = STRBUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, start = 0, have = 0;
	const char *p;
	struct entry *e;
	FILE *fp;
	int i;

	enter_table();
	for (i = 0; i < HASH_SIZE; i++)
		for (e = hash_table[i]; e; e = e->next) {
			free(e->conf);
			e->conf = NULL;
		}
	invalidate();
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			msg_fatal("open %s: %m", path);
		free(path);
		return;
	}
	while ((len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		for (p = line; isspace((unsigned char)*p); p++)
			 /* void */ ;
		if (*p == 0 || *p == '#')
			continue;
		if (p != line) {
			if (have)
				strbuf_puts(&logical, line);
			else
				msg_warn("%s, line %d: logical line must not "
					 "start with whitespace: \"%s\"",
					 path, lineno, line);
			continue;
		}
		if (have)
			parse_logical(strbuf_str(&logical), path, start);
		strbuf_set(&logical, line);
		start = lineno;
		have = 1;
	}
	if (ferror(fp))
		msg_fatal("read %s: %m", path);
	if (have)
		parse_logical(strbuf_str(&logical), path, start);
	fclose(fp);
	free(line);
	strbuf_release(&logical);
	free(path);
	invalidate();
}
