#!/usr/bin/env python3
"""Issue 3, point 10: LMTP as Postfix 3.7's lmtp(8) does it: LHLO,
per-recipient replies after DATA, lmtp_lhlo_name, lmtp_assume_final,
the destination forms unix:PATH, inet:host, inet:host:port,
inet:[addr]:port, and real Dovecot LMTP over a UNIX socket and TCP.
Observed with run.py --agent postfix (both chroot settings)."""

import os
import random
import re

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, said, assert_single, assert_none)
from protocol_util import NO_RETRY, qmgr_size, deferred_queue
from receivers import DovecotLMTP

LMTP = "postfix/lmtp"


def _lmtp_instance(ctx, nexthop, extra=None, start=True):
    cf = dict(NO_RETRY)
    cf["transport_maps"] = "inline:{ lmtp.test=lmtp:%s }" % nexthop
    cf.update(extra or {})
    return ctx.instance(relay_port=ctx.free_port(), main_cf=cf, start=start)


def test_lmtp_mixed_per_recipient_replies(ctx):
    """RCPT: 250, 250, 250, 550; after the dot one reply per accepted
    recipient, in RCPT order: 250, 452, 550.  Each recipient gets its own
    outcome; the 550 at RCPT and the 550 after the dot bounce (one NDR),
    the 452 is deferred."""
    srv = ctx.server(lmtp=True,
                     rcpt_rules=[(r"^norcpt@", "550 5.1.1 <norcpt@lmtp.test>: "
                                  "User unknown")],
                     lmtp_rules=[(r"^full@", "452 4.2.2 <full@lmtp.test>: "
                                  "Mailbox full"),
                                 (r"^gone@", "550 5.2.1 <gone@lmtp.test>: "
                                  "Mailbox disabled")])
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port)
    rcpts = ["ok@lmtp.test", "full@lmtp.test", "gone@lmtp.test",
             "norcpt@lmtp.test"]
    msg = message("lmtp mixed", ["hello"])
    inst.inject(SENDER, rcpts, msg)
    deferred_queue(inst, ["full@lmtp.test"], "Mailbox full")
    inst.wait_mailbox(1)
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands == ["LHLO client.test",
                          "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
                          "RCPT TO:<full@lmtp.test>", "RCPT TO:<gone@lmtp.test>",
                          "RCPT TO:<norcpt@lmtp.test>", "RCPT TO:<ok@lmtp.test>",
                          "DATA", "QUIT"], s.text()
    [t] = srv.wait_transactions(1)
    assert t.eod_replies == [
        "452 4.2.2 <full@lmtp.test>: Mailbox full",
        "550 5.2.1 <gone@lmtp.test>: Mailbox disabled",
        "250 2.0.0 <ok@lmtp.test> Ok delivered"], t.eod_replies
    p = srv.port
    assert_single(inst, status_line("ok@lmtp.test", "sent", dsn=r"2\.0\.0",
                                    port=p, ident=LMTP,
                                    reason=r"250 2\.0\.0 <ok@lmtp\.test> Ok "
                                    r"delivered"))
    assert_single(inst, status_line(
        "full@lmtp.test", "deferred", dsn=r"4\.2\.2", port=p, ident=LMTP,
        reason=said("452 4.2.2 <full@lmtp.test>: Mailbox full",
                    "end of DATA")))
    assert_single(inst, status_line(
        "gone@lmtp.test", "bounced", dsn=r"5\.2\.1", port=p, ident=LMTP,
        reason=said("550 5.2.1 <gone@lmtp.test>: Mailbox disabled",
                    "end of DATA")))
    assert_single(inst, status_line(
        "norcpt@lmtp.test", "bounced", dsn=r"5\.1\.1", port=p, ident=LMTP,
        reason=said("550 5.1.1 <norcpt@lmtp.test>: User unknown", "RCPT TO")))
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    for r in ("gone@lmtp.test", "norcpt@lmtp.test"):
        assert "Final-Recipient: rfc822; %s" % r in text, text
    assert "Final-Recipient: rfc822; full@lmtp.test" not in text, text
    assert "Diagnostic-Code: smtp; 550 5.2.1" in text, text


def test_lmtp_lhlo_name(ctx):
    """lmtp_lhlo_name = lhlo.example: "LHLO lhlo.example" (smtp_helo_name
    does not apply to LMTP)."""
    srv = ctx.server(lmtp=True)
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port, extra={
        "lmtp_lhlo_name": "lhlo.example", "smtp_helo_name": "helo.example"})
    inst.inject(SENDER, ["ok@lmtp.test"], message("lhlo", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "LHLO lhlo.example", s.text()


def test_lmtp_lhlo_refused(ctx):
    """A 500 to LHLO: no HELO fallback in LMTP; deferred "host ... refused
    to talk to me: 500 ..." with dsn 4.x (the site error is soft)."""
    reply = "500 5.5.1 LHLO not understood"
    srv = ctx.server(lmtp=True, replies={"lhlo": reply})
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port)
    inst.inject(SENDER, ["ok@lmtp.test"], message("lhlo 500", ["hi"]))
    m = inst.wait_for_log(status_line("ok@lmtp.test", r"\w+", ident=LMTP))
    ctx.note(m.string)
    [s] = srv.wait_sessions(1)
    assert "HELO client.test" not in s.commands, s.text()
    assert not any(c.startswith("MAIL") for c in s.commands), s.text()
    assert_single(inst, status_line(
        "ok@lmtp.test", "bounced", dsn=r"5\.5\.1", port=srv.port, ident=LMTP,
        reason=r"host %s refused to talk to me: 500 5\.5\.1 LHLO not "
        r"understood" % RELAY))


def _assume_final(ctx, value):
    srv = ctx.server(lmtp=True)
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port,
                          extra={"lmtp_assume_final": value})
    inst.inject(SENDER, ["ok@lmtp.test"], message("final", ["hi"]),
                extra_args=["-N", "success"])
    inst.wait_queue_empty()
    [dsn] = inst.wait_mailbox(1)
    return dsn.decode("utf-8", "replace").replace("\n    ", " "), srv


def test_lmtp_assume_final_no_relayed(ctx):
    """NOTIFY=SUCCESS to an LMTP server without DSN, lmtp_assume_final =
    no (default): the success report says Action: relayed."""
    text, srv = _assume_final(ctx, "no")
    assert "Action: relayed" in text, text
    assert "Action: delivered" not in text, text
    assert ("<ok@lmtp.test>: delivery via 127.0.0.1[127.0.0.1]:%d: 250 2.0.0 "
            "<ok@lmtp.test> Ok delivered" % srv.port) in text, text


def test_lmtp_assume_final_yes_delivered(ctx):
    """lmtp_assume_final = yes: the same report says Action: delivered,
    and the notice is the "delivered to mailbox" kind."""
    text, srv = _assume_final(ctx, "yes")
    assert "Action: delivered" in text, text
    assert "Action: relayed" not in text, text
    assert "Subject: Successful Mail Delivery Report" in text, text


def test_lmtp_unix_socket_relative(ctx):
    """lmtp:unix:lmtpsock/sock: a path relative to the queue directory
    (the agent's working directory, also its root when chrooted):
    relay=client.test[lmtpsock/sock] ($myhostname[path as given], no
    port)."""
    inst = _lmtp_instance(ctx, "unix:lmtpsock/sock", start=False)
    d = os.path.join(inst.spool, "lmtpsock")
    os.mkdir(d, 0o755)
    srv = ctx.server(lmtp=True, unix_path=os.path.join(d, "sock"))
    inst.start()
    inst.inject(SENDER, ["ok@lmtp.test"], message("unix rel", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "LHLO client.test", s.text()
    assert_single(inst, status_line(
        "ok@lmtp.test", "sent", dsn=r"2\.0\.0", ident=LMTP,
        relay=r"client\.test\[lmtpsock/sock\]",
        reason=r"250 2\.0\.0 <ok@lmtp\.test> Ok delivered"))


def test_lmtp_unix_socket_absolute(ctx):
    """lmtp:unix:/ABSOLUTE/PATH: chrooted, the path is taken inside the
    chroot (the queue directory), so the test gives /lmtpsock/sock there
    and QUEUE_DIR/lmtpsock/sock when not chrooted."""
    inst = _lmtp_instance(ctx, "unix:/placeholder", start=False)
    d = os.path.join(inst.spool, "lmtpsock")
    os.mkdir(d, 0o755)
    path = ("/lmtpsock/sock" if ctx.chroot == "y"
            else os.path.join(inst.spool, "lmtpsock", "sock"))
    inst.set_main_cf({"transport_maps": "inline:{ lmtp.test=lmtp:unix:%s }"
                      % path}, reload=False)
    srv = ctx.server(lmtp=True, unix_path=os.path.join(d, "sock"))
    inst.start()
    inst.inject(SENDER, ["ok@lmtp.test"], message("unix abs", ["hi"]))
    inst.wait_queue_empty()
    assert_single(inst, status_line(
        "ok@lmtp.test", "sent", dsn=r"2\.0\.0", ident=LMTP,
        relay=r"client\.test\[%s\]" % re.escape(path)))


def test_lmtp_inet_forms(ctx):
    """inet:host:port (localhost), inet:[addr]:port, and inet:host (the
    default port 24, "lmtp" in services(5)) on a private loopback
    address.  lmtp(8) looks host names up in DNS only (smtp_host_lookup
    default dns; here there is no DNS), so the test sets lmtp_host_lookup
    = native for localhost."""
    srv = ctx.server(lmtp=True)
    host = None
    srv24 = None
    for _ in range(20):
        host = "127.0.%d.%d" % (random.randint(1, 250), random.randint(2, 250))
        try:
            srv24 = ctx.server(lmtp=True, host=host, port=24)
            break
        except OSError:
            continue
    cf = dict(NO_RETRY, lmtp_host_lookup="native")
    cf["transport_maps"] = (
        "inline:{ { a.lmtp.test=lmtp:inet:localhost:%d } "
        "{ b.lmtp.test=lmtp:inet:[127.0.0.1]:%d } "
        "{ c.lmtp.test=lmtp:inet:%s } }" % (srv.port, srv.port, host))
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=cf)
    inst.inject(SENDER, ["x@a.lmtp.test", "y@b.lmtp.test", "z@c.lmtp.test"],
                message("inet forms", ["hi"]))
    inst.wait_queue_empty()
    assert_single(inst, status_line("x@a.lmtp.test", "sent", ident=LMTP,
                                    relay=r"localhost\[127\.0\.0\.1\]:%d"
                                    % srv.port))
    assert_single(inst, status_line("y@b.lmtp.test", "sent", ident=LMTP,
                                    relay=r"127\.0\.0\.1\[127\.0\.0\.1\]:%d"
                                    % srv.port))
    h = re.escape(host)
    assert_single(inst, status_line("z@c.lmtp.test", "sent", ident=LMTP,
                                    relay=r"%s\[%s\]:24" % (h, h)))
    assert len(srv.wait_sessions(2)) == 2
    [s] = srv24.wait_sessions(1)
    assert s.commands[0] == "LHLO client.test", s.text()


def _dovecot_delivery(ctx, use_unix):
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=NO_RETRY,
                        start=False)
    dv = DovecotLMTP(unix_path=os.path.join(inst.spool, "dovecot-lmtp"))
    dv.register(ctx).start()
    nexthop = ("unix:dovecot-lmtp" if use_unix
               else "inet:127.0.0.1:%d" % dv.port)
    inst.set_main_cf({"transport_maps": "inline:{ lmtp.test=lmtp:%s }"
                      % nexthop}, reload=False)
    inst.start()
    body = ["Dovecot over %s." % ("unix" if use_unix else "tcp"),
            ".a line with a leading dot", "..two", "8-bit: caf\u00e9",
            "x" * 500, "last"]
    msg = message("dovecot", body).replace(b"charset=us-ascii",
                                           b"charset=utf-8")
    inst.inject(SENDER, ["alice@lmtp.test", "bob@lmtp.test"], msg)
    inst.wait_queue_empty()
    for u in ("alice", "bob"):
        [got] = dv.wait_messages(u, "lmtp.test")
        # Dovecot prepends Return-Path and its Received header ("from
        # client.test", with "([127.0.0.1])" over TCP; no Delivered-To
        # with two recipients in one transaction); then comes Postfix's
        # Received header and the message, byte-exact (Dovecot stores LF
        # line ends).
        head = ("Return-Path: <%s>\nReceived: from client.test" % SENDER
                ).encode()
        assert got.startswith(head), got[:300]
        assert b"\n\tby lmtp.test with LMTP\n" in got, got[:300]
        i = got.index(b"\nReceived: by client.test (Postfix")
        rest = got[i + 1:]
        j = rest.index(b"\n", rest.index(b"\n") + 1)
        assert rest[j + 1:] == msg, "stored message differs:\n%r" % rest
    return inst, dv


def test_dovecot_lmtp_tcp(ctx):
    """Real Dovecot LMTP over TCP: both recipients stored byte-exact; one
    status=sent line each, with Dovecot's own reply ("Saved")."""
    inst, dv = _dovecot_delivery(ctx, use_unix=False)
    for u in ("alice", "bob"):
        assert_single(inst, status_line(
            "%s@lmtp.test" % u, "sent", dsn=r"2\.0\.0", ident=LMTP,
            port=dv.port, reason=r"250 2\.0\.0 <%s@lmtp\.test> \S+ Saved" % u))


def test_dovecot_lmtp_unix(ctx):
    """Real Dovecot LMTP over a UNIX socket in the queue directory
    (lmtp:unix:dovecot-lmtp, relative: works chrooted or not)."""
    inst, dv = _dovecot_delivery(ctx, use_unix=True)
    for u in ("alice", "bob"):
        assert_single(inst, status_line(
            "%s@lmtp.test" % u, "sent", dsn=r"2\.0\.0", ident=LMTP,
            relay=r"client\.test\[dovecot-lmtp\]",
            reason=r"250 2\.0\.0 <%s@lmtp\.test> \S+ Saved" % u))


def test_dovecot_lmtp_two_messages(ctx):
    """Two messages queued at once for Dovecot LMTP over TCP: each is
    stored once."""
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=NO_RETRY,
                        start=False)
    dv = DovecotLMTP()
    dv.register(ctx).start()
    inst.set_main_cf({"transport_maps": "inline:{ lmtp.test=lmtp:inet:"
                      "127.0.0.1:%d }" % dv.port}, reload=False)
    inst.start()
    inst.inject(SENDER, ["carol@lmtp.test"], message("one", ["1"]))
    inst.inject(SENDER, ["carol@lmtp.test"], message("two", ["2"]))
    inst.wait_queue_empty()
    got = dv.wait_messages("carol", "lmtp.test", 2)
    assert len(got) == 2, len(got)
    assert len(inst.grep_log(status_line("carol@lmtp.test", "sent",
                                         ident=LMTP, port=dv.port))) == 2


def test_lmtp_all_rcpts_refused(ctx):
    """Every RCPT refused (550) over LMTP: the recipients bounce; no
    content is sent (the pipelined DATA gets the server's 554)."""
    srv = ctx.server(lmtp=True, rcpt_rules=[(r".", "550 5.1.1 User unknown")])
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port)
    inst.inject(SENDER, ["a@lmtp.test", "b@lmtp.test"],
                message("lmtp none", ["hi"]))
    inst.wait_queue_empty()
    for r in ("a@lmtp.test", "b@lmtp.test"):
        assert_single(inst, status_line(
            r, "bounced", dsn=r"5\.1\.1", port=srv.port, ident=LMTP,
            reason=said("550 5.1.1 User unknown", "RCPT TO")))
    assert not srv.transactions()
    [s] = srv.wait_sessions(1)
    assert "DATA" in s.commands and s.commands[-1] == "QUIT", s.text()


def test_lmtp_hangup_between_per_recipient_replies(ctx):
    """The LMTP server gives the first per-recipient reply after the dot
    and closes: the first recipient is sent, the second deferred with
    "lost connection with HOST[ADDR] while sending end of data -- message
    may be sent more than once"."""
    srv = ctx.server(lmtp=True, actions={
        "eod": lambda sess, addr: "hangup" if addr.startswith("b@") else None})
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port)
    inst.inject(SENDER, ["a@lmtp.test", "b@lmtp.test"],
                message("lmtp half", ["hi"]))
    deferred_queue(inst, ["b@lmtp.test"], r"lost connection")
    assert_single(inst, status_line("a@lmtp.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port, ident=LMTP))
    assert_single(inst, status_line(
        "b@lmtp.test", "deferred", dsn=r"4\.4\.2", port=srv.port, ident=LMTP,
        reason=r"lost connection with %s while sending end of data -- "
        r"message may be sent more than once" % RELAY))


def test_lmtp_lhlo_timeout(ctx):
    """No reply to LHLO within lmtp_lhlo_timeout (2s): deferred
    "conversation with HOST[ADDR] timed out while performing the LHLO
    handshake"."""
    srv = ctx.server(lmtp=True, actions={"lhlo": "stall"}, stall_timeout=30)
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port,
                          extra={"lmtp_lhlo_timeout": "2s"})
    inst.inject(SENDER, ["ok@lmtp.test"], message("lhlo stall", ["hi"]))
    inst.wait_for_log(status_line(
        "ok@lmtp.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        ident=LMTP, reason=r"conversation with %s timed out while "
        r"performing the LHLO handshake" % RELAY))


def test_lmtp_sendmail_bv(ctx):
    """sendmail -bv to an LMTP destination: LHLO, MAIL, RCPT, RSET, QUIT;
    postfix/lmtp logs status=deliverable; the report comes back."""
    srv = ctx.server(lmtp=True)
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port)
    inst.inject(SENDER, ["ok@lmtp.test"], b"", extra_args=["-bv"])
    inst.wait_queue_empty()
    [report] = inst.wait_mailbox(1)
    assert b"Action: deliverable" in report, report
    [s] = srv.wait_sessions(1)
    assert [c.split(":")[0].split(" ")[0] for c in s.commands] == [
        "LHLO", "MAIL", "RCPT", "RSET", "QUIT"], s.text()
    assert_single(inst, status_line("ok@lmtp.test", "deliverable",
                                    dsn=r"2\.1\.5", port=srv.port, ident=LMTP))
