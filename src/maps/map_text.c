/*
 * map_text - texthash: and inline:{...} tables, held in memory
 *
 * map_text_open_texthash() reads a postmap source file ("key whitespace
 * value" lines, '#' comments, indented continuation lines) at open time,
 * as Postfix's texthash does: the file is not watched afterwards.
 * map_text_open_inline() parses inline:{key=value, {key = value}}.
 * Keys are lowercased at load and lookup with MAPS_FLAG_FOLD_FIX.
 * A duplicate key in texthash makes the table unavailable, as in Postfix
 * daemons, unless MAPS_FLAG_DUP_WARN (postmap's mode: warn, keep the
 * first); inline keeps the last, as in Postfix.
 *
 * map_read_logical_line() is the source-file reader shared with cidr,
 * regexp and pcre tables.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#include "map.h"

struct text_entry {
	char *key;
	char *value;
};

/* Open addressing, power-of-two size, at most half full. */
struct map_text {
	struct text_entry *slots;
	size_t count, size;
};

/* map_reader_open - open a source file for map_reader_next() */
int
map_reader_open(struct map_reader *rd, const char *path)
{
	memset(rd, 0, sizeof(*rd));
	rd->path = path;
	if (*path == '{') {
		/*
		 * Postfix 3.7's inline form of a pattern table,
		 * "regexp:{ {/a/ b}, {/c/ d} }": one rule per braced item.
		 */
		size_t len = strlen(path);
		char *inner, **items, *cp;
		size_t total = 1;

		if (len < 2 || path[len - 1] != '}') {
			errno = EINVAL;
			return -1;
		}
		inner = xstrndup(path + 1, len - 2);
		items = maps_split_list(inner, 1);
		free(inner);
		for (int i = 0; items[i]; i++)
			total += strlen(items[i]) + 1;
		cp = rd->mem = xmalloc(total);
		for (int i = 0; items[i]; i++) {
			size_t n = strlen(items[i]);

			memcpy(cp, items[i], n);
			cp[n] = '\n';
			cp += n + 1;
		}
		*cp = 0;
		maps_argv_free(items);
		if ((rd->fp = fmemopen(rd->mem, strlen(rd->mem) ? strlen(rd->mem)
				       : 1, "r")) == NULL)
			return -1;
		return 0;
	}
	if ((rd->fp = fopen(path, "r")) == NULL)
		return -1;
	return 0;
}

/* map_reader_close - release the reader */
void
map_reader_close(struct map_reader *rd)
{
	if (rd->fp) {
		if (ferror(rd->fp))
			msg_fatal("read %s: %m", rd->path);
		fclose(rd->fp);
	}
	free(rd->buf);
	free(rd->mem);
	rd->fp = NULL;
	rd->buf = NULL;
	rd->mem = NULL;
}

/*
 * map_reader_next - next logical line, as Postfix's readllines(): a
 * physical line that is blank or whose first non-blank is '#' adds
 * nothing; the logical line goes on while the next physical line starts
 * with white space or '#'; the lines are joined as they are (newlines
 * dropped, nothing trimmed).  A logical line that starts with white
 * space is dropped with a warning.
 */
int
map_reader_next(struct map_reader *rd, struct strbuf *line)
{
	ssize_t n;
	int c;

	for (;;) {
		strbuf_reset(line);
		for (;;) {
			size_t start = line->len;
			const char *cp;

			if ((n = getline(&rd->buf, &rd->bufsz, rd->fp)) < 0)
				break;
			rd->next_lineno++;
			if (n > 0 && rd->buf[n - 1] == '\n')
				rd->buf[--n] = 0;
			strbuf_append(line, rd->buf, (size_t)n);
			for (cp = line->data + start;
			     *cp && isspace((unsigned char)*cp); cp++)
				;
			if (*cp == 0 || *cp == '#')
				strbuf_truncate(line, start);
			else if (start == 0)
				rd->lineno = rd->next_lineno;
			if (line->len > 0) {
				if ((c = getc(rd->fp)) != EOF)
					ungetc(c, rd->fp);
				if (c != '#' && !isspace(c))
					break;
			}
		}
		if (line->len == 0)
			return 0;
		if (!isspace((unsigned char)line->data[0]))
			return 1;
		msg_warn("%s: logical line must not start with whitespace: "
			 "\"%.30s%s\"", rd->path, line->data,
			 line->len > 30 ? "..." : "");
	}
}

/* map_trim - drop trailing white space, in place; returns s */
char *
map_trim(char *s)
{
	char *e = s + strlen(s);

	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* text_hash - FNV-1a */
static size_t
text_hash(const char *key)
{
	size_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

/* text_slot - the slot holding key, or the empty slot where it goes */
static struct text_entry *
text_slot(struct map_text *mt, const char *key)
{
	size_t i = text_hash(key) & (mt->size - 1);

	while (mt->slots[i].key && strcmp(mt->slots[i].key, key) != 0)
		i = (i + 1) & (mt->size - 1);
	return &mt->slots[i];
}

/* text_grow - double the table */
static void
text_grow(struct map_text *mt)
{
	struct text_entry *old = mt->slots;
	size_t old_size = mt->size;

	mt->size = old_size ? old_size * 2 : 16;
	mt->slots = xcalloc(mt->size, sizeof(*mt->slots));
	for (size_t i = 0; i < old_size; i++)
		if (old[i].key)
			*text_slot(mt, old[i].key) = old[i];
	free(old);
}

/*
 * text_add - store key (folded) and value; with keep_last a duplicate
 * replaces the old value, else it is dropped.  Returns 1 for a duplicate.
 */
static int
text_add(struct map *map, struct map_text *mt, const char *key,
	 const char *value, int keep_last)
{
	struct text_entry *e;

	if (2 * (mt->count + 1) > mt->size)
		text_grow(mt);
	key = map_fold(map, key, MAPS_FLAG_FOLD_FIX);
	e = text_slot(mt, key);
	if (e->key) {
		if (keep_last) {
			free(e->value);
			e->value = xstrdup(value);
		}
		return 1;
	}
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	mt->count++;
	return 0;
}

/* map_text_lookup - hash lookup */
static const char *
map_text_lookup(struct map *map, const char *key)
{
	struct map_text *mt = map->priv;

	if (mt->size == 0)
		return NULL;
	return text_slot(mt, map_fold(map, key, MAPS_FLAG_FOLD_FIX))->value;
}

/* map_text_close - free the entries */
static void
map_text_close(struct map *map)
{
	struct map_text *mt = map->priv;

	if (mt == NULL)
		return;
	for (size_t i = 0; i < mt->size; i++) {
		free(mt->slots[i].key);
		free(mt->slots[i].value);
	}
	free(mt->slots);
	free(mt);
	map->priv = NULL;
}

/* text_init - common set-up */
static struct map_text *
text_init(struct map *map)
{
	struct map_text *mt = xcalloc(1, sizeof(*mt));

	map->priv = mt;
	map->lookup = map_text_lookup;
	map->close = map_text_close;
	map->flags |= MAPS_FLAG_FIXED;
	return mt;
}

/* map_text_open_texthash - texthash:/path */
int
map_text_open_texthash(struct map *map, char **why)
{
	struct map_text *mt = text_init(map);
	struct strbuf line = STRBUF_INIT;
	struct map_reader rd;

	/* No inline "{...}" form for texthash in Postfix 3.7: a file name. */
	if (map->name[0] == '{' || map_reader_open(&rd, map->name) < 0) {
		if (map->name[0] == '{')
			errno = ENOENT;
		*why = xasprintf("open database %s: %m", map->name);
		return -1;
	}
	while (map_reader_next(&rd, &line)) {
		char *key = line.data, *value;
		int in_quotes = 0;

		/* Split at the first unquoted, unescaped white space. */
		for (value = key; *value; value++) {
			if (*value == '\\') {
				if (*++value == 0)
					break;
			} else if (isspace((unsigned char)*value)) {
				if (!in_quotes)
					break;
			} else if (*value == '"') {
				in_quotes = !in_quotes;
			}
		}
		if (in_quotes) {
			msg_warn("%s, line %d: unbalanced '\"' in '%s' -- "
				 "ignoring this line", map->name, rd.lineno,
				 key);
			continue;
		}
		if (*value)
			*value++ = 0;
		while (isspace((unsigned char)*value))
			value++;
		map_trim(value);
		if (*key == 0 || *value == 0) {
			msg_warn("%s, line %d: expected format: key whitespace "
				 "value -- ignoring this line", map->name,
				 rd.lineno);
			continue;
		}
		if (key[strlen(key) - 1] == ':')
			msg_warn("%s, line %d: record is in \"key: value\" "
				 "format; is this an alias file?", map->name,
				 rd.lineno);
		if (text_add(map, mt, key, value, 0)) {
			/* Postfix daemons refuse the whole table; postmap
			 * (DUP_WARN) only warns. */
			if ((map->flags & MAPS_FLAG_DUP_WARN) == 0) {
				*why = xasprintf("%s, line %d: duplicate entry: "
						 "\"%s\"", map->name,
						 rd.lineno, key);
				break;
			}
			msg_warn("%s, line %d: duplicate entry: \"%s\"",
				 map->name, rd.lineno, key);
		}
	}
	map_reader_close(&rd);
	strbuf_release(&line);
	return *why ? -1 : 0;
}

/* split_nameval - "name = value" (name may be quoted); NULL or a reason */
static const char *
split_nameval(char *buf, char **name, char **value)
{
	int in_quotes = 0;
	char *key, *end, *val, *e;

	for (key = buf; isspace((unsigned char)*key); key++)
		;
	if (*key == 0)
		return "no key found; expected format: key = value";
	for (end = key; *end; end++) {
		if (*end == '\\') {
			if (*++end == 0)
				break;
		} else if (isspace((unsigned char)*end) || *end == '=') {
			if (!in_quotes)
				break;
		} else if (*end == '"') {
			in_quotes = !in_quotes;
		}
	}
	if (in_quotes)
		return "unbalanced '\"'";
	for (val = end; isspace((unsigned char)*val); val++)
		;
	if (*val != '=')
		return "missing '=' after attribute name";
	*end = 0;
	for (val++; isspace((unsigned char)*val); val++)
		;
	for (e = val + strlen(val); e > val && isspace((unsigned char)e[-1]);)
		*--e = 0;
	*name = key;
	*value = val;
	return NULL;
}

/* map_text_open_inline - inline:{key=value, {key = value}, ...} */
int
map_text_open_inline(struct map *map, char **why)
{
	struct map_text *mt = text_init(map);
	size_t len = strlen(map->name);
	char **argv, *inner, *name, *value;
	const char *err = NULL;
	int count = 0;

	if (len <= 2 || map->name[0] != '{' || map->name[len - 1] != '}') {
		*why = xasprintf("bad syntax: \"inline:%s\"; need "
				 "\"inline:{name=value...}\"", map->name);
		return -1;
	}
	inner = xstrndup(map->name + 1, len - 2);
	argv = maps_split_list(inner, 1);
	free(inner);
	for (char **ap = argv; *ap && err == NULL; ap++) {
		if ((err = split_nameval(*ap, &name, &value)) == NULL) {
			text_add(map, mt, name, value, 1);
			count++;
		}
	}
	maps_argv_free(argv);
	if (err || count == 0) {
		*why = xasprintf("%s: \"inline:%s\"; need "
				 "\"inline:{name=value...}\"",
				 err ? err : "empty table", map->name);
		return -1;
	}
	return 0;
}
