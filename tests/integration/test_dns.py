#!/usr/bin/env python3
"""MX resolution and destination tests: a real DNS server (dnsmasq) with
a test zone, scripted SMTP servers on loopback addresses, and the agent
chrooted so that it reads the queue directory's etc/resolv.conf (the
only way to point Postfix's own smtp at a test DNS server).  Every test
here describes Postfix 3.7's behaviour and passes with --agent postfix;
the racing tests at the end are Postern's own."""

import re
import sys
import time

from common import SENDER, message, status_line, assert_single, assert_none
from dnsserver import (start_dns, bound_server, BlackHole, free_port_on,
                       FAULT_A)


def skip(reason):
    exc = getattr(sys.modules.get("__main__"), "Skip", None)
    if exc is None:
        from run import Skip as exc
    raise exc(reason)


def relay(host, addr, port):
    return r"%s\[%s\]:%d" % (re.escape(host), re.escape(addr), port)


class Env:
    """One test's DNS server, instance and port."""

    def __init__(self, ctx, records, main_cf=None, direct=False,
                 port=None, search=None):
        if ctx.chroot != "y":
            skip("DNS tests run chrooted (resolv.conf in the queue dir)")
        self.ctx = ctx
        self.port = port or free_port_on("127.0.53.11")
        self.dns = start_dns(ctx, records)
        cf = {"smtp_tcp_port": str(self.port), "smtp_helo_timeout": "5s",
              "smtp_connect_timeout": "5s"}
        cf.update(main_cf or {})
        self.inst = ctx.instance(main_cf=cf, start=False)
        self.dns.install(self.inst, direct=direct, search=search)
        ctx.note("dnsmasq log:\n" + "see " + self.dns.log)
        self.inst.start()

    def server(self, addr, **kw):
        return bound_server(self.ctx, addr, self.port, **kw)

    def blackhole(self, addr):
        bh = BlackHole(addr, self.port).start()
        self.ctx.servers.append(bh)
        return bh

    def send(self, rcpt, subject="dns test"):
        self.inst.inject(SENDER, [rcpt], message(subject, ["hello"], to=rcpt))

    def wait_status(self, rcpt, status, **kw):
        return self.inst.wait_for_log(status_line(rcpt, status, **kw))


# ---------------------------------------------------------------------
# MX order, implicit MX, null MX, lookup failures

def test_dns_mx_preference(ctx):
    def zone(d):
        d.mx("pref.test", 20, "mx20.pref.test")
        d.mx("pref.test", 10, "mx10.pref.test")
        d.a("mx10.pref.test", "127.0.53.11")
        d.a("mx20.pref.test", "127.0.53.12")
    e = Env(ctx, zone)
    best = e.server("127.0.53.11")
    other = e.server("127.0.53.12")
    e.send("rcpt@pref.test")
    e.wait_status("rcpt@pref.test", "sent",
                  relay=relay("mx10.pref.test", "127.0.53.11", e.port))
    e.inst.wait_queue_empty()
    assert len(best.transactions()) == 1
    assert other.sessions == [], "less preferred MX was contacted"


def test_dns_implicit_mx(ctx):
    def zone(d):
        d.a("nomx.test", "127.0.53.13")
    e = Env(ctx, zone)
    srv = e.server("127.0.53.13")
    e.send("rcpt@nomx.test")
    e.wait_status("rcpt@nomx.test", "sent",
                  relay=relay("nomx.test", "127.0.53.13", e.port))
    assert len(srv.transactions()) == 1


def test_dns_null_mx_bounces(ctx):
    def zone(d):
        d.nullmx("nullmx.test")
        d.a("nullmx.test", "127.0.53.14")
    e = Env(ctx, zone)
    srv = e.server("127.0.53.14")
    e.send("rcpt@nullmx.test")
    e.wait_status("rcpt@nullmx.test", "bounced", relay="none",
                  dsn=r"5\.1\.0", reason=re.escape(
                      "Domain nullmx.test does not accept mail (nullMX)"))
    e.inst.wait_mailbox(1)
    assert srv.sessions == []


def test_dns_nxdomain_bounces(ctx):
    e = Env(ctx, lambda d: None)
    e.send("rcpt@nx.test")
    e.wait_status("rcpt@nx.test", "bounced", relay="none", dsn=r"5\.4\.4",
                  reason=re.escape(
                      "Host or domain name not found. Name service error "
                      "for name=nx.test type=A: Host not found"))


def test_dns_servfail_defers(ctx):
    e = Env(ctx, lambda d: None)
    e.send("rcpt@servfail.fault.test")
    e.wait_status("rcpt@servfail.fault.test", "deferred", relay="none",
                  dsn=r"4\.4\.3", reason=re.escape(
                      "Host or domain name not found. Name service error "
                      "for name=servfail.fault.test type=MX: Host not "
                      "found, try again"))


def test_dns_timeout_defers(ctx):
    e = Env(ctx, lambda d: None, direct=True)
    e.send("rcpt@timeout.fault.test")
    e.wait_status("rcpt@timeout.fault.test", "deferred", relay="none",
                  dsn=r"4\.4\.3", reason=re.escape(
                      "Host or domain name not found. Name service error "
                      "for name=timeout.fault.test type=MX: Host not "
                      "found, try again"))


def test_dns_malformed_answer_defers(ctx):
    e = Env(ctx, lambda d: None, direct=True)
    e.send("rcpt@malformed.fault.test")
    e.wait_status("rcpt@malformed.fault.test", "deferred", relay="none",
                  dsn=r"4\.4\.3", reason=re.escape(
                      "Name service error for name=malformed.fault.test "
                      "type=MX: Malformed or unexpected name server reply"))


def test_dns_malformed_mx_name(ctx):
    e = Env(ctx, lambda d: None, direct=True)
    e.send("rcpt@badmx.fault.test")
    e.wait_status("rcpt@badmx.fault.test", "bounced", relay="none",
                  dsn=r"5\.4\.4", reason=re.escape(
                      "Name service error for name=badmx.fault.test "
                      "type=MX: Malformed or unexpected name server reply"))
    e.inst.wait_for_log(r"warning: malformed domain name in resource data "
                        r"of MX record for badmx\.fault\.test: -bad\.test")


def test_dns_ignore_mx_lookup_error(ctx):
    e = Env(ctx, lambda d: None, direct=True,
            main_cf={"ignore_mx_lookup_error": "yes"})
    srv = e.server(FAULT_A)
    e.send("rcpt@mxfail.fault.test")
    e.wait_status("rcpt@mxfail.fault.test", "sent",
                  relay=relay("mxfail.fault.test", FAULT_A, e.port))
    assert len(srv.transactions()) == 1


def test_dns_cname_chain(ctx):
    def zone(d):
        d.mx("cname.test", 10, "alias.cname.test")
        d.cname("alias.cname.test", "alias2.cname.test")
        d.cname("alias2.cname.test", "real.cname.test")
        d.a("real.cname.test", "127.0.53.15")
    e = Env(ctx, zone)
    e.server("127.0.53.15")
    e.send("rcpt@cname.test")
    # The server is named as the MX record names it.
    e.wait_status("rcpt@cname.test", "sent",
                  relay=relay("alias.cname.test", "127.0.53.15", e.port))


def test_dns_answer_too_big_for_udp(ctx):
    def zone(d):
        for i in range(40):
            d.mx("big.test", 10 + i, "mx%02d.big.test" % i)
        d.a("mx00.big.test", "127.0.53.16")
    e = Env(ctx, zone)
    rcode, tc, _ = e.dns.query("big.test", 15)
    assert tc, "the MX answer fits in UDP: the test proves nothing"
    e.server("127.0.53.16")
    e.send("rcpt@big.test")
    e.wait_status("rcpt@big.test", "sent",
                  relay=relay("mx00.big.test", "127.0.53.16", e.port))


def test_dns_no_mx_address(ctx):
    def zone(d):
        d.mx("noaddr.test", 10, "gone.noaddr.test")
    e = Env(ctx, zone)
    e.send("rcpt@noaddr.test")
    e.wait_status("rcpt@noaddr.test", "bounced", relay="none",
                  dsn=r"5\.4\.4", reason=re.escape(
                      "Host or domain name not found. Name service error "
                      "for name=gone.noaddr.test type=A: Host not found"))
    e.inst.wait_for_log(r"warning: no MX host for noaddr\.test has a valid "
                        r"address record")


def test_dns_defer_if_no_mx_address_found(ctx):
    def zone(d):
        d.mx("noaddr.test", 10, "gone.noaddr.test")
    e = Env(ctx, zone, main_cf={"smtp_defer_if_no_mx_address_found": "yes"})
    e.send("rcpt@noaddr.test")
    e.wait_status("rcpt@noaddr.test", "deferred", relay="none",
                  dsn=r"4\.4\.4")


# ---------------------------------------------------------------------
# Moving on to the next server

def test_dns_next_mx_after_refused(ctx):
    def zone(d):
        d.mx("refused.test", 10, "mx10.refused.test")
        d.mx("refused.test", 20, "mx20.refused.test")
        d.a("mx10.refused.test", "127.0.53.21")
        d.a("mx20.refused.test", "127.0.53.22")
    e = Env(ctx, zone)
    srv = e.server("127.0.53.22")
    e.send("rcpt@refused.test")
    e.wait_status("rcpt@refused.test", "sent",
                  relay=relay("mx20.refused.test", "127.0.53.22", e.port))
    assert_single(e.inst, r"postfix/smtp\[\d+\]: connect to "
                  r"mx10\.refused\.test\[127\.0\.53\.21\]:%d: Connection "
                  r"refused$" % e.port)
    assert len(srv.transactions()) == 1


def test_dns_next_mx_after_4xx_greeting(ctx):
    def zone(d):
        d.mx("greet.test", 10, "mx10.greet.test")
        d.mx("greet.test", 20, "mx20.greet.test")
        d.a("mx10.greet.test", "127.0.53.23")
        d.a("mx20.greet.test", "127.0.53.24")
    e = Env(ctx, zone)
    e.server("127.0.53.23", greeting="421 4.3.2 busy, come back later")
    srv = e.server("127.0.53.24")
    e.send("rcpt@greet.test")
    e.wait_status("rcpt@greet.test", "sent",
                  relay=relay("mx20.greet.test", "127.0.53.24", e.port))
    e.inst.wait_for_log(r"[0-9A-F]+: host mx10\.greet\.test\[127\.0\.53\.23\] "
                        r"refused to talk to me: 421 4\.3\.2 busy, come "
                        r"back later$")
    assert len(srv.transactions()) == 1


def test_dns_next_mx_after_rcpt_4xx(ctx):
    def zone(d):
        d.mx("rcpt4.test", 10, "mx10.rcpt4.test")
        d.mx("rcpt4.test", 20, "mx20.rcpt4.test")
        d.a("mx10.rcpt4.test", "127.0.53.25")
        d.a("mx20.rcpt4.test", "127.0.53.26")
    e = Env(ctx, zone)
    first = e.server("127.0.53.25",
                     rcpt_rules=[(".", "451 4.3.0 try the backup")])
    second = e.server("127.0.53.26")
    e.send("rcpt@rcpt4.test")
    e.wait_status("rcpt@rcpt4.test", "sent",
                  relay=relay("mx20.rcpt4.test", "127.0.53.26", e.port))
    assert len(first.sessions) == 1
    assert len(second.transactions()) == 1


def test_dns_mx_session_limit(ctx):
    def zone(d):
        for i, pref in enumerate((10, 20, 30)):
            d.mx("sess.test", pref, "mx%d.sess.test" % pref)
            d.a("mx%d.sess.test" % pref, "127.0.53.%d" % (27 + i))
    e = Env(ctx, zone, main_cf={"smtp_mx_session_limit": "2",
                                "maximal_backoff_time": "300s",
                                "minimal_backoff_time": "300s"})
    servers = [e.server("127.0.53.%d" % (27 + i),
                        rcpt_rules=[(".", "451 4.3.0 not today %d" % i)])
               for i in range(3)]
    e.send("rcpt@sess.test")
    e.wait_status("rcpt@sess.test", "deferred",
                  relay=relay("mx20.sess.test", "127.0.53.28", e.port),
                  reason=r"host mx20\.sess\.test\[127\.0\.53\.28\] said: "
                  r"451 4\.3\.0 not today 1 \(in reply to RCPT TO command\)")
    assert len(servers[0].sessions) == 1
    assert len(servers[1].sessions) == 1
    assert servers[2].sessions == [], "third MX contacted past the limit"


def test_dns_mx_address_limit(ctx):
    def zone(d):
        d.mx("addr.test", 10, "mx10.addr.test")
        d.mx("addr.test", 20, "mx20.addr.test")
        d.a("mx10.addr.test", "127.0.53.31")
        d.a("mx20.addr.test", "127.0.53.32")
    e = Env(ctx, zone, main_cf={"smtp_mx_address_limit": "1",
                                "maximal_backoff_time": "300s",
                                "minimal_backoff_time": "300s"})
    srv = e.server("127.0.53.32")
    e.send("rcpt@addr.test")
    e.wait_status("rcpt@addr.test", "deferred", relay="none",
                  dsn=r"4\.4\.1", reason=re.escape(
                      "connect to mx10.addr.test[127.0.53.31]:%d: "
                      "Connection refused" % e.port))
    assert srv.sessions == []


def test_dns_all_dead_reason_names_last_host(ctx):
    def zone(d):
        d.mx("dead.test", 10, "mx10.dead.test")
        d.mx("dead.test", 20, "mx20.dead.test")
        d.a("mx10.dead.test", "127.0.53.33")
        d.a("mx20.dead.test", "127.0.53.34")
    e = Env(ctx, zone, main_cf={"maximal_backoff_time": "300s",
                                "minimal_backoff_time": "300s"})
    e.send("rcpt@dead.test")
    e.wait_status("rcpt@dead.test", "deferred", relay="none",
                  dsn=r"4\.4\.1", reason=re.escape(
                      "connect to mx20.dead.test[127.0.53.34]:%d: "
                      "Connection refused" % e.port))


def test_dns_fallback_relay(ctx):
    def zone(d):
        d.mx("fb.test", 10, "mx10.fb.test")
        d.a("mx10.fb.test", "127.0.53.35")
        d.a("relay.fb.test", "127.0.53.36")
    e = Env(ctx, zone, main_cf={"smtp_fallback_relay": "[relay.fb.test]"})
    srv = e.server("127.0.53.36")
    e.send("rcpt@fb.test")
    e.wait_status("rcpt@fb.test", "sent",
                  relay=relay("relay.fb.test", "127.0.53.36", e.port))
    assert len(srv.transactions()) == 1


def test_dns_relayhost_list(ctx):
    def zone(d):
        d.a("r2.list.test", "127.0.53.38")
    port = free_port_on("127.0.53.37")
    e = Env(ctx, zone, port=port, main_cf={
        "relayhost": "[127.0.53.37]:%d, [r2.list.test]:%d" % (port, port)})
    srv = e.server("127.0.53.38")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("r2.list.test", "127.0.53.38", port))
    assert len(srv.transactions()) == 1


def test_dns_relayhost_domain_port(ctx):
    def zone(d):
        d.mx("hub.test", 10, "mx.hub.test")
        d.a("mx.hub.test", "127.0.53.39")
    port = free_port_on("127.0.53.39")
    e = Env(ctx, zone, port=port + 0, main_cf={
        "relayhost": "hub.test:%d" % port, "smtp_tcp_port": "25"})
    e.server("127.0.53.39")
    e.send("rcpt@elsewhere.test")
    e.wait_status("rcpt@elsewhere.test", "sent",
                  relay=relay("mx.hub.test", "127.0.53.39", port))


def test_dns_relayhost_hard_error_defers(ctx):
    e = Env(ctx, lambda d: None, main_cf={
        "relayhost": "[nosuchrelay.test]",
        "maximal_backoff_time": "300s", "minimal_backoff_time": "300s"})
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "deferred", relay="none",
                  dsn=r"4\.3\.5", reason=re.escape(
                      "Host or domain name not found. Name service error "
                      "for name=nosuchrelay.test type=A: Host not found"))
    e.inst.wait_for_log(r"warning: relayhost configuration problem")


def test_dns_service_name_port(ctx):
    def zone(d):
        d.a("svc.test", "127.0.53.40")
    e = Env(ctx, zone, port=25, main_cf={
        "relayhost": "[svc.test]:smtp", "smtp_tcp_port": "2"})
    e.server("127.0.53.40")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("svc.test", "127.0.53.40", 25))


def test_dns_loops_back_to_myself(ctx):
    def zone(d):
        d.mx("loop.test", 10, "me.loop.test")
        d.a("me.loop.test", "127.0.0.1")
    e = Env(ctx, zone, port=25)
    e.send("rcpt@loop.test")
    e.wait_status("rcpt@loop.test", "bounced", relay="none",
                  dsn=r"5\.4\.6", reason=re.escape(
                      "mail for loop.test loops back to myself"))


def test_dns_loop_passed_to_best_mx_transport(ctx):
    def zone(d):
        d.mx("bestmx.test", 10, "me.bestmx.test")
        d.a("me.bestmx.test", "127.0.0.1")
    e = Env(ctx, zone, port=25, main_cf={"best_mx_transport": "discard"})
    e.send("rcpt@bestmx.test")
    e.inst.wait_for_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: passing "
                        r"<rcpt@bestmx\.test> to transport=discard$")
    e.wait_status("rcpt@bestmx.test", "sent", relay="none",
                  ident="postfix/discard", reason=r"bestmx\.test")
    e.inst.wait_queue_empty()
    assert_none(e.inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: to=<rcpt@bestmx")


def test_dns_local_mx_truncates_worse(ctx):
    def zone(d):
        d.mx("backup.test", 10, "primary.backup.test")
        d.mx("backup.test", 20, "me.backup.test")
        d.mx("backup.test", 30, "worse.backup.test")
        d.a("primary.backup.test", "127.0.53.41")
        d.a("me.backup.test", "127.0.0.1")
        d.a("worse.backup.test", "127.0.53.42")
    e = Env(ctx, zone, port=25, main_cf={
        "maximal_backoff_time": "300s", "minimal_backoff_time": "300s"})
    worse = e.server("127.0.53.42")
    e.send("rcpt@backup.test")
    e.wait_status("rcpt@backup.test", "deferred", relay="none",
                  dsn=r"4\.4\.1", reason=re.escape(
                      "connect to primary.backup.test[127.0.53.41]:25: "
                      "Connection refused"))
    assert worse.sessions == []


def test_dns_disabled_uses_hosts_file(ctx):
    e = Env(ctx, lambda d: None, main_cf={"disable_dns_lookups": "yes"})
    e.dns.hosts(e.inst, ["127.0.53.43 hostsonly.test"])
    srv = e.server("127.0.53.43")
    e.send("rcpt@hostsonly.test")
    e.wait_status("rcpt@hostsonly.test", "sent",
                  relay=relay("hostsonly.test", "127.0.53.43", e.port))
    assert len(srv.transactions()) == 1


def test_dns_host_lookup_native(ctx):
    e = Env(ctx, lambda d: None, main_cf={
        "smtp_host_lookup": "native", "relayhost": "[native.test]"})
    e.dns.hosts(e.inst, ["127.0.53.44 native.test"])
    e.server("127.0.53.44")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("native.test", "127.0.53.44", e.port))


def test_dns_host_lookup_both(ctx):
    """smtp_host_lookup = dns, native: DNS first; only a name DNS does
    not know ("not found") goes to the native resolver (/etc/hosts)."""
    def zone(d):
        d.a("indns.test", "127.0.53.91")
    e = Env(ctx, zone, main_cf={
        "smtp_host_lookup": "dns, native",
        "relayhost": "[indns.test], [hostsonly.test]"})
    # The hosts file disagrees with DNS about indns.test: DNS wins.
    e.dns.hosts(e.inst, ["127.0.53.93 indns.test",
                         "127.0.53.92 hostsonly.test"])
    first = e.server("127.0.53.91", greeting="421 4.3.2 busy")
    second = e.server("127.0.53.92")
    wrong = e.server("127.0.53.93")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("hostsonly.test", "127.0.53.92", e.port))
    assert len(first.sessions) == 1
    assert len(second.transactions()) == 1
    assert wrong.sessions == [], "the hosts file overrode DNS"


def test_dns_bind_address(ctx):
    def zone(d):
        d.a("bind.test", "127.0.53.45")
    e = Env(ctx, zone, main_cf={"smtp_bind_address": "127.0.53.99"})
    srv = e.server("127.0.53.45")
    e.send("rcpt@bind.test")
    e.wait_status("rcpt@bind.test", "sent",
                  relay=relay("bind.test", "127.0.53.45", e.port))
    [s] = srv.wait_sessions(1)
    assert s.peer[0] == "127.0.53.99", s.peer


def test_dns_ipv6_preference(ctx):
    def zone(d):
        d.mx("six.test", 10, "mx.six.test")
        d.a("mx.six.test", "127.0.53.46")
        d.aaaa("mx.six.test", "::1")
    port = free_port_on("::1")
    e = Env(ctx, zone, port=port, main_cf={
        "inet_protocols": "all", "smtp_address_preference": "ipv6"})
    v6 = e.server("::1")
    e.server("127.0.53.46")
    e.send("rcpt@six.test")
    e.wait_status("rcpt@six.test", "sent",
                  relay=relay("mx.six.test", "::1", port))
    assert len(v6.transactions()) == 1


def test_dns_ipv4_only_skips_aaaa(ctx):
    def zone(d):
        d.mx("four.test", 10, "mx.four.test")
        d.aaaa("mx.four.test", "::1")
    e = Env(ctx, zone, main_cf={"inet_protocols": "ipv4",
                                "maximal_backoff_time": "300s",
                                "minimal_backoff_time": "300s"})
    e.send("rcpt@four.test")
    e.wait_status("rcpt@four.test", "bounced", relay="none",
                  dsn=r"5\.4\.4", reason=re.escape(
                      "Host or domain name not found. Name service error "
                      "for name=mx.four.test type=A: Host found but no "
                      "data record of requested type"))


def test_dns_dnssec_level_probes(ctx):
    def zone(d):
        d.a("sec.test", "127.0.53.47")
    e = Env(ctx, zone, main_cf={"smtp_dns_support_level": "dnssec"})
    e.server("127.0.53.47")
    e.send("rcpt@sec.test")
    e.wait_status("rcpt@sec.test", "sent",
                  relay=relay("sec.test", "127.0.53.47", e.port))
    e.inst.wait_for_log(r"postfix/smtp\[\d+\]: warning: DNSSEC validation "
                        r"may be unavailable$")


def test_dns_bracketed_address_forms(ctx):
    port = free_port_on("127.0.53.48")
    e = Env(ctx, lambda d: None, port=port, main_cf={
        "relayhost": "[127.0.53.48]:%d" % port})
    e.server("127.0.53.48")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("127.0.53.48", "127.0.53.48", port))


def test_dns_ipv6_bracketed(ctx):
    port = free_port_on("::1")
    e = Env(ctx, lambda d: None, port=port, main_cf={
        "inet_protocols": "all", "relayhost": "[ipv6:::1]:%d" % port})
    e.server("::1")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("::1", "::1", port))


def test_dns_reply_filter_ignore(ctx):
    def zone(d):
        d.mx("filt.test", 10, "mx10.filt.test")
        d.mx("filt.test", 20, "mx20.filt.test")
        d.a("mx10.filt.test", "127.0.53.49")
        d.a("mx20.filt.test", "127.0.53.50")
    if ctx.chroot != "y":
        skip("DNS tests run chrooted (resolv.conf in the queue dir)")
    # The table is opened before the chroot (Postfix) or after it: put
    # it at the same absolute path outside and inside the jail.
    import os
    import tempfile
    outer = tempfile.mkdtemp(prefix="postern-it-filter-")
    os.chmod(outer, 0o755)
    path = os.path.join(outer, "filter.regexp")
    rule = "/^filt\\.test\\. [0-9]+ IN MX 10 / IGNORE\n"
    e = Env(ctx, zone, main_cf={"smtp_dns_reply_filter": "regexp:" + path})

    class Remove:
        port = 0

        def stop(self):
            import shutil
            shutil.rmtree(outer, ignore_errors=True)

        def transcript_text(self):
            return ""
    ctx.servers.append(Remove())
    inner = os.path.join(e.inst.spool, path.lstrip("/"))
    for p in (path, inner):
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(rule)
    first = e.server("127.0.53.49")
    e.server("127.0.53.50")
    e.send("rcpt@filt.test")
    e.wait_status("rcpt@filt.test", "sent",
                  relay=relay("mx20.filt.test", "127.0.53.50", e.port))
    e.inst.wait_for_log(r"postfix/smtp\[\d+\]: ignoring DNS RR: filt\.test\. "
                        r"\d+ IN MX 10 mx10\.filt\.test\.$")
    assert first.sessions == []


def _balance_zone(d):
    d.mx("bal.test", 10, "mx.bal.test")
    d.a("mx.bal.test", "127.0.53.71", "127.0.53.72")
    d.aaaa("mx.bal.test", "::1")


def test_dns_balance_inet_protocols(ctx):
    port = free_port_on("::1")
    e = Env(ctx, _balance_zone, port=port, main_cf={
        "inet_protocols": "all", "smtp_address_preference": "ipv4",
        "smtp_mx_address_limit": "2"})
    v6 = e.server("::1")
    e.send("rcpt@bal.test")
    # Two A records and one AAAA, limit 2: one of each is kept.
    e.wait_status("rcpt@bal.test", "sent",
                  relay=relay("mx.bal.test", "::1", port))
    assert len(v6.transactions()) == 1
    assert len(e.inst.grep_log(r"connect to mx\.bal\.test\[127\.0\.53\.7[12]"
                               r"\]:%d: Connection refused" % port)) == 1


def test_dns_balance_off_keeps_preference(ctx):
    port = free_port_on("::1")
    e = Env(ctx, _balance_zone, port=port, main_cf={
        "inet_protocols": "all", "smtp_address_preference": "ipv4",
        "smtp_mx_address_limit": "2", "smtp_balance_inet_protocols": "no",
        "maximal_backoff_time": "300s", "minimal_backoff_time": "300s"})
    v6 = e.server("::1")
    e.send("rcpt@bal.test")
    e.wait_status("rcpt@bal.test", "deferred", relay="none",
                  dsn=r"4\.4\.1", reason=r"connect to mx\.bal\.test\[127\.0"
                  r"\.53\.7[12]\]:%d: Connection refused" % port)
    assert v6.sessions == []


def test_dns_cname_overrides_servername(ctx):
    def zone(d):
        d.mx("cn2.test", 10, "alias.cn2.test")
        d.cname("alias.cn2.test", "real.cn2.test")
        d.a("real.cn2.test", "127.0.53.73")
    e = Env(ctx, zone, main_cf={"smtp_cname_overrides_servername": "yes"})
    e.server("127.0.53.73")
    e.send("rcpt@cn2.test")
    e.wait_status("rcpt@cn2.test", "sent",
                  relay=relay("real.cn2.test", "127.0.53.73", e.port))


def test_dns_proxy_interfaces_loop(ctx):
    def zone(d):
        d.mx("proxy.test", 10, "fw.proxy.test")
        d.a("fw.proxy.test", "127.0.53.74")
    e = Env(ctx, zone, port=25, main_cf={"proxy_interfaces": "127.0.53.74"})
    e.send("rcpt@proxy.test")
    e.wait_status("rcpt@proxy.test", "bounced", relay="none",
                  dsn=r"5\.4\.6", reason=re.escape(
                      "mail for proxy.test loops back to myself"))


def test_dns_bind_address_enforce(ctx):
    def zone(d):
        d.a("enf.test", "127.0.53.75")
    e = Env(ctx, zone, main_cf={"smtp_bind_address": "192.0.2.1",
                                "smtp_bind_address_enforce": "yes",
                                "maximal_backoff_time": "300s",
                                "minimal_backoff_time": "300s"})
    srv = e.server("127.0.53.75")
    e.send("rcpt@enf.test")
    e.wait_status("rcpt@enf.test", "deferred", relay="none",
                  dsn=r"4\.4\.0", reason="server configuration error")
    e.inst.wait_for_log(r"postfix/smtp\[\d+\]: warning: smtp_connect_addr: "
                        r"bind 192\.0\.2\.1: Cannot assign requested address")
    assert srv.sessions == []


def test_dns_bind_address6(ctx):
    """smtp_bind_address6 is the source of IPv6 connections (the IPv4
    smtp_bind_address does not get in its way)."""
    port = free_port_on("::1")
    e = Env(ctx, lambda d: None, port=port, main_cf={
        "inet_protocols": "all", "smtp_bind_address6": "::1",
        "smtp_bind_address": "127.0.53.99",
        "relayhost": "[ipv6:::1]:%d" % port})
    srv = e.server("::1")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("::1", "::1", port))
    [s] = srv.wait_sessions(1)
    assert s.peer[0] == "::1", s.peer


def test_dns_bind_address6_enforce(ctx):
    port = free_port_on("::1")
    e = Env(ctx, lambda d: None, port=port, main_cf={
        "inet_protocols": "all", "smtp_bind_address6": "2001:db8::1",
        "smtp_bind_address_enforce": "yes",
        "maximal_backoff_time": "300s", "minimal_backoff_time": "300s",
        "relayhost": "[ipv6:::1]:%d" % port})
    srv = e.server("::1")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "deferred", relay="none",
                  dsn=r"4\.4\.0", reason="server configuration error")
    e.inst.wait_for_log(r"postfix/smtp\[\d+\]: warning: smtp_connect_addr: "
                        r"bind 2001:db8::1: Cannot assign requested address")
    assert srv.sessions == []


def test_dns_5xx_greeting_next_mx(ctx):
    def zone(d):
        d.mx("g5.test", 10, "mx10.g5.test")
        d.mx("g5.test", 20, "mx20.g5.test")
        d.a("mx10.g5.test", "127.0.53.76")
        d.a("mx20.g5.test", "127.0.53.77")
    e = Env(ctx, zone)
    e.server("127.0.53.76", greeting="554 5.3.2 not here")
    srv = e.server("127.0.53.77")
    e.send("rcpt@g5.test")
    e.wait_status("rcpt@g5.test", "sent",
                  relay=relay("mx20.g5.test", "127.0.53.77", e.port))
    assert len(srv.transactions()) == 1


def test_dns_resolver_option_defnames(ctx):
    def zone(d):
        d.a("short.sub.test", "127.0.53.78")
    port = free_port_on("127.0.53.78")
    e = Env(ctx, zone, port=port, search="sub.test", main_cf={
        "smtp_dns_resolver_options": "res_defnames",
        "relayhost": "[short]:%d" % port})
    e.server("127.0.53.78")
    e.send("rcpt@anywhere.test")
    e.wait_status("rcpt@anywhere.test", "sent",
                  relay=relay("short", "127.0.53.78", port))


def _equal_pref_zone(d):
    d.mx("eq.test", 10, "one.eq.test")
    d.mx("eq.test", 10, "two.eq.test")
    d.a("one.eq.test", "127.0.53.81")
    d.a("two.eq.test", "127.0.53.82")


def _send_many(e, n):
    for i in range(n):
        e.send("rcpt%d@eq.test" % i)
    for i in range(n):
        e.wait_status("rcpt%d@eq.test" % i, "sent",
                      relay=r"(one|two)\.eq\.test\[127\.0\.53\.8[12]\]:%d"
                      % e.port)


def test_dns_equal_preference_randomized(ctx):
    e = Env(ctx, _equal_pref_zone, main_cf={
        "smtp_randomize_addresses": "yes",
        "smtp_connection_cache_on_demand": "no"})
    one = e.server("127.0.53.81")
    two = e.server("127.0.53.82")
    _send_many(e, 12)
    # Both equal-preference exchangers get mail (odds of a false
    # failure: 2 in 4096).
    assert one.transactions() and two.transactions(), \
        (len(one.transactions()), len(two.transactions()))


def test_dns_equal_preference_in_dns_order(ctx):
    e = Env(ctx, _equal_pref_zone, main_cf={
        "smtp_randomize_addresses": "no",
        "smtp_connection_cache_on_demand": "no"})
    one = e.server("127.0.53.81")
    two = e.server("127.0.53.82")
    _send_many(e, 4)
    counts = sorted([len(one.transactions()), len(two.transactions())])
    assert counts == [0, 4], counts


def test_dns_lmtp_inet_host_and_fallback(ctx):
    def zone(d):
        d.mx("lmtphost.test", 10, "never.lmtphost.test")  # LMTP: no MX
        d.a("lmtphost.test", "127.0.53.83")
        d.a("lfb.test", "127.0.53.84")
    port = free_port_on("127.0.53.84")
    e = Env(ctx, zone, port=port, main_cf={
        "transport_maps": "inline:{lmtp.test=lmtp:inet:lmtphost.test:%d}"
        % port,
        "lmtp_fallback_relay": "[lfb.test]:%d" % port})
    srv = e.server("127.0.53.84", lmtp=True)
    e.send("rcpt@lmtp.test")
    # lmtphost.test refuses; the fallback relay takes the mail.
    e.wait_status("rcpt@lmtp.test", "sent", ident="postfix/lmtp",
                  relay=relay("lfb.test", "127.0.53.84", port))
    e.inst.wait_for_log(r"postfix/lmtp\[\d+\]: connect to lmtphost\.test"
                        r"\[127\.0\.53\.83\]:%d: Connection refused$" % port)
    assert len(srv.transactions()) == 1


# ---------------------------------------------------------------------
# Dead hosts: refused, silent, black hole (same outcome as Postfix; the
# time it takes is where Postern differs, see the racing tests)

def test_dns_dead_hosts_then_live(ctx):
    def zone(d):
        d.mx("mixed.test", 10, "hole.mixed.test")
        d.mx("mixed.test", 20, "mute.mixed.test")
        d.mx("mixed.test", 30, "shut.mixed.test")
        d.mx("mixed.test", 40, "live.mixed.test")
        d.a("hole.mixed.test", "127.0.53.51")
        d.a("mute.mixed.test", "127.0.53.52")
        d.a("shut.mixed.test", "127.0.53.53")
        d.a("live.mixed.test", "127.0.53.54")
    e = Env(ctx, zone, main_cf={"smtp_connect_timeout": "2s",
                                "smtp_helo_timeout": "2s"})
    e.blackhole("127.0.53.51")
    e.server("127.0.53.52", actions={"greeting": "stall"})
    live = e.server("127.0.53.54")
    e.send("rcpt@mixed.test")
    e.wait_status("rcpt@mixed.test", "sent",
                  relay=relay("live.mixed.test", "127.0.53.54", e.port))
    assert len(live.transactions()) == 1


# ---------------------------------------------------------------------
# Racing (Postern only): staggered attempts past dead hosts

def postern_only(ctx):
    if ctx.agent != "postern":
        skip("smtp_connection_race_delay is Postern's own")


def test_dns_race_past_black_hole(ctx):
    postern_only(ctx)

    def zone(d):
        d.mx("race.test", 10, "hole.race.test")
        d.mx("race.test", 20, "live.race.test")
        d.a("hole.race.test", "127.0.53.61")
        d.a("live.race.test", "127.0.53.62")
    e = Env(ctx, zone, main_cf={"smtp_connect_timeout": "30s",
                                "smtp_connection_race_delay": "200ms"})
    e.blackhole("127.0.53.61")
    e.server("127.0.53.62")
    t0 = time.time()
    e.send("rcpt@race.test")
    e.wait_status("rcpt@race.test", "sent",
                  relay=relay("live.race.test", "127.0.53.62", e.port))
    assert time.time() - t0 < 10, "racing did not skip the black hole"
    e.inst.wait_for_log(r"[0-9A-F]+: connection attempt to hole\.race\.test"
                        r"\[127\.0\.53\.61\]:%d abandoned after \d+ ms "
                        r"\(connecting\): live\.race\.test\[127\.0\.53\.62\]"
                        r":%d answered first" % (e.port, e.port))


def test_dns_race_past_silent_server(ctx):
    postern_only(ctx)

    def zone(d):
        d.mx("mute.test", 10, "mute.mute.test")
        d.mx("mute.test", 20, "live.mute.test")
        d.a("mute.mute.test", "127.0.53.63")
        d.a("live.mute.test", "127.0.53.64")
    e = Env(ctx, zone, main_cf={"smtp_helo_timeout": "60s"})
    mute = e.server("127.0.53.63", actions={"greeting": "stall"})
    e.server("127.0.53.64")
    e.send("rcpt@mute.test")
    e.wait_status("rcpt@mute.test", "sent",
                  relay=relay("live.mute.test", "127.0.53.64", e.port))
    e.inst.wait_for_log(r"connection attempt to mute\.mute\.test\[127\.0\.53"
                        r"\.63\]:%d abandoned after \d+ ms \(waiting for "
                        r"greeting\)" % e.port)
    assert len(mute.sessions) == 1


def test_dns_race_off_is_sequential(ctx):
    postern_only(ctx)

    def zone(d):
        d.mx("seq.test", 10, "hole.seq.test")
        d.mx("seq.test", 20, "live.seq.test")
        d.a("hole.seq.test", "127.0.53.65")
        d.a("live.seq.test", "127.0.53.66")
    e = Env(ctx, zone, main_cf={"smtp_connect_timeout": "2s",
                                "smtp_connection_race_delay": "0"})
    e.blackhole("127.0.53.65")
    e.server("127.0.53.66")
    t0 = time.time()
    e.send("rcpt@seq.test")
    e.wait_status("rcpt@seq.test", "sent",
                  relay=relay("live.seq.test", "127.0.53.66", e.port))
    assert time.time() - t0 >= 2, "sequential mode did not wait"
    assert_single(e.inst, r"connect to hole\.seq\.test\[127\.0\.53\.65\]:%d: "
                  r"Connection timed out$" % e.port)
    assert_none(e.inst, r"abandoned")
