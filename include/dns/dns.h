/* dns - c-ares driver: MX, A and AAAA lookups with Postfix's results */
#ifndef DNS_DNS_H
#define DNS_DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "util/strbuf.h"

/* Resource record types we look up or meet on the way. */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_SOA	6
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_OPT	41

/*
 * Lookup results, ordered as Postfix's dns(3) orders them: when several
 * lookups are combined (A then AAAA), the greatest value wins.
 */
#define DNS_NOTFOUND	(-6)	/* query ok, no such name or no data */
#define DNS_NULLMX	(-5)	/* query ok, the domain refuses mail */
#define DNS_FAIL	(-4)	/* query failed, do not retry */
#define DNS_INVAL	(-3)	/* query ok, malformed name in the reply */
#define DNS_RETRY	(-2)	/* query failed, try again later */
#define DNS_POLICY	(-1)	/* query ok, the reply filter dropped all */
#define DNS_OK		0
#define DNS_RECURSE	(-7)	/* dns_reply_parse(): only a CNAME came back */

/* Lookup flags (smtp_dns_resolver_options and the support level). */
#define DNS_FLAG_DEFNAMES	(1 << 0)	/* res_defnames */
#define DNS_FLAG_DNSRCH		(1 << 1)	/* res_dnsrch */
#define DNS_FLAG_DNSSEC		(1 << 2)	/* ask for the AD bit */

/*
 * One record.  qname is the name that was asked for, rname the owner of
 * the record (they differ after a CNAME).  For MX, host is the exchanger
 * (empty for a null MX); for A/AAAA, addr holds the address bytes.
 */
struct dns_rr {
	char *qname;
	char *rname;
	unsigned type;
	unsigned ttl;
	unsigned pref;
	int dnssec_valid;	/* the reply carried the AD bit */
	char *host;		/* MX exchanger, CNAME target */
	unsigned char addr[16];
	size_t addr_len;
	struct dns_rr *next;
};

/*
 * One question in a batch.  The driver fills in status, rrs (owned by
 * the caller afterwards) and why (Postfix's text for a failure).
 */
struct dns_query {
	const char *name;	/* borrowed */
	unsigned type;
	int status;
	int ad;			/* the final reply had the AD bit */
	struct dns_rr *rrs;
	struct strbuf why;
	/* private to the driver */
	char *cur_name;
	int hops;
	int pending;
	int tried_search;
	int search_index;
};

/*
 * The reply filter (smtp_dns_reply_filter): called with the record as
 * text ("name. ttl IN type data"); returns 1 to drop the record, 0 to
 * keep it, -1 for a table error.
 */
typedef int (*dns_filter_fn)(const char *rr_text, void *ctx);

void dns_set_reply_filter(dns_filter_fn fn, void *ctx);
void dns_set_timeout_ms(int ms);

/* Run every query of a batch concurrently; returns when all are done. */
void dns_lookup_batch(struct dns_query *queries, int count, int flags);

/* One query; returns the status, *rrs and why as for a batch. */
int dns_lookup(const char *name, unsigned type, int flags,
	       struct dns_rr **rrs, struct strbuf *why);

/* A and/or AAAA in the order of types[] (0-terminated), results joined
 * and the status/why combined as Postfix's dns_lookup_v() does. */
int dns_lookup_v(const char *name, int flags, const unsigned *types,
		 struct dns_rr **rrs, struct strbuf *why);
void dns_combine(struct dns_query *queries, int count, struct dns_rr **rrs,
		 int *status, struct strbuf *why);

/* Classify one raw reply (for tests; the driver uses it on every reply). */
int dns_reply_parse(struct dns_query *q, const unsigned char *buf, int len,
		    char **cname);

/* dns_rr.c */
struct dns_rr *dns_rr_create(const char *qname, const char *rname,
			     unsigned type, unsigned ttl, unsigned pref);
struct dns_rr *dns_rr_from_sockaddr(const char *name, unsigned pref,
				    const struct sockaddr *sa);
void dns_rr_free(struct dns_rr *list);
struct dns_rr *dns_rr_append(struct dns_rr *list, struct dns_rr *rr);
struct dns_rr *dns_rr_sort(struct dns_rr *list,
			   int (*cmp)(const struct dns_rr *,
				      const struct dns_rr *));
struct dns_rr *dns_rr_shuffle(struct dns_rr *list);
int dns_rr_count(const struct dns_rr *list);
int dns_rr_cmp_pref_any(const struct dns_rr *a, const struct dns_rr *b);
int dns_rr_cmp_pref_ipv4(const struct dns_rr *a, const struct dns_rr *b);
int dns_rr_cmp_pref_ipv6(const struct dns_rr *a, const struct dns_rr *b);
int dns_rr_to_sockaddr(const struct dns_rr *rr, int port,
		       struct sockaddr_storage *ss, socklen_t *len);
int dns_rr_eq_sockaddr(const struct dns_rr *rr, const struct sockaddr *sa);
const char *dns_rr_addr_text(const struct dns_rr *rr, char *buf,
			     size_t len);
void dns_rr_text(struct strbuf *out, const struct dns_rr *rr);
const char *dns_strtype(unsigned type);
int dns_valid_hostname(const char *name);
int dns_valid_hostaddr(const char *name);

#endif
