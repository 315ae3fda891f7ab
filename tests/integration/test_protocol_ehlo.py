#!/usr/bin/env python3
"""Issue 3, point 1: the EHLO/HELO handshake of Postfix 3.7's smtp(8):
keyword parsing, smtp_never_send_ehlo, smtp_always_send_ehlo, HELO
fallback, 421 to EHLO, smtp_discard_ehlo_keywords, smtp_skip_5xx_greeting,
and the "loops back to myself" check.  Every expectation was observed with
Postfix's own smtp (run.py --agent postfix)."""

import random

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, assert_single, assert_none)
from protocol_util import (NO_RETRY, qmgr_size, deferred_queue,
                           pipelined_after_mail, lockstep_at_mail)


def _deliver(ctx, server_kw=None, main_cf=None, rcpts=("rcpt@dest.test",),
             msg=None, extra_args=()):
    """Deliver one message to a scripted server; wait for an empty queue."""
    srv = ctx.server(**(server_kw or {}))
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, list(rcpts), msg or message("ehlo", ["hello"]),
                extra_args=extra_args)
    inst.wait_queue_empty()
    return inst, srv


def test_ehlo_keywords_case_insensitive(ctx):
    """Keywords in any case, with parameters: "pipelining", "size 20000"
    and "8bitmime" are recognized (SIZE= on MAIL FROM, MAIL/RCPT/DATA sent
    in one write)."""
    inst, srv = _deliver(ctx, dict(
        ehlo_keywords=["pipelining", "Size 20000", "enhancedstatuscodes",
                       "8bitMIME"], delay={"mail": 0.5}),
        rcpts=["a@dest.test", "b@dest.test"])
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands == ["EHLO client.test",
                          "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
                          "RCPT TO:<a@dest.test>", "RCPT TO:<b@dest.test>",
                          "DATA", "QUIT"], s.text()
    pipelined_after_mail(s, ["a@dest.test", "b@dest.test"])
    for r in ("a@dest.test", "b@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=srv.port))


def test_never_send_ehlo(ctx):
    """smtp_never_send_ehlo = yes: HELO only, no ESMTP parameters, no
    pipelining even though the server would offer it."""
    inst, srv = _deliver(ctx, dict(delay={"mail": 0.3}),
                         main_cf={"smtp_never_send_ehlo": "yes"})
    [s] = srv.wait_sessions(1)
    assert s.commands == ["HELO client.test", "MAIL FROM:<%s>" % SENDER,
                          "RCPT TO:<rcpt@dest.test>", "DATA", "QUIT"], s.text()
    lockstep_at_mail(s)
    assert_single(inst, status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_banner_without_esmtp_always_send_ehlo_no(ctx):
    """smtp_always_send_ehlo = no and a greeting without the word ESMTP:
    HELO, and MAIL FROM without SIZE=."""
    inst, srv = _deliver(ctx, dict(greeting="220 dest.test SMTP ready"),
                         main_cf={"smtp_always_send_ehlo": "no"})
    [s] = srv.wait_sessions(1)
    assert s.commands == ["HELO client.test", "MAIL FROM:<%s>" % SENDER,
                          "RCPT TO:<rcpt@dest.test>", "DATA", "QUIT"], s.text()
    assert_single(inst, status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_banner_with_esmtp_always_send_ehlo_no(ctx):
    """smtp_always_send_ehlo = no: the word ESMTP anywhere after the host
    name (any case) is enough for EHLO."""
    inst, srv = _deliver(ctx, dict(greeting="220 dest.test hello esmtp here"),
                         main_cf={"smtp_always_send_ehlo": "no"})
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "EHLO client.test", s.text()
    assert s.commands[1].startswith("MAIL FROM:<%s> SIZE=" % SENDER), s.text()


def test_banner_without_esmtp_default_sends_ehlo(ctx):
    """Default smtp_always_send_ehlo = yes: EHLO even when the greeting
    does not say ESMTP."""
    inst, srv = _deliver(ctx, dict(greeting="220 dest.test SMTP ready"))
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "EHLO client.test", s.text()


def test_ehlo_500_falls_back_to_helo(ctx):
    """Any non-2xx, non-421 reply to EHLO (here 500, multi-line): HELO."""
    inst, srv = _deliver(ctx, dict(
        replies={"ehlo": "500-5.5.1 what?\n500 5.5.1 unknown command"},
        delay={"mail": 0.3}))
    [s] = srv.wait_sessions(1)
    assert s.commands == ["EHLO client.test", "HELO client.test",
                          "MAIL FROM:<%s>" % SENDER, "RCPT TO:<rcpt@dest.test>",
                          "DATA", "QUIT"], s.text()
    lockstep_at_mail(s)


def test_ehlo_421_deferred(ctx):
    """421 to EHLO: no HELO; every recipient deferred with "host ...
    refused to talk to me: 421 ..." and the reply's status code."""
    reply = "421 4.7.0 dest.test Too busy, closing"
    srv = ctx.server(replies={"ehlo": reply})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    rcpts = ["r1@dest.test", "r2@dest.test"]
    inst.inject(SENDER, rcpts, message("ehlo 421", ["hi"]))
    reason = r"host %s refused to talk to me: %s" % (RELAY,
                                                     reply.replace(".", r"\."))
    for r in rcpts:
        inst.wait_for_log(status_line(r, "deferred", dsn=r"4\.7\.0",
                                      port=srv.port, reason=reason))
    deferred_queue(inst, rcpts, "refused to talk to me: 421 4.7.0")
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "EHLO client.test", s.text()
    assert "HELO client.test" not in s.commands, s.text()
    assert not any(c.startswith("MAIL") for c in s.commands), s.text()


def test_helo_refused_deferred(ctx):
    """EHLO 502, then HELO 501: deferred, "refused to talk to me", dsn
    from the HELO reply."""
    srv = ctx.server(replies={"ehlo": "502 5.5.2 Error: command not recognized",
                              "helo": "501 5.5.4 Syntax: HELO hostname"})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["r1@dest.test"], message("helo 501", ["hi"]))
    reason = (r"host %s refused to talk to me: 501 5\.5\.4 Syntax: HELO "
              r"hostname" % RELAY)
    m = inst.wait_for_log(status_line("r1@dest.test", r"(deferred|bounced)",
                                      port=srv.port, reason=reason))
    ctx.note(m.string)
    [s] = srv.wait_sessions(1)
    assert s.commands[:2] == ["EHLO client.test", "HELO client.test"], s.text()
    # A 5xx to HELO is a hard error for the site: bounced, dsn 5.5.4.
    assert_single(inst, status_line("r1@dest.test", "bounced", dsn=r"5\.5\.4",
                                    port=srv.port, reason=reason))


def test_discard_ehlo_keywords(ctx):
    """smtp_discard_ehlo_keywords = pipelining, size, 8bitmime: logged
    once per session as "discarding EHLO keywords: 8BITMIME PIPELINING
    SIZE" (a fixed order); MAIL FROM without SIZE= (and without BODY= for an 8-bit
    message), commands in lock-step."""
    msg = message("discard", ["caf\u00e9 8-bit text"]).replace(
        b"charset=us-ascii", b"charset=utf-8")
    inst, srv = _deliver(ctx, dict(delay={"mail": 0.3}),
                         main_cf={"smtp_discard_ehlo_keywords":
                                  "pipelining, size, 8bitmime"},
                         msg=msg, extra_args=["-B", "8BITMIME"])
    [s] = srv.wait_sessions(1)
    assert s.commands == ["EHLO client.test", "MAIL FROM:<%s>" % SENDER,
                          "RCPT TO:<rcpt@dest.test>", "DATA", "QUIT"], s.text()
    lockstep_at_mail(s)
    assert_single(inst, r"postfix/smtp\[\d+\]: discarding EHLO keywords: "
                  r"8BITMIME PIPELINING SIZE$")
    assert_single(inst, status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_discard_ehlo_keywords_silent(ctx):
    """The pseudo keyword "silent-discard" suppresses the log line."""
    inst, srv = _deliver(ctx, main_cf={"smtp_discard_ehlo_keywords":
                                       "silent-discard, size"})
    [s] = srv.wait_sessions(1)
    assert s.commands[1] == "MAIL FROM:<%s>" % SENDER, s.text()
    assert_none(inst, r"discarding EHLO keywords")


def test_5xx_greeting_bounces_when_not_skipped(ctx):
    """smtp_skip_5xx_greeting = no: a 554 greeting bounces the recipients
    (5.3.2, "refused to talk to me"); the client sends only QUIT; NDR."""
    reply = "554 5.3.2 No service for you"
    srv = ctx.server(greeting=reply)
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_skip_5xx_greeting": "no"})
    inst.inject(SENDER, ["r1@dest.test"], message("greeting 554", ["hi"]))
    inst.wait_queue_empty()
    reason = (r"host %s refused to talk to me: 554 5\.3\.2 No service for "
              r"you" % RELAY)
    assert_single(inst, status_line("r1@dest.test", "bounced", dsn=r"5\.3\.2",
                                    port=srv.port, reason=reason))
    [s] = srv.wait_sessions(1)
    assert s.commands == ["QUIT"], s.text()
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Diagnostic-Code: smtp; 554 5.3.2 No service for you" in text, text
    assert "Status: 5.3.2" in text, text


def _loop_server(ctx, **kw):
    """A server on 127.0.0.N port 25 (loop detection needs port 25)."""
    last = None
    for _ in range(20):
        host = "127.0.%d.%d" % (random.randint(1, 250), random.randint(2, 250))
        try:
            return ctx.server(host=host, port=25, **kw)
        except OSError as e:
            last = e
    raise last


def test_ehlo_names_myhostname_loops_back(ctx):
    """The server is on port 25 and its greeting and EHLO reply name
    $myhostname (client.test): Postfix warns twice and, the relayhost
    being [addr] (the best MX), bounces with 5.4.6 "mail for [ADDR]:25
    loops back to myself"; no MAIL FROM."""
    srv = _loop_server(ctx, hostname="client.test")
    inst = ctx.instance(main_cf={"relayhost": "[%s]:25" % srv.host})
    inst.inject(SENDER, ["r1@dest.test"], message("loop", ["hi"]))
    inst.wait_queue_empty()
    h = srv.host.replace(".", r"\.")
    hp = r"%s\[%s\]:25" % (h, h)
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: host %s greeted me "
                  r"with my own hostname client\.test$" % hp)
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: host %s replied to "
                  r"HELO/EHLO with my own hostname client\.test$" % hp)
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.4\.6",
        relay=r"%s\[%s\]:25" % (h, h),
        reason=r"mail for \[%s\]:25 loops back to myself" % h))
    [s] = srv.wait_sessions(1)
    assert not any(c.startswith("MAIL") for c in s.commands), s.text()
    [ndr] = inst.wait_mailbox(1)
    assert b"loops back to myself" in ndr


def test_myhostname_on_other_port_no_loop_check(ctx):
    """On a port other than 25 the check is off: the same EHLO name is
    accepted and the mail is sent."""
    inst, srv = _deliver(ctx, dict(hostname="client.test"))
    assert_none(inst, r"loops back|my own hostname")
    assert_single(inst, status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_ehlo_keyword_with_equals_parameter(ctx):
    """"SIZE=1000" (keyword and parameter joined by "=", as some servers
    do for AUTH=): recognized as SIZE with limit 1000, so a larger
    message bounces 5.3.4 without MAIL FROM."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE=1000", "8BITMIME"])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["r1@dest.test"], message("size eq", ["y" * 60] * 40))
    inst.wait_queue_empty()
    m = inst.wait_for_log(r"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, "
                          r"size=(\d+), nrcpt=")
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.3\.4", port=srv.port,
        reason=r"message size %s exceeds size limit 1000 of server %s"
        % (m.group(1), RELAY)))


def test_multiline_greeting_esmtp_on_second_line(ctx):
    """smtp_always_send_ehlo = no and a multi-line greeting whose word
    ESMTP is only on its second line: the whole greeting is searched, so
    EHLO is sent."""
    inst, srv = _deliver(ctx, dict(greeting="220-dest.test welcome\n"
                                   "220 ESMTP ready"),
                         main_cf={"smtp_always_send_ehlo": "no"})
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "EHLO client.test", s.text()


def test_body_parameter(ctx):
    """8BITMIME offered: sendmail -B 8BITMIME gives BODY=8BITMIME, -B 7BIT
    gives BODY=7BIT, plain sendmail of an ASCII message gives no BODY=."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    msg8 = message("body 8", ["caf\u00e9"]).replace(b"charset=us-ascii",
                                                   b"charset=utf-8")
    inst.inject(SENDER, ["r1@dest.test"], msg8, extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    inst.inject(SENDER, ["r2@dest.test"], message("body 7", ["x"]),
                extra_args=["-B", "7BIT"])
    inst.wait_queue_empty()
    inst.inject(SENDER, ["r3@dest.test"], message("body none", ["x"]))
    inst.wait_queue_empty()
    sizes = [int(m.group(1)) for m in inst.grep_log(
        r"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, size=(\d+), nrcpt=")]
    s1, s2, s3 = srv.wait_sessions(3)
    assert s1.commands[1] == "MAIL FROM:<%s> SIZE=%d BODY=8BITMIME" % (
        SENDER, sizes[0]), s1.text()
    assert s2.commands[1] == "MAIL FROM:<%s> SIZE=%d BODY=7BIT" % (
        SENDER, sizes[1]), s2.text()
    assert s3.commands[1] == "MAIL FROM:<%s> SIZE=%d" % (
        SENDER, sizes[2]), s3.text()


def test_ehlo_timeout(ctx):
    """No reply to EHLO within smtp_helo_timeout (2s): deferred
    "conversation with HOST[ADDR] timed out while performing the EHLO
    handshake"; no HELO is tried."""
    srv = ctx.server(actions={"ehlo": "stall"}, stall_timeout=30)
    inst = ctx.instance(relay_port=srv.port,
                        main_cf=dict(NO_RETRY, smtp_helo_timeout="2s"))
    inst.inject(SENDER, ["r1@dest.test"], message("ehlo stall", ["hi"]))
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"conversation with %s timed out while performing the EHLO "
        r"handshake" % RELAY))
    [s] = srv.wait_sessions(1, closed=False)
    assert s.commands == ["EHLO client.test"], s.text()
