/* map - one lookup table (internal to src/maps) */
#ifndef MAPS_MAP_H
#define MAPS_MAP_H

#include <stdio.h>
#include <time.h>

#include "util/strbuf.h"

/*
 * A table type's open function fills in a struct map (or returns -1 with
 * a reason in *why, xmalloc'd, and the caller substitutes a stand-in
 * whose lookups fail).  lookup() returns the value (owned by the table,
 * valid until its next lookup) or NULL with map->error set.
 */
struct map {
	char *type;		/* "hash" */
	char *name;		/* "/etc/postfix/x" or "{...}" */
	char *spec;		/* "hash:/etc/postfix/x" */
	char *reg_name;		/* Postfix's registry name, for messages:
				 * "hash:/x(0,lock|fold_fix)" */
	int flags;		/* MAPS_FLAG_*: requested plus capability */
	int error;		/* MAPS_ERR_* of the last lookup */
	int refs;
	int stat_fd;		/* file to watch for changes, or -1 */
	time_t mtime;
	struct strbuf fold;	/* lowercased key */
	struct strbuf result;
	const char *(*lookup)(struct map *map, const char *key);
	void (*close)(struct map *map);
	void *priv;
	struct map *next;	/* registry */
};

typedef int (*map_open_fn)(struct map *map, char **why);

/*
 * map_open - open "type:name" (shared, reference counted); never NULL.
 * With decorate, the table is known by Postfix's registry name for
 * tables that maps_create() and match lists open, "type:name(0,FLAGS)";
 * else (members of unionmap/pipemap) by "type:name".
 */
struct map *map_open(const char *spec, int flags);
struct map *map_open_named(const char *spec, int flags, int decorate);
void map_close(struct map *map);
/* map_standin - a table that fails every lookup (after a warning) */
struct map *map_standin(const char *type, const char *name, const char *why);
const char *map_get(struct map *map, const char *key);
/* The key lowercased if flags ask for it (MAPS_FLAG_FOLD_FIX for fixed
 * tables). */
const char *map_fold(struct map *map, const char *key, int fold_flag);

/* Table types (one per file) */
int map_db_open_hash(struct map *map, char **why);
int map_db_open_btree(struct map *map, char **why);
int map_text_open_texthash(struct map *map, char **why);
int map_text_open_inline(struct map *map, char **why);
int map_static_open(struct map *map, char **why);
int map_static_open_fail(struct map *map, char **why);
int map_static_open_environ(struct map *map, char **why);
int map_cidr_open(struct map *map, char **why);
int map_regexp_open(struct map *map, char **why);
int map_pcre_open(struct map *map, char **why);
int map_union_open_unionmap(struct map *map, char **why);
int map_union_open_pipemap(struct map *map, char **why);
int map_proxy_open(struct map *map, char **why);

/*
 * Source-file reader shared by texthash, cidr, regexp and pcre: logical
 * lines as Postfix's readllines() makes them (see map_text.c); nothing
 * is trimmed (map_trim() drops trailing white space).
 * rd->lineno is the first physical line of the last logical line.
 */
struct map_reader {
	FILE *fp;
	const char *path;
	char *mem;		/* rules of an inline "{ {rule}, ... }" table */
	char *buf;
	size_t bufsz;
	int lineno, next_lineno;
};

int map_reader_open(struct map_reader *rd, const char *path);
int map_reader_next(struct map_reader *rd, struct strbuf *line);
void map_reader_close(struct map_reader *rd);
char *map_trim(char *s);

/*
 * Pattern tables (regexp:, pcre:) share one rule-file engine in
 * map_regexp.c; each regular-expression library supplies these hooks.
 * exec() fills ovec with nsub+1 (start, end) pairs, -1 for an unset
 * group, and returns 1 (match), 0 (no match) or -1 (error, logged).
 */
struct map_re_engine {
	const char *kind;	/* "regexp" or "pcre", for messages */
	int default_options;
	int final_backslash_closes;	/* "/ab\" is pattern "ab" (regexp) */
	/* Toggle option letter c; -1 if unknown, 1 if obsolete/ignored. */
	int (*option)(int c, int *options);
	/* Compile; NULL with the reason in why on error. */
	void *(*compile)(const char *pattern, int options, int nosub,
			 size_t *nsub, struct strbuf *why);
	int (*exec)(void *re, const char *subject, long *ovec, size_t nsub);
	void (*free)(void *re);
};

int map_regexp_load(struct map *map, const struct map_re_engine *eng,
		    char **why);

#endif
