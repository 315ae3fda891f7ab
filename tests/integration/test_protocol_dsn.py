#!/usr/bin/env python3
"""Issue 3, points 5 and 6: DSN (RFC 3461) parameters, "relayed" success
notifications, and SMTPUTF8 (RFC 6531) as Postfix 3.7's smtp(8) does
them.  Observed with run.py --agent postfix."""

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, said, assert_single, assert_none)
from protocol_util import NO_RETRY, qmgr_size, smtpd_service, smtp_inject

DSN_KEYWORDS = ["PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                "8BITMIME", "DSN"]


def _deliver(ctx, server_kw, rcpts, extra_args=(), msg=None, main_cf=None):
    srv = ctx.server(**server_kw)
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, rcpts, msg or message("dsn", ["hello"]),
                extra_args=list(extra_args))
    inst.wait_queue_empty()
    return inst, srv


def test_dsn_parameters_when_offered(ctx):
    """The server offers DSN; sendmail -N success,delay,failure -V ENVID
    -R hdrs: MAIL FROM gets ENVID= (xtext: "+" and "=" encoded) and
    RET=HDRS after SIZE=; each RCPT gets ORCPT=rfc822;ADDR then
    NOTIFY=SUCCESS,FAILURE,DELAY (that order, whatever the order of -N).  The success notice is the server's job: nothing
    comes back to the sender."""
    inst, srv = _deliver(ctx, dict(ehlo_keywords=DSN_KEYWORDS),
                         ["a@dest.test", "b@dest.test"],
                         ["-N", "success,delay,failure", "-V", "env+id=1",
                          "-R", "hdrs"])
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands == [
        "EHLO client.test",
        "MAIL FROM:<%s> SIZE=%d ENVID=env+2Bid+3D1 RET=HDRS" % (SENDER, size),
        "RCPT TO:<a@dest.test> ORCPT=rfc822;a@dest.test "
        "NOTIFY=SUCCESS,FAILURE,DELAY",
        "RCPT TO:<b@dest.test> ORCPT=rfc822;b@dest.test "
        "NOTIFY=SUCCESS,FAILURE,DELAY",
        "DATA", "QUIT"], s.text()
    for r in ("a@dest.test", "b@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=srv.port))
    assert_none(inst, r"delivery status notification")
    assert inst.mailbox() == [], "a notification came back"


def test_dsn_orcpt_without_notify(ctx):
    """DSN offered, plain sendmail (no -N/-V/-R): no ENVID/RET/NOTIFY, but
    ORCPT=rfc822;ADDR is still sent (qmgr always supplies the original
    recipient)."""
    inst, srv = _deliver(ctx, dict(ehlo_keywords=DSN_KEYWORDS),
                         ["a@dest.test"])
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands[1:3] == [
        "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
        "RCPT TO:<a@dest.test> ORCPT=rfc822;a@dest.test"], s.text()


def test_dsn_notify_never_and_ret_full(ctx):
    """-N never -R full: NOTIFY=NEVER, RET=FULL."""
    inst, srv = _deliver(ctx, dict(ehlo_keywords=DSN_KEYWORDS),
                         ["a@dest.test"], ["-N", "never", "-R", "full"])
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands[1:3] == [
        "MAIL FROM:<%s> SIZE=%d RET=FULL" % (SENDER, size),
        "RCPT TO:<a@dest.test> ORCPT=rfc822;a@dest.test NOTIFY=NEVER"], \
        s.text()


def test_dsn_parameters_not_sent_without_dsn(ctx):
    """The server does not offer DSN: none of ENVID, RET, NOTIFY, ORCPT."""
    inst, srv = _deliver(ctx, {}, ["a@dest.test"],
                         ["-N", "delay,failure", "-V", "envid-2", "-R",
                          "hdrs"])
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands == ["EHLO client.test",
                          "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
                          "RCPT TO:<a@dest.test>", "DATA", "QUIT"], s.text()
    assert inst.mailbox() == [], "a notification came back"


def test_notify_success_to_non_dsn_server_relayed(ctx):
    """NOTIFY=SUCCESS and a server without DSN: the agent reports the
    success to trace(8), and the sender gets a "Successful Mail Delivery
    Report" with Action: relayed, the server's reply as Diagnostic-Code,
    and Remote-MTA: dns; 127.0.0.1.  ENVID and RET are kept in the
    report."""
    inst, srv = _deliver(ctx, {}, ["a@dest.test", "b@dest.test"],
                         ["-N", "success", "-V", "envid-3", "-R", "hdrs"])
    port = srv.port
    m = assert_single(inst, status_line("a@dest.test", "sent", dsn=r"2\.0\.0",
                                        port=port,
                                        reason=r"250 2\.0\.0 Ok: queued as "
                                        r"TEST0001"))
    assert_single(inst, status_line("b@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=port))
    qid = m.group(1)
    assert_single(inst, r"postfix/bounce\[\d+\]: %s: sender delivery status "
                  r"notification: [0-9A-F]+$" % qid)
    [dsn] = inst.wait_mailbox(1)
    text = dsn.decode("utf-8", "replace").replace("\n    ", " ")
    for want in ("Subject: Successful Mail Delivery Report",
                 "Original-Envelope-Id: envid-3",
                 "Final-Recipient: rfc822; a@dest.test",
                 "Final-Recipient: rfc822; b@dest.test",
                 "Original-Recipient: rfc822;a@dest.test",
                 "Action: relayed",
                 "Status: 2.0.0",
                 "Remote-MTA: dns; 127.0.0.1",
                 "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as TEST0001",
                 "<a@dest.test>: delivery via 127.0.0.1[127.0.0.1]:%d: 250 "
                 "2.0.0 Ok: queued as TEST0001" % port):
        assert want in text, "DSN lacks %r:\n%s" % (want, text)
    assert "Action: delivered" not in text, text
    # RET=HDRS: the headers of the original come back, not the body.
    assert "Subject: dsn" in text and "\nhello\n" not in text, text


def test_notify_success_to_dsn_server_no_report(ctx):
    """The same with a DSN server: NOTIFY=SUCCESS goes on the wire and no
    local report is made."""
    inst, srv = _deliver(ctx, dict(ehlo_keywords=DSN_KEYWORDS),
                         ["a@dest.test"], ["-N", "success"])
    [s] = srv.wait_sessions(1)
    assert s.commands[2] == ("RCPT TO:<a@dest.test> ORCPT=rfc822;a@dest.test "
                             "NOTIFY=SUCCESS"), s.text()
    assert_none(inst, r"delivery status notification")
    assert inst.mailbox() == []


def test_made_up_status_for_mail_from_reply(ctx):
    """"550 no such sender" to MAIL FROM (no enhanced code, server without
    ENHANCEDSTATUSCODES): dsn=5.0.0 for every recipient, and the NDR says
    Status: 5.0.0."""
    reply = "550 no such sender"
    inst, srv = _deliver(ctx, dict(ehlo_keywords=["PIPELINING"],
                                   replies={"mail": reply}),
                         ["a@dest.test", "b@dest.test"])
    for r in ("a@dest.test", "b@dest.test"):
        assert_single(inst, status_line(r, "bounced", dsn=r"5\.0\.0",
                                        port=srv.port,
                                        reason=said(reply, "MAIL FROM")))
    [ndr] = inst.wait_mailbox(1)
    assert b"Status: 5.0.0" in ndr and b"Diagnostic-Code: smtp; 550 no such " \
        b"sender" in ndr, ndr


def test_made_up_status_for_end_of_data_reply(ctx):
    """"451 try again" after the dot: dsn=4.0.0, deferred."""
    reply = "451 try again"
    srv = ctx.server(replies={"eod": reply})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["a@dest.test"], message("eod 451", ["hi"]))
    inst.wait_for_log(status_line("a@dest.test", "deferred", dsn=r"4\.0\.0",
                                  port=srv.port,
                                  reason=said(reply, "end of DATA")))


# ----------------------------------------------------------------------
# SMTPUTF8

UTF8_RCPT = "j\u00f6s\u00e9@dest.test"
SMTPUTF8_KEYWORDS = ["PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8"]


def _utf8_message():
    return ("From: Sender <%s>\nTo: <%s>\nSubject: utf8\n"
            "Date: Wed, 25 Nov 2026 10:00:00 +0000\n"
            "Message-ID: <utf8@client.test>\n\nhello\n" % (SENDER, UTF8_RCPT)
            ).encode()


def test_smtputf8_offered(ctx):
    """sendmail with a UTF-8 recipient (cleanup autodetects it:
    smtputf8_autodetect_classes = sendmail, verify), server offers SMTPUTF8: MAIL
    FROM carries SMTPUTF8 after SIZE= (no BODY=: the body is ASCII), RCPT TO
    carries the raw UTF-8 address."""
    srv = ctx.server(ehlo_keywords=SMTPUTF8_KEYWORDS)
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtputf8_enable": "yes"})
    inst.inject(SENDER, [UTF8_RCPT], _utf8_message())
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[1] == "MAIL FROM:<%s> SIZE=%d SMTPUTF8" % (
        SENDER, qmgr_size(inst)), s.text()
    rcpt_raw = [d for who, d in s.transcript if who == "C"
                and d.startswith(b"RCPT")]
    assert rcpt_raw == [b"RCPT TO:<" + UTF8_RCPT.encode() + b">\r\n"], \
        rcpt_raw
    assert_single(inst, status_line(UTF8_RCPT, "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_smtputf8_required_not_offered_bounces(ctx):
    """The same to a server without SMTPUTF8: bounced before MAIL FROM,
    dsn=5.6.7 "SMTPUTF8 is required, but was not offered by host
    127.0.0.1[127.0.0.1]"; the NDR says so."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtputf8_enable": "yes"})
    inst.inject(SENDER, [UTF8_RCPT], _utf8_message())
    inst.wait_queue_empty()
    reason = r"SMTPUTF8 is required, but was not offered by host %s" % RELAY
    assert_single(inst, status_line(UTF8_RCPT, "bounced", dsn=r"5\.6\.7",
                                    port=srv.port, reason=reason))
    [s] = srv.wait_sessions(1)
    assert not any(c.startswith("MAIL") for c in s.commands), s.text()
    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Status: 5.6.7" in text, text
    assert "SMTPUTF8 is required, but was not offered by host" in text, text


def test_smtputf8_requested_ascii_only_to_non_smtputf8_server(ctx):
    """MAIL FROM:<...> SMTPUTF8 through the instance's smtpd, but every
    address and header is ASCII: nothing needs SMTPUTF8, so the mail goes
    to a server without SMTPUTF8, and MAIL FROM has no SMTPUTF8; to a
    server with SMTPUTF8 the parameter is passed on."""
    srv = ctx.server()
    srv8 = ctx.server(ehlo_keywords=SMTPUTF8_KEYWORDS)
    sport = ctx.free_port()
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtputf8_enable": "yes", "transport_maps":
                                 "inline:{ utf8.test=smtp:[127.0.0.1]:%d }"
                                 % srv8.port},
                        master_cf_extra=smtpd_service(sport))
    smtp_inject(sport, SENDER, ["a@dest.test", "b@utf8.test"],
                message("ascii utf8", ["hi"]), mail_options=["SMTPUTF8"])
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[1].startswith("MAIL FROM:<%s> SIZE=" % SENDER), s.text()
    assert "SMTPUTF8" not in s.commands[1], s.text()
    [s8] = srv8.wait_sessions(1)
    assert s8.commands[1].endswith(" SMTPUTF8"), s8.text()
    assert_single(inst, status_line("a@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_smtputf8_offered_but_not_8bitmime(ctx):
    """A server that offers SMTPUTF8 but not 8BITMIME: Postfix logs "host
    127.0.0.1[127.0.0.1] offers SMTPUTF8 support, but not 8BITMIME" and
    behaves as if 8BITMIME were offered."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE 10240000",
                                    "SMTPUTF8"])
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtputf8_enable": "yes"})
    inst.inject(SENDER, [UTF8_RCPT], _utf8_message())
    inst.wait_queue_empty()
    assert_single(inst, r"postfix/smtp\[\d+\]: host %s offers SMTPUTF8 "
                  r"support, but not 8BITMIME$" % RELAY)
    [s] = srv.wait_sessions(1)
    assert s.commands[1].endswith(" SMTPUTF8"), s.text()
    assert "SIZE=" in s.commands[1], s.text()


def test_orcpt_xtext_encoding(ctx):
    """ORCPT values are xtext-encoded: a recipient a+b=c@dest.test gives
    ORCPT=rfc822;a+2Bb+3Dc@dest.test; an ORCPT given to the instance's
    smtpd (ORCPT=rfc822;orig+2Bx@dest.test, decoded there) is passed on
    re-encoded (the log has no orig_to= for it: that comes from the
    original recipient, not from ORCPT)."""
    srv = ctx.server(ehlo_keywords=DSN_KEYWORDS)
    sport = ctx.free_port()
    inst = ctx.instance(relay_port=srv.port,
                        master_cf_extra=smtpd_service(sport))
    inst.inject(SENDER, ["a+b=c@dest.test"], message("xtext", ["hi"]))
    inst.wait_queue_empty()
    import smtplib
    c = smtplib.SMTP("127.0.0.1", sport, local_hostname="inj.test",
                     timeout=20)
    try:
        c.ehlo("inj.test")
        c.mail(SENDER)
        code, _ = c.rcpt("new@dest.test",
                         ["ORCPT=rfc822;orig+2Bx@dest.test", "NOTIFY=NEVER"])
        assert code == 250, code
        c.data(message("orcpt", ["hi"]))
    finally:
        c.quit()
    inst.wait_queue_empty()
    s1, s2 = srv.wait_sessions(2)
    assert s1.commands[2] == ("RCPT TO:<a+b=c@dest.test> "
                              "ORCPT=rfc822;a+2Bb+3Dc@dest.test"), s1.text()
    assert s2.commands[2] == ("RCPT TO:<new@dest.test> "
                              "ORCPT=rfc822;orig+2Bx@dest.test NOTIFY=NEVER"), \
        s2.text()


def test_orcpt_utf8_uxtext(ctx):
    """A UTF-8 recipient to a server with SMTPUTF8 and DSN: ORCPT has the
    utf-8 type and is uxtext-encoded (RFC 6533): each non-ASCII character
    becomes \\x{HEX} of its code point: ORCPT=utf-8;j\\x{F6}s\\x{E9}@dest.test,
    while RCPT TO carries the raw UTF-8."""
    srv = ctx.server(ehlo_keywords=SMTPUTF8_KEYWORDS + ["DSN"])
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtputf8_enable": "yes"})
    inst.inject(SENDER, [UTF8_RCPT], _utf8_message())
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    rcpt_raw = [d for who, d in s.transcript if who == "C"
                and d.startswith(b"RCPT")]
    ctx.note(repr(rcpt_raw))
    assert rcpt_raw == [b"RCPT TO:<" + UTF8_RCPT.encode() + b"> ORCPT=utf-8;"
                        b"j\\x{F6}s\\x{E9}@dest.test\r\n"], rcpt_raw
