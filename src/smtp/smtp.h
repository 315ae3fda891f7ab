/* smtp - private interfaces of the SMTP/LMTP delivery agent */
#ifndef SMTP_SMTP_H
#define SMTP_SMTP_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "global/deliver_request.h"
#include "global/dsn.h"
#include "util/strbuf.h"
#include "util/stream.h"

/* Server features learned from the greeting and EHLO. */
#define SMTP_FEATURE_ESMTP		(1 << 0)
#define SMTP_FEATURE_8BITMIME		(1 << 1)
#define SMTP_FEATURE_PIPELINING		(1 << 2)
#define SMTP_FEATURE_SIZE		(1 << 3)
#define SMTP_FEATURE_STARTTLS		(1 << 4)
#define SMTP_FEATURE_AUTH		(1 << 5)
#define SMTP_FEATURE_XFORWARD_NAME	(1 << 6)
#define SMTP_FEATURE_XFORWARD_ADDR	(1 << 7)
#define SMTP_FEATURE_XFORWARD_PROTO	(1 << 8)
#define SMTP_FEATURE_XFORWARD_HELO	(1 << 9)
#define SMTP_FEATURE_XFORWARD_DOMAIN	(1 << 10)
#define SMTP_FEATURE_DSN		(1 << 11)
#define SMTP_FEATURE_ENHANCEDSTATUSCODES (1 << 12)
#define SMTP_FEATURE_SMTPUTF8		(1 << 13)
#define SMTP_FEATURE_XFORWARD_PORT	(1 << 14)
#define SMTP_FEATURE_XFORWARD_IDENT	(1 << 15)
#define SMTP_FEATURE_PIX_NO_ESMTP	(1 << 16)
#define SMTP_FEATURE_PIX_DELAY_DOTCRLF	(1 << 17)
#define SMTP_FEATURE_BEST_MX		(1 << 18)

/* Error classes of notify_classes (Postfix's mail_error.h names). */
#define SMTP_ERR_CLASS_BOUNCE	(1 << 0)
#define SMTP_ERR_CLASS_2BOUNCE	(1 << 1)
#define SMTP_ERR_CLASS_DATA	(1 << 2)
#define SMTP_ERR_CLASS_DELAY	(1 << 3)
#define SMTP_ERR_CLASS_POLICY	(1 << 4)
#define SMTP_ERR_CLASS_PROTOCOL	(1 << 5)
#define SMTP_ERR_CLASS_RESOURCE	(1 << 6)
#define SMTP_ERR_CLASS_SOFTWARE	(1 << 7)

/* Recipient progress within one request. */
enum smtp_rcpt_state {
	SMTP_RCPT_PENDING = 0,	/* not yet finally handled */
	SMTP_RCPT_KEEP,		/* soft failure here: try the next server */
	SMTP_RCPT_DROPPED,	/* reported (done or deferred): leave alone */
};

/* One server reply. */
struct smtp_resp {
	int code;		/* 0 if malformed */
	char dsn[16];		/* x.y.z, real or made up */
	struct strbuf text;	/* all lines joined by spaces */
	struct strbuf lines;	/* all lines joined by newlines */
};

struct xsasl_client;
struct tls_client_sess;

/* One connection to one server address. */
struct smtp_session {
	struct stream *stream;
	char *host;		/* name as used in logs */
	char *addr;		/* printable address */
	int port;		/* host byte order, 0 for UNIX-domain */
	char *namaddr;		/* host[addr] */
	char *namaddrport;	/* host[addr]:port, or host[path] */
	int features;
	long size_limit;	/* from EHLO SIZE, 0 = none announced */
	int error_mask;		/* SMTP_ERR_CLASS_* seen (notify_classes) */
	const char *queue_id;	/* borrowed from the request, for logs */
	int data_error;		/* a local lookup failed mid-session */
	/* SASL (smtp_sasl.c); all NULL unless the server announced AUTH */
	char *sasl_mechs;	/* offered and passing the filter */
	char *sasl_user;
	char *sasl_pass;	/* never logged */
	struct xsasl_client *sasl_client;
	/* STARTTLS (smtp_proto.c); NULL: a plaintext session */
	struct tls_client_sess *tls;
	int tls_retry_plain;	/* handshake failed: again, in clear */

	/*
	 * Connection caching, as Postfix's expire_time: > 0 the session may
	 * be cached (and reused until then); 0 it must not be; -1 it must
	 * not be, because the server failed us (the destination is
	 * throttled).  See smtp_reuse.c.
	 */
	time_t expire_time;
	char *dest;		/* the next hop it was made for (labels) */
	int reuse_count;	/* times taken from the cache */
	int from_cache;		/* reused: no greeting or EHLO to do */
	int rset_rejected;	/* the RSET probe got no 2xx */
	char **history;		/* the transcript (smtp_chat.c) */
	int history_len, history_cap;
};

/* Caching decisions on a session (Postfix's THIS_SESSION_IS_* rules). */
int smtp_session_cached(const struct smtp_session *session);
int smtp_session_expired(const struct smtp_session *session);
void smtp_session_dont_cache(struct smtp_session *session);

/* Everything about one delivery request. */
struct smtp_state {
	struct deliver_request *req;
	int lmtp;
	struct smtp_session *session;
	const char *dest;	/* destination being tried, as written in the
				 * next hop or fallback relay (borrowed) */
	enum smtp_rcpt_state *rcpt_state;
	int rcpt_left;		/* recipients still PENDING */
	int status;		/* 0, or -1 when anything was deferred */
	int final_server;	/* no other server left to try */
	int logged_line_break;
	size_t space_left;	/* of the current output line (DATA) */
	int complete_session;	/* a transaction ran to its end */
	struct dsn *why;	/* the last failure, for the caller */
	int tls_off;		/* this session: level "none" (a retry in
				 * clear after a failed handshake) */

	/* Connection cache (smtp_reuse.c). */
	int cache_load;		/* look for cached connections */
	int cache_store;	/* cache connections after use */
	char *request_nexthop;	/* dest label applies (first good session) */
	char **cache_used;	/* addresses of reused connections */
	int cache_used_count;
};

/* smtp_reuse.c */
void smtp_reuse_init(void);
void smtp_reuse_request_done(void);
void smtp_cache_policy(struct smtp_state *state, const char *domain);
struct smtp_session *smtp_reuse_nexthop(struct smtp_state *state,
					int port);
struct smtp_session *smtp_reuse_addr(struct smtp_state *state,
				     const char *host, const char *addr,
				     int port);
int smtp_reuse_was_used(const struct smtp_state *state, const char *addr);
void smtp_save_session(struct smtp_state *state);
void smtp_reuse_state_free(struct smtp_state *state);

/* smtp_main.c */
extern int smtp_lmtp_mode;

/* smtp_connect.c */
int smtp_connect(struct smtp_state *state);

/* smtp_proto.c */
int smtp_helo(struct smtp_state *state);
int smtp_xfer(struct smtp_state *state);
int smtp_rset(struct smtp_state *state);
void smtp_quit(struct smtp_state *state);

void smtp_stream_setup(struct smtp_session *session, int timeout,
		       int data_phase);

/* smtp_reply.c */
void smtp_resp_init(struct smtp_resp *resp);
void smtp_resp_release(struct smtp_resp *resp);
int smtp_resp_read(struct smtp_session *session, struct smtp_resp *resp);
int smtp_resp_parse_line(const char *line, int *code, int *last);
void smtp_resp_set_dsn(struct smtp_resp *resp, const char *last_line);

/* smtp_trouble.c */
int smtp_site_fail(struct smtp_state *state, const char *mta_name,
		   const struct smtp_resp *resp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int smtp_mesg_fail(struct smtp_state *state, const char *mta_name,
		   const struct smtp_resp *resp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void smtp_rcpt_fail(struct smtp_state *state, int rcpt_index,
		    const char *mta_name, const struct smtp_resp *resp,
		    const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int smtp_sess_fail(struct smtp_state *state, const char *status,
		   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void smtp_set_why(struct smtp_state *state, const char *status,
		  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int smtp_sess_fail_why(struct smtp_state *state);
int smtp_stream_except(struct smtp_state *state, const char *where);
void smtp_rcpt_done(struct smtp_state *state, int rcpt_index,
		    const struct smtp_resp *resp);
const char *smtp_relay_name(const struct smtp_state *state);

/* smtp_tls_policy.c: levels in Postfix's order of strength */
#define SMTP_TLS_LEV_INVALID	(-2)
#define SMTP_TLS_LEV_NOTFOUND	(-1)
#define SMTP_TLS_LEV_NONE	0
#define SMTP_TLS_LEV_MAY	1
#define SMTP_TLS_LEV_ENCRYPT	2
#define SMTP_TLS_LEV_FPRINT	3
#define SMTP_TLS_LEV_HALF_DANE	4
#define SMTP_TLS_LEV_DANE	5
#define SMTP_TLS_LEV_DANE_ONLY	6
#define SMTP_TLS_LEV_VERIFY	7
#define SMTP_TLS_LEV_SECURE	8

struct smtp_why;
struct dns_rr;
void smtp_tls_policy_init(void);
const char *smtp_tls_level_name(int level);
int smtp_tls_level(const char *dest, const char *host, struct smtp_why *why);

/* Attributes of a smtp_tls_policy_maps entry; NULL: main.cf's. */
struct smtp_tls_attrs {
	char *grade;		/* ciphers= */
	char *protocols;	/* protocols= */
	char *exclude;		/* exclude= */
	char *match;		/* match=, several joined by ":" or "|" */
};
int smtp_tls_policy(const char *dest, const char *host, struct smtp_why *why,
		    struct smtp_tls_attrs *attrs);
void smtp_tls_attrs_free(struct smtp_tls_attrs *attrs);
void smtp_tls_policy_forget(void);
int smtp_tls_refuse(const char *dest, const char *host, struct smtp_why *why);
int smtp_tls_prune(struct dns_rr **addrs, const char *dest,
		   struct smtp_why *why);

/* smtp_peer.c */
void smtp_debug_peer_init(void);
int smtp_parent_style(const char *name);
int smtp_debug_peer_check(const char *name, const char *addr);
void smtp_debug_peer_restore(void);
/* smtp_chat.c */
void smtp_chat_init(void);
char *smtp_printable(char *text);
void smtp_chat_append(struct smtp_session *session, const char *prefix,
		      const char *text);
void smtp_chat_cmd(struct smtp_session *session, const char *command);
void smtp_chat_free(struct smtp_session *session);
void smtp_chat_notify(struct smtp_state *state);

/* smtp_maps.c */
void smtp_maps_init(void);
void smtp_maps_pre_accept(void);
const char *smtp_reply_filter_find(const char *line, int *error);
const char *smtp_pix_maps_find(const char *addr, int *error);
const char *smtp_ehlo_discard_find(const char *addr, int *error);
const char *smtp_maps_title(int which);
int smtp_checks_active(void);
int smtp_body_checks_active(void);
const char *smtp_header_checks_find(int which, const char *header,
				    int *error, const char **title);
const char *smtp_body_checks_find(const char *line, int *error,
				  const char **title);

/*
 * smtp_sasl.c: what SASL credentials may depend on, for the connection
 * cache keys (Postfix 3.7's smtp.h COND_SASL_SMTP_KEY_FLAG_*): with
 * smtp_sender_dependent_authentication and a password table, both the
 * destination and the endpoint key include the sender; with a password
 * table, the endpoint key includes the current next hop and the server's
 * host name.  (Postfix's manual says sender-dependent authentication
 * turns caching off; 3.7 keys the cache by sender instead.)
 * smtp_sasl_sender_dependent() says whether this delivery looks up
 * credentials by sender (SMTP only, SASL on).
 */
int smtp_sasl_sender_dependent(void);
int smtp_sasl_key_sender(void);
int smtp_sasl_key_host(void);

/* smtp_generic.c */
struct header_opts;
void smtp_generic_init(void);
int smtp_generic_active(void);
int smtp_generic_addr(struct strbuf *addr);
int smtp_generic_header(struct strbuf *buf, const struct header_opts *info);

/* smtp_session.c */
struct smtp_session *smtp_session_create(struct stream *stream,
					 const char *host, const char *addr,
					 int port);
void smtp_session_free(struct smtp_session *session);
int smtp_session_passivate(struct smtp_session *session,
			   const struct smtp_state *state,
			   struct strbuf *dest_prop, struct strbuf *endp_prop);
struct smtp_session *smtp_session_activate(int fd, const char *host,
					   const char *addr, int port,
					   const char *dest_prop,
					   const char *endp_prop);

#endif
