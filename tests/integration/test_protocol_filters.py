#!/usr/bin/env python3
"""Issue 3, point 9 (controls that take an inline table, no files; "$"
is written "$$" in main.cf):
smtp_reply_filter, smtp_delivery_status_filter, smtp_header_checks,
smtp_body_checks; reply text censoring; and the postmaster transcript
for protocol errors (notify_classes = protocol).  Observed with run.py
--agent postfix."""

from common import pending
from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, said, assert_single, assert_none)
from protocol_util import NO_RETRY, deferred_queue


def _one(ctx, server_kw, main_cf=None, rcpts=("r1@dest.test",), msg=None,
         vmailbox=None):
    srv = ctx.server(**server_kw)
    cf = dict(NO_RETRY)
    cf.update(main_cf or {})
    kw = {}
    if vmailbox:
        kw["vmailbox"] = vmailbox
    inst = ctx.instance(relay_port=srv.port, main_cf=cf, **kw)
    inst.inject(SENDER, list(rcpts), msg or message("filters", ["hello"]))
    return inst, srv


def test_reply_filter_rewrites_reply(ctx):
    """smtp_reply_filter rewrites each reply line before Postfix looks at
    it: a RCPT "550 5.1.1 no such user" made into "450 4.1.1 try later"
    is deferred with the new text and status."""
    inst, srv = _one(ctx, dict(rcpt_rules=[(r"^r1@", "550 5.1.1 no such "
                                            "user")]),
                     main_cf={"smtp_reply_filter":
                              "regexp:{ {/^550 5\\.1\\.1 no such user$$/ "
                              "450 4.1.1 try later} }"})
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.1\.1", port=srv.port,
        reason=said("450 4.1.1 try later", "RCPT TO")))
    deferred_queue(inst, ["r1@dest.test"], "450 4.1.1 try later")


def test_reply_filter_on_ehlo_lines(ctx):
    """smtp_reply_filter applies to EHLO reply lines too: turning
    "250-PIPELINING" into "250-X-NOTHING" makes the client work in
    lock-step."""
    inst, srv = _one(ctx, dict(delay={"mail": 0.3}), main_cf={
        "smtp_reply_filter": "regexp:{ {/^250-PIPELINING$$/ 250-X-NOTHING} }"})
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.pending["mail"] == b"", s.pending["mail"]


def test_delivery_status_filter_bounce_to_defer(ctx):
    """smtp_delivery_status_filter sees "STATUS TEXT" of each delivery
    status and may replace it: "5.1.1 ..." rewritten to "4.1.1 ..."
    turns the bounce into a deferral (the reason text is the filter's
    result)."""
    inst, srv = _one(ctx, dict(rcpt_rules=[(r"^r1@", "550 5.1.1 no such "
                                            "user")]),
                     main_cf={"smtp_delivery_status_filter":
                              "regexp:{ {/^5\\.1\\.1 (.*)$$/ 4.1.1 filtered: "
                              "$$1} }"})
    m = inst.wait_for_log(status_line("r1@dest.test", r"\w+", port=srv.port))
    ctx.note(m.string)
    deferred_queue(inst, ["r1@dest.test"], "filtered: ")
    assert_none(inst, status_line("r1@dest.test", "bounced"))
    assert_single(inst, status_line(
        "r1@dest.test", "deferred", dsn=r"4\.1\.1", port=srv.port,
        reason=r"filtered: host %s said: 550 5\.1\.1 no such user \(in "
        r"reply to RCPT TO command\)" % RELAY))


def test_header_checks_replace_ignore_prepend(ctx):
    """smtp_header_checks on the outgoing content: REPLACE, IGNORE and
    PREPEND act on the wire copy only, each logged as "QID: replace:
    header ..." etc.  by postfix/smtp."""
    cf = {"smtp_header_checks": (
        "regexp:{ {/^Subject: secret/ REPLACE Subject: public} "
        "{/^X-Internal:/ IGNORE} "
        "{/^To:/ PREPEND X-Checked: yes} }")}
    msg = message("secret plans", ["hello"]).replace(
        b"MIME-Version", b"X-Internal: 42\nMIME-Version")
    inst, srv = _one(ctx, {}, main_cf=cf, msg=msg)
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    want = crlf(msg.replace(b"Subject: secret plans", b"Subject: public")
                .replace(b"X-Internal: 42\n", b"")
                .replace(b"To: <", b"X-Checked: yes\nTo: <"))
    assert rest == want, "content:\n%r\n%r" % (rest, want)
    ctx.note("\n".join(l for l in inst.log_lines() if "postfix/smtp[" in l))
    for what in (r"replace: header Subject: secret plans", r"prepend: header To: <rcpt@dest\.test>"):
        assert inst.grep_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: %s" % what), \
            what


def test_body_checks_replace(ctx):
    """smtp_body_checks REPLACE on a body line, only on the wire."""
    cf = {"smtp_body_checks": "regexp:{ {/^password=/ REPLACE password=xxx} }"}
    msg = message("body check", ["one", "password=hunter2", "three"])
    inst, srv = _one(ctx, {}, main_cf=cf, msg=msg)
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    assert rest == crlf(msg.replace(b"password=hunter2", b"password=xxx")), \
        rest
    assert inst.grep_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: replace: body "
                         r"password=hunter2")


def test_reply_nonprintable_censored(ctx):
    """Non-printable bytes in a server reply are replaced by "?" in the
    log and the NDR."""
    inst, srv = _one(ctx, dict(rcpt_rules=[(r"^r1@", "550 5.1.1 bad\x01char"
                                            "\x7fhere\x1b")]))
    inst.wait_queue_empty()
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.1\.1", port=srv.port,
        reason=said("550 5.1.1 bad?char?here?", "RCPT TO")))


def test_protocol_error_postmaster_transcript(ctx):
    """notify_classes = protocol: after a protocol error (a 250 reply to
    DATA), the agent mails postmaster a transcript: From MAILER-DAEMON,
    Subject "Postfix SMTP client: errors from 127.0.0.1[127.0.0.1]:PORT",
    "Unexpected response from ...", the Out:/In: lines."""
    inst, srv = _one(ctx, dict(replies={"data": "250 2.0.0 Ok"}),
                     main_cf={"notify_classes": "protocol",
                              "error_notice_recipient":
                              "postmaster@client.test"},
                     vmailbox={SENDER: "client.test/sender/",
                               "postmaster@client.test":
                               "client.test/postmaster/"})
    m = inst.wait_for_log(status_line("r1@dest.test", r"\w+", port=srv.port))
    ctx.note(m.string)
    [notice] = inst.wait_mailbox(1, box="client.test/postmaster")
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.5\.0", port=srv.port,
        reason=r"Protocol error: host %s said: 250 2\.0\.0 Ok \(in reply to "
        r"DATA command\)" % RELAY))
    text = notice.decode("utf-8", "replace")
    for want in ("Subject: Postfix SMTP client: errors from 127.0.0.1"
                 "[127.0.0.1]:%d" % srv.port,
                 "From: Mail Delivery System <MAILER-DAEMON@client.test>",
                 "To: Postmaster <postmaster@client.test>",
                 "Unexpected response from 127.0.0.1[127.0.0.1]:%d."
                 % srv.port,
                 "Transcript of session follows.",
                 " Out: DATA", " In:  250 2.0.0 Ok"):
        assert want in text, "notice lacks %r:\n%s" % (want, text)


def test_discard_ehlo_keyword_address_maps(ctx):
    """smtp_discard_ehlo_keyword_address_maps keyed by the server address
    (127.0.0.1 -> pipelining, dsn): lock-step, no NOTIFY/ORCPT, logged
    "discarding EHLO keywords: PIPELINING DSN"; the map wins over
    smtp_discard_ehlo_keywords (here "size", not applied)."""
    inst, srv = _one(ctx, dict(ehlo_keywords=["PIPELINING", "SIZE 10240000",
                                              "8BITMIME", "DSN"],
                               delay={"mail": 0.3}),
                     main_cf={"smtp_discard_ehlo_keyword_address_maps":
                              "inline:{ {127.0.0.1=pipelining, dsn} }",
                              "smtp_discard_ehlo_keywords": "size"})
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.pending["mail"] == b"", s.pending["mail"]
    assert s.commands[1].startswith("MAIL FROM:<%s> SIZE=" % SENDER), s.text()
    assert s.commands[2] == "RCPT TO:<r1@dest.test>", s.text()
    assert_single(inst, r"postfix/smtp\[\d+\]: discarding EHLO keywords: "
                  r"PIPELINING DSN$")


def test_lmtp_discard_lhlo_keywords(ctx):
    """lmtp_discard_lhlo_keywords = pipelining, size: LHLO keywords
    discarded (logged with the same "discarding EHLO keywords" text),
    MAIL FROM without SIZE=."""
    srv = ctx.server(lmtp=True, delay={"mail": 0.3})
    cf = dict(NO_RETRY, lmtp_discard_lhlo_keywords="pipelining, size")
    cf["transport_maps"] = ("inline:{ lmtp.test=lmtp:inet:127.0.0.1:%d }"
                            % srv.port)
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=cf)
    inst.inject(SENDER, ["ok@lmtp.test"], message("lhlo discard", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[1] == "MAIL FROM:<%s>" % SENDER, s.text()
    assert s.pending["mail"] == b"", s.pending["mail"]
    assert_single(inst, r"postfix/lmtp\[\d+\]: discarding EHLO keywords: "
                  r"PIPELINING SIZE$")


def test_generic_maps_envelope_and_headers(ctx):
    """smtp_generic_maps (inline) rewrites the envelope sender and
    recipient on the wire and the address headers of the content;
    the log keeps the original recipient."""
    inst, srv = _one(ctx, {}, main_cf={
        "smtp_generic_maps": "inline:{ sender@client.test=public@example.com,"
                             " rcpt@dest.test=other@dest.test }"},
        rcpts=("rcpt@dest.test",))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[1].startswith("MAIL FROM:<public@example.com>"), \
        s.text()
    assert s.commands[2] == "RCPT TO:<other@dest.test>", s.text()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    ctx.note(rest.decode())
    assert b"\r\nFrom: Sender <public@example.com>\r\n" in b"\r\n" + rest, rest
    assert b"\r\nTo: <other@dest.test>\r\n" in rest, rest
    assert_single(inst, status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))
