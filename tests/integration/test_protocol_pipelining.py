#!/usr/bin/env python3
"""Issue 3, points 2 and 3: PIPELINING (RFC 2920) and SIZE (RFC 1870) as
Postfix 3.7's smtp(8) does them.  The server delays chosen replies and
records what the client had already sent (SMTPServer(delay=...)), which
proves or disproves pipelining.  Observed with run.py --agent postfix."""

import re

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, said, assert_single, assert_none)
from protocol_util import (NO_RETRY, qmgr_size, deferred_queue,
                           pipelined_after_mail, lockstep_at_mail)

NO_PIPELINING = ["SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME"]


def test_pipelining_one_write(ctx):
    """PIPELINING offered: MAIL, every RCPT and DATA arrive before the
    server answers MAIL; after the 354 the content, "." and QUIT arrive
    before the server answers the final "."."""
    srv = ctx.server(delay={"mail": 0.5, "eod": 0.5})
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["a@dest.test", "b@dest.test", "c@dest.test"]
    inst.inject(SENDER, rcpts, message("pipelining", ["hello"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    pipelined_after_mail(s, rcpts)
    assert s.pending["eod"] == b"QUIT\r\n", s.pending["eod"]
    size = qmgr_size(inst)
    assert s.commands == (["EHLO client.test",
                           "MAIL FROM:<%s> SIZE=%d" % (SENDER, size)] +
                          ["RCPT TO:<%s>" % r for r in rcpts] +
                          ["DATA", "QUIT"]), s.text()


def test_no_pipelining_lock_step(ctx):
    """PIPELINING not offered: each command waits for the previous reply,
    including QUIT after the final "."."""
    srv = ctx.server(ehlo_keywords=NO_PIPELINING,
                     delay={"mail": 0.3, "rcpt": 0.2, "data": 0.2,
                            "eod": 0.3})
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["a@dest.test", "b@dest.test"]
    inst.inject(SENDER, rcpts, message("lock step", ["hello"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    lockstep_at_mail(s)
    for stage in ("rcpt", "data", "eod"):
        assert s.pending[stage] == b"", "%s: client sent early %r" % (
            stage, s.pending[stage])
    size = qmgr_size(inst)
    assert s.commands == ["EHLO client.test",
                          "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
                          "RCPT TO:<a@dest.test>", "RCPT TO:<b@dest.test>",
                          "DATA", "QUIT"], s.text()
    for r in rcpts:
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=srv.port))


def test_pipelining_mixed_rcpt_replies(ctx):
    """Pipelined RCPTs get 250, 550, 451 and 452: the replies are paired
    with the right recipients; the 550 one bounces (NDR), the 4xx ones
    are deferred with their own text, the 250 ones are sent once."""
    r550 = "550 5.1.1 <hard@dest.test>: Recipient address rejected: User unknown"
    r451 = "451 4.3.0 <soft@dest.test>: Temporary lookup failure"
    r452 = "452 4.5.3 Too many recipients"
    srv = ctx.server(rcpt_rules=[(r"^hard@", r550), (r"^soft@", r451),
                                 (r"^many@", r452)],
                     delay={"mail": 0.3})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    rcpts = ["ok1@dest.test", "hard@dest.test", "soft@dest.test",
             "many@dest.test", "ok2@dest.test"]
    msg = message("mixed", ["hello"])
    inst.inject(SENDER, rcpts, msg)
    for r in ("ok1@dest.test", "ok2@dest.test"):
        inst.wait_for_log(status_line(r, "sent"))
    q = deferred_queue(inst, ["soft@dest.test", "many@dest.test"], r".")
    [s] = srv.wait_sessions(1)
    pipelined_after_mail(s, sorted(rcpts))
    [t] = srv.wait_transactions(1)
    assert t.accepted == ["ok1@dest.test", "ok2@dest.test"], t
    _, rest = strip_received(t.data)
    assert rest == crlf(msg)
    port = srv.port
    assert_single(inst, status_line("hard@dest.test", "bounced", dsn=r"5\.1\.1",
                                    port=port, reason=said(r550, "RCPT TO")))
    assert_single(inst, status_line("soft@dest.test", "deferred",
                                    dsn=r"4\.3\.0", port=port,
                                    reason=said(r451, "RCPT TO")))
    assert_single(inst, status_line("many@dest.test", "deferred",
                                    dsn=r"4\.5\.3", port=port,
                                    reason=said(r452, "RCPT TO")))
    for r in ("ok1@dest.test", "ok2@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0", port=port,
                                        reason=r"250 2\.0\.0 Ok: queued as "
                                        r"TEST0001"))
    reasons = {r["address"]: r["delay_reason"] for r in q["recipients"]}
    assert "451 4.3.0" in reasons["soft@dest.test"], reasons
    assert "452 4.5.3 Too many recipients" in reasons["many@dest.test"], reasons
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; hard@dest.test" in text, text
    assert "Final-Recipient: rfc822; soft@dest.test" not in text, text


def test_pipelining_rcpt_replies_without_enhanced_codes(ctx):
    """Replies without enhanced status codes: Postfix makes one up from
    the reply's first digit: 550 -> 5.0.0, 450 -> 4.0.0, 250 -> 2.0.0."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE 10240000"],
                     rcpt_rules=[(r"^hard@", "550 no such user"),
                                 (r"^soft@", "450 try later")],
                     replies={"eod": "250 queued"})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["hard@dest.test", "soft@dest.test", "ok@dest.test"],
                message("no enhanced codes", ["hello"]))
    inst.wait_for_log(status_line("ok@dest.test", "sent"))
    deferred_queue(inst, ["soft@dest.test"], "450 try later")
    port = srv.port
    assert_single(inst, status_line("hard@dest.test", "bounced", dsn=r"5\.0\.0",
                                    port=port,
                                    reason=said("550 no such user", "RCPT TO")))
    assert_single(inst, status_line("soft@dest.test", "deferred",
                                    dsn=r"4\.0\.0", port=port,
                                    reason=said("450 try later", "RCPT TO")))
    assert_single(inst, status_line("ok@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=port, reason=r"250 queued"))
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Status: 5.0.0" in text, text
    assert "Diagnostic-Code: smtp; 550 no such user" in text, text


def test_enhanced_code_out_of_sync_ignored(ctx):
    """An enhanced code whose class differs from the reply code is not
    used ("550 4.1.1 ..." -> dsn=5.0.0); one that agrees is ("550 5.1.1"
    -> 5.1.1)."""
    srv = ctx.server(rcpt_rules=[(r"^odd@", "550 4.1.1 odd status"),
                                 (r"^even@", "550 5.1.1 even status")])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["odd@dest.test", "even@dest.test", "ok@dest.test"],
                message("odd codes", ["hello"]))
    inst.wait_queue_empty()
    port = srv.port
    assert_single(inst, status_line("odd@dest.test", "bounced", dsn=r"5\.0\.0",
                                    port=port,
                                    reason=said("550 4.1.1 odd status",
                                                "RCPT TO")))
    assert_single(inst, status_line("even@dest.test", "bounced",
                                    dsn=r"5\.1\.1", port=port,
                                    reason=said("550 5.1.1 even status",
                                                "RCPT TO")))


def test_pipelining_garbage_reply_line(ctx):
    """With PIPELINING, a non-reply line before the RCPT reply: Postfix
    warns "QID: non-ESMTP response from HOST[ADDR]:PORT: LINE" plus the
    "to prevent loss of mail" hint, skips the line, pairs the next reply
    with RCPT, and the mail is sent."""
    srv = ctx.server(replies={"rcpt": "this is not an SMTP reply\n"
                              "250 2.1.5 Ok"})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["r1@dest.test"], message("garbage", ["hello"]))
    inst.wait_queue_empty()
    m = assert_single(inst, r"postfix/smtp\[\d+\]: warning: ([0-9A-F]+): "
                      r"non-ESMTP response from %s:%d: this is not an SMTP "
                      r"reply$" % (RELAY, srv.port))
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: to prevent loss of "
                  r"mail, turn off command pipelining for 127\.0\.0\.1 with "
                  r"the smtp_discard_ehlo_keyword_address_maps parameter$")
    s = assert_single(inst, status_line(
        "r1@dest.test", "sent", dsn=r"2\.0\.0", port=srv.port,
        reason=r"250 2\.0\.0 Ok: queued as TEST0001"))
    assert s.group(1) == m.group(1)
    [t] = srv.wait_transactions(1)
    assert t.accepted == ["r1@dest.test"]


def test_lockstep_garbage_reply_line_no_warning(ctx):
    """Without PIPELINING the garbage line is skipped silently (no
    warning) and the mail is sent."""
    srv = ctx.server(ehlo_keywords=NO_PIPELINING,
                     replies={"rcpt": "this is not an SMTP reply\n"
                              "250 2.1.5 Ok"})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["r1@dest.test"], message("garbage 2", ["hello"]))
    inst.wait_queue_empty()
    assert_single(inst, status_line("r1@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))
    assert_none(inst, r"non-ESMTP response|prevent loss of mail")


def test_pipelining_extra_reply_out_of_turn(ctx):
    """The server answers MAIL twice (an extra "250" out of turn): the
    replies shift by one; the surplus 250 is taken as the RCPT reply and
    the real RCPT reply "250 2.1.5 Ok" as the reply to DATA, which wants
    354: the recipient bounces with dsn=5.5.0 "Protocol error: host ...
    said: 250 2.1.5 Ok (in reply to DATA command)"; no content is sent."""
    srv = ctx.server(replies={"mail": "250 2.1.0 Ok\n250 2.1.0 Ok again"})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["r1@dest.test"], message("out of turn", ["hello"]))
    inst.wait_queue_empty()
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.5\.0", port=srv.port,
        reason=r"Protocol error: host %s said: 250 2\.1\.5 Ok \(in reply to "
        r"DATA command\)" % RELAY))
    assert not srv.transactions(), "content was sent"
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Status: 5.5.0" in text, text
    assert "Diagnostic-Code: smtp; 250 2.1.5 Ok" in text, text


def test_size_param_absent_without_size_keyword(ctx):
    """No SIZE keyword: MAIL FROM without SIZE=."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "8BITMIME"])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["r1@dest.test"],
                message("no size", ["x" * 70] * 2000))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[1] == "MAIL FROM:<%s>" % SENDER, s.text()


def test_size_keyword_without_limit(ctx):
    """"SIZE" without a number (and 8BITMIME): SIZE= is sent and there is
    no limit."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE", "8BITMIME"])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["r1@dest.test"],
                message("size no limit", ["x" * 70] * 200))
    inst.wait_queue_empty()
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands[1] == "MAIL FROM:<%s> SIZE=%d" % (SENDER, size), s.text()
    assert_single(inst, status_line("r1@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_size_not_sent_when_mime_downgrade_possible(ctx):
    """SIZE offered but not 8BITMIME, message encoding not declared 7bit
    (plain sendmail): Postfix may have to convert the content, so it
    leaves SIZE= out (smtp_proto.c: "Don't announce SIZE if we're going
    to MIME downgrade").  With disable_mime_output_conversion = yes, or
    with sendmail -B 7BIT, SIZE= is sent."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE 10240000"])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["r1@dest.test"], message("downgrade", ["hi"]))
    inst.wait_queue_empty()
    inst.inject(SENDER, ["r2@dest.test"], message("seven bit", ["hi"]),
                extra_args=["-B", "7BIT"])
    inst.wait_queue_empty()
    inst.set_main_cf({"disable_mime_output_conversion": "yes"})
    inst.inject(SENDER, ["r3@dest.test"], message("no conversion", ["hi"]))
    inst.wait_queue_empty()
    sizes = [int(m.group(1)) for m in inst.grep_log(
        r"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, size=(\d+), nrcpt=")]
    ss = srv.wait_sessions(3)
    assert ss[0].commands[1] == "MAIL FROM:<%s>" % SENDER, ss[0].text()
    assert ss[1].commands[1] == "MAIL FROM:<%s> SIZE=%d" % (
        SENDER, sizes[1]), ss[1].text()
    assert ss[2].commands[1] == "MAIL FROM:<%s> SIZE=%d" % (
        SENDER, sizes[2]), ss[2].text()


def test_size_exceeds_server_limit_bounces(ctx):
    """The message is larger than the SIZE the server announced: every
    recipient bounces 5.3.4 "message size N exceeds size limit L of server
    HOST[ADDR]" (N = the size qmgr logged) before MAIL FROM; the client
    then closes the connection without QUIT; NDR to the sender."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE 1000",
                                    "ENHANCEDSTATUSCODES", "8BITMIME"])
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["r1@dest.test", "r2@dest.test"]
    inst.inject(SENDER, rcpts, message("too big", ["y" * 60] * 40))
    inst.wait_queue_empty()
    size = qmgr_size(inst)
    reason = (r"message size %d exceeds size limit 1000 of server %s"
              % (size, RELAY))
    for r in rcpts:
        assert_single(inst, status_line(r, "bounced", dsn=r"5\.3\.4",
                                        port=srv.port, reason=reason))
    [s] = srv.wait_sessions(1)
    # Observed: the session ends right after EHLO, without MAIL or QUIT.
    assert s.commands == ["EHLO client.test"], s.text()
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Status: 5.3.4" in text, text
    assert ("message size %d exceeds size limit 1000 of server 127.0.0.1"
            "[127.0.0.1]" % size) in text.replace("\n    ", " "), text
    assert "Diagnostic-Code" not in text.split("Undelivered Message")[0] \
        or "Diagnostic-Code: X-Postfix" in text, text


def test_size_exactly_at_limit_sent(ctx):
    """A message exactly as large as the announced limit is sent."""
    srv0 = ctx.server()
    inst0 = ctx.instance(relay_port=srv0.port)
    msg = message("at limit", ["z" * 60] * 20)
    inst0.inject(SENDER, ["r1@dest.test"], msg)
    inst0.wait_queue_empty()
    size = qmgr_size(inst0)
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE %d" % size])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["r1@dest.test"], msg)
    inst.wait_queue_empty()
    assert qmgr_size(inst) == size
    assert_single(inst, status_line("r1@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))
