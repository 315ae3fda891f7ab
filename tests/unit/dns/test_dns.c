/*
 * test_dns - reply parsing and record lists of the dns layer
 *
 * Replies are built here byte by byte (header, question, answers, with
 * name compression) and fed to dns_reply_parse(), the function the
 * c-ares driver calls on every reply, so each of Postfix's outcomes is
 * checked without a name server: records, NXDOMAIN, no data, SERVFAIL,
 * null MX, a lone CNAME, malformed names and cut-off records, the AD bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "util/xmalloc.h"

struct pkt {
	unsigned char b[1024];
	int len;
};

static void
put(struct pkt *p, const void *data, int len)
{
	memcpy(p->b + p->len, data, (size_t)len);
	p->len += len;
}

static void
put16(struct pkt *p, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(p, b, 2);
}

static void
put_name(struct pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		int n = dot ? (int)(dot - name) : (int)strlen(name);
		unsigned char len = (unsigned char)n;

		put(p, &len, 1);
		put(p, name, n);
		name += n + (dot != NULL);
	}
	put(p, "", 1);
}

/* header and question; answers are added by the caller */
static void
start(struct pkt *p, int rcode, int ad, int ancount, const char *qname,
      unsigned qtype)
{
	memset(p, 0, sizeof(*p));
	put16(p, 0x1234);
	put16(p, 0x8180 | (ad ? 0x20 : 0) | (unsigned)rcode);
	put16(p, 1);
	put16(p, (unsigned)ancount);
	put16(p, 0);
	put16(p, 0);
	put_name(p, qname);
	put16(p, qtype);
	put16(p, 1);
}

/* an answer whose owner is the question name (pointer to offset 12) */
static void
rr_head(struct pkt *p, unsigned type, int rdlen)
{
	put16(p, 0xc00c);
	put16(p, type);
	put16(p, 1);
	put16(p, 0);
	put16(p, 300);
	put16(p, (unsigned)rdlen);
}

static void
add_mx(struct pkt *p, unsigned pref, const char *host)
{
	struct pkt name;

	memset(&name, 0, sizeof(name));
	put_name(&name, host);
	rr_head(p, DNS_T_MX, 2 + name.len);
	put16(p, pref);
	put(p, name.b, name.len);
}

static void
add_a(struct pkt *p, const char *addr)
{
	unsigned char b[4];

	inet_pton(AF_INET, addr, b);
	rr_head(p, DNS_T_A, 4);
	put(p, b, 4);
}

static int
parse(struct pkt *p, const char *name, unsigned type, struct dns_query *q,
      char **cname)
{
	memset(q, 0, sizeof(*q));
	q->name = name;
	q->type = type;
	q->cur_name = xstrdup(name);
	strbuf_init(&q->why, 0);
	return dns_reply_parse(q, p->b, p->len, cname);
}

static void
done(struct dns_query *q)
{
	dns_rr_free(q->rrs);
	strbuf_release(&q->why);
	free(q->cur_name);
}

static void
test_mx_records(void **unused)
{
	struct pkt p;
	struct dns_query q;
	char *cname;

	start(&p, 0, 0, 2, "mx.test", DNS_T_MX);
	add_mx(&p, 20, "b.mx.test");
	add_mx(&p, 10, "a.mx.test");
	assert_int_equal(parse(&p, "mx.test", DNS_T_MX, &q, &cname), DNS_OK);
	assert_int_equal(dns_rr_count(q.rrs), 2);
	q.rrs = dns_rr_sort(q.rrs, dns_rr_cmp_pref_any);
	assert_string_equal(q.rrs->host, "a.mx.test");
	assert_int_equal(q.rrs->pref, 10);
	assert_string_equal(q.rrs->qname, "mx.test");
	assert_string_equal(q.rrs->next->host, "b.mx.test");
	assert_int_equal(q.rrs->dnssec_valid, 0);
	done(&q);
}

static void
test_ad_bit(void **unused)
{
	struct pkt p;
	struct dns_query q;
	char *cname;

	start(&p, 0, 1, 1, "h.test", DNS_T_A);
	add_a(&p, "192.0.2.7");
	assert_int_equal(parse(&p, "h.test", DNS_T_A, &q, &cname), DNS_OK);
	assert_int_equal(q.ad, 1);
	assert_int_equal(q.rrs->dnssec_valid, 1);
	assert_int_equal(q.rrs->addr_len, 4);
	done(&q);
}

static void
test_nxdomain_nodata_servfail(void **unused)
{
	struct pkt p;
	struct dns_query q;
	char *cname;

	start(&p, 3, 0, 0, "nx.test", DNS_T_A);
	assert_int_equal(parse(&p, "nx.test", DNS_T_A, &q, &cname),
			 DNS_NOTFOUND);
	assert_string_equal(strbuf_str(&q.why), "Host or domain name not "
			    "found. Name service error for name=nx.test "
			    "type=A: Host not found");
	done(&q);

	start(&p, 0, 0, 0, "nodata.test", DNS_T_MX);
	assert_int_equal(parse(&p, "nodata.test", DNS_T_MX, &q, &cname),
			 DNS_NOTFOUND);
	assert_string_equal(strbuf_str(&q.why), "Host or domain name not "
			    "found. Name service error for name=nodata.test "
			    "type=MX: Host found but no data record of "
			    "requested type");
	done(&q);

	start(&p, 2, 0, 0, "sf.test", DNS_T_MX);
	assert_int_equal(parse(&p, "sf.test", DNS_T_MX, &q, &cname),
			 DNS_RETRY);
	assert_string_equal(strbuf_str(&q.why), "Host or domain name not "
			    "found. Name service error for name=sf.test "
			    "type=MX: Host not found, try again");
	done(&q);
}

static void
test_null_mx(void **unused)
{
	struct pkt p;
	struct dns_query q;
	char *cname;

	start(&p, 0, 0, 1, "null.test", DNS_T_MX);
	add_mx(&p, 0, "");
	assert_int_equal(parse(&p, "null.test", DNS_T_MX, &q, &cname),
			 DNS_NULLMX);
	assert_string_equal(strbuf_str(&q.why),
			    "Domain null.test does not accept mail (nullMX)");
	assert_null(q.rrs);
	done(&q);
}

static void
test_lone_cname(void **unused)
{
	struct pkt p, name;
	struct dns_query q;
	char *cname;

	memset(&name, 0, sizeof(name));
	put_name(&name, "target.test");
	start(&p, 0, 0, 1, "alias.test", DNS_T_A);
	rr_head(&p, DNS_T_CNAME, name.len);
	put(&p, name.b, name.len);
	assert_int_equal(parse(&p, "alias.test", DNS_T_A, &q, &cname),
			 DNS_RECURSE);
	assert_string_equal(cname, "target.test");
	free(cname);
	done(&q);
}

static void
test_malformed(void **unused)
{
	struct pkt p;
	struct dns_query q;
	char *cname;

	/* An MX record cut off after its preference. */
	start(&p, 0, 0, 1, "cut.test", DNS_T_MX);
	rr_head(&p, DNS_T_MX, 40);
	put16(&p, 10);
	assert_int_equal(parse(&p, "cut.test", DNS_T_MX, &q, &cname),
			 DNS_RETRY);
	assert_string_equal(strbuf_str(&q.why), "Name service error for "
			    "name=cut.test type=MX: Malformed or unexpected "
			    "name server reply");
	done(&q);

	/* A malformed exchanger name. */
	start(&p, 0, 0, 1, "bad.test", DNS_T_MX);
	add_mx(&p, 10, "-bad.test");
	assert_int_equal(parse(&p, "bad.test", DNS_T_MX, &q, &cname),
			 DNS_INVAL);
	done(&q);

	/* An A record of the wrong size. */
	start(&p, 0, 0, 1, "len.test", DNS_T_A);
	rr_head(&p, DNS_T_A, 3);
	put(&p, "abc", 3);
	assert_int_equal(parse(&p, "len.test", DNS_T_A, &q, &cname),
			 DNS_RETRY);
	done(&q);

	/* Shorter than a header. */
	p.len = 5;
	assert_int_equal(parse(&p, "short.test", DNS_T_A, &q, &cname),
			 DNS_RETRY);
	done(&q);
}

static struct dns_rr *
mk(unsigned type, unsigned pref, const char *name)
{
	struct dns_rr *rr = dns_rr_create(name, name, type, 60, pref);

	rr->addr_len = type == DNS_T_A ? 4 : 16;
	return rr;
}

static void
test_sort_is_stable(void **unused)
{
	struct dns_rr *l = NULL;

	l = dns_rr_append(l, mk(DNS_T_A, 20, "x"));
	l = dns_rr_append(l, mk(DNS_T_A, 10, "a"));
	l = dns_rr_append(l, mk(DNS_T_AAAA, 10, "b"));
	l = dns_rr_append(l, mk(DNS_T_A, 10, "c"));
	l = dns_rr_sort(l, dns_rr_cmp_pref_any);
	assert_string_equal(l->qname, "a");
	assert_string_equal(l->next->qname, "b");
	assert_string_equal(l->next->next->qname, "c");
	assert_string_equal(l->next->next->next->qname, "x");
	l = dns_rr_sort(l, dns_rr_cmp_pref_ipv6);
	assert_string_equal(l->qname, "b");
	assert_string_equal(l->next->qname, "a");
	l = dns_rr_sort(l, dns_rr_cmp_pref_ipv4);
	assert_string_equal(l->qname, "a");
	assert_string_equal(l->next->qname, "c");
	assert_string_equal(l->next->next->qname, "b");
	l = dns_rr_shuffle(l);
	assert_int_equal(dns_rr_count(l), 4);
	dns_rr_free(l);
}

static void
test_rr_text(void **unused)
{
	struct dns_rr *rr = dns_rr_create("m.test", "m.test", DNS_T_MX, 300,
					  10);
	struct strbuf sb = STRBUF_INIT;

	rr->host = xstrdup("mx.m.test");
	dns_rr_text(&sb, rr);
	assert_string_equal(strbuf_str(&sb), "m.test. 300 IN MX 10 mx.m.test.");
	dns_rr_free(rr);
	rr = mk(DNS_T_A, 0, "a.test");
	inet_pton(AF_INET, "192.0.2.1", rr->addr);
	strbuf_reset(&sb);
	dns_rr_text(&sb, rr);
	assert_string_equal(strbuf_str(&sb), "a.test. 60 IN A 192.0.2.1");
	dns_rr_free(rr);
	strbuf_release(&sb);
}

static void
test_valid_hostname(void **unused)
{
	assert_true(dns_valid_hostname("mx1.example.com"));
	assert_true(dns_valid_hostname("under_score.test"));
	assert_true(dns_valid_hostname("a-b.test"));
	assert_false(dns_valid_hostname(""));
	assert_false(dns_valid_hostname("-bad.test"));
	assert_false(dns_valid_hostname("bad-.test"));
	assert_false(dns_valid_hostname("a..b"));
	assert_false(dns_valid_hostname("trailing.dot."));
	assert_false(dns_valid_hostname("1.2.3.4"));
	assert_false(dns_valid_hostname("sp ace.test"));
	assert_true(dns_valid_hostaddr("192.0.2.1"));
	assert_true(dns_valid_hostaddr("2001:db8::1"));
	assert_false(dns_valid_hostaddr("mx.test"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_records),
		cmocka_unit_test(test_ad_bit),
		cmocka_unit_test(test_nxdomain_nodata_servfail),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_lone_cname),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_sort_is_stable),
		cmocka_unit_test(test_rr_text),
		cmocka_unit_test(test_valid_hostname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
