/*
 * smtp_addr - the server addresses of a next hop, as Postfix 3.7 finds
 * and orders them
 *
 * smtp_domain_addr() looks up the MX records of a domain, sorts them by
 * preference, and looks up the addresses of every exchanger at once
 * (one concurrent batch of A/AAAA queries, in place of Postfix's one
 * lookup after another; the results are assembled in the same order, so
 * the list is the one Postfix builds).  Without MX records it falls back
 * to the domain's own addresses (implicit MX); a null MX (RFC 7505)
 * fails with 5.1.0.  The list is cut at the first preference that names
 * this host (inet_interfaces, proxy_interfaces) when delivering to port
 * 25, failing with "mail for X loops back to myself" (5.4.6) when
 * nothing better is left, then shuffled (smtp_randomize_addresses),
 * sorted by preference and address family (smtp_address_preference) and
 * balanced between IPv4 and IPv6 within smtp_mx_address_limit
 * (smtp_balance_inet_protocols).
 *
 * smtp_host_addr() does the same for one host name or numeric address
 * (destinations in brackets, LMTP, DNS disabled), through the DNS,
 * the native resolver (getaddrinfo, /etc/hosts), or both
 * (smtp_host_lookup).
 *
 * Both return a list of A/AAAA records whose pref is the MX preference,
 * or NULL with why set: status and text as Postfix writes them, e.g.
 * "Host or domain name not found. Name service error for name=x.test
 * type=A: Host not found" (5.4.4).  A soft error wins over a hard one.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "maps/maps.h"
#include "smtp_addr.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#define HOST_FLAG_DNS		(1 << 0)
#define HOST_FLAG_NATIVE	(1 << 1)

#define DNS_SUPPORT_DISABLED	0
#define DNS_SUPPORT_ENABLED	1
#define DNS_SUPPORT_DNSSEC	2

static int initialized;
static int dns_support;
static int host_lookup_mask;
static int res_flags;
static int proto_v4, proto_v6;	/* inet_protocols */
static unsigned atypes[3];	/* A and/or AAAA, 0-terminated */
static int (*addr_cmp)(const struct dns_rr *, const struct dns_rr *);
static struct sockaddr_storage *own_addrs, *proxy_addrs;
static int own_count, proxy_count;
static int dnssec_seen, dnssec_probed;

/* smtp_why_set - replace status and text */
void
smtp_why_set(struct smtp_why *why, const char *status, const char *fmt, ...)
{
	va_list ap;

	snprintf(why->status, sizeof(why->status), "%s", status);
	strbuf_reset(&why->reason);
	va_start(ap, fmt);
	strbuf_vprintf(&why->reason, fmt, ap);
	va_end(ap);
}

/* smtp_why_status - replace the status only */
void
smtp_why_status(struct smtp_why *why, const char *status)
{
	snprintf(why->status, sizeof(why->status), "%s", status);
}

#define WHY_SOFT(w)	((w)->status[0] == '4')
#define WHY_HARD(w)	((w)->status[0] == '5')

/* ipv6_usable - the kernel speaks IPv6 (Postfix checks the same way) */
static int
ipv6_usable(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* parse_protocols - inet_protocols */
static void
parse_protocols(void)
{
	char *copy = xstrdup(var_inet_protocols), *rest = copy, *item;
	int n = 0;

	proto_v4 = proto_v6 = 0;
	while ((item = strsep(&rest, ", \t\r\n")) != NULL) {
		if (*item == 0)
			continue;
		if (strcasecmp(item, "all") == 0) {
			proto_v4 = 1;
			proto_v6 = ipv6_usable();
		} else if (strcasecmp(item, "ipv4") == 0) {
			proto_v4 = 1;
		} else if (strcasecmp(item, "ipv6") == 0) {
			proto_v6 = 1;
		} else {
			msg_fatal("bad inet_protocols value: %s",
				  var_inet_protocols);
		}
	}
	free(copy);
	if (proto_v4)
		atypes[n++] = DNS_T_A;
	if (proto_v6)
		atypes[n++] = DNS_T_AAAA;
	atypes[n] = 0;
}

/* family_ok - the address family is enabled */
static int
family_ok(int family)
{
	return (family == AF_INET && proto_v4)
	    || (family == AF_INET6 && proto_v6);
}

/* add_addr - append to an address vector */
static void
add_addr(struct sockaddr_storage **v, int *n, const struct sockaddr *sa,
	 socklen_t len)
{
	*v = xrealloc(*v, (size_t)(*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy(&(*v)[*n], sa, len);
	(*n)++;
}

/* add_host - the addresses of one interface name or address */
static void
add_host(struct sockaddr_storage **v, int *n, const char *host)
{
	struct addrinfo hints, *res, *ai;
	char *name = xstrdup(host), *end;

	if (*name == '[' && (end = strchr(name, ']')) != NULL) {
		*end = 0;
		memmove(name, name + 1, strlen(name));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0) {
		msg_warn("unable to look up interface address %s", name);
		free(name);
		return;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if (family_ok(ai->ai_family))
			add_addr(v, n, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	free(name);
}

/* add_list - inet_interfaces or proxy_interfaces */
static void
add_list(struct sockaddr_storage **v, int *n, const char *list, int own)
{
	char *copy = xstrdup(list), *rest = copy, *item;

	while ((item = strsep(&rest, ", \t\r\n")) != NULL) {
		if (*item == 0)
			continue;
		if (own && strcasecmp(item, "all") == 0) {
			struct ifaddrs *ifa, *i;

			if (getifaddrs(&ifa) < 0)
				msg_fatal("getifaddrs: %m");
			for (i = ifa; i; i = i->ifa_next)
				if (i->ifa_addr && family_ok(i->ifa_addr->sa_family))
					add_addr(v, n, i->ifa_addr,
						 i->ifa_addr->sa_family == AF_INET
						 ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6));
			freeifaddrs(ifa);
		} else if (own && strcasecmp(item, "loopback-only") == 0) {
			if (proto_v4)
				add_host(v, n, "127.0.0.1");
			if (proto_v6)
				add_host(v, n, "::1");
		} else {
			add_host(v, n, item);
		}
	}
	free(copy);
}

/*
 * reply_filter - smtp_dns_reply_filter: the table is searched with the
 * record as text; "IGNORE" drops the record (and says so), anything else
 * is a configuration error, and so is a failed lookup.
 */
static int
reply_filter(const char *text, void *ctx)
{
	struct maps *maps = ctx;
	const char *value = maps_find(maps, text, 0);
	size_t len;

	if (value == NULL)
		return maps->error ? -1 : 0;
	len = strcspn(value, " \t");
	if (len == 6 && strncasecmp(value, "IGNORE", 6) == 0) {
		msg_info("ignoring DNS RR: %s", text);
		return 1;
	}
	msg_warn("%s: unknown DNS filter action: \"%s\"", maps->title, value);
	return -1;
}

/*
 * smtp_addr_init - read the lookup parameters once.  Call it before the
 * chroot (pre_init) so that a file-based smtp_dns_reply_filter can be
 * opened; it is called lazily otherwise.
 */
void
smtp_addr_init(void)
{
	char *copy, *rest, *item;

	if (initialized)
		return;
	initialized = 1;
	parse_protocols();
	if (*var_smtp_dns_support_level == 0)
		dns_support = var_disable_dns_lookups ? DNS_SUPPORT_DISABLED
		    : DNS_SUPPORT_ENABLED;
	else if (strcasecmp(var_smtp_dns_support_level, "disabled") == 0)
		dns_support = DNS_SUPPORT_DISABLED;
	else if (strcasecmp(var_smtp_dns_support_level, "enabled") == 0)
		dns_support = DNS_SUPPORT_ENABLED;
	else if (strcasecmp(var_smtp_dns_support_level, "dnssec") == 0)
		dns_support = DNS_SUPPORT_DNSSEC;
	else
		msg_fatal("invalid %s: \"%s\"", smtp_lmtp_mode
			  ? "lmtp_dns_support_level" : "smtp_dns_support_level",
			  var_smtp_dns_support_level);
	if (dns_support == DNS_SUPPORT_DISABLED) {
		host_lookup_mask = HOST_FLAG_NATIVE;
	} else {
		host_lookup_mask = 0;
		copy = xstrdup(var_smtp_host_lookup);
		for (rest = copy; (item = strsep(&rest, ", \t\r\n")) != NULL;) {
			if (*item == 0)
				continue;
			if (strcasecmp(item, "dns") == 0)
				host_lookup_mask |= HOST_FLAG_DNS;
			else if (strcasecmp(item, "native") == 0)
				host_lookup_mask |= HOST_FLAG_NATIVE;
			else
				msg_fatal("bad %s value: %s", smtp_lmtp_mode
					  ? "lmtp_host_lookup"
					  : "smtp_host_lookup",
					  var_smtp_host_lookup);
		}
		free(copy);
		if (host_lookup_mask == 0)
			host_lookup_mask = HOST_FLAG_DNS;
	}
	res_flags = 0;
	copy = xstrdup(var_smtp_dns_resolver_options);
	for (rest = copy; (item = strsep(&rest, ", \t\r\n")) != NULL;) {
		if (*item == 0)
			continue;
		if (strcmp(item, "res_defnames") == 0)
			res_flags |= DNS_FLAG_DEFNAMES;
		else if (strcmp(item, "res_dnsrch") == 0)
			res_flags |= DNS_FLAG_DNSRCH;
		else
			msg_fatal("bad %s value: %s", smtp_lmtp_mode
				  ? "lmtp_dns_resolver_options"
				  : "smtp_dns_resolver_options",
				  var_smtp_dns_resolver_options);
	}
	free(copy);
	if (strcasecmp(var_smtp_address_preference, "ipv6") == 0)
		addr_cmp = dns_rr_cmp_pref_ipv6;
	else if (strcasecmp(var_smtp_address_preference, "ipv4") == 0)
		addr_cmp = dns_rr_cmp_pref_ipv4;
	else if (strcasecmp(var_smtp_address_preference, "any") == 0)
		addr_cmp = dns_rr_cmp_pref_any;
	else
		msg_fatal("bad %s value: %s", smtp_lmtp_mode
			  ? "lmtp_address_preference" : "smtp_address_preference",
			  var_smtp_address_preference);
	add_list(&own_addrs, &own_count, var_inet_interfaces, 1);
	add_list(&proxy_addrs, &proxy_count, var_proxy_interfaces, 0);
	if (*var_smtp_dns_reply_filter)
		dns_set_reply_filter(reply_filter,
				     maps_create(smtp_lmtp_mode
						 ? "lmtp_dns_reply_filter"
						 : "smtp_dns_reply_filter",
						 var_smtp_dns_reply_filter,
						 MAPS_FLAG_LOCK
						 | MAPS_FLAG_FOLD_FIX));
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
}

/* smtp_addr_dns_enabled - whether MX lookups happen at all */
int
smtp_addr_dns_enabled(void)
{
	smtp_addr_init();
	return dns_support != DNS_SUPPORT_DISABLED;
}

/* smtp_addr_hname - the server name for logs and TLS */
const char *
smtp_addr_hname(const struct dns_rr *rr)
{
	return var_smtp_cname_overrides_servername ? rr->rname : rr->qname;
}

/* lookup_flags - resolver flags for one lookup */
static int
lookup_flags(int dnssec)
{
	return res_flags | (dnssec ? DNS_FLAG_DNSSEC : 0);
}

/*
 * dnssec_note - with smtp_dns_support_level = dnssec, log what the AD
 * bit said; the first time no validated answer was seen, probe the
 * resolver as Postfix does (dnssec_probe) and warn when it does not
 * validate.
 */
static void
dnssec_note(const char *name, const char *type, int ad)
{
	struct dns_rr *rrs = NULL;
	struct strbuf why = STRBUF_INIT;
	char *spec, *qname;
	unsigned qtype;
	int status;

	if (dns_support != DNS_SUPPORT_DNSSEC)
		return;
	msg_info("DNSSEC: %s records for %s are %s", type, name,
		 ad ? "validated (AD bit set)" : "not validated (no AD bit)");
	if (ad)
		dnssec_seen = 1;
	if (dnssec_seen || dnssec_probed || *var_dnssec_probe == 0)
		return;
	dnssec_probed = 1;
	spec = xstrdup(var_dnssec_probe);
	if ((qname = strchr(spec, ':')) == NULL || qname[1] == 0)
		msg_fatal("malformed dnssec_probe value: %s format is "
			  "qtype:qname", var_dnssec_probe);
	*qname++ = 0;
	qtype = strcasecmp(spec, "ns") == 0 ? DNS_T_NS
	    : strcasecmp(spec, "mx") == 0 ? DNS_T_MX
	    : strcasecmp(spec, "a") == 0 ? DNS_T_A
	    : strcasecmp(spec, "aaaa") == 0 ? DNS_T_AAAA : 0;
	if (qtype == DNS_T_NS || qtype == 0) {
		/* Only the AD bit matters: ask for the root's SOA-less NS. */
		qtype = DNS_T_NS;
	}
	{
		struct dns_query q;

		memset(&q, 0, sizeof(q));
		q.name = strcmp(qname, ".") == 0 ? "." : qname;
		q.type = qtype;
		dns_lookup_batch(&q, 1, lookup_flags(1));
		status = q.status;
		if (q.ad)
			dnssec_seen = 1;
		rrs = q.rrs;
		strbuf_set(&why, strbuf_str(&q.why));
		strbuf_release(&q.why);
	}
	if (!dnssec_seen) {
		msg_warn("DNSSEC validation may be unavailable");
		if (status == DNS_RETRY || status == DNS_FAIL)
			msg_warn("reason: dnssec_probe '%s' received no "
				 "response: %s", var_dnssec_probe,
				 strbuf_str(&why));
		else
			msg_warn("reason: dnssec_probe '%s' received a "
				 "response that is not DNSSEC validated",
				 var_dnssec_probe);
	}
	dns_rr_free(rrs);
	strbuf_release(&why);
	free(spec);
}

/* set_dns_status - Postfix's DSN status for a failed DNS address lookup */
static void
set_dns_status(struct smtp_why *why, int status, const char *text)
{
	int soft = WHY_SOFT(why);

	switch (status) {
	case DNS_FAIL:
		smtp_why_set(why, soft ? "4.4.3" : "5.4.3", "%s", text);
		break;
	case DNS_INVAL:
	case DNS_NOTFOUND:
		smtp_why_set(why, soft ? "4.4.4" : "5.4.4", "%s", text);
		break;
	case DNS_POLICY:
		smtp_why_set(why, "4.7.0", "%s", text);
		break;
	default:
		smtp_why_set(why, "4.4.3", "%s", text);
		break;
	}
}

/* numeric_addr - a record for a numeric host, or NULL */
static struct dns_rr *
numeric_addr(const char *host, unsigned pref, int *numeric)
{
	struct addrinfo hints, *res;
	struct dns_rr *rr = NULL;

	*numeric = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return NULL;
	*numeric = 1;
	if (family_ok(res->ai_family))
		rr = dns_rr_from_sockaddr(host, pref, res->ai_addr);
	freeaddrinfo(res);
	return rr;
}

/*
 * native_addr - getaddrinfo() for one host, appended to *list; updates
 * why on failure as Postfix's native lookup does.
 */
static void
native_addr(struct dns_rr **list, const char *host, unsigned pref,
	    struct smtp_why *why)
{
	struct addrinfo hints, *res, *ai;
	int err, found = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = proto_v4 && proto_v6 ? AF_UNSPEC
	    : proto_v6 ? AF_INET6 : AF_INET;
	if ((err = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		int retry = err == EAI_AGAIN || err == EAI_MEMORY
		    || err == EAI_SYSTEM;
		int nohost = err == EAI_AGAIN || err == EAI_NODATA
		    || err == EAI_NONAME;

		smtp_why_set(why, (WHY_SOFT(why) || retry)
			     ? (nohost ? "4.4.4" : "4.3.0")
			     : (nohost ? "5.4.4" : "5.3.0"),
			     "unable to look up host %s: %s", host,
			     gai_strerror(err));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!family_ok(ai->ai_family)) {
			msg_info("skipping address family %d for host %s",
				 ai->ai_family, host);
			continue;
		}
		found++;
		*list = dns_rr_append(*list, dns_rr_from_sockaddr(host, pref,
								  ai->ai_addr));
	}
	freeaddrinfo(res);
	if (found == 0)
		smtp_why_set(why, WHY_SOFT(why) ? "4.4.4" : "5.4.4",
			     "%s: host not found", host);
}

/*
 * One exchanger (or host) in a lookup: its name and preference, and the
 * DNS queries of its addresses (filled in by a batch).
 */
struct host_lookup {
	const char *name;
	unsigned pref;
	struct dns_rr *numeric;	/* a numeric "name" */
	int is_numeric;
	int nq;
	struct dns_query q[2];
};

/* prepare - numeric check and DNS questions for one host */
static void
prepare(struct host_lookup *h, const char *name, unsigned pref)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
	h->pref = pref;
	h->numeric = numeric_addr(name, pref, &h->is_numeric);
	/* A numeric address of a disabled family goes to the DNS, which
	 * refuses it as Postfix's does ("invalid host or domain name"). */
	if (h->is_numeric && h->numeric == NULL)
		h->is_numeric = 0;
	if (h->is_numeric || !(host_lookup_mask & HOST_FLAG_DNS))
		return;
	for (int i = 0; atypes[i]; i++) {
		h->q[h->nq].name = name;
		h->q[h->nq].type = atypes[i];
		h->nq++;
	}
}

/* run_batch - every DNS question of every host, concurrently */
static void
run_batch(struct host_lookup *hosts, int n, int dnssec)
{
	struct dns_query *all, **back;
	int total = 0, k = 0;

	for (int i = 0; i < n; i++)
		total += hosts[i].nq;
	if (total == 0)
		return;
	all = xcalloc((size_t)total, sizeof(*all));
	back = xcalloc((size_t)total, sizeof(*back));
	for (int i = 0; i < n; i++)
		for (int j = 0; j < hosts[i].nq; j++) {
			all[k] = hosts[i].q[j];
			back[k++] = &hosts[i].q[j];
		}
	dns_lookup_batch(all, total, lookup_flags(dnssec));
	for (k = 0; k < total; k++)
		*back[k] = all[k];
	free(all);
	free(back);
}

/*
 * collect - the addresses of one host, appended to *list, in the order
 * Postfix's smtp_addr_one() produces them.
 */
static void
collect(struct host_lookup *h, struct dns_rr **list, struct smtp_why *why)
{
	if (h->is_numeric) {
		*list = dns_rr_append(*list, h->numeric);
		h->numeric = NULL;
		return;
	}
	if (host_lookup_mask & HOST_FLAG_DNS) {
		struct dns_rr *rrs;
		struct strbuf text = STRBUF_INIT;
		int status;

		dns_combine(h->q, h->nq, &rrs, &status, &text);
		for (int i = 0; i < h->nq; i++)
			strbuf_release(&h->q[i].why);
		h->nq = 0;
		if (status == DNS_OK) {
			for (struct dns_rr *rr = rrs; rr; rr = rr->next)
				rr->pref = h->pref;
			*list = dns_rr_append(*list, rrs);
			strbuf_release(&text);
			return;
		}
		dns_rr_free(rrs);
		set_dns_status(why, status, strbuf_str(&text));
		strbuf_release(&text);
		/* Only "not found" lets the native resolver have a go. */
		if (status != DNS_NOTFOUND)
			return;
	}
	if (host_lookup_mask & HOST_FLAG_NATIVE)
		native_addr(list, h->name, h->pref, why);
}

/* release - what collect() did not take */
static void
release(struct host_lookup *h)
{
	dns_rr_free(h->numeric);
	for (int i = 0; i < h->nq; i++) {
		dns_rr_free(h->q[i].rrs);
		strbuf_release(&h->q[i].why);
	}
}

/* find_self - the first record that is one of my addresses, or NULL */
static struct dns_rr *
find_self(struct dns_rr *list)
{
	for (struct dns_rr *rr = list; rr; rr = rr->next) {
		for (int i = 0; i < own_count; i++)
			if (dns_rr_eq_sockaddr(rr, (struct sockaddr *)&own_addrs[i]))
				return rr;
		for (int i = 0; i < proxy_count; i++)
			if (dns_rr_eq_sockaddr(rr,
					       (struct sockaddr *)&proxy_addrs[i]))
				return rr;
	}
	return NULL;
}

/* same_ip - two socket addresses hold the same IP address */
static int
same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return 0;
}

/*
 * smtp_addr_is_mine - is a mail address literal ("1.2.3.4", or
 * "IPv6:..." as RFC 5321 spells it) one of this host's addresses
 * (inet_interfaces, proxy_interfaces)?  What Postfix's resolve_local()
 * checks for [address] domains.
 */
int
smtp_addr_is_mine(const char *literal)
{
	struct sockaddr_storage ss;
	struct sockaddr *sa = (struct sockaddr *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strncasecmp(literal, "IPv6:", 5) == 0) {
		ss.ss_family = AF_INET6;
		if (inet_pton(AF_INET6, literal + 5,
			      &((struct sockaddr_in6 *)sa)->sin6_addr) != 1)
			return 0;
	} else {
		ss.ss_family = AF_INET;
		if (inet_pton(AF_INET, literal,
			      &((struct sockaddr_in *)sa)->sin_addr) != 1)
			return 0;
	}
	smtp_addr_init();
	for (int i = 0; i < own_count; i++)
		if (same_ip(sa, (struct sockaddr *)&own_addrs[i]))
			return 1;
	for (int i = 0; i < proxy_count; i++)
		if (same_ip(sa, (struct sockaddr *)&proxy_addrs[i]))
			return 1;
	return 0;
}

/* truncate_at - drop records of preference pref and worse */
static struct dns_rr *
truncate_at(struct dns_rr *list, unsigned pref)
{
	struct dns_rr **rrp;

	for (rrp = &list; *rrp; rrp = &(*rrp)->next) {
		if ((*rrp)->pref == pref) {
			dns_rr_free(*rrp);
			*rrp = NULL;
			break;
		}
	}
	return list;
}

/*
 * balance - keep both IPv4 and IPv6 within the address limit: when the
 * list has both and is too long, give each family its share (half the
 * limit, or all it has when that is less), keeping the list order.
 */
static struct dns_rr *
balance(struct dns_rr *list, int limit)
{
	int v4 = 0, v6 = 0, t4, t6;
	struct dns_rr *out = NULL, *rr, *next;

	for (rr = list; rr; rr = rr->next) {
		if (rr->type == DNS_T_A)
			v4++;
		else
			v6++;
	}
	if (v4 == 0 || v6 == 0 || v4 + v6 <= limit)
		return list;
	if (v6 <= limit / 2) {
		t6 = v6;
		t4 = limit - t6;
	} else if (v4 <= limit / 2) {
		t4 = v4;
		t6 = limit - t4;
	} else {
		t4 = (limit + (list->type == DNS_T_A)) / 2;
		t6 = limit - t4;
	}
	for (rr = list; rr; rr = next) {
		int *t = rr->type == DNS_T_A ? &t4 : &t6;

		next = rr->next;
		rr->next = NULL;
		if (*t > 0) {
			out = dns_rr_append(out, rr);
			(*t)--;
		} else {
			dns_rr_free(rr);
		}
	}
	return out;
}

/* order - shuffle, sort, balance (the common tail of both lookups) */
static struct dns_rr *
order(struct dns_rr *list, int sort)
{
	if (list == NULL || list->next == NULL)
		return list;
	if (var_smtp_randomize_addresses)
		list = dns_rr_shuffle(list);
	if (sort)
		list = dns_rr_sort(list, addr_cmp);
	if (var_smtp_mx_address_limit > 0 && var_smtp_balance_inet_protocols)
		list = balance(list, var_smtp_mx_address_limit);
	return list;
}

/* smtp_host_addr - addresses of one host */
struct dns_rr *
smtp_host_addr(const char *host, int flags, struct smtp_why *why)
{
	struct host_lookup h;
	struct dns_rr *list = NULL;

	smtp_addr_init();
	why->status[0] = 0;
	strbuf_reset(&why->reason);
	prepare(&h, host, 0);
	run_batch(&h, 1, dns_support == DNS_SUPPORT_DNSSEC);
	if (h.nq && dns_support == DNS_SUPPORT_DNSSEC)
		dnssec_note(host, "address", h.q[0].ad);
	collect(&h, &list, why);
	release(&h);
	if (list && (flags & SMTP_ADDR_FLAG_LOOP_DETECT) && find_self(list)) {
		dns_rr_free(list);
		smtp_why_set(why, "5.4.6", "mail for %s loops back to myself",
			     host);
		return NULL;
	}
	/* Postfix sorts here only when both address families are on. */
	return order(list, proto_v4 && proto_v6);
}

/* smtp_domain_addr - MX lookup, then every exchanger's addresses */
struct dns_rr *
smtp_domain_addr(const char *name, int flags, struct smtp_why *why,
		 int *found_myself)
{
	struct dns_rr *mx = NULL, *list = NULL, *self = NULL;
	struct strbuf text = STRBUF_INIT;
	struct host_lookup *hosts;
	int status, n, i, dnssec;
	unsigned best_pref, best_found;

	smtp_addr_init();
	why->status[0] = 0;
	strbuf_reset(&why->reason);
	dnssec = dns_support == DNS_SUPPORT_DNSSEC;
	status = dns_lookup(name, DNS_T_MX, lookup_flags(dnssec), &mx, &text);
	switch (status) {
	default:
		smtp_why_set(why, "4.4.3", "%s", strbuf_str(&text));
		if (var_ignore_mx_lookup_error)
			list = smtp_host_addr(name, flags, why);
		break;
	case DNS_INVAL:
		smtp_why_set(why, "5.4.4", "%s", strbuf_str(&text));
		if (var_ignore_mx_lookup_error)
			list = smtp_host_addr(name, flags, why);
		break;
	case DNS_NULLMX:
		smtp_why_set(why, "5.1.0", "%s", strbuf_str(&text));
		break;
	case DNS_POLICY:
		smtp_why_set(why, "4.7.0", "%s", strbuf_str(&text));
		break;
	case DNS_FAIL:
		smtp_why_set(why, "5.4.3", "%s", strbuf_str(&text));
		if (var_ignore_mx_lookup_error)
			list = smtp_host_addr(name, flags, why);
		break;
	case DNS_NOTFOUND:
		/* No MX: the domain is its own exchanger (RFC 5321 5.1). */
		list = smtp_host_addr(name, flags, why);
		break;
	case DNS_OK:
		dnssec_note(name, "MX", mx->dnssec_valid);
		mx = dns_rr_sort(mx, dns_rr_cmp_pref_any);
		best_pref = mx->pref;
		n = dns_rr_count(mx);
		hosts = xcalloc((size_t)n, sizeof(*hosts));
		i = 0;
		for (struct dns_rr *rr = mx; rr; rr = rr->next)
			prepare(&hosts[i++], rr->host, rr->pref);
		run_batch(hosts, n, dnssec && mx->dnssec_valid);
		for (i = 0; i < n; i++) {
			collect(&hosts[i], &list, why);
			release(&hosts[i]);
		}
		free(hosts);
		if (list == NULL) {
			if (var_smtp_defer_if_no_mx_address_found
			    && WHY_HARD(why))
				why->status[0] = '4';
			msg_warn("no MX host for %s has a valid address record",
				 name);
			break;
		}
		best_found = list->pref;
		if ((flags & SMTP_ADDR_FLAG_LOOP_DETECT)
		    && (self = find_self(list)) != NULL) {
			list = truncate_at(list, self->pref);
			if (list == NULL) {
				if (best_pref != best_found)
					smtp_why_set(why, "4.4.4", "unable to "
						     "find primary relay for %s",
						     name);
				else
					smtp_why_set(why, "5.4.6", "mail for %s "
						     "loops back to myself",
						     name);
			}
		}
		list = order(list, 1);
		break;
	}
	dns_rr_free(mx);
	strbuf_release(&text);
	*found_myself |= (self != NULL);
	return list;
}
