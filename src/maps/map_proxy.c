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
 * proxy_read_maps, 5 configuration error.  Like Postfix, a request that
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

static struct stream *proxy_stream;	/* shared by all proxy: tables */

/* proxy_service - the proxymap service name */
static const char *
proxy_service(void)
{
	const char *s = param_get("proxymap_service_name");

	return s && *s ? s : "proxymap";
}

/* proxy_connect - (re)connect; NULL after a warning */
static struct stream *
proxy_connect(void)
{
	const char *service = proxy_service();
	char *path = xasprintf("private/%s", service);
	int timeout = var_ipc_timeout > 0 ? var_ipc_timeout : 3600;

	if (proxy_stream == NULL) {
		if (access(path, F_OK) == 0) {
			proxy_stream = mail_connect("private", service,
						    "proxymap_protocol",
						    timeout);
		} else {
			char *dir = xasprintf("%s/private",
					      var_queue_directory ?
					      var_queue_directory :
					      "/var/spool/postfix");

			proxy_stream = mail_connect(dir, service,
						    "proxymap_protocol",
						    timeout);
			free(dir);
		}
	}
	free(path);
	return proxy_stream;
}

/* proxy_drop - forget a broken connection */
static void
proxy_drop(void)
{
	if (proxy_stream)
		stream_close(proxy_stream);
	proxy_stream = NULL;
}

/*
 * proxy_call - one request, one reply of status plus one named value;
 * tries twice.  Returns the status, or -1 when the server is unreachable.
 */
static int
proxy_call(struct map *map, const char *request, int flags, const char *key,
	   const char *reply_name, struct strbuf *reply)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct stream *s = proxy_connect();
		int status;

		if (s == NULL)
			continue;
		attr_put_str(s, "request", request);
		attr_put_str(s, "table", map->name);
		attr_put_int(s, "flags", flags);
		if (key)
			attr_put_str(s, "key", key);
		attr_put_end(s);
		if (stream_flush(s) == 0
		    && attr_get_int(s, "status", &status) == 0
		    && attr_get_str(s, reply_name, reply) == 0
		    && attr_get_end(s) == 0)
			return status;
		if (attempt > 0 || msg_verbose)
			msg_warn("map_proxy: service %s: %s", proxy_service(),
				 stream_error(s) ? stream_strerror(s)
				 : "protocol error");
		proxy_drop();
	}
	return -1;
}

/* map_proxy_lookup - request=lookup */
static const char *
map_proxy_lookup(struct map *map, const char *key)
{
	int inst = map->flags & ~(IMPL_MASK | RQST_MASK);
	int status;

	status = proxy_call(map, "lookup",
			    inst | (map->flags & RQST_MASK), key, "value",
			    &map->result);
	switch (status) {
	case PROXY_STAT_OK:
		return strbuf_str(&map->result);
	case PROXY_STAT_NOKEY:
		return NULL;
	case PROXY_STAT_BAD:
		msg_fatal("%s lookup failed for table \"%s\" key \"%s\": "
			  "invalid request", proxy_service(), map->name, key);
	case PROXY_STAT_DENY:
		msg_fatal("%s service is not configured for table \"%s\"",
			  proxy_service(), map->name);
	case PROXY_STAT_CONFIG:
		map->error = MAPS_ERR_CONFIG;
		return NULL;
	case PROXY_STAT_RETRY:
	case -1:
		map->error = MAPS_ERR_RETRY;
		return NULL;
	default:
		msg_warn("%s lookup failed for table \"%s\" key \"%s\": "
			 "unexpected reply status %d", proxy_service(),
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
	status = proxy_call(map, "open", inst, NULL, "flags", &reply);
	switch (status) {
	case PROXY_STAT_OK:
		server_flags = atoi(strbuf_str(&reply));
		break;
	case PROXY_STAT_BAD:
		msg_fatal("%s open failed for table \"%s\": invalid request",
			  proxy_service(), map->name);
	case PROXY_STAT_DENY:
		msg_fatal("%s service is not configured for table \"%s\"",
			  proxy_service(), map->name);
	case -1:
		/* Not fatal: lookups will try again and fail softly. */
		msg_warn("%s:%s: %s service unreachable; lookups will be "
			 "retried", map->type, map->name, proxy_service());
		break;
	default:
		msg_warn("%s open failed for table \"%s\": unexpected status "
			 "%d", proxy_service(), map->name, status);
		break;
	}
	strbuf_release(&reply);
	map->flags |= server_flags & (MAPS_FLAG_FIXED | MAPS_FLAG_PATTERN);
	return 0;
}
