/*
 * map_proxy - proxy:TYPE:NAME, lookups through Postfix's proxymap(8)
 *
 * map_proxy_open() opens the table in the proxymap server over
 * private/$proxymap_service_name (relative to the current directory,
 * which is the queue directory in a daemon, chrooted or not; else under
 * $queue_directory), with Postfix's attribute protocol:
 *
 *   server: protocol=proxymap_protocol
 *   open:   request=open table=TYPE:NAME flags=N
 *           -> status=S flags=F (F: the table's fixed/pattern bits)
 *   lookup: request=lookup table=TYPE:NAME flags=N key=K
 *           -> status=S value=V
 *
 * S: 0 found, 1 not found, 2 try again, 3 bad request, 4 table not in
 * proxy_read_maps, 5 configuration error.
 *
 * maps_writer_*() reach a table through proxywrite(8) instead (Postfix
 * opens a proxy: table for writing that way), for caches that the client
 * updates (smtp_sasl_auth_cache_name):
 *
 *   update: request=update table=T flags=N key=K value=V -> status=S
 *   delete: request=delete table=T flags=N key=K -> status=S  Like Postfix, a request that
 * the server refuses (3, 4) is fatal: it is a configuration mistake.
 * Unlike Postfix, which retries forever once a second, a server that
 * cannot be reached after one reconnection makes the lookup fail with
 * MAPS_ERR_RETRY, so the delivery is deferred instead of hanging.  The
 * connection is shared by all proxy: tables of the process.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/attr.h"
#include "global/mail_connect.h"
#include "global/params.h"
#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#include "map.h"

#define PROXY_STAT_OK		0
#define PROXY_STAT_NOKEY	1
#define PROXY_STAT_RETRY	2
#define PROXY_STAT_BAD		3
#define PROXY_STAT_DENY		4
#define PROXY_STAT_CONFIG	5

/* Postfix's split of dict flags: what the requester may vary per call. */
#define RQST_MASK	((1 << 14) | (1 << 15) | (1 << 6) | (1 << 7) | 1 | 2 \
			 | (1 << 8) | (1 << 11) | (1 << 12) | (1 << 13) \
			 | (1 << 19))
#define IMPL_MASK	(MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN | (1 << 18))

static struct stream *proxy_streams[2];	/* proxymap, proxywrite; shared */

/* proxy_service - the proxymap (or proxywrite) service name */
static const char *
proxy_service(int write)
{
	const char *s = param_get(write ? "proxywrite_service_name"
				  : "proxymap_service_name");

	return s && *s ? s : write ? "proxywrite" : "proxymap";
}

/* proxy_connect - (re)connect; NULL after a warning */
static struct stream *
proxy_connect(int write)
{
	const char *service = proxy_service(write);
	char *path = xasprintf("private/%s", service);
	int timeout = var_ipc_timeout > 0 ? var_ipc_timeout : 3600;

	if (proxy_streams[write] == NULL) {
		if (access(path, F_OK) == 0) {
			proxy_streams[write] =
			    mail_connect("private", service,
					 "proxymap_protocol", timeout);
		} else {
			char *dir = xasprintf("%s/private",
					      var_queue_directory ?
					      var_queue_directory :
					      "/var/spool/postfix");

			proxy_streams[write] =
			    mail_connect(dir, service, "proxymap_protocol",
					 timeout);
			free(dir);
		}
	}
	free(path);
	return proxy_streams[write];
}

/* proxy_drop - forget a broken connection */
static void
proxy_drop(int write)
{
	if (proxy_streams[write])
		stream_close(proxy_streams[write]);
	proxy_streams[write] = NULL;
}

/*
 * proxy_call - one request, one reply of status plus (unless reply_name
 * is NULL) one named value; tries twice.  Returns the status, or -1 when
 * the server is unreachable.
 */
static int
proxy_call(const char *table, int write, const char *request, int flags,
	   const char *key, const char *value, const char *reply_name,
	   struct strbuf *reply)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct stream *s = proxy_connect(write);
		int status;

		if (s == NULL)
			continue;
		attr_put_str(s, "request", request);
		attr_put_str(s, "table", table);
		attr_put_int(s, "flags", flags);
		if (key)
			attr_put_str(s, "key", key);
		if (value)
			attr_put_str(s, "value", value);
		attr_put_end(s);
		if (stream_flush(s) == 0
		    && attr_get_int(s, "status", &status) == 0
		    && (reply_name == NULL
			|| attr_get_str(s, reply_name, reply) == 0)
		    && attr_get_end(s) == 0)
			return status;
		if (attempt > 0 || msg_verbose)
			msg_warn("map_proxy: service %s: %s",
				 proxy_service(write),
				 stream_error(s) ? stream_strerror(s)
				 : "protocol error");
		proxy_drop(write);
	}
	return -1;
}

/* map_proxy_lookup - request=lookup */
static const char *
map_proxy_lookup(struct map *map, const char *key)
{
	int inst = map->flags & ~(IMPL_MASK | RQST_MASK);
	int status;

	status = proxy_call(map->name, 0, "lookup",
			    inst | (map->flags & RQST_MASK), key, NULL, "value",
			    &map->result);
	switch (status) {
	case PROXY_STAT_OK:
		return strbuf_str(&map->result);
	case PROXY_STAT_NOKEY:
		return NULL;
	case PROXY_STAT_BAD:
		msg_fatal("%s lookup failed for table \"%s\" key \"%s\": "
			  "invalid request", proxy_service(0), map->name, key);
	case PROXY_STAT_DENY:
		msg_fatal("%s service is not configured for table \"%s\"",
			  proxy_service(0), map->name);
	case PROXY_STAT_CONFIG:
		map->error = MAPS_ERR_CONFIG;
		return NULL;
	case PROXY_STAT_RETRY:
	case -1:
		map->error = MAPS_ERR_RETRY;
		return NULL;
	default:
		msg_warn("%s lookup failed for table \"%s\" key \"%s\": "
			 "unexpected reply status %d", proxy_service(0),
			 map->name, key, status);
		map->error = MAPS_ERR_RETRY;
		return NULL;
	}
}

/* map_proxy_open - request=open; learn the table's kind */
int
map_proxy_open(struct map *map, char **why)
{
	struct strbuf reply = STRBUF_INIT;
	int inst = map->flags & ~(IMPL_MASK | RQST_MASK);
	int status, server_flags = MAPS_FLAG_FIXED;

	map->lookup = map_proxy_lookup;
	if (strchr(map->name, ':') == NULL) {
		*why = xasprintf("bad syntax: \"proxy:%s\"; need "
				 "\"proxy:type:name\"", map->name);
		return -1;
	}
	status = proxy_call(map->name, 0, "open", inst, NULL, NULL, "flags",
			    &reply);
	switch (status) {
	case PROXY_STAT_OK:
		server_flags = atoi(strbuf_str(&reply));
		break;
	case PROXY_STAT_BAD:
		msg_fatal("%s open failed for table \"%s\": invalid request",
			  proxy_service(0), map->name);
	case PROXY_STAT_DENY:
		msg_fatal("%s service is not configured for table \"%s\"",
			  proxy_service(0), map->name);
	case -1:
		/* Not fatal: lookups will try again and fail softly. */
		msg_warn("%s:%s: %s service unreachable; lookups will be "
			 "retried", map->type, map->name, proxy_service(0));
		break;
	default:
		msg_warn("%s open failed for table \"%s\": unexpected status "
			 "%d", proxy_service(0), map->name, status);
		break;
	}
	strbuf_release(&reply);
	map->flags |= server_flags & (MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN);
	return 0;
}

struct maps_writer {
	char *name;		/* TYPE:NAME, as proxywrite knows it */
	int flags;		/* request flags */
	struct strbuf result;
};

/* maps_writer_open - proxy:TYPE:NAME for update; NULL with *why set */
struct maps_writer *
maps_writer_open(const char *spec, int flags, char **why)
{
	struct maps_writer *w;
	struct strbuf reply = STRBUF_INIT;
	int status;

	if (strncmp(spec, "proxy:", 6) != 0 || strchr(spec + 6, ':') == NULL) {
		*why = xasprintf("\"%s\" must be proxy:type:name", spec);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->name = xstrdup(spec + 6);
	w->flags = flags & ~(IMPL_MASK | RQST_MASK);
	w->flags |= flags & RQST_MASK;
	status = proxy_call(w->name, 1, "open", flags & ~(IMPL_MASK
							  | RQST_MASK),
			    NULL, NULL, "flags", &reply);
	strbuf_release(&reply);
	if (status == PROXY_STAT_BAD || status == PROXY_STAT_DENY)
		msg_fatal("%s service is not configured for table \"%s\"",
			  proxy_service(1), w->name);
	if (status < 0)
		msg_warn("%s: %s service unreachable; updates will be retried",
			 spec, proxy_service(1));
	return w;
}

/* writer_status - common handling of an update/lookup/delete status */
static int
writer_status(struct maps_writer *w, const char *request, int status)
{
	switch (status) {
	case PROXY_STAT_OK:
	case PROXY_STAT_NOKEY:
		return status;
	case PROXY_STAT_BAD:
	case PROXY_STAT_DENY:
		msg_fatal("%s service is not configured for table \"%s\"",
			  proxy_service(1), w->name);
	default:
		if (status >= 0)
			msg_warn("%s %s failed for table \"%s\": status %d",
				 proxy_service(1), request, w->name, status);
		return -1;
	}
}

/* maps_writer_get - the value, or NULL (*error: 0 not found, -1 error) */
const char *
maps_writer_get(struct maps_writer *w, const char *key, int *error)
{
	int status = writer_status(w, "lookup",
				   proxy_call(w->name, 1, "lookup", w->flags,
					      key, NULL, "value", &w->result));

	*error = status < 0 ? -1 : 0;
	return status == PROXY_STAT_OK ? strbuf_str(&w->result) : NULL;
}

/* maps_writer_put - store key=value: 0, or -1 after a warning */
int
maps_writer_put(struct maps_writer *w, const char *key, const char *value)
{
	return writer_status(w, "update",
			     proxy_call(w->name, 1, "update", w->flags, key,
					value, NULL, NULL)) < 0 ? -1 : 0;
}

/* maps_writer_del - remove key: 0 removed, 1 not there, -1 error */
int
maps_writer_del(struct maps_writer *w, const char *key)
{
	return writer_status(w, "delete",
			     proxy_call(w->name, 1, "delete", w->flags, key,
					NULL, NULL, NULL));
}

/* maps_writer_name - TYPE:NAME, for messages */
const char *
maps_writer_name(const struct maps_writer *w)
{
	return w->name;
}
