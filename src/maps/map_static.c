/*
 * map_static - tables without a file: static:, fail:, environ:
 *
 * map_static_open() answers every key with its name (static:{text with
 * spaces} drops the braces).  map_static_open_fail() fails every lookup
 * with MAPS_ERR_RETRY, as Postfix's fail: table (for testing deferrals).
 * map_static_open_environ() looks keys up in the process environment.
 */
#include <stdlib.h>
#include <string.h>

#include "maps/maps.h"
#include "util/xmalloc.h"

#include "map.h"

/* static_lookup - the fixed answer */
static const char *
static_lookup(struct map *map, const char *key)
{
	return map->priv;
}

/* static_close - free the answer */
static void
static_close(struct map *map)
{
	free(map->priv);
	map->priv = NULL;
}

/* map_static_open - static:value or static:{value} */
int
map_static_open(struct map *map, char **why)
{
	const char *name = map->name;
	size_t len = strlen(name);

	if (name[0] == '{') {
		const char *s = name + 1, *e = name + len - 1;

		if (len < 2 || *e != '}') {
			*why = xasprintf("bad syntax: \"static:%s\"; need "
					 "\"static:{value}\"", name);
			return -1;
		}
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		map->priv = xstrndup(s, (size_t)(e - s));
	} else {
		map->priv = xstrdup(name);
	}
	map->lookup = static_lookup;
	map->close = static_close;
	map->flags |= MAPS_FLAG_FIXED;
	return 0;
}

/* fail_lookup - always a temporary error */
static const char *
fail_lookup(struct map *map, const char *key)
{
	map->error = MAPS_ERR_RETRY;
	return NULL;
}

/* map_static_open_fail - fail:name */
int
map_static_open_fail(struct map *map, char **why)
{
	map->lookup = fail_lookup;
	map->flags |= MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN;
	return 0;
}

/* environ_lookup - getenv(), lowercased key with folding (as Postfix) */
static const char *
environ_lookup(struct map *map, const char *key)
{
	return getenv(map_fold(map, key, MAPS_FLAG_FOLD_FIX));
}

/* map_static_open_environ - environ:name */
int
map_static_open_environ(struct map *map, char **why)
{
	map->lookup = environ_lookup;
	map->flags |= MAPS_FLAG_FIXED;
	return 0;
}
