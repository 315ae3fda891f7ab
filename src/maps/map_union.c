/*
 * map_union - unionmap:{...} and pipemap:{...}
 *
 * map_union_open_unionmap() asks every member table and joins the answers
 * with commas (not found when none answers; the first error wins).
 * map_union_open_pipemap() gives the key to the first table, its answer
 * to the second, and so on; not found as soon as one table has no
 * answer.  The first member decides whether the whole is a fixed-string
 * or a pattern table.  Members are shared handles (map_open()).
 */
#include <stdlib.h>
#include <string.h>

#include "maps/maps.h"
#include "util/xmalloc.h"

#include "map.h"

struct map_union {
	struct map **members;
	int count;
};

/* union_lookup - every member, answers joined */
static const char *
union_lookup(struct map *map, const char *key)
{
	struct map_union *mu = map->priv;
	const char *value;

	strbuf_reset(&map->result);
	for (int i = 0; i < mu->count; i++) {
		if ((value = map_get(mu->members[i], key)) != NULL) {
			if (map->result.len > 0)
				strbuf_putc(&map->result, ',');
			strbuf_puts(&map->result, value);
		} else if ((map->error = mu->members[i]->error) != 0) {
			return NULL;
		}
	}
	return map->result.len > 0 ? strbuf_str(&map->result) : NULL;
}

/* pipe_lookup - each answer is the next member's key */
static const char *
pipe_lookup(struct map *map, const char *key)
{
	struct map_union *mu = map->priv;
	const char *value = key;

	for (int i = 0; i < mu->count; i++) {
		/* The next member's key must outlive this member's buffer. */
		strbuf_set(&map->result, value);
		if ((value = map_get(mu->members[i],
				     strbuf_str(&map->result))) == NULL) {
			map->error = mu->members[i]->error;
			return NULL;
		}
	}
	strbuf_set(&map->result, value);
	return strbuf_str(&map->result);
}

/* union_close - drop the members */
static void
union_close(struct map *map)
{
	struct map_union *mu = map->priv;

	if (mu == NULL)
		return;
	for (int i = 0; i < mu->count; i++)
		map_close(mu->members[i]);
	free(mu->members);
	free(mu);
	map->priv = NULL;
}

/* union_open - parse {type:name, ...} and open the members */
static int
union_open(struct map *map, char **why)
{
	size_t len = strlen(map->name);
	struct map_union *mu;
	char **argv = NULL, *inner;
	int n = 0;

	if (len >= 2 && map->name[0] == '{' && map->name[len - 1] == '}') {
		inner = xstrndup(map->name + 1, len - 2);
		argv = maps_split_list(inner, 0);
		free(inner);
		while (argv[n] && strchr(argv[n], ':'))
			n++;
	}
	if (argv == NULL || n == 0 || argv[n] != NULL) {
		*why = xasprintf("bad syntax: \"%s:%s\"; need \"%s:{type:name"
				 "...}\"", map->type, map->name, map->type);
		maps_argv_free(argv);
		return -1;
	}
	mu = xcalloc(1, sizeof(*mu));
	mu->members = xcalloc((size_t)n, sizeof(*mu->members));
	for (int i = 0; i < n; i++)
		mu->members[mu->count++] = map_open(argv[i], map->flags);
	maps_argv_free(argv);
	map->priv = mu;
	map->close = union_close;
	map->flags |= mu->members[0]->flags
		& (MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN);
	return 0;
}

/* map_union_open_unionmap - unionmap:{...} */
int
map_union_open_unionmap(struct map *map, char **why)
{
	map->lookup = union_lookup;
	return union_open(map, why);
}

/* map_union_open_pipemap - pipemap:{...} */
int
map_union_open_pipemap(struct map *map, char **why)
{
	map->lookup = pipe_lookup;
	return union_open(map, why);
}
