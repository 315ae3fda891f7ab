/*
 * map_db - hash: and btree: tables (Berkeley DB files made by postmap)
 *
 * map_db_open_hash(), map_db_open_btree() open NAME.db read-only.  Keys
 * are lowercased first when MAPS_FLAG_FOLD_FIX is set (postmap lowercases
 * when it builds).  postmap on Linux stores keys and values with a
 * trailing NUL; other tools may not: as Postfix does, the first lookup
 * tries both forms and the first form that hits is used from then on.
 * A shared flock() is held during each lookup, as postmap holds an
 * exclusive one while it rebuilds.  The .db file is watched for changes
 * (maps_changed()).  A read error is fatal, as in Postfix.
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#include "map.h"

#define TRY1NULL	1	/* key stored with its NUL */
#define TRY0NULL	2	/* key stored without */

struct map_db {
	DB *db;
	int lock_fd;
	int try;		/* TRY1NULL | TRY0NULL, narrowed by hits */
	char *path;
};

/* db_get - one DB get; 1 found, 0 not, fatal on error */
static int
db_get(struct map *map, struct map_db *md, const char *key, size_t len)
{
	DBT k, v;
	int status;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)len;
	status = md->db->get(md->db, NULL, &k, &v, 0);
	if (status == DB_NOTFOUND || status == DB_KEYEMPTY)
		return 0;
	if (status != 0)
		msg_fatal("error reading %s: %s", md->path, db_strerror(status));
	strbuf_reset(&map->result);
	strbuf_append(&map->result, v.data, v.size);
	/* A value stored with its NUL ends there. */
	strbuf_truncate(&map->result, strlen(strbuf_str(&map->result)));
	return 1;
}

/* map_db_lookup - try the key with and without its NUL */
static const char *
map_db_lookup(struct map *map, const char *key)
{
	struct map_db *md = map->priv;
	const char *result = NULL;

	key = map_fold(map, key, MAPS_FLAG_FOLD_FIX);
	if ((map->flags & MAPS_FLAG_LOCK) && flock(md->lock_fd, LOCK_SH) < 0)
		msg_fatal("%s: lock dictionary: %m", md->path);
	if ((md->try & TRY1NULL) && db_get(map, md, key, strlen(key) + 1)) {
		md->try = TRY1NULL;
		result = strbuf_str(&map->result);
	}
	if (result == NULL && (md->try & TRY0NULL)
	    && db_get(map, md, key, strlen(key))) {
		md->try = TRY0NULL;
		result = strbuf_str(&map->result);
	}
	if ((map->flags & MAPS_FLAG_LOCK) && flock(md->lock_fd, LOCK_UN) < 0)
		msg_fatal("%s: unlock dictionary: %m", md->path);
	return result;
}

/* map_db_close - close the DB handle and lock file */
static void
map_db_close(struct map *map)
{
	struct map_db *md = map->priv;

	if (md == NULL)
		return;
	if (md->db)
		md->db->close(md->db, 0);
	if (md->lock_fd >= 0)
		close(md->lock_fd);
	free(md->path);
	free(md);
	map->priv = NULL;
}

/* map_db_open - common open for both DB types */
static int
map_db_open(struct map *map, DBTYPE type, char **why)
{
	struct map_db *md = xcalloc(1, sizeof(*md));
	struct stat st, src;
	int status, fd;

	md->lock_fd = -1;
	md->try = TRY1NULL | TRY0NULL;
	md->path = xasprintf("%s.db", map->name);
	map->priv = md;
	map->close = map_db_close;
	map->lookup = map_db_lookup;
	map->flags |= MAPS_FLAG_FIXED;

	if ((md->lock_fd = open(md->path, O_RDONLY | O_CLOEXEC)) < 0) {
		*why = xasprintf("open database %s: %m", md->path);
		return -1;
	}
	/* Don't read a file that postmap is still writing. */
	if (flock(md->lock_fd, LOCK_SH) < 0) {
		*why = xasprintf("shared-lock database %s: %m", md->path);
		return -1;
	}
	if ((status = db_create(&md->db, NULL, 0)) != 0) {
		*why = xasprintf("create DB database: %s", db_strerror(status));
		md->db = NULL;
		return -1;
	}
	/* berkeley_db_read_buffer_size: the cache of a read-only table. */
	if (var_berkeley_db_read_buffer_size > 0
	    && (status = md->db->set_cachesize(md->db, 0, (unsigned)
					       var_berkeley_db_read_buffer_size,
					       0)) != 0) {
		*why = xasprintf("set DB cache size %d: %s",
				 var_berkeley_db_read_buffer_size,
				 db_strerror(status));
		return -1;
	}
	if ((status = md->db->open(md->db, NULL, md->path, NULL, type,
				   DB_RDONLY, 0)) != 0) {
		*why = xasprintf("open database %s: %s", md->path,
				 status > 0 ? strerror(status)
				 : db_strerror(status));
		return -1;
	}
	flock(md->lock_fd, LOCK_UN);
	if (md->db->fd(md->db, &fd) != 0 || (fd = dup(fd)) < 0
	    || fstat(fd, &st) < 0) {
		*why = xasprintf("database %s: cannot watch for changes",
				 md->path);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	map->stat_fd = fd;
	map->mtime = st.st_mtime;
	/* As Postfix: only once the source has been left alone a while. */
	if (stat(map->name, &src) == 0 && src.st_mtime > st.st_mtime
	    && src.st_mtime < time(NULL) - 100)
		msg_warn("database %s is older than source file %s", md->path,
			 map->name);
	return 0;
}

/* map_db_open_hash - hash:NAME */
int
map_db_open_hash(struct map *map, char **why)
{
	return map_db_open(map, DB_HASH, why);
}

/* map_db_open_btree - btree:NAME */
int
map_db_open_btree(struct map *map, char **why)
{
	return map_db_open(map, DB_BTREE, why);
}
