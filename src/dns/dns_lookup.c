/*
 * dns_lookup - MX, A and AAAA lookups through c-ares, with Postfix's
 * result codes and texts
 *
 * dns_lookup_batch() sends every query of a batch at once on one c-ares
 * channel and waits in poll() until all are answered, so the addresses
 * of all mail exchangers are looked up concurrently.  The process blocks
 * while it waits, as the rest of the agent does; the wait is bounded by
 * the resolver's own timeouts and retries (resolv.conf "options timeout:
 * attempts:") and by dns_set_timeout_ms() when set.
 *
 * The channel is created on first use, after the agent may have entered
 * its chroot jail, so it reads the resolv.conf that the process sees
 * (the queue directory's etc/resolv.conf when chrooted), as Postfix's
 * smtp(8) does.  Names are asked for as given; DNS_FLAG_DEFNAMES and
 * DNS_FLAG_DNSRCH append resolv.conf's domains to names without a dot
 * (res_defnames, res_dnsrch).  A truncated UDP answer is asked again over
 * TCP by c-ares.  With DNS_FLAG_DNSSEC the query sets the AD bit and
 * carries an EDNS0 OPT record with the DO bit; the answer's AD bit is
 * returned per query and per record.
 *
 * A reply is read as Postfix's dns_lookup() reads one:
 *   - NXDOMAIN, or no answer records: DNS_NOTFOUND ("Host not found",
 *     "Host found but no data record of requested type");
 *   - SERVFAIL, timeout, no server reachable: DNS_RETRY ("Host not found,
 *     try again"); FORMERR and other codes: DNS_FAIL;
 *   - an answer that cannot be parsed: DNS_RETRY, and a malformed name in
 *     it: DNS_INVAL ("Malformed or unexpected name server reply");
 *   - an MX record with the root as exchanger: DNS_NULLMX (RFC 7505);
 *   - only a CNAME: the target is asked for (at most 10 times);
 *   - records that the reply filter drops: DNS_POLICY when none is left.
 * dns_lookup_v() asks for several types of one name and combines the
 * results: the records are joined, and the best status (with its text)
 * is kept.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dns/dns.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#define DNS_MAX_HOPS	10	/* CNAME indirections */
#define DNS_EDNS_SIZE	1232	/* UDP payload size we announce */

static ares_channel channel;
static int channel_ready;
static char **search_domains;
static int search_count;
static dns_filter_fn reply_filter;
static void *reply_filter_ctx;
static int overall_timeout_ms;
static int resolver_bound_ms;

struct dns_batch {
	int flags;
	int outstanding;
};

struct dns_pending {
	struct dns_batch *batch;
	struct dns_query *query;
};

/* dns_set_reply_filter - install smtp_dns_reply_filter */
void
dns_set_reply_filter(dns_filter_fn fn, void *ctx)
{
	reply_filter = fn;
	reply_filter_ctx = ctx;
}

/* dns_set_timeout_ms - bound every batch (0: resolver timeouts only) */
void
dns_set_timeout_ms(int ms)
{
	overall_timeout_ms = ms;
}

/*
 * resolv_options - "options timeout:N attempts:N" from resolv.conf and
 * RES_OPTIONS, and the number of name servers: c-ares 1.18 does not read
 * the first two, and the stub resolver that Postfix's smtp uses does.
 */
static void
resolv_options(int *timeout, int *attempts, int *nservers)
{
	char line[1024];
	FILE *fp;
	const char *env;

	*timeout = 5;		/* the stub resolver's defaults */
	*attempts = 2;
	*nservers = 0;
	if ((fp = fopen("/etc/resolv.conf", "r")) != NULL) {
		while (fgets(line, sizeof(line), fp)) {
			char *p = line;

			if (strncmp(p, "nameserver", 10) == 0
			    && (p[10] == ' ' || p[10] == '\t'))
				(*nservers)++;
			if (strncmp(p, "options", 7) != 0)
				continue;
			for (char *rest = p + 7; (p = strsep(&rest, " \t\r\n"));) {
				if (strncmp(p, "timeout:", 8) == 0)
					*timeout = atoi(p + 8);
				else if (strncmp(p, "attempts:", 9) == 0)
					*attempts = atoi(p + 9);
			}
		}
		fclose(fp);
	}
	if ((env = getenv("RES_OPTIONS")) != NULL) {
		const char *t = strstr(env, "timeout:");
		const char *a = strstr(env, "attempts:");

		if (t)
			*timeout = atoi(t + 8);
		if (a)
			*attempts = atoi(a + 9);
	}
	if (*timeout < 1)
		*timeout = 1;
	if (*timeout > 30)
		*timeout = 30;
	if (*attempts < 1)
		*attempts = 1;
	if (*attempts > 5)
		*attempts = 5;
	if (*nservers < 1)
		*nservers = 1;
	if (*nservers > 3)
		*nservers = 3;
}

/* dns_init - create the channel on first use */
static void
dns_init(void)
{
	struct ares_options opts;
	int status, timeout, attempts, nservers;

	if (channel_ready)
		return;
	if ((status = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		msg_fatal("c-ares initialization: %s", ares_strerror(status));
	resolv_options(&timeout, &attempts, &nservers);
	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOSEARCH;
	opts.timeout = timeout * 1000;
	opts.tries = attempts;
	/*
	 * c-ares doubles the wait on each round; the stub resolver waits
	 * timeout per server and attempt.  Bound a batch by the latter.
	 */
	if (resolver_bound_ms == 0)
		resolver_bound_ms = timeout * attempts * nservers * 1000 + 200;
	if ((status = ares_init_options(&channel, &opts, ARES_OPT_FLAGS
					| ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES))
	    != ARES_SUCCESS)
		msg_fatal("resolver initialization: %s", ares_strerror(status));
	if (ares_save_options(channel, &opts, &status) == ARES_SUCCESS) {
		search_count = opts.ndomains;
		search_domains = xcalloc((size_t)(search_count + 1),
					 sizeof(char *));
		for (int i = 0; i < search_count; i++)
			search_domains[i] = xstrdup(opts.domains[i]);
		ares_destroy_options(&opts);
	}
	channel_ready = 1;
}

/* put16 - big-endian short */
static unsigned char *
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return p + 2;
}

/* build_query - a standard query; returns its length or -1 */
static int
build_query(unsigned char *buf, size_t size, const char *name, unsigned type,
	    int flags)
{
	unsigned char *p = buf, *end = buf + size;
	const char *label = name;

	if (size < 12)
		return -1;
	memset(p, 0, 12);
	if (getrandom(p, 2, 0) != 2) {
		p[0] = (unsigned char)random();
		p[1] = (unsigned char)random();
	}
	p[2] = 0x01;		/* RD */
	if (flags & DNS_FLAG_DNSSEC)
		p[3] = 0x20;	/* AD: tell us what the resolver validated */
	p[5] = 1;		/* QDCOUNT */
	if (flags & DNS_FLAG_DNSSEC)
		p[11] = 1;	/* ARCOUNT: the OPT record */
	p += 12;
	if (strcmp(label, ".") == 0)
		label = "";	/* the root */
	while (*label) {
		const char *dot = strchr(label, '.');
		size_t len = dot ? (size_t)(dot - label) : strlen(label);

		if (len == 0 || len > 63 || p + len + 1 >= end)
			return -1;
		*p++ = (unsigned char)len;
		memcpy(p, label, len);
		p += len;
		label += len;
		if (*label == '.')
			label++;
	}
	if (p + 5 > end)
		return -1;
	*p++ = 0;
	p = put16(p, type);
	p = put16(p, 1);	/* IN */
	if (flags & DNS_FLAG_DNSSEC) {
		if (p + 11 > end)
			return -1;
		*p++ = 0;	/* root owner */
		p = put16(p, DNS_T_OPT);
		p = put16(p, DNS_EDNS_SIZE);
		p = put16(p, 0);	/* extended rcode, version */
		p = put16(p, 0x8000);	/* DO */
		p = put16(p, 0);	/* no options */
	}
	return (int)(p - buf);
}

/* get16, get32 - big-endian reads */
static unsigned
get16(const unsigned char *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

static unsigned
get32(const unsigned char *p)
{
	return ((unsigned)p[0] << 24) | ((unsigned)p[1] << 16)
	    | ((unsigned)p[2] << 8) | p[3];
}

/* expand - a possibly compressed name; NULL if malformed */
static char *
expand(const unsigned char *pos, const unsigned char *buf, int len,
       long *enclen)
{
	char *name = NULL;

	if (pos >= buf + len
	    || ares_expand_name(pos, buf, len, &name, enclen) != ARES_SUCCESS)
		return NULL;
	return name;
}

/* set_why - failure text */
static void __attribute__((format(printf, 3, 4)))
set_why(struct dns_query *q, int status, const char *fmt, ...)
{
	va_list ap;

	q->status = status;
	strbuf_reset(&q->why);
	va_start(ap, fmt);
	strbuf_vprintf(&q->why, fmt, ap);
	va_end(ap);
}

/* malformed - Postfix's text for an answer it cannot use */
static void
malformed(struct dns_query *q, int status)
{
	dns_rr_free(q->rrs);
	q->rrs = NULL;
	set_why(q, status, "Name service error for name=%s type=%s: "
		"Malformed or unexpected name server reply", q->cur_name,
		dns_strtype(q->type));
}

/* name_ok - screen a name from a reply, with Postfix's warning */
static int
name_ok(struct dns_query *q, const char *name, const char *where,
	unsigned type)
{
	if (dns_valid_hostaddr(name)) {
		msg_warn("numeric domain name in %s of %s record for %s: %.100s",
			 where, dns_strtype(type), q->cur_name, name);
		return 1;
	}
	if (!dns_valid_hostname(name)) {
		msg_warn("malformed domain name in %s of %s record for %s: "
			 "%.100s", where, dns_strtype(type), q->cur_name, name);
		return 0;
	}
	return 1;
}

/* apply_filter - smtp_dns_reply_filter on the records found */
static void
apply_filter(struct dns_query *q)
{
	struct dns_rr **rrp = &q->rrs, *rr;
	struct strbuf text = STRBUF_INIT;

	if (reply_filter == NULL)
		return;
	while ((rr = *rrp) != NULL) {
		int r;

		strbuf_reset(&text);
		dns_rr_text(&text, rr);
		if ((r = reply_filter(strbuf_str(&text), reply_filter_ctx)) < 0) {
			dns_rr_free(q->rrs);
			q->rrs = NULL;
			set_why(q, DNS_RETRY, "Error looking up name=%s type=%s: "
				"Invalid DNS reply filter syntax", q->cur_name,
				dns_strtype(q->type));
			strbuf_release(&text);
			return;
		}
		if (r > 0) {
			*rrp = rr->next;
			rr->next = NULL;
			dns_rr_free(rr);
			continue;
		}
		rrp = &rr->next;
	}
	strbuf_release(&text);
	if (q->rrs == NULL)
		set_why(q, DNS_POLICY, "Error looking up name=%s type=%s: "
			"DNS reply filter drops all results", q->cur_name,
			dns_strtype(q->type));
}

static void send_query(struct dns_batch *batch, struct dns_query *q);

/*
 * parse_answer - read the answer section.  Returns DNS_OK with records,
 * 1 when only a CNAME was found (*cname set), or a failure status with
 * q->why set.
 */
static int
parse_answer(struct dns_query *q, const unsigned char *buf, int len,
	     char **cname)
{
	unsigned qdcount = get16(buf + 4), ancount = get16(buf + 6);
	const unsigned char *pos = buf + 12, *end = buf + len;
	int ad = (buf[3] & 0x20) != 0;
	int found = 0;

	for (unsigned i = 0; i < qdcount; i++) {
		long enclen;
		char *name = expand(pos, buf, len, &enclen);

		if (name == NULL)
			return malformed(q, DNS_RETRY), DNS_RETRY;
		ares_free_string(name);
		pos += enclen + 4;
		if (pos > end)
			return malformed(q, DNS_RETRY), DNS_RETRY;
	}
	for (unsigned i = 0; i < ancount; i++) {
		long enclen;
		char *owner = expand(pos, buf, len, &enclen);
		unsigned type, class, ttl, rdlen;
		const unsigned char *rdata;
		struct dns_rr *rr;

		if (owner == NULL)
			return malformed(q, DNS_RETRY), DNS_RETRY;
		pos += enclen;
		if (pos + 10 > end) {
			ares_free_string(owner);
			return malformed(q, DNS_RETRY), DNS_RETRY;
		}
		type = get16(pos);
		class = get16(pos + 2);
		ttl = get32(pos + 4);
		rdlen = get16(pos + 8);
		rdata = pos + 10;
		pos = rdata + rdlen;
		if (class != 1) {
			msg_warn("dns_get_fixed: bad class: %u", class);
			ares_free_string(owner);
			return malformed(q, DNS_RETRY), DNS_RETRY;
		}
		if (pos > end || (!(*owner == 0 && strcmp(q->name, ".") == 0)
				  && !name_ok(q, owner, "resource name", type))) {
			int st = pos > end ? DNS_RETRY : DNS_INVAL;

			ares_free_string(owner);
			return malformed(q, st), st;
		}
		if (type == q->type) {
			rr = dns_rr_create(q->name, owner, type, ttl, 0);
			rr->dnssec_valid = ad;
			ares_free_string(owner);
			if (type == DNS_T_MX) {
				char *host;

				if (rdlen < 3 || (host = expand(rdata + 2, buf,
							       len, &enclen))
				    == NULL) {
					dns_rr_free(rr);
					return malformed(q, DNS_RETRY), DNS_RETRY;
				}
				rr->pref = get16(rdata);
				if (*host == 0) {
					ares_free_string(host);
					dns_rr_free(rr);
					dns_rr_free(q->rrs);
					q->rrs = NULL;
					set_why(q, DNS_NULLMX, "Domain %s does "
						"not accept mail (nullMX)",
						q->cur_name);
					return DNS_NULLMX;
				}
				if (!name_ok(q, host, "resource data", type)) {
					ares_free_string(host);
					dns_rr_free(rr);
					return malformed(q, DNS_INVAL), DNS_INVAL;
				}
				rr->host = xstrdup(host);
				ares_free_string(host);
			} else if ((type == DNS_T_A && rdlen == 4)
				   || (type == DNS_T_AAAA && rdlen == 16)) {
				memcpy(rr->addr, rdata, rdlen);
				rr->addr_len = rdlen;
			} else {
				msg_warn("extract_answer: bad address length: %u",
					 rdlen);
				dns_rr_free(rr);
				return malformed(q, DNS_RETRY), DNS_RETRY;
			}
			q->rrs = dns_rr_append(q->rrs, rr);
			found++;
		} else if (type == DNS_T_CNAME) {
			char *target = expand(rdata, buf, len, &enclen);

			ares_free_string(owner);
			if (target == NULL)
				return malformed(q, DNS_RETRY), DNS_RETRY;
			if (!name_ok(q, target, "resource data", type)) {
				ares_free_string(target);
				return malformed(q, DNS_INVAL), DNS_INVAL;
			}
			free(*cname);
			*cname = xstrdup(target);
			ares_free_string(target);
		} else {
			ares_free_string(owner);
		}
	}
	q->ad = ad;
	if (found)
		return DNS_OK;
	if (*cname)
		return 1;
	malformed(q, DNS_NOTFOUND);
	return DNS_NOTFOUND;
}

/* herr_why - Postfix's text for a resolver-level failure */
static void
herr_why(struct dns_query *q, int status, const char *text)
{
	set_why(q, status, "Host or domain name not found. Name service "
		"error for name=%s type=%s: %s", q->cur_name,
		dns_strtype(q->type), text);
}

/* next_search_name - the next candidate for res_dnsrch/res_defnames */
static int
next_search_name(struct dns_batch *batch, struct dns_query *q)
{
	int limit;

	if (!(batch->flags & (DNS_FLAG_DNSRCH | DNS_FLAG_DEFNAMES))
	    || strchr(q->name, '.') != NULL)
		return 0;
	limit = (batch->flags & DNS_FLAG_DNSRCH) ? search_count
	    : (search_count > 0 ? 1 : 0);
	if (q->search_index < limit) {
		free(q->cur_name);
		q->cur_name = xasprintf("%s.%s", q->name,
					search_domains[q->search_index++]);
		return 1;
	}
	if (!q->tried_search) {
		q->tried_search = 1;
		free(q->cur_name);
		q->cur_name = xstrdup(q->name);
		return 1;
	}
	return 0;
}

/* finish - one query is done */
static void
finish(struct dns_batch *batch, struct dns_query *q)
{
	q->pending = 0;
	batch->outstanding--;
}

/*
 * dns_reply_parse - classify one raw reply to q (q->cur_name is the name
 * it asked for).  Returns DNS_OK with q->rrs, DNS_RECURSE with *cname set
 * when only an alias came back, or a failure status with q->why set.
 * Exported for the unit tests, which feed it captured packets.
 */
int
dns_reply_parse(struct dns_query *q, const unsigned char *abuf, int alen,
		char **cname)
{
	int rcode, r;

	*cname = NULL;
	if (alen < 12) {
		malformed(q, DNS_RETRY);
		return DNS_RETRY;
	}
	rcode = abuf[3] & 0x0f;
	q->ad = (abuf[3] & 0x20) != 0;
	if (rcode == 3 || (rcode == 0 && get16(abuf + 6) == 0)) {
		herr_why(q, DNS_NOTFOUND, rcode == 3 ? "Host not found" :
			 "Host found but no data record of requested type");
		return DNS_NOTFOUND;
	}
	if (rcode == 2) {
		herr_why(q, DNS_RETRY, "Host not found, try again");
		return DNS_RETRY;
	}
	if (rcode != 0) {
		herr_why(q, DNS_FAIL, "Non-recoverable error");
		return DNS_FAIL;
	}
	r = parse_answer(q, abuf, alen, cname);
	if (r == 1)
		return DNS_RECURSE;
	free(*cname);
	*cname = NULL;
	if (r == DNS_OK) {
		q->status = DNS_OK;
		strbuf_reset(&q->why);
		apply_filter(q);
		return q->status;
	}
	return r;
}

/* on_reply - c-ares callback for one sent query */
static void
on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_pending *p = arg;
	struct dns_batch *batch = p->batch;
	struct dns_query *q = p->query;
	char *cname = NULL;
	int r;

	free(p);
	if (status != ARES_SUCCESS) {
		if (status == ARES_ENOMEM)
			msg_fatal("resolver: out of memory");
		if (status == ARES_EFORMERR || status == ARES_ENOTIMP
		    || status == ARES_EREFUSED)
			herr_why(q, DNS_FAIL, "Non-recoverable error");
		else
			herr_why(q, DNS_RETRY, "Host not found, try again");
		finish(batch, q);
		return;
	}
	r = dns_reply_parse(q, abuf, alen, &cname);
	if (r == DNS_NOTFOUND && q->rrs == NULL && next_search_name(batch, q)) {
		send_query(batch, q);
		return;
	}
	if (r == DNS_RECURSE) {
		/* Only an alias: ask for the target, as Postfix does. */
		if (++q->hops >= DNS_MAX_HOPS) {
			set_why(q, DNS_NOTFOUND, "Name server loop for %s",
				q->cur_name);
			msg_warn("dns_lookup: Name server loop for %s",
				 q->cur_name);
			free(cname);
			finish(batch, q);
			return;
		}
		free(q->cur_name);
		q->cur_name = cname;
		send_query(batch, q);
		return;
	}
	finish(batch, q);
}

/* send_query - (re)send q for q->cur_name */
static void
send_query(struct dns_batch *batch, struct dns_query *q)
{
	unsigned char buf[512];
	struct dns_pending *p;
	int len;

	if ((len = build_query(buf, sizeof(buf), q->cur_name, q->type,
			       batch->flags)) < 0) {
		set_why(q, DNS_NOTFOUND, "Name service error for %s: invalid "
			"host or domain name", q->cur_name);
		finish(batch, q);
		return;
	}
	p = xmalloc(sizeof(*p));
	p->batch = batch;
	p->query = q;
	ares_send(channel, buf, len, on_reply, p);
}

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* wait_all - drive c-ares until the batch is done */
static void
wait_all(struct dns_batch *batch)
{
	int bound = overall_timeout_ms > 0 ? overall_timeout_ms
	    : resolver_bound_ms;
	long long give_up = bound > 0 ? now_ms() + bound : 0;

	while (batch->outstanding > 0) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval tv, *tvp;
		int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
		int n = 0, ms, ready;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			/* c-ares's own macros shift a signed 1 into bit 31. */
			unsigned rd = ((unsigned)bits >> i) & 1;
			unsigned wr = ((unsigned)bits
				       >> (i + ARES_GETSOCK_MAXNUM)) & 1;

			if (!rd && !wr)
				continue;
			pfd[n].fd = socks[i];
			pfd[n].events = (short)((rd ? POLLIN : 0)
						| (wr ? POLLOUT : 0));
			pfd[n].revents = 0;
			n++;
		}
		tvp = ares_timeout(channel, NULL, &tv);
		ms = tvp ? (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000 + 1)
		    : 1000;
		if (give_up) {
			long long left = give_up - now_ms();

			if (left <= 0) {
				ares_cancel(channel);
				continue;
			}
			if (left < ms)
				ms = (int)left;
		}
		ready = poll(pfd, (nfds_t)n, ms);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("poll: %m");
		}
		if (ready == 0) {
			ares_process_fd(channel, ARES_SOCKET_BAD,
					ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			ares_process_fd(channel,
					(pfd[i].revents & (POLLIN | POLLERR
							   | POLLHUP))
					? pfd[i].fd : ARES_SOCKET_BAD,
					(pfd[i].revents & POLLOUT)
					? pfd[i].fd : ARES_SOCKET_BAD);
		}
	}
}

/* dns_lookup_batch - run queries concurrently */
void
dns_lookup_batch(struct dns_query *queries, int count, int flags)
{
	struct dns_batch batch = { flags, 0 };

	dns_init();
	for (int i = 0; i < count; i++) {
		struct dns_query *q = &queries[i];

		q->status = DNS_NOTFOUND;
		q->ad = 0;
		q->rrs = NULL;
		q->hops = 0;
		q->tried_search = 0;
		q->search_index = 0;
		strbuf_init(&q->why, 0);
		q->cur_name = xstrdup(q->name);
		/* Names that cannot be in the DNS, as Postfix screens them. */
		if (strcmp(q->name, ".") != 0 && (dns_valid_hostaddr(q->name)
						  || !dns_valid_hostname(q->name))) {
			set_why(q, DNS_NOTFOUND, "Name service error for %s: "
				"invalid host or domain name", q->name);
			continue;
		}
		q->pending = 1;
		batch.outstanding++;
		if (!next_search_name(&batch, q)) {
			free(q->cur_name);
			q->cur_name = xstrdup(q->name);
		}
	}
	for (int i = 0; i < count; i++)
		if (queries[i].pending)
			send_query(&batch, &queries[i]);
	wait_all(&batch);
	for (int i = 0; i < count; i++) {
		free(queries[i].cur_name);
		queries[i].cur_name = NULL;
	}
}

/*
 * dns_combine - join the results of several queries for one name: all
 * records in query order; the greatest status wins, and among equals the
 * last one's text, as Postfix's dns_lookup_v() reports.
 */
void
dns_combine(struct dns_query *queries, int count, struct dns_rr **rrs,
	    int *status, struct strbuf *why)
{
	int best = -1;

	*rrs = NULL;
	for (int i = 0; i < count; i++) {
		*rrs = dns_rr_append(*rrs, queries[i].rrs);
		queries[i].rrs = NULL;
		if (best < 0 || queries[i].status >= queries[best].status)
			best = i;
	}
	*status = count ? queries[best].status : DNS_NOTFOUND;
	if (why && count && *status != DNS_OK)
		strbuf_set(why, strbuf_str(&queries[best].why));
}

/* dns_lookup_v - several types for one name */
int
dns_lookup_v(const char *name, int flags, const unsigned *types,
	     struct dns_rr **rrs, struct strbuf *why)
{
	struct dns_query q[4];
	int n = 0, status;

	memset(q, 0, sizeof(q));
	for (; types[n] && n < 4; n++) {
		q[n].name = name;
		q[n].type = types[n];
	}
	dns_lookup_batch(q, n, flags);
	dns_combine(q, n, rrs, &status, why);
	for (int i = 0; i < n; i++)
		strbuf_release(&q[i].why);
	return status;
}

/* dns_lookup - one name, one type */
int
dns_lookup(const char *name, unsigned type, int flags, struct dns_rr **rrs,
	   struct strbuf *why)
{
	unsigned types[2] = { type, 0 };

	return dns_lookup_v(name, flags, types, rrs, why);
}
