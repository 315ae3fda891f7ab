/* tls_client - the client side of STARTTLS, on OpenSSL */
#ifndef TLS_TLS_CLIENT_H
#define TLS_TLS_CLIENT_H

#include "util/stream.h"

/*
 * Security levels, in Postfix's order of strength.  The numbers are the
 * ones the smtp layer's SMTP_TLS_LEV_* use.
 */
#define TLS_LEV_NONE		0
#define TLS_LEV_MAY		1
#define TLS_LEV_ENCRYPT		2
#define TLS_LEV_FPRINT		3
#define TLS_LEV_HALF_DANE	4
#define TLS_LEV_DANE		5
#define TLS_LEV_DANE_ONLY	6
#define TLS_LEV_VERIFY		7
#define TLS_LEV_SECURE		8

#define TLS_REQUIRED(l)		((l) > TLS_LEV_MAY)
#define TLS_MUST_MATCH(l)	((l) > TLS_LEV_ENCRYPT)

/* What one handshake needs to know. */
struct tls_client_props {
	int level;		/* TLS_LEV_MAY ... TLS_LEV_SECURE */
	const char *namaddr;	/* host[addr]:port, for logs */
	const char *host;	/* server host name ("hostname" match) */
	const char *nexthop;	/* next-hop domain ("nexthop" matches) */
	const char *matches;	/* names (verify, secure) or digests
				 * (fingerprint); NULL: main.cf's */
	const char *grade;	/* cipher grade; NULL: main.cf's */
	const char *protocols;	/* protocol list; NULL: main.cf's */
	const char *exclusions;	/* ciphers to exclude; NULL: main.cf's */
	int timeout;		/* seconds per wait during the handshake */
};

struct tls_client_sess;

int tls_client_init(int lmtp);
int tls_client_enabled(void);
struct tls_client_sess *tls_client_start(struct stream *s,
				    const struct tls_client_props *props);
int tls_client_matched(const struct tls_client_sess *sess);
int tls_client_trusted(const struct tls_client_sess *sess);
void tls_client_stop(struct stream *s, struct tls_client_sess *sess,
		     int failure);
int tls_client_protocols(const char *list, int *min, int *max,
			 long *no_mask);

#endif
