/* scache - client of Postfix's scache(8) connection cache */
#ifndef GLOBAL_SCACHE_H
#define GLOBAL_SCACHE_H

#include "util/strbuf.h"

/*
 * A cache holds open connections (file descriptors) under an endpoint
 * label, each with an opaque property string, for at most ttl seconds;
 * a destination label points at an endpoint label.  A lookup hands the
 * connection over: it leaves the cache.
 *
 * Finders return a descriptor (now ours), or -1 for "not found" and for
 * any trouble talking to the server (logged): to the caller a broken
 * cache is an empty cache.  scache_save_endp() always closes fd.
 */
struct scache;

struct scache *scache_create(const char *service, int timeout,
			     int idle_limit, int ttl_limit);
void scache_free(struct scache *cache);
/* Drop the connection to the server (it is made again when needed). */
void scache_disconnect(struct scache *cache);

int scache_find_dest(struct scache *cache, const char *dest_label,
		     struct strbuf *dest_prop, struct strbuf *endp_prop);
int scache_find_endp(struct scache *cache, const char *endp_label,
		     struct strbuf *endp_prop);
void scache_save_dest(struct scache *cache, int ttl, const char *dest_label,
		      const char *dest_prop, const char *endp_label);
void scache_save_endp(struct scache *cache, int ttl, const char *endp_label,
		      const char *endp_prop, int fd);

#endif
