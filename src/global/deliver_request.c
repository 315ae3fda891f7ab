/*
 * deliver_request - a delivery request from qmgr(8) and its queue file
 *
 * deliver_request_read() announces the delivery_request_protocol to the
 * queue manager, reads one request (strict attribute order, then one
 * list per recipient), validates the queue name and id, and opens the
 * queue file read-write under a shared non-blocking lock.  On any
 * failure it logs a warning, answers "defer" itself and returns NULL.
 *
 * deliver_request_done() sends the reply (hop status DSN plus the final
 * status), waits for the queue manager to close, and frees the request.
 *
 * deliver_completed() marks a recipient done by overwriting the type byte
 * of its R record with D, as Postfix does; a write error is fatal so that
 * the queue manager retries (the recipient is then not lost, at worst
 * delivered twice).
 *
 * mail_queue_path() builds "queue/[hash/]id" following hash_queue_names
 * and hash_queue_depth.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "global/attr.h"
#include "global/deliver_request.h"
#include "global/params.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#define MAX_RECIPIENTS	1000000	/* sanity bound on recipient_count */

/* mail_queue_name_ok - queue names are short alphanumeric words */
int
mail_queue_name_ok(const char *queue_name)
{
	const char *cp;

	if (*queue_name == 0 || strlen(queue_name) > 100)
		return 0;
	for (cp = queue_name; *cp; cp++)
		if (!isalnum((unsigned char)*cp))
			return 0;
	return 1;
}

/* mail_queue_id_ok - queue ids are alphanumeric (and '_') */
int
mail_queue_id_ok(const char *queue_id)
{
	const char *cp;

	if (*queue_id == 0 || strlen(queue_id) > 255)
		return 0;
	for (cp = queue_id; *cp; cp++)
		if (!isalnum((unsigned char)*cp) && *cp != '_')
			return 0;
	return 1;
}

/* long_id_hash_key - the hex microseconds that hash a long queue id */
static char *
long_id_hash_key(const char *queue_id)
{
	static const char alphabet[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	const char *sep = strrchr(queue_id, 'z');
	unsigned long usec = 0;
	const char *cp;

	/* long ids: >= 6 seconds digits, 4 microsecond digits, 'z', inode */
	if (sep == NULL || sep - queue_id < 10)
		return NULL;
	for (cp = sep - 4; cp < sep; cp++) {
		const char *pos = strchr(alphabet, *cp);

		if (pos == NULL || *cp == 0) {
			usec = 0;
			break;
		}
		usec = usec * 52 + (unsigned long)(pos - alphabet);
	}
	return xasprintf("%05X", (int)usec);
}

/* mail_queue_path - relative path of a queue file */
char *
mail_queue_path(const char *queue_name, const char *queue_id)
{
	struct strbuf path = STRBUF_INIT;
	char *names = xstrdup(var_hash_queue_names);
	char *cp = names, *tok;

	strbuf_printf(&path, "%s/", queue_name);
	while ((tok = strsep(&cp, ", \t\r\n")) != NULL) {
		if (*tok == 0 || strcasecmp(tok, queue_name) != 0)
			continue;
		char *key = long_id_hash_key(queue_id);
		const char *src = key ? key : queue_id;

		for (int n = 0; n < var_hash_queue_depth; n++) {
			strbuf_putc(&path, *src ? *src++ : '_');
			strbuf_putc(&path, '/');
		}
		free(key);
		break;
	}
	free(names);
	strbuf_puts(&path, queue_id);
	return strbuf_take(&path);
}

/* read_recipient - one recipient list */
static int
read_recipient(struct stream *s, struct recipient *r, struct strbuf *buf)
{
	if (attr_get_str(s, "original_recipient", buf) < 0)
		return -1;
	r->orig_addr = xstrdup(strbuf_str(buf));
	if (attr_get_str(s, "recipient", buf) < 0)
		return -1;
	r->address = xstrdup(strbuf_str(buf));
	if (attr_get_long(s, "offset", &r->offset) < 0)
		return -1;
	if (attr_get_str(s, "dsn_orig_rcpt", buf) < 0)
		return -1;
	r->dsn_orcpt = xstrdup(strbuf_str(buf));
	if (attr_get_int(s, "notify_flags", &r->dsn_notify) < 0)
		return -1;
	return attr_get_end(s);
}

/* get_str - read a string attribute into a new copy */
static int
get_str(struct stream *s, const char *name, char **out, struct strbuf *buf)
{
	if (attr_get_str(s, name, buf) < 0)
		return -1;
	*out = xstrdup(strbuf_str(buf));
	return 0;
}

/* read_request - the request proper; 0 ok, -1 error (logged) */
static int
read_request(struct stream *s, struct deliver_request *req)
{
	struct strbuf buf = STRBUF_INIT;
	int ret = -1;
	int count;

	if (attr_get_int(s, "flags", &req->flags) < 0
	    || get_str(s, "queue_name", &req->queue_name, &buf) < 0
	    || get_str(s, "queue_id", &req->queue_id, &buf) < 0
	    || attr_get_long(s, "offset", &req->data_offset) < 0
	    || attr_get_long(s, "size", &req->data_size) < 0
	    || get_str(s, "nexthop", &req->nexthop, &buf) < 0
	    || get_str(s, "encoding", &req->encoding, &buf) < 0
	    || attr_get_int(s, "smtputf8", &req->smtputf8) < 0
	    || get_str(s, "sender", &req->sender, &buf) < 0
	    || get_str(s, "envelope_id", &req->dsn_envid, &buf) < 0
	    || attr_get_int(s, "ret_flags", &req->dsn_ret) < 0)
		goto out;
	if (attr_get_data(s, "time", &buf) < 0)
		goto out;
	if (buf.len != sizeof(req->msg_stats)) {
		msg_warn("delivery request: bad time stamp size %zu "
			 "(expected %zu)", buf.len, sizeof(req->msg_stats));
		goto out;
	}
	memcpy(&req->msg_stats, buf.data, sizeof(req->msg_stats));
	if (get_str(s, "log_client_name", &req->client_name, &buf) < 0
	    || get_str(s, "log_client_address", &req->client_addr, &buf) < 0
	    || get_str(s, "log_client_port", &req->client_port, &buf) < 0
	    || get_str(s, "log_protocol_name", &req->client_proto, &buf) < 0
	    || get_str(s, "log_helo_name", &req->client_helo, &buf) < 0
	    || get_str(s, "sasl_method", &req->sasl_method, &buf) < 0
	    || get_str(s, "sasl_username", &req->sasl_username, &buf) < 0
	    || get_str(s, "sasl_sender", &req->sasl_sender, &buf) < 0
	    || get_str(s, "log_ident", &req->log_ident, &buf) < 0
	    || get_str(s, "rewrite_context", &req->rewrite_context, &buf) < 0
	    || attr_get_int(s, "recipient_count", &count) < 0
	    || attr_get_end(s) < 0)
		goto out;
	if (count <= 0 || count > MAX_RECIPIENTS) {
		msg_warn("delivery request: bad recipient count %d", count);
		goto out;
	}
	req->rcpt = xcalloc((size_t)count, sizeof(*req->rcpt));
	for (int i = 0; i < count; i++) {
		req->rcpt_count = i + 1;
		if (read_recipient(s, &req->rcpt[i], &buf) < 0)
			goto out;
	}
	ret = 0;
out:
	strbuf_release(&buf);
	return ret;
}

/* open_queue_file - validate and open the queue file; 0 ok, -1 error */
static int
open_queue_file(struct deliver_request *req)
{
	struct stat st;
	int fd;

	if (!mail_queue_name_ok(req->queue_name)) {
		msg_warn("bad queue name in delivery request: %s",
			 req->queue_name);
		return -1;
	}
	if (!mail_queue_id_ok(req->queue_id)) {
		msg_warn("bad queue id in delivery request: %s", req->queue_id);
		return -1;
	}
	req->queue_path = mail_queue_path(req->queue_name, req->queue_id);
	if (lstat(req->queue_path, &st) < 0) {
		msg_warn("stat file %s: %m", req->queue_path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)
	    || (st.st_mode & S_IRWXU) != S_IRWXU) {
		msg_warn("%s: queue file is not ready for delivery (mode 0%o)",
			 req->queue_path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if ((fd = open(req->queue_path, O_RDWR | O_CLOEXEC)) < 0) {
		msg_warn("open file %s: %m", req->queue_path);
		return -1;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		msg_fatal("shared-lock file %s: %m", req->queue_path);
	req->fp = stream_fdopen(fd);
	return 0;
}

/* deliver_request_read - announce, read and validate a request */
struct deliver_request *
deliver_request_read(struct stream *client)
{
	struct deliver_request *req = xcalloc(1, sizeof(*req));
	struct timeval now;

	attr_put_str(client, "protocol", "delivery_request_protocol");
	attr_put_end(client);
	if (stream_flush(client) < 0) {
		msg_warn("write delivery request protocol announcement: %s",
			 stream_strerror(client));
		deliver_request_free(req);
		return NULL;
	}
	if (read_request(client, req) < 0 || open_queue_file(req) < 0) {
		if (stream_error(client) == STREAM_OK)
			deliver_request_done(client, req, DEL_STAT_DEFER);
		else
			deliver_request_free(req);
		return NULL;
	}
	if (req->msg_stats.agent_handoff.tv_sec == 0) {
		gettimeofday(&now, NULL);
		req->msg_stats.agent_handoff = now;
	}
	return req;
}

/* deliver_request_set_hop_status - remember a destination-wide problem */
void
deliver_request_set_hop_status(struct deliver_request *req,
			       const struct dsn *d)
{
	dsn_free(req->hop_status);
	req->hop_status = dsn_copy(d);
}

/* deliver_request_done - reply to qmgr, wait for it to hang up, free */
void
deliver_request_done(struct stream *client, struct deliver_request *req,
		     int status)
{
	static const struct dsn empty = { "", "", "", "", "", "", "" };
	char junk;

	dsn_attr_put(client, req->hop_status ? req->hop_status : &empty);
	attr_put_int(client, "status", status);
	attr_put_end(client);
	if (stream_flush(client) < 0)
		msg_warn("send delivery status to queue manager: %s",
			 stream_strerror(client));
	else
		(void)stream_read_exact(client, &junk, 1);	/* until EOF */
	deliver_request_free(req);
}

/* deliver_request_free - release everything */
void
deliver_request_free(struct deliver_request *req)
{
	if (req == NULL)
		return;
	if (req->fp)
		stream_close(req->fp);
	free(req->queue_path);
	free(req->queue_name);
	free(req->queue_id);
	free(req->nexthop);
	free(req->encoding);
	free(req->sender);
	free(req->dsn_envid);
	free(req->client_name);
	free(req->client_addr);
	free(req->client_port);
	free(req->client_proto);
	free(req->client_helo);
	free(req->sasl_method);
	free(req->sasl_username);
	free(req->sasl_sender);
	free(req->log_ident);
	free(req->rewrite_context);
	for (int i = 0; i < req->rcpt_count; i++) {
		free(req->rcpt[i].orig_addr);
		free(req->rcpt[i].address);
		free(req->rcpt[i].dsn_orcpt);
	}
	free(req->rcpt);
	dsn_free(req->hop_status);
	free(req);
}

/* deliver_completed - mark a recipient done in the queue file */
int
deliver_completed(struct deliver_request *req, int rcpt_index)
{
	long offset = req->rcpt[rcpt_index].offset;

	if (offset <= 0)
		msg_panic("deliver_completed: bad recipient offset %ld", offset);
	if (pwrite(stream_fd(req->fp), "D", 1, (off_t)offset) != 1)
		msg_fatal("update queue file %s: %m", req->queue_path);
	return 0;
}
