/*
 * maps - lists of Postfix lookup tables
 *
 * maps_create() opens the "type:name" items of a parameter value (each
 * table once per process: a registry shares handles); maps_find() asks
 * them in order; maps_changed() tells the restart check which file-based
 * table was rebuilt; maps_addr_find() is the address search order of
 * Postfix's mail_addr_find(); maps_domain_list_*() is its domain_list
 * matcher.  map_open() dispatches "type:" to the table modules and
 * replaces a table that cannot be opened by a stand-in that fails every
 * lookup, so that a broken table defers mail instead of answering "not
 * found".
 *
 * SEE ALSO: include/maps/maps.h, src/maps/map.h, Postfix's maps(3),
 * dict_open(3), mail_addr_find(3), match_list(3).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <wchar.h>
#include <wctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/params.h"
#include "maps/maps.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "map.h"

/* Table types: one row each. */
static const struct map_type {
	const char *type;
	map_open_fn open;
} map_types[] = {
	{ "hash", map_db_open_hash },
	{ "btree", map_db_open_btree },
	{ "texthash", map_text_open_texthash },
	{ "inline", map_text_open_inline },
	{ "static", map_static_open },
	{ "fail", map_static_open_fail },
	{ "environ", map_static_open_environ },
	{ "cidr", map_cidr_open },
	{ "regexp", map_regexp_open },
	{ "pcre", map_pcre_open },
	{ "unionmap", map_union_open_unionmap },
	{ "pipemap", map_union_open_pipemap },
	{ "proxy", map_proxy_open },
};

static struct map *map_registry;
static int utf8_setting = -1;	/* -1: follow var_smtputf8_enable */

#define utf8_on	(utf8_setting >= 0 ? utf8_setting : var_smtputf8_enable)

/* maps_utf8_enable - override smtputf8_enable for table lookups */
void
maps_utf8_enable(int on)
{
	utf8_setting = on;
}

/* all_ascii - no byte above 127 */
static int
all_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 127)
			return 0;
	return 1;
}

/* valid_utf8 - well-formed UTF-8, no surrogates or overlong forms */
static int
valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned c = *s++;
		int n;
		unsigned cp, min;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		while (n-- > 0) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (*s++ & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

/* utf8_fold - lowercase a valid UTF-8 string into sb */
static void
utf8_fold(struct strbuf *sb, const char *key)
{
	static locale_t loc;
	mbstate_t in, out;
	char buf[MB_LEN_MAX];
	size_t n, len = strlen(key);
	wchar_t wc;

	if (loc == (locale_t)0
	    && (loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0))
	    == (locale_t)0)
		msg_fatal("maps: no C.UTF-8 locale for UTF-8 case folding");
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	strbuf_reset(sb);
	while (len > 0) {
		locale_t old = uselocale(loc);

		n = mbrtowc(&wc, key, len, &in);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			uselocale(old);
			strbuf_append(sb, key, len);	/* checked before */
			return;
		}
		key += n;
		len -= n;
		if (wc == 0x130) {	/* capital I with dot: i + dot */
			uselocale(old);
			strbuf_puts(sb, "i\xcc\x87");
			continue;
		}
		if (wc == 0xdf || wc == 0x1e9e
		    || (wc >= 0xfb00 && wc <= 0xfb06)) {
			/* Full folding: one letter becomes several. */
			static const char *const lig[] = {
				"ff", "fi", "fl", "ffi", "ffl", "st", "st",
			};
			uselocale(old);
			strbuf_puts(sb, wc >= 0xfb00 ? lig[wc - 0xfb00] : "ss");
			continue;
		}
		/* Upper then lower, so that e.g. final sigma folds as sigma. */
		wc = (wchar_t)towlower_l(towupper_l((wint_t)wc, loc), loc);
		n = wcrtomb(buf, wc, &out);
		uselocale(old);
		if (n != (size_t)-1)
			strbuf_append(sb, buf, n);
	}
}

/* maps_split_list - split a list on commas and white space, honouring {} */
char **
maps_split_list(const char *spec, int strip_outer_braces)
{
	size_t n = 0, cap = 8;
	char **argv = xmalloc(cap * sizeof(*argv));
	const char *cp = spec ? spec : "";

	for (;;) {
		const char *start;
		int depth = 0;

		while (*cp && (*cp == ',' || isspace((unsigned char)*cp)))
			cp++;
		if (*cp == 0)
			break;
		start = cp;
		for (; *cp; cp++) {
			if (*cp == '{')
				depth++;
			else if (*cp == '}' && depth > 0)
				depth--;
			else if (depth == 0 && (*cp == ','
					       || isspace((unsigned char)*cp)))
				break;
		}
		if (n + 2 > cap)
			argv = xrealloc(argv, (cap *= 2) * sizeof(*argv));
		if (strip_outer_braces && *start == '{' && cp - start >= 2
		    && cp[-1] == '}') {
			const char *s = start + 1, *e = cp - 1;

			while (s < e && isspace((unsigned char)*s))
				s++;
			while (e > s && isspace((unsigned char)e[-1]))
				e--;
			argv[n++] = xstrndup(s, (size_t)(e - s));
		} else {
			argv[n++] = xstrndup(start, (size_t)(cp - start));
		}
	}
	argv[n] = NULL;
	return argv;
}

/* maps_argv_free - free what maps_split_list() made */
void
maps_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **ap = argv; *ap; ap++)
		free(*ap);
	free(argv);
}

/* standin_lookup - the stand-in for a table that could not be opened */
static const char *
standin_lookup(struct map *map, const char *key)
{
	msg_warn("%s:%s is unavailable. %s", map->type, map->name,
		 (const char *)map->priv);
	map->error = MAPS_ERR_CONFIG;
	return NULL;
}

/* standin_close - forget the reason */
static void
standin_close(struct map *map)
{
	free(map->priv);
	map->priv = NULL;
}

/*
 * standin_init - Postfix's dict_surrogate() in a daemon: the reason is
 * logged as an error now, and again as a warning with each lookup,
 * which fails.
 */
static void
standin_init(struct map *map, const char *why)
{
	msg_error("%s", why);
	if (map->close)
		map->close(map);
	map->close = standin_close;
	map->priv = xstrdup(why);
	if (map->stat_fd >= 0)
		close(map->stat_fd);
	map->stat_fd = -1;
	map->lookup = standin_lookup;
	map->flags |= MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN;
}

/* map_alloc - a blank table handle (not registered) */
static struct map *
map_alloc(const char *type, const char *name, int flags)
{
	struct map *map = xcalloc(1, sizeof(*map));

	map->type = xstrdup(type);
	map->name = xstrdup(name);
	map->spec = xasprintf("%s:%s", type, name);
	map->flags = flags;
	map->refs = 1;
	map->stat_fd = -1;
	strbuf_init(&map->fold, 0);
	strbuf_init(&map->result, 0);
	return map;
}

/* map_standin - a registered table that fails every lookup */
struct map *
map_standin(const char *type, const char *name, const char *why)
{
	struct map *map = map_alloc(type, name, 0);

	map->reg_name = xstrdup(map->spec);
	standin_init(map, why);
	map->next = map_registry;
	map_registry = map;
	return map;
}

/* map_fold - the key, lowercased into map->fold when the flag is set */
const char *
map_fold(struct map *map, const char *key, int fold_flag)
{
	if ((map->flags & fold_flag) == 0)
		return key;
	if (utf8_on && (map->flags & MAPS_FLAG_UTF8_REQUEST)
	    && !all_ascii(key)) {
		utf8_fold(&map->fold, key);
		return strbuf_str(&map->fold);
	}
	strbuf_set(&map->fold, key);
	for (char *cp = map->fold.data; cp && *cp; cp++)
		*cp = (char)tolower((unsigned char)*cp);
	return strbuf_str(&map->fold);
}

/* Postfix's dict flag names, in its order (dict_flags_str()). */
static const char *const flag_names[] = {
	"warn_dup", "ignore_dup", "try0null", "try1null", "fixed", "pattern",
	"lock", "replace", "sync_update", "debug", NULL, "no_regsub",
	"no_proxy", "no_unauth", "fold_fix", "fold_mul", "open_lock",
	"bulk_update", "multi_writer", "utf8_request", "utf8_active",
	"src_rhs_is_file",
};

/* registry_name - "spec(0,flag|flag)" as Postfix registers the table */
static char *
registry_name(const char *spec, int flags)
{
	struct strbuf sb = STRBUF_INIT;
	unsigned bits = (unsigned)flags, rest = 0;

	strbuf_printf(&sb, "%s(0,", spec);
	for (unsigned i = 0; i < 32; i++) {
		unsigned bit = 1U << i;

		if ((bits & bit) == 0)
			continue;
		if (i < sizeof(flag_names) / sizeof(flag_names[0])
		    && flag_names[i]) {
			if (sb.data[sb.len - 1] != ',')
				strbuf_putc(&sb, '|');
			strbuf_puts(&sb, flag_names[i]);
		} else {
			rest |= bit;
		}
	}
	if (rest)
		strbuf_printf(&sb, "%s0x%x",
			      sb.data[sb.len - 1] != ',' ? "|" : "", rest);
	strbuf_putc(&sb, ')');
	return strbuf_take(&sb);
}

/* map_open - open a member table (known by its plain name) */
struct map *
map_open(const char *spec, int flags)
{
	return map_open_named(spec, flags, 0);
}

/* map_open_named - open a table by "type:name", sharing an open one */
struct map *
map_open_named(const char *spec, int flags, int decorate)
{
	const char *colon = strchr(spec, ':');
	const struct map_type *mt = NULL;
	struct map *map;
	char *why = NULL, *type;

	if (colon == NULL || colon == spec || colon[1] == 0)
		msg_fatal("open dictionary: expecting \"type:name\" form "
			  "instead of \"%s\"", spec);
	for (map = map_registry; map; map = map->next) {
		if (strcmp(map->spec, spec) == 0
		    && (map->flags & ~(MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN))
		    == flags) {
			map->refs++;
			return map;
		}
	}
	type = xstrndup(spec, (size_t)(colon - spec));
	map = map_alloc(type, colon + 1, flags);
	free(type);
	for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (strcmp(map_types[i].type, map->type) == 0)
			mt = &map_types[i];
	if (mt == NULL)
		why = xasprintf("unsupported dictionary type: %s", map->type);
	else if (mt->open(map, &why) < 0 && why == NULL)
		why = xstrdup("open failed");
	if (why) {
		standin_init(map, why);
		free(why);
	}
	map->reg_name = decorate ? registry_name(spec, flags)
		: xstrdup(spec);
	map->next = map_registry;
	map_registry = map;
	return map;
}

/* map_get - one lookup, with error reset and Postfix's UTF-8 checks */
const char *
map_get(struct map *map, const char *key)
{
	const char *value;
	int check = utf8_on && (map->flags & MAPS_FLAG_UTF8_REQUEST);

	map->error = 0;
	if (check && !all_ascii(key) && !valid_utf8(key)) {
		char *shown = xstrdup(key);

		/* Never log raw bytes that are not text. */
		for (char *cp = shown; *cp; cp++)
			if (!isprint((unsigned char)*cp))
				*cp = '?';
		msg_warn("%s:%s: non-UTF-8 key \"%s\": malformed UTF-8 or "
			 "invalid codepoint", map->type, map->name, shown);
		free(shown);
		return NULL;
	}
	value = map->lookup(map, key);
	if (value && check && !all_ascii(value) && !valid_utf8(value)) {
		msg_warn("%s:%s: key \"%s\": non-UTF-8 value \"%s\": "
			 "malformed UTF-8 or invalid codepoint", map->type,
			 map->name, key, value);
		map->error = MAPS_ERR_CONFIG;
		return NULL;
	}
	return value;
}

/* map_close - drop one reference */
void
map_close(struct map *map)
{
	struct map **mp;

	if (map == NULL || --map->refs > 0)
		return;
	for (mp = &map_registry; *mp; mp = &(*mp)->next) {
		if (*mp == map) {
			*mp = map->next;
			break;
		}
	}
	if (map->close)
		map->close(map);
	if (map->stat_fd >= 0)
		close(map->stat_fd);
	strbuf_release(&map->fold);
	strbuf_release(&map->result);
	free(map->type);
	free(map->name);
	free(map->spec);
	free(map->reg_name);
	free(map);
}

/* maps_create - open every table of a list */
struct maps *
maps_create(const char *title, const char *spec, int flags)
{
	struct maps *maps = xcalloc(1, sizeof(*maps));
	char **argv = maps_split_list(spec, 0);
	int n = 0;

	while (argv[n])
		n++;
	maps->title = xstrdup(title);
	maps->tables = xcalloc((size_t)n + 1, sizeof(*maps->tables));
	for (int i = 0; i < n; i++)
		maps->tables[maps->count++] = map_open_named(argv[i], flags,
							      1);
	maps_argv_free(argv);
	return maps;
}

/* maps_free - close a list's tables */
void
maps_free(struct maps *maps)
{
	if (maps == NULL)
		return;
	for (int i = 0; i < maps->count; i++)
		map_close(maps->tables[i]);
	free(maps->tables);
	free(maps->title);
	free(maps);
}

/* maps_find - search the list; first answer wins, an error stops */
const char *
maps_find(struct maps *maps, const char *key, int flags)
{
	const char *value;

	maps->error = 0;
	if (*key == 0)
		return NULL;
	for (int i = 0; i < maps->count; i++) {
		struct map *map = maps->tables[i];

		if (flags != 0 && (map->flags & flags) == 0)
			continue;
		if ((value = map_get(map, key)) != NULL) {
			if (*value == 0) {
				msg_warn("%s lookup of %s returns an empty "
					 "string result", maps->title, key);
				msg_warn("%s should return NO RESULT in case "
					 "of NOT FOUND", maps->title);
				maps->error = MAPS_ERR_CONFIG;
				return NULL;
			}
			if (msg_verbose && maps->secret)
				msg_info("maps_find: %s: %s = (value not "
					 "logged)", maps->title, key);
			else if (msg_verbose)
				msg_info("maps_find: %s: %s: %s = %.100s",
					 maps->title, map->spec, key, value);
			return value;
		}
		if ((maps->error = map->error) != 0) {
			msg_warn("%s:%s lookup error for \"%s\"", map->type,
				 map->name, key);
			break;
		}
	}
	return NULL;
}

/* maps_changed - the first rebuilt or removed file-based table */
const char *
maps_changed(void)
{
	struct stat st;

	for (struct map *map = map_registry; map; map = map->next) {
		if (map->stat_fd < 0)
			continue;
		if (fstat(map->stat_fd, &st) < 0)
			msg_fatal("maps_changed: fstat: %m");
		if (st.st_mtime != map->mtime || st.st_nlink == 0)
			return map->reg_name;
	}
	return NULL;
}

/*
 * Address lookups (mail_addr_find).  Partial keys are looked up in
 * fixed-string tables only, so that a regexp table sees whole addresses.
 */
#define FULL_KEY	0
#define PARTIAL_KEY	MAPS_FLAG_FIXED

/* dot_string - the local part [s, e) needs no quotes */
static int
dot_string(const char *s, const char *e)
{
	if (s == e || *s == '.' || e[-1] == '.')
		return 0;
	for (const char *cp = s; cp < e; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if ((ch == '.' && cp + 1 < e && cp[1] == '.') || ch == ' '
		    || iscntrl(ch) || strchr("()<>@,;:\\\"[]", ch))
			return 0;
	}
	return 1;
}

/* maps_quote_local - quote_822_local() with Postfix's default flags */
char *
maps_quote_local(const char *address, int bare)
{
	const char *start = address, *end, *colon;
	struct strbuf sb = STRBUF_INIT;

	/* A source route "@a,@b:user@domain" is left outside the quotes. */
	if (address[0] == '@' && (colon = strchr(address, ':')) != NULL)
		start = colon + 1;
	if (bare || (end = strrchr(start, '@')) == NULL)
		end = start + strlen(start);
	if (dot_string(start, end))
		return xstrdup(address);
	strbuf_append(&sb, address, (size_t)(start - address));
	strbuf_putc(&sb, '"');
	for (const char *cp = start; cp < end; cp++) {
		if (*cp == '"' || *cp == '\\' || *cp == '\r')
			strbuf_putc(&sb, '\\');
		strbuf_putc(&sb, *cp);
	}
	strbuf_putc(&sb, '"');
	strbuf_puts(&sb, end);
	return strbuf_take(&sb);
}

/* addr_query - one key in the query form(s) asked for */
static const char *
addr_query(struct maps *maps, const char *key, int flags, int with_domain,
	   int form)
{
	const char *result;
	char *ext;

	if (form == MAPS_ADDR_QUERY_INTERNAL)
		return maps_find(maps, key, flags);
	ext = maps_quote_local(key, !with_domain);
	if (form == MAPS_ADDR_QUERY_INTERNAL_FIRST) {
		result = maps_find(maps, key, flags);
		if (result == NULL && maps->error == 0 && strcmp(key, ext))
			result = maps_find(maps, ext, flags);
	} else {
		result = maps_find(maps, ext, flags);
		if (result == NULL && maps->error == 0
		    && form == MAPS_ADDR_QUERY_EXTERNAL_FIRST
		    && strcmp(key, ext))
			result = maps_find(maps, key, flags);
	}
	free(ext);
	return result;
}

/* addr_find_local - "user" or "user@" from the full and bare keys */
static const char *
addr_find_local(struct maps *maps, const char *full, const char *bare,
		int with_at, char **extp, char **saved_ext, int form)
{
	const char *result = NULL;
	const char *keys[2] = { full, bare };
	struct strbuf key = STRBUF_INIT;

	for (int i = 0; i < 2 && keys[i] && result == NULL
	     && maps->error == 0; i++) {
		const char *at = strrchr(keys[i], '@');

		strbuf_reset(&key);
		strbuf_append(&key, keys[i], (size_t)(at - keys[i]) + !!with_at);
		result = addr_query(maps, strbuf_str(&key), PARTIAL_KEY,
				    with_at, form);
		if (result && i == 1 && extp) {
			*extp = *saved_ext;
			*saved_ext = NULL;
		}
	}
	strbuf_release(&key);
	return result;
}

/*
 * strip_ext - user+foo@domain -> user@domain with *ext = "+foo", or NULL
 * when Postfix would not split: no delimiter, a delimiter first in the
 * local part, postmaster, MAILER-DAEMON, double-bounce, and (when '-' is
 * a delimiter, owner_request_special = yes) owner-foo and foo-request.
 */
static char *
strip_ext(const char *addr, const char *delims, char **ext)
{
	const char *at = strrchr(addr, '@');
	size_t ulen = at ? (size_t)(at - addr) : strlen(addr);
	char *local = xstrndup(addr, ulen);
	size_t i = strcspn(local, delims);
	int keep = i == 0 || i == ulen
		|| strcasecmp(local, "postmaster") == 0
		|| strcasecmp(local, "mailer-daemon") == 0
		|| strcasecmp(local, "double-bounce") == 0
		|| (strchr(delims, '-')
		    && (strncasecmp(local, "owner-", 6) == 0
			|| (ulen > 8
			    && strcasecmp(local + ulen - 8, "-request") == 0)));

	free(local);
	if (keep)
		return NULL;
	*ext = xstrndup(addr + i, ulen - i);
	return xasprintf("%.*s%s", (int)i, addr, at ? at : "");
}

/* maps_addr_find - mail_addr_find()'s search order */
const char *
maps_addr_find(struct maps *maps, const char *address,
	       const struct maps_addr_opts *opts, char **extp)
{
	int strategy = opts && opts->strategy ? opts->strategy
		: MAPS_ADDR_DEFAULT;
	const char *delims = opts && opts->rcpt_delim ? opts->rcpt_delim : "";
	int form = opts ? opts->query_form : MAPS_ADDR_QUERY_INTERNAL;
	char *bare = NULL, *saved_ext = NULL;
	const char *result = NULL;
	const char *at;

	maps->error = 0;
	if (*delims && (strategy & MAPS_ADDR_NOEXT))
		bare = strip_ext(address, delims, &saved_ext);
	if (strategy & MAPS_ADDR_FULL)
		result = addr_query(maps, address, FULL_KEY, 1, form);
	if (result == NULL && maps->error == 0 && bare
	    && (result = addr_query(maps, bare, PARTIAL_KEY, 1, form)) != NULL
	    && extp) {
		*extp = saved_ext;
		saved_ext = NULL;
	}
	at = strrchr(address, '@');
	if (result == NULL && maps->error == 0 && at
	    && (strategy & (MAPS_ADDR_LOCALPART_IF_LOCAL
			    | MAPS_ADDR_LOCALPART_AT_IF_LOCAL))) {
		int local = opts && opts->is_local
			? opts->is_local(at + 1, opts->ctx) : 0;

		if (local > 0) {
			if (strategy & MAPS_ADDR_LOCALPART_IF_LOCAL)
				result = addr_find_local(maps, address, bare,
							 0, extp, &saved_ext,
							 form);
			if (result == NULL && maps->error == 0
			    && (strategy & MAPS_ADDR_LOCALPART_AT_IF_LOCAL))
				result = addr_find_local(maps, address, bare,
							 1, extp, &saved_ext,
							 form);
		} else if (local < 0) {
			maps->error = MAPS_ERR_RETRY;
		}
	}
	if (result == NULL && maps->error == 0 && at
	    && (strategy & MAPS_ADDR_AT_DOMAIN))
		result = maps_find(maps, at, PARTIAL_KEY);
	if (result == NULL && maps->error == 0 && at
	    && (strategy & MAPS_ADDR_DOMAIN)) {
		const char *name = at + 1, *next;

		while (*name) {
			if ((result = maps_find(maps, name, PARTIAL_KEY))
			    || maps->error
			    || !(strategy & (MAPS_ADDR_PDMS | MAPS_ADDR_PDDMDS))
			    || (next = strchr(name + 1, '.')) == NULL)
				break;
			name = (strategy & MAPS_ADDR_PDDMDS) ? next : next + 1;
		}
	}
	if (result == NULL && maps->error == 0 && at
	    && (strategy & MAPS_ADDR_LOCALPART_AT))
		result = addr_find_local(maps, address, bare, 1, extp,
					 &saved_ext, form);
	free(bare);
	free(saved_ext);
	return result;
}

/*
 * Domain lists.
 */
struct maps_domain_pattern {
	int negate;
	char *text;		/* lowercased name, or NULL for a table */
	struct map *table;
};

/* domain_list_push - append one parsed pattern */
static struct maps_domain_pattern *
domain_list_push(struct maps_domain_list *list, int negate)
{
	struct maps_domain_pattern *p;

	list->patterns = xrealloc(list->patterns, ((size_t)list->count + 1)
				  * sizeof(*list->patterns));
	p = &list->patterns[list->count++];
	p->negate = negate;
	p->text = NULL;
	p->table = NULL;
	return p;
}

/* domain_fold - a pattern or name in folded form (xmalloc'd) */
static char *
domain_fold(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	if (utf8_on && !all_ascii(name) && valid_utf8(name)) {
		utf8_fold(&sb, name);
	} else {
		strbuf_set(&sb, name);
		for (char *cp = sb.data; cp && *cp; cp++)
			*cp = (char)tolower((unsigned char)*cp);
	}
	return strbuf_take(&sb);
}

/*
 * domain_list_parse - Postfix's match_list_parse(): items of a string,
 * each negated by leading '!'s on top of the negation it inherits;
 * "/file" items add the file's lines (those not starting with '#');
 * a '#' item ends the string with a warning.
 */
static void
domain_list_parse(struct maps_domain_list *list, const char *string,
		  int negate_in, int depth)
{
	char **argv = maps_split_list(string, 0);

	for (char **ap = argv; *ap; ap++) {
		const char *item = *ap;
		int negate = negate_in;

		if (*item == '#') {
			msg_warn("%s: comment at end of line is not supported: "
				 "%s", list->title, item);
			break;
		}
		for (; *item == '!'; item++)
			negate = !negate;
		if (*item == 0)
			msg_fatal("%s: no pattern after '!'", list->title);
		if (*item == '/') {
			FILE *fp = depth < 20 ? fopen(item, "r") : NULL;
			char *line = NULL;
			size_t cap = 0;

			if (fp == NULL) {
				/* Postfix: a table that fails every lookup. */
				char *why = xasprintf("open file %s: %m", item);
				struct maps_domain_pattern *p =
					domain_list_push(list, negate);

				p->table = map_standin("nofile", item, why);
				free(why);
				continue;
			}
			while (getline(&line, &cap, fp) >= 0)
				if (line[0] != '#')
					domain_list_parse(list, line, negate,
							  depth + 1);
			free(line);
			fclose(fp);
		} else if (item[0] != '[' && strchr(item, ':')) {
			domain_list_push(list, negate)->table =
				map_open_named(item, MAPS_FLAG_LOCK
					       | MAPS_FLAG_UTF8_REQUEST, 1);
		} else {
			domain_list_push(list, negate)->text =
				domain_fold(item);
		}
	}
	maps_argv_free(argv);
}

/* maps_domain_list_create - parse a domain list parameter */
struct maps_domain_list *
maps_domain_list_create(const char *title, const char *spec,
			int parent_matches_sub)
{
	struct maps_domain_list *list = xcalloc(1, sizeof(*list));

	list->title = xstrdup(title);
	list->parent_matches_sub = parent_matches_sub;
	domain_list_parse(list, spec ? spec : "", 0, 0);
	return list;
}

/* maps_string_list_create - parse a string list parameter */
struct maps_domain_list *
maps_string_list_create(const char *title, const char *spec)
{
	struct maps_domain_list *list = xcalloc(1, sizeof(*list));

	list->title = xstrdup(title);
	list->exact = 1;
	domain_list_parse(list, spec ? spec : "", 0, 0);
	return list;
}

/* domain_match_one - Postfix's match_hostname() for one pattern */
static int
domain_match_one(struct maps_domain_list *list,
		 struct maps_domain_pattern *p, const char *name)
{
	size_t nlen = strlen(name), plen;
	const char *entry, *next;

	if (p->table && list->exact) {
		if (map_get(p->table, name) != NULL)
			return 1;
		if ((list->error = p->table->error) != 0)
			msg_warn("%s: %s: table lookup problem", list->title,
				 p->table->spec);
		return 0;
	}
	if (p->table) {
		for (entry = name; *entry; entry = next) {
			if (entry == name || (p->table->flags & MAPS_FLAG_FIXED)) {
				if (map_get(p->table, entry) != NULL)
					return 1;
				if ((list->error = p->table->error) != 0) {
					msg_warn("%s: %s: table lookup problem",
						 list->title, p->table->spec);
					return 0;
				}
			}
			if ((next = strchr(entry + 1, '.')) == NULL)
				break;
			if (list->parent_matches_sub)
				next++;
		}
		return 0;
	}
	if (strcmp(name, p->text) == 0)
		return 1;
	if (list->exact)
		return 0;
	plen = strlen(p->text);
	if (nlen <= plen)
		return 0;
	if (list->parent_matches_sub)
		return name[nlen - plen - 1] == '.'
			&& strcmp(name + nlen - plen, p->text) == 0;
	return p->text[0] == '.' && strcmp(name + nlen - plen, p->text) == 0;
}

/*
 * addr_net_match - pattern "net/len" (IPv6 optionally "[net]/len")
 * against a literal address; 0 also for a pattern that is not one.
 */
static int
addr_net_match(const char *addr, const char *pattern)
{
	unsigned char a[16], n[16];
	char buf[INET6_ADDRSTRLEN + 2];
	const char *slash = strchr(pattern, '/');
	size_t len;
	int family = strchr(pattern, ':') ? AF_INET6 : AF_INET;
	long bits;
	char *end;

	if (slash == NULL || (strchr(addr, ':') != NULL) != (family == AF_INET6))
		return 0;
	len = (size_t)(slash - pattern);
	if (*pattern == '[') {
		if (len < 2 || pattern[len - 1] != ']')
			return 0;
		pattern++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, pattern, len);
	buf[len] = 0;
	bits = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || bits < 0
	    || bits > (family == AF_INET6 ? 128 : 32)
	    || inet_pton(family, buf, n) != 1 || inet_pton(family, addr, a) != 1)
		return 0;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff
			: (unsigned char)(0xff << (8 - bits));

		if ((a[i] & mask) != (n[i] & mask))
			return 0;
	}
	return 1;
}

/* addr_match_one - one pattern against a host address, as Postfix */
static int
addr_match_one(struct maps_domain_list *list, struct maps_domain_pattern *p,
	       const char *addr)
{
	size_t alen = strlen(addr);

	if (addr[strspn(addr, "0123456789.abcdefABCDEF:")] != 0)
		return 0;
	if (p->table) {
		if (map_get(p->table, addr) != NULL)
			return 1;
		if ((list->error = p->table->error) != 0)
			msg_warn("%s: %s: table lookup problem", list->title,
				 p->table->spec);
		return 0;
	}
	if (strcasecmp(p->text, addr) == 0)
		return 1;
	if (p->text[0] == '[' && strncasecmp(p->text + 1, addr, alen) == 0
	    && strcmp(p->text + 1 + alen, "]") == 0)
		return 1;
	return addr_net_match(addr, p->text);
}

/*
 * list_match - the first pattern that matches the name (as a domain) or,
 * when addr is not NULL, the address decides.
 */
static int
list_match(struct maps_domain_list *list, const char *name, const char *addr)
{
	char *folded = domain_fold(name);
	int result = 0;

	list->error = 0;
	for (int i = 0; i < list->count; i++) {
		struct maps_domain_pattern *p = &list->patterns[i];

		if (domain_match_one(list, p, folded)
		    || (addr && !list->error && addr_match_one(list, p, addr))) {
			result = !p->negate;
			break;
		}
		if (list->error)
			break;
	}
	free(folded);
	return result;
}

/*
 * maps_namadr_list_match - a Postfix "namadr" list (debug_peer_list):
 * each pattern is tried against the host name (as a domain list) and
 * then against its address (literal, [literal], net/len, or a table
 * lookup of the address); the first pattern that matches decides.
 */
int
maps_namadr_list_match(struct maps_domain_list *list, const char *name,
		       const char *addr)
{
	return list_match(list, name, addr);
}

/* maps_domain_list_match - the first matching pattern decides */
int
maps_domain_list_match(struct maps_domain_list *list, const char *name)
{
	return list_match(list, name, NULL);
}

/* maps_domain_list_free - release a domain list */
void
maps_domain_list_free(struct maps_domain_list *list)
{
	if (list == NULL)
		return;
	for (int i = 0; i < list->count; i++) {
		free(list->patterns[i].text);
		map_close(list->patterns[i].table);
	}
	free(list->patterns);
	free(list->title);
	free(list);
}
