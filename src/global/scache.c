/*
 * scache - client of Postfix's scache(8) connection cache
 *
 * scache_create() names the service (connection_cache_service_name,
 *	reached as private/<name> relative to the queue directory, so it
 *	works chrooted or not), the time limit of each read or write
 *	(connection_cache_protocol_timeout), and how long the connection
 *	may stay unused (ipc_idle) or open (ipc_ttl) before it is made
 *	afresh.  Nothing is connected yet.
 * scache_find_dest() and scache_find_endp() look a connection up by
 *	destination label or by endpoint label; on a hit the server hands
 *	the descriptor over and forgets it.
 * scache_save_dest() binds a destination label to an endpoint label;
 *	scache_save_endp() hands a descriptor to the server, and always
 *	closes our copy.
 * scache_disconnect() drops the connection to the server; the next
 *	request connects again.  The agent calls it after each delivery
 *	request, so that an idle agent holds no scache connection (Postfix
 *	closes it after ipc_idle seconds of idleness for the same reason).
 *
 * Protocol (attr0, server announces "connection_cache_protocol"):
 *
 *   find_dest: request, label -> status, property (dest), property (endp)
 *   find_endp: request, label -> status, property
 *	on status 0: we send "dummy", the server passes the descriptor
 *	(one byte + SCM_RIGHTS), we send "dummy" again.
 *   save_dest: request, ttl, label, property, label -> status
 *   save_endp: request, ttl, label, property -> "dummy"; we pass the
 *	descriptor; -> status
 *
 * Status 0 is success, 2 "not found", 1 a malformed request.
 *
 * Errors: a request that fails (server down, connection lost, protocol
 * trouble) is logged and tried once more after one second on a fresh
 * connection; when that fails too, the cache is disabled for the rest of
 * the process ("disabling connection caching", as Postfix says) and every
 * later call is a miss.  A broken cache never stops delivery: the agent
 * just makes new connections and closes them after use.
 *
 * SEE ALSO
 *	postfix-interfaces.md section 6; Postfix scache(8), scache_clnt(3)
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "global/attr.h"
#include "global/mail_connect.h"
#include "global/scache.h"
#include "util/msg.h"
#include "util/stream.h"
#include "util/xmalloc.h"

#define SCACHE_PROTOCOL		"connection_cache_protocol"
#define SCACHE_MAX_TRIES	2	/* attempts before giving up for good */

#define SCACHE_STAT_OK		0

struct scache {
	char *service;		/* private/<service> */
	int timeout;		/* seconds per read or write */
	int idle_limit;		/* reconnect after this long unused */
	int ttl_limit;		/* reconnect after this long connected */
	struct stream *stream;	/* NULL: not connected */
	time_t connected;	/* when stream was made */
	time_t last_used;	/* when stream was last used */
	int disabled;		/* gave up: every call is a miss */
};

/* scache_create - a client for private/<service>; connects on demand */
struct scache *
scache_create(const char *service, int timeout, int idle_limit,
	      int ttl_limit)
{
	struct scache *cache = xcalloc(1, sizeof(*cache));

	cache->service = xstrdup(service);
	cache->timeout = timeout;
	cache->idle_limit = idle_limit;
	cache->ttl_limit = ttl_limit;
	return cache;
}

/* scache_disconnect - close the connection to the server, if any */
void
scache_disconnect(struct scache *cache)
{
	if (cache && cache->stream) {
		stream_close(cache->stream);
		cache->stream = NULL;
	}
}

/* scache_free - disconnect and forget */
void
scache_free(struct scache *cache)
{
	if (cache == NULL)
		return;
	scache_disconnect(cache);
	free(cache->service);
	free(cache);
}

/*
 * server - the connection to the server, made when needed; NULL on
 * trouble.  A connection unused for ipc_idle seconds, or older than
 * ipc_ttl, is replaced first: the server may have given up on it.
 */
static struct stream *
server(struct scache *cache)
{
	time_t now = time(NULL);

	if (cache->stream
	    && ((cache->idle_limit > 0
		 && now - cache->last_used >= cache->idle_limit)
		|| (cache->ttl_limit > 0
		    && now - cache->connected >= cache->ttl_limit)))
		scache_disconnect(cache);
	if (cache->stream == NULL) {
		cache->stream = mail_connect("private", cache->service,
					     SCACHE_PROTOCOL, cache->timeout);
		cache->connected = now;
	}
	cache->last_used = now;
	return cache->stream;
}

/*
 * attempt_failed - after a failed request: log it, drop the connection,
 * and say whether to try again (after a pause) or to give up for good.
 */
static int
attempt_failed(struct scache *cache, int tries)
{
	struct stream *s = cache->stream;

	if (s && !(stream_error(s) == STREAM_IOERR && s->err_no == EPIPE))
		msg_warn("problem talking to service private/%s: %s",
			 cache->service, stream_error(s) ? stream_strerror(s)
			 : "protocol error");
	scache_disconnect(cache);
	if (tries >= SCACHE_MAX_TRIES - 1) {
		msg_warn("disabling connection caching");
		cache->disabled = 1;
		return 0;
	}
	sleep(1);
	return 1;
}

/* wait_for - poll one descriptor for events within the time limit */
static int
wait_for(int fd, short events, int timeout)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

/* send_fd - pass a descriptor: one zero byte with SCM_RIGHTS */
static int
send_fd(struct scache *cache, int fd)
{
	int sock = stream_fd(cache->stream);
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	if (wait_for(sock, POLLOUT, cache->timeout) < 0)
		goto fail;
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n == 1)
		return 0;
fail:
	stream_set_error(cache->stream, errno == ETIMEDOUT ? STREAM_TIMEOUT
			 : STREAM_IOERR, errno);
	return -1;
}

/* recv_fd - receive a descriptor passed with SCM_RIGHTS, or -1 */
static int
recv_fd(struct scache *cache)
{
	int sock = stream_fd(cache->stream), fd = -1;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	/* The server sends the descriptor only after our "dummy". */
	if (stream_buffered_input(cache->stream) > 0) {
		msg_warn("private/%s: unexpected data before the descriptor",
			 cache->service);
		stream_set_error(cache->stream, STREAM_IOERR, EPROTO);
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	if (wait_for(sock, POLLIN, cache->timeout) < 0) {
		stream_set_error(cache->stream, STREAM_TIMEOUT, ETIMEDOUT);
		return -1;
	}
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		stream_set_error(cache->stream, n == 0 ? STREAM_EOF
				 : STREAM_IOERR, n == 0 ? 0 : errno);
		return -1;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_SOCKET
		    && cmsg->cmsg_type == SCM_RIGHTS
		    && cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	if (fd < 0 || (msg.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		stream_set_error(cache->stream, STREAM_IOERR, EPROTO);
		return -1;
	}
	return fd;
}

/* dummy - one empty "dummy" list, written and flushed */
static int
dummy(struct stream *s)
{
	attr_put_str(s, "dummy", "");
	attr_put_end(s);
	return stream_flush(s);
}

/*
 * find - the common part of find_dest and find_endp: send the request,
 * read the status and nprop properties, and on a hit take the
 * descriptor.
 */
static int
find(struct scache *cache, const char *request, const char *label,
     struct strbuf *prop1, struct strbuf *prop2)
{
	int tries, status, fd = -1;

	strbuf_reset(prop1);
	if (prop2)
		strbuf_reset(prop2);
	for (tries = 0; !cache->disabled; tries++) {
		struct stream *s = server(cache);

		if (s) {
			attr_put_str(s, "request", request);
			attr_put_str(s, "label", label);
			attr_put_end(s);
			if (stream_flush(s) == 0
			    && attr_get_int(s, "status", &status) == 0
			    && attr_get_str(s, "property", prop1) == 0
			    && (prop2 == NULL
				|| attr_get_str(s, "property", prop2) == 0)
			    && attr_get_end(s) == 0) {
				if (status != SCACHE_STAT_OK)
					break;	/* not found */
				if (dummy(s) == 0
				    && (fd = recv_fd(cache)) >= 0) {
					/* Let the server know we have it. */
					(void)dummy(s);
					break;
				}
			}
		}
		if (!attempt_failed(cache, tries))
			break;
	}
	if (fd < 0) {
		strbuf_reset(prop1);
		if (prop2)
			strbuf_reset(prop2);
	}
	return fd;
}

/* scache_find_dest - a connection by destination label, or -1 */
int
scache_find_dest(struct scache *cache, const char *dest_label,
		 struct strbuf *dest_prop, struct strbuf *endp_prop)
{
	int fd = find(cache, "find_dest", dest_label, dest_prop, endp_prop);

	if (msg_verbose)
		msg_info("scache_find_dest: %s: %s", dest_label,
			 fd < 0 ? "not found" : "found");
	return fd;
}

/* scache_find_endp - a connection by endpoint label, or -1 */
int
scache_find_endp(struct scache *cache, const char *endp_label,
		 struct strbuf *endp_prop)
{
	int fd = find(cache, "find_endp", endp_label, endp_prop, NULL);

	if (msg_verbose)
		msg_info("scache_find_endp: %s: %s", endp_label,
			 fd < 0 ? "not found" : "found");
	return fd;
}

/* scache_save_dest - bind a destination label to an endpoint label */
void
scache_save_dest(struct scache *cache, int ttl, const char *dest_label,
		 const char *dest_prop, const char *endp_label)
{
	int tries, status;

	if (ttl <= 0)
		msg_panic("scache_save_dest: bad ttl: %d", ttl);
	for (tries = 0; !cache->disabled; tries++) {
		struct stream *s = server(cache);

		if (s) {
			attr_put_str(s, "request", "save_dest");
			attr_put_int(s, "ttl", ttl);
			attr_put_str(s, "label", dest_label);
			attr_put_str(s, "property", dest_prop);
			attr_put_str(s, "label", endp_label);
			attr_put_end(s);
			if (stream_flush(s) == 0
			    && attr_get_int(s, "status", &status) == 0
			    && attr_get_end(s) == 0) {
				if (msg_verbose && status != SCACHE_STAT_OK)
					msg_warn("scache_save_dest: status %d",
						 status);
				break;
			}
		}
		if (!attempt_failed(cache, tries))
			break;
	}
}

/* scache_save_endp - hand a connection to the cache; fd is closed */
void
scache_save_endp(struct scache *cache, int ttl, const char *endp_label,
		 const char *endp_prop, int fd)
{
	struct strbuf junk = STRBUF_INIT;
	int tries, status;

	if (ttl <= 0)
		msg_panic("scache_save_endp: bad ttl: %d", ttl);
	for (tries = 0; !cache->disabled; tries++) {
		struct stream *s = server(cache);

		if (s) {
			attr_put_str(s, "request", "save_endp");
			attr_put_int(s, "ttl", ttl);
			attr_put_str(s, "label", endp_label);
			attr_put_str(s, "property", endp_prop);
			attr_put_end(s);
			/* The server says when it is ready for the fd. */
			if (stream_flush(s) == 0
			    && attr_get_str(s, "dummy", &junk) == 0
			    && attr_get_end(s) == 0
			    && send_fd(cache, fd) == 0
			    && attr_get_int(s, "status", &status) == 0
			    && attr_get_end(s) == 0) {
				if (msg_verbose && status != SCACHE_STAT_OK)
					msg_warn("scache_save_endp: status %d",
						 status);
				break;
			}
		}
		if (!attempt_failed(cache, tries))
			break;
	}
	strbuf_release(&junk);
	if (close(fd) < 0)
		msg_warn("scache_save_endp: close(%d): %m", fd);
}
