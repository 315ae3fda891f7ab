/*
 * dns_rr - resource record lists: create, free, sort, shuffle, print
 *
 * dns_rr_create() and dns_rr_from_sockaddr() make one record;
 * dns_rr_append() joins lists; dns_rr_free() frees a whole list.
 * dns_rr_sort() is a stable sort (records that compare equal keep their
 * order, which is what makes the shuffle of equal preferences visible);
 * dns_rr_shuffle() puts a list in random order.  The comparators order by
 * MX preference, then optionally put IPv4 or IPv6 first
 * (smtp_address_preference).  dns_rr_text() prints a record the way the
 * reply filter sees it: "name. ttl IN type data".  dns_valid_hostname()
 * and dns_valid_hostaddr() screen names found in replies.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/xmalloc.h"

/* dns_rr_create - one record without data */
struct dns_rr *
dns_rr_create(const char *qname, const char *rname, unsigned type,
	      unsigned ttl, unsigned pref)
{
	struct dns_rr *rr = xcalloc(1, sizeof(*rr));

	rr->qname = xstrdup(qname);
	rr->rname = xstrdup(rname);
	rr->type = type;
	rr->ttl = ttl;
	rr->pref = pref;
	return rr;
}

/* dns_rr_from_sockaddr - an A or AAAA record for a numeric address */
struct dns_rr *
dns_rr_from_sockaddr(const char *name, unsigned pref,
		     const struct sockaddr *sa)
{
	struct dns_rr *rr;

	if (sa->sa_family == AF_INET) {
		rr = dns_rr_create(name, name, DNS_T_A, 0, pref);
		memcpy(rr->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		rr->addr_len = 4;
	} else if (sa->sa_family == AF_INET6) {
		rr = dns_rr_create(name, name, DNS_T_AAAA, 0, pref);
		memcpy(rr->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		       16);
		rr->addr_len = 16;
	} else {
		return NULL;
	}
	return rr;
}

/* dns_rr_free - free a list */
void
dns_rr_free(struct dns_rr *list)
{
	while (list) {
		struct dns_rr *next = list->next;

		free(list->qname);
		free(list->rname);
		free(list->host);
		free(list);
		list = next;
	}
}

/* dns_rr_append - list followed by rr (which may be a list) */
struct dns_rr *
dns_rr_append(struct dns_rr *list, struct dns_rr *rr)
{
	struct dns_rr *last;

	if (list == NULL)
		return rr;
	for (last = list; last->next; last = last->next)
		;
	last->next = rr;
	return list;
}

/* dns_rr_count - list length */
int
dns_rr_count(const struct dns_rr *list)
{
	int n = 0;

	for (; list; list = list->next)
		n++;
	return n;
}

/* to_array - the list as an array, for sorting and shuffling */
static struct dns_rr **
to_array(struct dns_rr *list, int *n)
{
	struct dns_rr **v;
	int i = 0;

	*n = dns_rr_count(list);
	v = xcalloc((size_t)(*n ? *n : 1), sizeof(*v));
	for (; list; list = list->next)
		v[i++] = list;
	return v;
}

/* from_array - relink */
static struct dns_rr *
from_array(struct dns_rr **v, int n)
{
	struct dns_rr *list = n ? v[0] : NULL;

	for (int i = 0; i < n; i++)
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
	free(v);
	return list;
}

/* dns_rr_sort - stable insertion sort (lists are short) */
struct dns_rr *
dns_rr_sort(struct dns_rr *list,
	    int (*cmp)(const struct dns_rr *, const struct dns_rr *))
{
	int n;
	struct dns_rr **v = to_array(list, &n);

	for (int i = 1; i < n; i++) {
		struct dns_rr *key = v[i];
		int j = i - 1;

		while (j >= 0 && cmp(v[j], key) > 0) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = key;
	}
	return from_array(v, n);
}

/* dns_rr_shuffle - Fisher-Yates */
struct dns_rr *
dns_rr_shuffle(struct dns_rr *list)
{
	int n;
	struct dns_rr **v = to_array(list, &n);

	for (int i = 0; i < n - 1; i++) {
		int r = i + (int)((unsigned)random() % (unsigned)(n - i));
		struct dns_rr *tmp = v[i];

		v[i] = v[r];
		v[r] = tmp;
	}
	return from_array(v, n);
}

int
dns_rr_cmp_pref_any(const struct dns_rr *a, const struct dns_rr *b)
{
	return a->pref < b->pref ? -1 : a->pref > b->pref;
}

/* dns_rr_cmp_pref_ipv6 - preference, then AAAA before A */
int
dns_rr_cmp_pref_ipv6(const struct dns_rr *a, const struct dns_rr *b)
{
	if (a->pref != b->pref || a->type == b->type)
		return dns_rr_cmp_pref_any(a, b);
	return a->type == DNS_T_AAAA ? -1 : 1;
}

/* dns_rr_cmp_pref_ipv4 - preference, then A before AAAA */
int
dns_rr_cmp_pref_ipv4(const struct dns_rr *a, const struct dns_rr *b)
{
	if (a->pref != b->pref || a->type == b->type)
		return dns_rr_cmp_pref_any(a, b);
	return a->type == DNS_T_AAAA ? 1 : -1;
}

/* dns_rr_to_sockaddr - socket address of an A/AAAA record; -1 if not */
int
dns_rr_to_sockaddr(const struct dns_rr *rr, int port,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (rr->type == DNS_T_A && rr->addr_len == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		memcpy(&sin->sin_addr, rr->addr, 4);
		*len = sizeof(*sin);
		return 0;
	}
	if (rr->type == DNS_T_AAAA && rr->addr_len == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		memcpy(&sin6->sin6_addr, rr->addr, 16);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* dns_rr_eq_sockaddr - same address (port ignored) */
int
dns_rr_eq_sockaddr(const struct dns_rr *rr, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET && rr->type == DNS_T_A)
		return memcmp(rr->addr,
			      &((const struct sockaddr_in *)sa)->sin_addr,
			      4) == 0;
	if (sa->sa_family == AF_INET6 && rr->type == DNS_T_AAAA)
		return memcmp(rr->addr,
			      &((const struct sockaddr_in6 *)sa)->sin6_addr,
			      16) == 0;
	return 0;
}

/* dns_rr_addr_text - printable address of an A/AAAA record */
const char *
dns_rr_addr_text(const struct dns_rr *rr, char *buf, size_t len)
{
	if (inet_ntop(rr->type == DNS_T_AAAA ? AF_INET6 : AF_INET, rr->addr,
		      buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* dns_strtype - type name */
const char *
dns_strtype(unsigned type)
{
	static char other[16];

	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_NS:
		return "NS";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_SOA:
		return "SOA";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	}
	snprintf(other, sizeof(other), "%u", type);
	return other;
}

/* dns_rr_text - the record as the reply filter sees it */
void
dns_rr_text(struct strbuf *out, const struct dns_rr *rr)
{
	char buf[INET6_ADDRSTRLEN];

	strbuf_printf(out, "%s. %u IN %s ", rr->rname, rr->ttl,
		      dns_strtype(rr->type));
	switch (rr->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		strbuf_puts(out, dns_rr_addr_text(rr, buf, sizeof(buf)));
		break;
	case DNS_T_MX:
		strbuf_printf(out, "%u %s.", rr->pref, rr->host);
		break;
	default:
		strbuf_printf(out, "%s.", rr->host ? rr->host : "");
		break;
	}
}

/*
 * dns_valid_hostname - letters, digits, '_' and inner hyphens in labels
 * of at most 63 bytes, no empty label, not all-numeric, at most 255
 * bytes; the same screen Postfix applies to names in DNS replies.
 */
int
dns_valid_hostname(const char *name)
{
	int label_len = 0, non_numeric = 0;
	const char *cp;

	if (*name == 0)
		return 0;
	for (cp = name; *cp; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (isalnum(ch) || ch == '_') {
			if (++label_len > 63)
				return 0;
			if (!isdigit(ch))
				non_numeric = 1;
		} else if (ch == '*' && cp == name
			   && (cp[1] == 0 || cp[1] == '.')) {
			label_len++;
			non_numeric = 1;
		} else if (ch == '.') {
			if (label_len == 0 || cp[1] == 0)
				return 0;
			label_len = 0;
		} else if (ch == '-') {
			non_numeric = 1;
			if (++label_len == 1 || cp[1] == 0 || cp[1] == '.')
				return 0;
		} else {
			return 0;
		}
	}
	return non_numeric && cp - name <= 255;
}

/* dns_valid_hostaddr - a numeric IPv4 or IPv6 address */
int
dns_valid_hostaddr(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1
	    || inet_pton(AF_INET6, name, buf) == 1;
}
