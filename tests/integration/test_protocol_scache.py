#!/usr/bin/env python3
"""Connection caching through the real scache(8), as Postfix 3.7's
smtp(8)/lmtp(8) do it: smtp_connection_cache_destinations,
smtp_connection_cache_on_demand, the reuse count and time limits, the RSET
probe before a cached connection is used again, a dead cached connection,
and scache not running.  Observed with run.py --agent postfix (both chroot
settings); every outcome here is Postfix's."""

import os
import re

from common import (SENDER, RELAY, message, status_line, assert_single,
                    assert_none)

CONN_USE = (r"postfix/%s\[\d+\]: [0-9A-F]+: to=<[^>]+>, relay=[^,]+, "
            r"conn_use=%d, ")


def _verbs(sess):
    """The command verbs of a session (EHLO, MAIL, RCPT, DATA, ...)."""
    return [c.split(":")[0].split(" ")[0] for c in sess.commands]


def _held_instance(ctx, srv_port, extra=None, **kw):
    """An instance whose messages wait in the hold queue until released,
    so that several are in the active queue together; concurrency 1, so
    that they go one after the other."""
    cf = {"smtp_destination_concurrency_limit": "1",
          "lmtp_destination_concurrency_limit": "1",
          "header_checks": "regexp:{ {/^Subject: HOLD/ HOLD} }"}
    cf.update(extra or {})
    return ctx.instance(relay_port=srv_port, main_cf=cf, **kw)


def _send_held(inst, rcpts, domain="dest.test"):
    """One message per recipient local part, held, then all released
    and delivered; returns the recipient addresses."""
    addrs = ["%s@%s" % (r, domain) for r in rcpts]
    for a in addrs:
        inst.inject(SENDER, [a], message("HOLD %s" % a, ["body"], to=a))
    inst.wait_queue(lambda q: len(q) == len(addrs) and all(
        m["queue_name"] == "hold" for m in q), what="hold queue")
    inst.release_all()
    inst.flush()
    inst.wait_queue_empty()
    return addrs


def _assert_all_sent(inst, addrs, ident="postfix/smtp"):
    for a in addrs:
        assert_single(inst, r"%s\[\d+\]: [0-9A-F]+: to=<%s>, relay=.*, "
                      r"dsn=2\.0\.0, status=sent " % (re.escape(ident),
                                                       re.escape(a)))


def test_scache_three_messages_one_connection(ctx):
    """Three messages over one connection: EHLO once, each later
    transaction preceded by the RSET probe, no QUIT between them; the
    second and third deliveries log conn_use=2 and conn_use=3."""
    srv = ctx.server()
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1"})
    addrs = _send_held(inst, ["a", "b", "c"])
    ss = srv.wait_sessions(1, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 1, "%d sessions" % len(ss)
    v = _verbs(ss[0])
    assert v[:12] == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL",
                      "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA"], v
    assert v[12:] in ([], ["QUIT"]), v
    assert len(ss[0].transactions) == 3
    _assert_all_sent(inst, addrs)
    assert_single(inst, CONN_USE % ("smtp", 2))
    assert_single(inst, CONN_USE % ("smtp", 3))


def test_scache_reuse_count_limit(ctx):
    """smtp_connection_reuse_count_limit = 1: a connection is used at most
    twice; the second transaction ends with QUIT, the third message gets a
    new connection (no conn_use)."""
    srv = ctx.server()
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1",
        "smtp_connection_reuse_count_limit": "1"})
    addrs = _send_held(inst, ["a", "b", "c"])
    ss = srv.wait_sessions(2, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    assert _verbs(ss[0]) == ["EHLO", "MAIL", "RCPT", "DATA", "RSET",
                             "MAIL", "RCPT", "DATA", "QUIT"], ss[0].commands
    assert _verbs(ss[1])[:4] == ["EHLO", "MAIL", "RCPT", "DATA"]
    assert len(ss[1].transactions) == 1
    _assert_all_sent(inst, addrs)
    assert_single(inst, CONN_USE % ("smtp", 2))
    assert_none(inst, CONN_USE % ("smtp", 3))


def test_scache_reuse_time_limit(ctx):
    """smtp_connection_reuse_time_limit = 1s, and the server takes 2.5s
    to answer MAIL FROM: when the final dot goes out the connection is
    older than the limit, so it is closed with QUIT instead of cached.
    Two messages, two connections, no conn_use.  (Postfix compares whole
    seconds: the connection's start second + limit < the second of the
    last I/O, so a 1.5s delay is not always enough.)"""
    srv = ctx.server(delay={"mail": 2.5})
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1",
        "smtp_connection_reuse_time_limit": "1s"})
    addrs = _send_held(inst, ["a", "b"])
    ss = srv.wait_sessions(2)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    for s in ss:
        assert _verbs(s) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"], \
            s.commands
    _assert_all_sent(inst, addrs)
    assert_none(inst, r"conn_use=")


def test_scache_rset_probe_hangup(ctx):
    """The server hangs up when the RSET probe arrives: the agent says
    nothing about it, makes a new connection and delivers there.  Nothing
    is lost, nothing is deferred."""
    srv = ctx.server(actions={"rset": "hangup"})
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1"})
    addrs = _send_held(inst, ["a", "b"])
    ss = srv.wait_sessions(2, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    assert _verbs(ss[0]) == ["EHLO", "MAIL", "RCPT", "DATA", "RSET"], \
        ss[0].commands
    assert _verbs(ss[1])[:4] == ["EHLO", "MAIL", "RCPT", "DATA"]
    _assert_all_sent(inst, addrs)
    assert_none(inst, r"conn_use=")
    assert_none(inst, r"status=deferred|lost connection")


def test_scache_rset_probe_rejected(ctx):
    """The server answers the RSET probe with 421: the cached connection
    is dropped (no QUIT) and the message goes over a new one."""
    srv = ctx.server(replies={"rset": "421 4.3.2 Service shutting down"})
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1"})
    addrs = _send_held(inst, ["a", "b"])
    ss = srv.wait_sessions(2, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    assert _verbs(ss[0]) == ["EHLO", "MAIL", "RCPT", "DATA", "RSET"], \
        ss[0].commands
    assert _verbs(ss[1])[:4] == ["EHLO", "MAIL", "RCPT", "DATA"]
    _assert_all_sent(inst, addrs)
    assert_none(inst, r"conn_use=|status=deferred")


def test_scache_server_closed_cached_connection(ctx):
    """The server closes every connection right after its reply to the
    final dot, while the agent has it in the cache: the next message goes
    over a new connection (scache notices the dead connection, or the
    RSET probe does); both are delivered."""
    srv = ctx.server(actions={"eod": "hangup_after_reply"})
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1"})
    addrs = _send_held(inst, ["a", "b"])
    ss = srv.wait_sessions(2)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    for s in ss:
        assert _verbs(s)[:4] == ["EHLO", "MAIL", "RCPT", "DATA"], s.commands
        assert "QUIT" not in _verbs(s)
    _assert_all_sent(inst, addrs)
    assert_none(inst, r"conn_use=|status=deferred")


def test_scache_not_running(ctx):
    """No scache service in master.cf: the agent warns that it cannot
    connect to private/scache, turns connection caching off, and delivers
    every message over its own connection."""
    srv = ctx.server()
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1"},
        drop_services=("scache",))
    addrs = _send_held(inst, ["a", "b"])
    ss = srv.wait_sessions(2)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    for s in ss:
        assert len(s.transactions) == 1, s.commands
    _assert_all_sent(inst, addrs)
    assert_none(inst, r"conn_use=")
    assert inst.grep_log(r"postfix/smtp\[\d+\]: warning: connect to "
                         r"private/scache: No such file or directory$")
    assert inst.grep_log(r"postfix/smtp\[\d+\]: warning: disabling "
                         r"connection caching$")


def test_scache_destination_not_listed(ctx):
    """smtp_connection_cache_destinations is matched against the bare
    next-hop domain: "[127.0.0.1]:PORT" (the relayhost as written) does
    not match it, and with smtp_connection_cache_on_demand = no nothing
    is cached: one connection per message, each ending with QUIT."""
    srv = ctx.server()
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "[127.0.0.1]:%d" % srv.port,
        "smtp_connection_cache_on_demand": "no"})
    addrs = _send_held(inst, ["a", "b"])
    ss = srv.wait_sessions(2)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    for s in ss:
        assert _verbs(s) == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"], \
            s.commands
    _assert_all_sent(inst, addrs)
    assert_none(inst, r"conn_use=")


def test_scache_on_demand_backlog(ctx):
    """smtp_connection_cache_on_demand (the default) with a backlog: many
    messages for one destination at concurrency 1 are delivered back to
    back, so the queue manager turns caching on for the destination and
    later deliveries reuse the connection (conn_use=2 or more)."""
    srv = ctx.server()
    inst = _held_instance(ctx, srv.port)
    addrs = _send_held(inst, ["m%d" % i for i in range(8)])
    ctx.note(srv.transcript_text())
    _assert_all_sent(inst, addrs)
    with srv._lock:
        nsess = len(srv.sessions)
    assert nsess < len(addrs), "%d sessions for %d messages" % (
        nsess, len(addrs))
    assert inst.grep_log(r"conn_use=[2-9], ")


def test_scache_lmtp_unix_socket(ctx):
    """LMTP over a UNIX-domain socket: lmtp_connection_cache_destinations
    lists the socket path (without "unix:"); the second message goes over
    the first connection after an RSET probe, logged conn_use=2 with
    relay=client.test[PATH]."""
    path = "lmtpsock/sock"
    inst = _held_instance(ctx, ctx.free_port(), {
        "transport_maps": "inline:{ lmtp.test=lmtp:unix:%s }" % path,
        "lmtp_connection_cache_destinations": path}, start=False)
    d = os.path.join(inst.spool, "lmtpsock")
    os.mkdir(d, 0o755)
    srv = ctx.server(lmtp=True, unix_path=os.path.join(d, "sock"))
    inst.start()
    addrs = _send_held(inst, ["a", "b"], domain="lmtp.test")
    ss = srv.wait_sessions(1, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 1, "%d sessions" % len(ss)
    v = _verbs(ss[0])
    assert v[:8] == ["LHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT",
                     "DATA"], v
    _assert_all_sent(inst, addrs, ident="postfix/lmtp")
    assert_single(inst, r"postfix/lmtp\[\d+\]: [0-9A-F]+: to=<[ab]@lmtp\."
                  r"test>, relay=client\.test\[lmtpsock/sock\], conn_use=2, ")


def test_scache_sender_dependent_labels(ctx):
    """smtp_sender_dependent_authentication = yes with
    smtp_sasl_password_maps set: Postfix 3.7 does not turn caching off (as
    its manual says) but files connections under the sender too, so a
    connection is reused only for mail from the same sender.  Three
    messages, two from one sender and one from another: two connections,
    one conn_use=2 line, for the sender who sent two."""
    srv = ctx.server()
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1",
        "smtp_sender_dependent_authentication": "yes",
        "smtp_sasl_password_maps": "inline:{ nobody@nowhere.test=x:y }"})
    other = "other@client.test"
    mails = [(SENDER, "a"), (SENDER, "b"), (other, "c")]
    for sender, rcpt in mails:
        a = "%s@dest.test" % rcpt
        inst.inject(sender, [a], message("HOLD %s" % a, ["body"], to=a))
    inst.wait_queue(lambda q: len(q) == 3 and all(
        m["queue_name"] == "hold" for m in q), what="hold queue")
    inst.release_all()
    inst.flush()
    inst.wait_queue_empty()
    ss = srv.wait_sessions(2, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 2, "%d sessions" % len(ss)
    senders = sorted([t.mail_from for t in s.transactions] for s in ss)
    assert senders == [[other], [SENDER, SENDER]], senders
    _assert_all_sent(inst, ["a@dest.test", "b@dest.test", "c@dest.test"])
    assert_single(inst, r"to=<[ab]@dest\.test>, relay=%s:%d, conn_use=2, "
                  % (RELAY, srv.port))


def test_scache_after_refused_transaction(ctx):
    """A transaction whose only recipient is refused ends with RSET (the
    "final RSET") and the connection is still cached; the other message
    goes over it after the RSET probe.  One connection, two RSETs, one
    conn_use=2 line, the refused recipient bounced."""
    srv = ctx.server(rcpt_rules={r"^hard@": "550 5.1.1 User unknown"})
    inst = _held_instance(ctx, srv.port, {
        "smtp_connection_cache_destinations": "127.0.0.1"})
    _send_held(inst, ["hard", "b"])
    ss = srv.wait_sessions(1, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 1, "%d sessions" % len(ss)
    v = _verbs(ss[0])
    assert v.count("EHLO") == 1 and v.count("RSET") == 2, v
    assert v.count("MAIL") == 2 and "QUIT" not in v[:-1], v
    _assert_all_sent(inst, ["b@dest.test"])
    assert_single(inst, r"to=<hard@dest\.test>, relay=%s:%d, "
                  r"(conn_use=2, )?delay=.*, dsn=5\.1\.1, status=bounced "
                  r"\(host %s said: 550 5\.1\.1 User unknown \(in reply to "
                  r"RCPT TO command\)\)$" % (RELAY, srv.port, RELAY))
    assert_single(inst, r"conn_use=2, ")


def test_scache_mx_skips_dead_best_mx(ctx):
    """MX destination listed in smtp_connection_cache_destinations, its
    best MX refusing connections: the first message finds the backup MX
    (one "Connection refused"); the second is delivered over the
    connection cached under the domain, without trying the dead MX again,
    logged conn_use=2 with the backup's name.  Runs chrooted only (DNS)."""
    from test_dns import Env, relay

    def zone(d):
        d.mx("cached.test", 10, "mx10.cached.test")
        d.mx("cached.test", 20, "mx20.cached.test")
        d.a("mx10.cached.test", "127.0.53.121")
        d.a("mx20.cached.test", "127.0.53.122")
    e = Env(ctx, zone, main_cf={
        "smtp_connection_cache_destinations": "cached.test",
        "smtp_destination_concurrency_limit": "1",
        "header_checks": "regexp:{ {/^Subject: HOLD/ HOLD} }"})
    srv = e.server("127.0.53.122")
    for r in ("a", "b"):
        e.send("%s@cached.test" % r, subject="HOLD %s" % r)
    e.inst.wait_queue(lambda q: len(q) == 2 and all(
        m["queue_name"] == "hold" for m in q), what="hold queue")
    e.inst.release_all()
    e.inst.flush()
    e.inst.wait_queue_empty()
    ctx.note(srv.transcript_text())
    assert len(srv.sessions) == 1, "%d sessions" % len(srv.sessions)
    assert len(srv.transactions()) == 2
    assert_single(e.inst, r"postfix/smtp\[\d+\]: connect to "
                  r"mx10\.cached\.test\[127\.0\.53\.121\]:%d: Connection "
                  r"refused$" % e.port)
    assert_single(e.inst, r"to=<[ab]@cached\.test>, relay=%s, conn_use=2, "
                  % relay("mx20.cached.test", "127.0.53.122", e.port))
