#!/usr/bin/env python3
"""Issue 3, point 11: address verification and tracing as Postfix 3.7's
smtp(8) does them: sendmail -bv (trace report, no DATA), verify(8) probes
from an smtpd with reject_unverified_recipient, sendmail -v (delivery
report), and smtp_rset_timeout.  Observed with run.py --agent postfix."""

import smtplib
import time

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, said, assert_single, assert_none)
from protocol_util import NO_RETRY, qmgr_size, smtpd_service, smtp_inject


def _report(inst):
    [m] = inst.wait_mailbox(1)
    return m.decode("utf-8", "replace").replace("\n    ", " ")


def test_sendmail_bv_deliverable(ctx):
    """sendmail -bv: MAIL, RCPT, then RSET and QUIT, never DATA; the log
    says status=deliverable with the RCPT reply; the sender gets a "Mail
    Delivery Status Report" with Action: deliverable."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["a@dest.test", "b@dest.test"], b"",
                extra_args=["-bv"])
    inst.wait_queue_empty()
    text = _report(inst)
    [s] = srv.wait_sessions(1)
    size = qmgr_size(inst)
    assert s.commands == ["EHLO client.test",
                          "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
                          "RCPT TO:<a@dest.test>", "RCPT TO:<b@dest.test>",
                          "RSET", "QUIT"], s.text()
    assert not srv.transactions(complete_only=False) or \
        not any(t.data_started for t in srv.transactions(False))
    for r in ("a@dest.test", "b@dest.test"):
        assert_single(inst, status_line(r, "deliverable", dsn=r"2\.1\.5",
                                        port=srv.port,
                                        reason=r"250 2\.1\.5 Ok"))
    for want in ("Subject: Mail Delivery Status Report",
                 "Final-Recipient: rfc822; a@dest.test",
                 "Action: deliverable", "Status: 2.1.5",
                 "Remote-MTA: dns; 127.0.0.1",
                 "Diagnostic-Code: smtp; 250 2.1.5 Ok",
                 "<a@dest.test>: delivery via 127.0.0.1[127.0.0.1]:%d: 250 "
                 "2.1.5 Ok" % srv.port):
        assert want in text, "report lacks %r:\n%s" % (want, text)


def test_sendmail_bv_undeliverable(ctx):
    """sendmail -bv for a recipient the server refuses with 550: status=
    undeliverable, Action: undeliverable in the report, no NDR, nothing
    deferred; the accepted one is deliverable."""
    reply = "550 5.1.1 <bad@dest.test>: Recipient address rejected"
    srv = ctx.server(rcpt_rules=[(r"^bad@", reply)])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["bad@dest.test", "good@dest.test"], b"",
                extra_args=["-bv"])
    inst.wait_queue_empty()
    text = _report(inst)
    assert_single(inst, status_line("bad@dest.test", "undeliverable",
                                    dsn=r"5\.1\.1", port=srv.port,
                                    reason=said(reply, "RCPT TO")))
    assert_single(inst, status_line("good@dest.test", "deliverable",
                                    dsn=r"2\.1\.5", port=srv.port))
    assert "Action: undeliverable" in text, text
    assert "Action: deliverable" in text, text
    assert "Diagnostic-Code: smtp; " + reply in text, text
    [s] = srv.wait_sessions(1)
    assert "DATA" not in s.commands and "RSET" in s.commands, s.text()


def test_sendmail_bv_soft_error(ctx):
    """sendmail -bv, RCPT 450: status=undeliverable with the 4.x.x status
    (a probe is not retried)."""
    reply = "450 4.2.0 <soft@dest.test>: greylisted"
    srv = ctx.server(rcpt_rules=[(r"^soft@", reply)])
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["soft@dest.test"], b"", extra_args=["-bv"])
    m = inst.wait_for_log(status_line("soft@dest.test", r"\w+",
                                      port=srv.port))
    ctx.note(m.string)
    inst.wait_queue(lambda q: not q or q[0]["queue_name"] == "deferred")
    assert_single(inst, status_line("soft@dest.test", "undeliverable",
                                    dsn=r"4\.2\.0", port=srv.port,
                                    reason=said(reply, "RCPT TO")))


def test_verify_probe_from_smtpd(ctx):
    """An smtpd of the instance with reject_unverified_recipient: the
    probe (sender double-bounce@client.test) does MAIL, RCPT, RSET, QUIT
    without DATA; smtp logs status=deliverable / undeliverable; smtpd
    accepts the good recipient and rejects the bad one (450, the default
    unverified_recipient_reject_code) with "unverified address: host
    127.0.0.1[127.0.0.1] said: 550 ... (in reply to RCPT TO command)"; the verify cache (btree:DATA/verify_cache) holds
    the results."""
    reply = "550 5.1.1 <bad@dest.test>: User unknown"
    srv = ctx.server(rcpt_rules=[(r"^bad@", reply)])
    sport = ctx.free_port()
    line = ("127.0.0.1:%d inet n - n - - smtpd -o "
            "smtpd_tls_security_level=none -o smtpd_recipient_restrictions="
            "reject_unverified_recipient,permit_mynetworks,reject -o "
            "mynetworks=127.0.0.0/8" % sport)
    inst = ctx.instance(relay_port=srv.port, master_cf_extra=line,
                        main_cf={"address_verify_poll_delay": "1s",
                                 "address_verify_poll_count": "10"})
    deadline = time.time() + 20
    while True:
        try:
            c = smtplib.SMTP("127.0.0.1", sport, local_hostname="inj.test",
                             timeout=30)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    try:
        c.ehlo("inj.test")
        c.mail(SENDER)
        good = c.rcpt("good@dest.test")
        bad = c.rcpt("bad@dest.test")
    finally:
        c.close()
    ctx.note("smtpd replies: %r %r" % (good, bad))
    assert good[0] == 250, good
    assert bad[0] == 450, bad
    assert b"4.1.1 <bad@dest.test>: Recipient address rejected: unverified "\
        b"address: host 127.0.0.1[127.0.0.1] said: " \
        b"550 5.1.1 <bad@dest.test>: User unknown (in reply to RCPT TO " \
        b"command)" in bad[1], bad
    assert_single(inst, status_line("good@dest.test", "deliverable",
                                    dsn=r"2\.1\.5", port=srv.port,
                                    reason=r"250 2\.1\.5 Ok"))
    assert_single(inst, status_line("bad@dest.test", "undeliverable",
                                    dsn=r"5\.1\.1", port=srv.port,
                                    reason=said(reply, "RCPT TO")))
    ss = srv.wait_sessions(2)
    for s in ss:
        assert s.commands[1].startswith(
            "MAIL FROM:<double-bounce@client.test>"), s.text()
        assert s.commands[-2:] == ["RSET", "QUIT"], s.text()
        assert "DATA" not in s.commands, s.text()
    inst.stop()
    out = inst.run(["/usr/sbin/postmap", "-c", inst.etc, "-s",
                    "btree:%s/verify_cache" % inst.data]).stdout
    ctx.note(out)
    cache = dict(l.split(None, 1) for l in out.splitlines() if l.strip())
    assert cache["good@dest.test"].startswith("0:"), cache
    assert cache["good@dest.test"].endswith(":250 2.1.5 Ok"), cache
    assert cache["bad@dest.test"].startswith("2:"), cache


def test_sendmail_v_delivery_report(ctx):
    """sendmail -v: the mail is delivered and the sender gets a "Mail
    Delivery Status Report" with Action: relayed for every recipient and
    the server's end-of-DATA reply."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    msg = message("verbose", ["hello"])
    inst.inject(SENDER, ["a@dest.test", "b@dest.test"], msg,
                extra_args=["-v"])
    inst.wait_queue_empty()
    text = _report(inst)
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    assert rest == crlf(msg)
    for r in ("a@dest.test", "b@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=srv.port))
        assert "Final-Recipient: rfc822; %s" % r in text, text
    for want in ("Subject: Mail Delivery Status Report", "Action: relayed",
                 "Status: 2.0.0", "Remote-MTA: dns; 127.0.0.1",
                 "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as TEST0001",
                 "<a@dest.test>: delivery via 127.0.0.1[127.0.0.1]:%d: 250 "
                 "2.0.0 Ok: queued as TEST0001" % srv.port):
        assert want in text, "report lacks %r:\n%s" % (want, text)


def test_sendmail_v_with_bounce(ctx):
    """sendmail -v with one recipient refused (550): the report lists the
    refused one as failed and the other as relayed; the NDR is sent too."""
    reply = "550 5.1.1 <bad@dest.test>: User unknown"
    srv = ctx.server(rcpt_rules=[(r"^bad@", reply)])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["bad@dest.test", "ok@dest.test"],
                message("verbose 2", ["hello"]), extra_args=["-v"])
    inst.wait_queue_empty()
    msgs = inst.wait_mailbox(2)
    texts = [m.decode("utf-8", "replace") for m in msgs]
    report = [t for t in texts if "Mail Delivery Status Report" in t]
    ndr = [t for t in texts if "Undelivered Mail Returned" in t]
    assert len(report) == 1 and len(ndr) == 1, [t[:400] for t in texts]
    assert "Action: relayed" in report[0] and "Action: failed" in report[0], \
        report[0]
    assert_single(inst, status_line("bad@dest.test", "bounced",
                                    dsn=r"5\.1\.1", port=srv.port))


def test_rset_timeout_after_probe(ctx):
    """sendmail -bv to a server that never answers RSET, smtp_rset_timeout
    = 2s: the probe result is deliverable; the agent waits 2s for the RSET
    reply (the request ends only then: the queue empties after >= 2s),
    then ends the session without a log line about it."""
    srv = ctx.server(actions={"rset": "stall"}, stall_timeout=30)
    inst = ctx.instance(relay_port=srv.port,
                        main_cf=dict(NO_RETRY, smtp_rset_timeout="2s"))
    t0 = time.time()
    inst.inject(SENDER, ["a@dest.test"], b"", extra_args=["-bv"])
    inst.wait_queue_empty()
    assert_single(inst, status_line("a@dest.test", "deliverable",
                                    dsn=r"2\.1\.5", port=srv.port))
    took = time.time() - t0
    [s] = srv.wait_sessions(1, closed=False)
    assert s.commands[-1] == "RSET", s.text()
    assert 2.0 <= took < 15, "request took %.1fs" % took
    assert_none(inst, r"postfix/smtp\[\d+\]: .*(RSET|timed out)")
