/* deliver_request - a delivery request from qmgr(8) and its queue file */
#ifndef GLOBAL_DELIVER_REQUEST_H
#define GLOBAL_DELIVER_REQUEST_H

#include <sys/time.h>

#include "global/dsn.h"
#include "util/stream.h"

/* Request flags (deliver_request.h facts) */
#define DEL_REQ_FLAG_SUCCESS		(1 << 0)
#define DEL_REQ_FLAG_BOUNCE		(1 << 1)
#define DEL_REQ_FLAG_MTA_VRFY		(1 << 8)
#define DEL_REQ_FLAG_USR_VRFY		(1 << 9)
#define DEL_REQ_FLAG_RECORD		(1 << 10)
#define DEL_REQ_FLAG_CONN_LOAD		(1 << 11)
#define DEL_REQ_FLAG_CONN_STORE		(1 << 12)
#define DEL_REQ_FLAG_REC_DLY_SENT	(1 << 13)
#define DEL_REQ_TRACE_FLAGS \
	(DEL_REQ_FLAG_MTA_VRFY | DEL_REQ_FLAG_USR_VRFY | DEL_REQ_FLAG_RECORD \
	 | DEL_REQ_FLAG_REC_DLY_SENT)
#define DEL_REQ_TRACE_ONLY(f) ((f) & (DEL_REQ_FLAG_MTA_VRFY \
				      | DEL_REQ_FLAG_USR_VRFY))

/* DSN NOTIFY bits and RET values */
#define DSN_NOTIFY_NEVER	(1 << 0)
#define DSN_NOTIFY_SUCCESS	(1 << 1)
#define DSN_NOTIFY_FAILURE	(1 << 2)
#define DSN_NOTIFY_DELAY	(1 << 3)
#define DSN_RET_FULL		1
#define DSN_RET_HDRS		2

/* SMTPUTF8 request bits */
#define SMTPUTF8_FLAG_REQUESTED	(1 << 0)
#define SMTPUTF8_FLAG_HEADER	(1 << 1)
#define SMTPUTF8_FLAG_SENDER	(1 << 2)
#define SMTPUTF8_FLAG_RECIPIENT	(1 << 3)

/* Final reply status */
#define DEL_STAT_FINAL	0
#define DEL_STAT_DEFER	(-1)

/* Time stamps, laid out as qmgr sends them (raw struct, base64). */
struct msg_stats {
	struct timeval incoming_arrival;
	struct timeval active_arrival;
	struct timeval agent_handoff;
	struct timeval conn_setup_done;
	struct timeval deliver_done;
	int reuse_count;
};

struct recipient {
	char *orig_addr;
	char *address;
	long offset;		/* of its R record in the queue file */
	char *dsn_orcpt;
	int dsn_notify;
};

struct deliver_request {
	struct stream *fp;	/* the queue file, shared-locked */
	char *queue_path;
	int flags;
	char *queue_name;
	char *queue_id;
	long data_offset;
	long data_size;
	char *nexthop;
	char *encoding;
	int smtputf8;
	char *sender;
	char *dsn_envid;
	int dsn_ret;
	struct msg_stats msg_stats;
	char *client_name;
	char *client_addr;
	char *client_port;
	char *client_proto;
	char *client_helo;
	char *sasl_method;
	char *sasl_username;
	char *sasl_sender;
	char *log_ident;
	char *rewrite_context;
	struct recipient *rcpt;
	int rcpt_count;
	struct dsn *hop_status;	/* destination-wide problem, or NULL */
};

struct deliver_request *deliver_request_read(struct stream *client);
void deliver_request_done(struct stream *client,
			  struct deliver_request *req, int status);
void deliver_request_free(struct deliver_request *req);
void deliver_request_set_hop_status(struct deliver_request *req,
				    const struct dsn *d);
int deliver_completed(struct deliver_request *req, int rcpt_index);
char *mail_queue_path(const char *queue_name, const char *queue_id);
int mail_queue_id_ok(const char *queue_id);
int mail_queue_name_ok(const char *queue_name);

#endif
