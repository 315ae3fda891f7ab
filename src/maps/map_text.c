/*
 * map_text - texthash: and inline:{...} tables, held in memory
 *
 * map_text_open_texthash() reads a postmap source file ("key whitespace
 * value" lines, '#' comments, indented continuation lines) at open time,
 * as Postfix's texthash does: the file is not watched afterwards.
 * map_text_open_inline() parses inline:{key=value, {key = value}}.
 * Keys are lowercased at load and lookup with MAPS_FLAG_FOLD_FIX.
 * texthash keeps the first of duplicate keys (with a warning naming the
 * line); inline keeps the last, as in Postfix.
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
	size_t seq;
	int lineno;
};

struct map_text {
	struct text_entry *ents;
	size_t count, cap;
};

/* map_reader_open - open a source file for map_reader_next() */
int
map_reader_open(struct map_reader *rd, const char *path)
{
	memset(rd, 0, sizeof(*rd));
	rd->path = path;
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
	rd->fp = NULL;
	rd->buf = NULL;
}

/* reader_physical - next physical line, or the pushed-back one */
static int
reader_physical(struct map_reader *rd)
{
	ssize_t n;

	if (rd->pending) {
		rd->pending = 0;
		return 1;
	}
	if ((n = getline(&rd->buf, &rd->bufsz, rd->fp)) < 0)
		return 0;
	rd->next_lineno++;
	while (n > 0 && (rd->buf[n - 1] == '\n' || rd->buf[n - 1] == '\r'))
		rd->buf[--n] = 0;
	return 1;
}

/*
 * map_reader_next - next logical line: blank and '#' lines are skipped,
 * a line that starts with white space continues the previous one.
 */
int
map_reader_next(struct map_reader *rd, struct strbuf *line)
{
	int have = 0;

	strbuf_reset(line);
	while (reader_physical(rd)) {
		const char *cp = rd->buf;

		while (isspace((unsigned char)*cp))
			cp++;
		if (*cp == '#' || *cp == 0)
			continue;
		if (cp != rd->buf) {
			if (!have) {
				msg_warn("%s: logical line must not start with "
					 "whitespace: \"%.30s%s\"", rd->path,
					 rd->buf, strlen(rd->buf) > 30 ? "..."
					 : "");
				continue;
			}
			/* Postfix joins the lines as they are. */
			strbuf_puts(line, rd->buf);
			continue;
		}
		if (have) {
			rd->pending = 1;
			break;
		}
		rd->lineno = rd->next_lineno;
		strbuf_puts(line, cp);
		have = 1;
	}
	while (line->len > 0
	       && isspace((unsigned char)line->data[line->len - 1]))
		strbuf_truncate(line, line->len - 1);
	return have;
}

/* text_cmp - order by key, then by load order */
static int
text_cmp(const void *a, const void *b)
{
	const struct text_entry *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	return r ? r : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* text_add - append one entry (duplicates resolved by text_finish) */
static void
text_add(struct map *map, struct map_text *mt, const char *key,
	 const char *value, int lineno)
{
	if (mt->count == mt->cap) {
		mt->cap = mt->cap ? mt->cap * 2 : 16;
		mt->ents = xrealloc(mt->ents, mt->cap * sizeof(*mt->ents));
	}
	mt->ents[mt->count].key = xstrdup(map_fold(map, key,
						    MAPS_FLAG_FOLD_FIX));
	mt->ents[mt->count].value = xstrdup(value);
	mt->ents[mt->count].seq = mt->count;
	mt->ents[mt->count].lineno = lineno;
	mt->count++;
}

/* text_finish - sort; keep the first (or last) of equal keys */
static void
text_finish(struct map_text *mt, int keep_last, const char *warn_path)
{
	size_t out = 0;

	qsort(mt->ents, mt->count, sizeof(*mt->ents), text_cmp);
	for (size_t i = 0; i < mt->count; i++) {
		if (out > 0 && strcmp(mt->ents[out - 1].key, mt->ents[i].key)
		    == 0) {
			if (warn_path)
				msg_warn("%s, line %d: duplicate entry: "
					 "\"%s\"", warn_path,
					 mt->ents[i].lineno, mt->ents[i].key);
			if (keep_last) {
				free(mt->ents[out - 1].value);
				mt->ents[out - 1].value = mt->ents[i].value;
			} else {
				free(mt->ents[i].value);
			}
			free(mt->ents[i].key);
			continue;
		}
		mt->ents[out++] = mt->ents[i];
	}
	mt->count = out;
}

/* map_text_lookup - binary search */
static const char *
map_text_lookup(struct map *map, const char *key)
{
	struct map_text *mt = map->priv;
	size_t lo = 0, hi = mt->count;

	key = map_fold(map, key, MAPS_FLAG_FOLD_FIX);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(key, mt->ents[mid].key);

		if (r == 0)
			return mt->ents[mid].value;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* map_text_close - free the entries */
static void
map_text_close(struct map *map)
{
	struct map_text *mt = map->priv;

	if (mt == NULL)
		return;
	for (size_t i = 0; i < mt->count; i++) {
		free(mt->ents[i].key);
		free(mt->ents[i].value);
	}
	free(mt->ents);
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

	if (map_reader_open(&rd, map->name) < 0) {
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
		text_add(map, mt, key, value, rd.lineno);
	}
	map_reader_close(&rd);
	strbuf_release(&line);
	text_finish(mt, 0, map->name);
	return 0;
}

/* trim - strip white space at both ends, in place */
static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* map_text_open_inline - inline:{key=value, {key = value}, ...} */
int
map_text_open_inline(struct map *map, char **why)
{
	struct map_text *mt = text_init(map);
	size_t len = strlen(map->name);
	char **argv, *inner;
	int count = 0;

	if (len < 2 || map->name[0] != '{' || map->name[len - 1] != '}') {
		*why = xasprintf("bad syntax: \"inline:%s\"; need "
				 "\"inline:{name=value...}\"", map->name);
		return -1;
	}
	inner = xstrndup(map->name + 1, len - 2);
	argv = maps_split_list(inner, 1);
	free(inner);
	for (char **ap = argv; *ap; ap++) {
		char *eq = strchr(*ap, '=');

		if (eq == NULL || eq == *ap) {
			*why = xasprintf("%s: \"inline:%s\"; need "
					 "\"inline:{name=value...}\"",
					 eq ? "missing attribute name"
					 : "missing '=' after attribute name",
					 map->name);
			maps_argv_free(argv);
			return -1;
		}
		*eq = 0;
		text_add(map, mt, trim(*ap), trim(eq + 1), 0);
		count++;
	}
	maps_argv_free(argv);
	if (count == 0) {
		*why = xasprintf("empty table: \"inline:%s\"; need "
				 "\"inline:{name=value...}\"", map->name);
		return -1;
	}
	text_finish(mt, 1, NULL);
	return 0;
}
