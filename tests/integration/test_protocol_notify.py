#!/usr/bin/env python3
"""Postmaster notices with the session transcript (notify_classes).

When a session ends with an error of a class named in notify_classes,
smtp(8) mails error_notice_recipient the transcript of the session
through cleanup(8).  The SMTP client raises two classes: "protocol" (a
malformed reply, a failure code outside 4xx/5xx, 500-509, 555) and
"data" (a local lookup failure mid-session); never "resource" or
"software", so the default notify_classes sends nothing.

Each test runs its scenario with the agent under test and, side by side,
with Postfix's own smtp(8), and compares the notices (headers and body,
queue ids, dates and ports normalised) and whether there is one at all.
With --agent postfix the reference run is skipped: the explicit
assertions then check Postfix itself.  The instance delivers the notice
locally: postmaster@client.test is a virtual mailbox of the instance."""

import base64
import re

from common import SENDER, QID, message, status_line, said
from protocol_util import NO_RETRY

POSTMASTER = "postmaster@client.test"
DOUBLE_BOUNCE = "double-bounce@client.test"
BOXES = {SENDER: "client.test/sender/", POSTMASTER: "client.test/postmaster/"}
PM_BOX = "client.test/postmaster"
DATE_RE = (r"[A-Z][a-z]{2}, [ \d]\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d "
           r"[+-]\d{4} \([A-Za-z0-9+-]+\)")


def _run(ctx, agent, server_kw=None, main_cf=None, rcpts=("r1@dest.test",),
         sender=SENDER, msg=None, lmtp=False, service_opts=None):
    """One delivery attempt; returns (inst, srv, notices).  main_cf may be
    a function of the server, for settings that name its port.  The agent
    posts its notice before it answers the queue manager, so once qmgr
    is done with the message every notice is queued; then wait until
    they are delivered."""
    srv = ctx.server(lmtp=lmtp, **(server_kw or {}))
    cf = dict(NO_RETRY, notify_classes="protocol",
              error_notice_recipient=POSTMASTER)
    extra = None
    if lmtp:
        cf["transport_maps"] = ("inline:{ dest.test=lmtp:inet:127.0.0.1:%d }"
                                % srv.port)
    if service_opts:
        # Our own smtp service with -o options, used for every delivery.
        extra = "notesmtp   unix  -       -       %s       -       -       " \
                "smtp %s" % (ctx.chroot, " ".join(
                    "-o %s=%s" % kv for kv in service_opts.items()))
        cf["default_transport"] = "notesmtp"
    cf.update((main_cf(srv) if callable(main_cf) else main_cf) or {})
    inst = ctx.instance(relay_port=srv.port, main_cf=cf, vmailbox=BOXES,
                        agent=agent, master_cf_extra=extra)
    inst.inject(sender, list(rcpts), msg or message("notice test", ["hi"]))
    m = inst.wait_for_log(r"postfix/qmgr\[\d+\]: (%s): from=<%s>, size="
                          % (QID, re.escape(sender)))
    qid = m.group(1)
    inst.wait_queue(lambda q: all(e["queue_id"] != qid
                                  or e["queue_name"] == "deferred"
                                  for e in q), what="message %s done" % qid)
    inst.wait_queue(lambda q: all(e["sender"] != DOUBLE_BOUNCE for e in q),
                    what="notices delivered")
    return inst, srv, inst.mailbox(PM_BOX)


def _queue_ids(inst):
    """Every queue id in the log."""
    return set(re.findall(r"postfix/\w+\[\d+\]: ([0-9A-F]{6,}): ",
                          inst.log_text()))


def _normal(notice, inst, srv):
    """A notice (bytes) as text with the run-specific parts replaced."""
    text = notice.decode("utf-8", "replace")
    text = text.replace("]:%d" % srv.port, "]:PORT")
    text = text.replace(inst.dir, "DIR")
    text = re.sub(DATE_RE, "DATE", text)
    text = re.sub(r"<\d{14}\.", "<STAMP.", text)
    for qid in _queue_ids(inst):
        text = re.sub(r"\b%s\b" % qid, "QID", text)
    text = re.sub(r"SIZE=\d+", "SIZE=N", text)
    return text


def _agent_lines(inst, what):
    """The agent's log lines containing what, pid and ports normalised."""
    out = []
    for line in inst.log_lines():
        if re.search(r"postfix/(smtp|lmtp)\[", line) and what in line:
            line = re.sub(r"^.*?postfix/", "postfix/", line)
            line = re.sub(r"\[\d+\]: ", "[PID]: ", line)
            for qid in _queue_ids(inst):
                line = re.sub(r"\b%s\b" % qid, "QID", line)
            out.append(line)
    return out


def _compare(ctx, want_notice, secrets=(), **kw):
    """Run the scenario with the agent under test and with Postfix's smtp;
    both must send a notice (want_notice) or none, and the same one (the
    lines that are exactly one of secrets read "********" in Postern's).
    Returns (inst, srv, text of the agent's notice or None)."""
    inst, srv, notices = _run(ctx, None, **kw)
    texts = [_normal(n, inst, srv) for n in notices]
    ctx.note("notices from %s:\n%s" % (ctx.agent, "\n----\n".join(texts)))
    assert len(notices) == (1 if want_notice else 0), \
        "%d notice(s), wanted %d" % (len(notices), 1 if want_notice else 0)
    if ctx.agent != "postfix":
        ref, rsrv, rnotices = _run(ctx, "postfix", **kw)
        rtexts = [_normal(n, ref, rsrv) for n in rnotices]
        for secret in secrets:
            rtexts = [t.replace(" Out: %s\n" % secret, " Out: ********\n")
                      for t in rtexts]
        assert texts == rtexts, "notice differs from Postfix's:\n%s\n" \
            "---- Postfix:\n%s" % ("\n----\n".join(texts),
                                   "\n----\n".join(rtexts))
    return inst, srv, (texts[0] if texts else None)


def _body(text):
    """The transcript lines of a notice (after "Transcript ... follows.")."""
    body = text.split("\n\n", 1)[1]
    part = body.split("Transcript of session follows.\n\n", 1)[1]
    return part.split("\n\nFor other details")[0].split("\n")


# ----------------------------------------------------------------------
# What earns a notice

def test_notice_data_250_headers_and_transcript(ctx):
    """A 250 reply to DATA (a protocol error: the mail bounces with 5.5.0)
    makes a notice: Postfix's headers, the explanation and every command
    and reply line of the pipelined session in wire order, the content
    never, "QUIT" last (its reply is not read)."""
    inst, srv, text = _compare(ctx, True, server_kw=dict(
        replies={"data": "250 2.0.0 Ok"}),
        rcpts=("r1@dest.test", "r2@dest.test"))
    lines = text.split("\n")
    for want in ("Return-Path: <%s>" % DOUBLE_BOUNCE,
                 "Received: by client.test (Postfix)",
                 "\tid QID; DATE",
                 "Date: DATE",
                 "From: Mail Delivery System <MAILER-DAEMON@client.test>",
                 "To: Postmaster <%s>" % POSTMASTER,
                 "Subject: Postfix SMTP client: errors from "
                 "127.0.0.1[127.0.0.1]:PORT"):
        assert want in lines, "no %r in\n%s" % (want, text)
    assert "\n\nUnexpected response from 127.0.0.1[127.0.0.1]:PORT.\n\n" \
        "Transcript of session follows.\n\n" in text, text
    assert text.endswith("\n\nFor other details, see the local mail "
                         "logfile\n"), text
    assert _body(text) == [
        " In:  220 dest.test ESMTP postern-test-server",
        " Out: EHLO client.test",
        " In:  250-dest.test",
        " In:  250-PIPELINING",
        " In:  250-SIZE 10240000",
        " In:  250-ENHANCEDSTATUSCODES",
        " In:  250 8BITMIME",
        " Out: MAIL FROM:<sender@client.test> SIZE=N",
        " Out: RCPT TO:<r1@dest.test>",
        " Out: RCPT TO:<r2@dest.test>",
        " Out: DATA",
        " In:  250 2.1.0 Ok",
        " In:  250 2.1.5 Ok",
        " In:  250 2.1.5 Ok",
        " In:  250 2.0.0 Ok",
        " Out: RSET",
        " Out: QUIT",
        " In:  250 2.0.0 Ok"], text
    inst.wait_for_log(r"postfix/qmgr\[\d+\]: %s: from=<%s>, size=\d+, "
                      r"nrcpt=1 \(queue active\)" % (QID, DOUBLE_BOUNCE))


def test_notice_rcpt_501_but_not_550(ctx):
    """A recipient refused with 501 (a 500-509 code: syntax) earns a
    notice; a recipient refused with 550 does not (see the next test)."""
    inst, srv, text = _compare(ctx, True, server_kw=dict(rcpt_rules=[
        (r"^r1@", "501 5.1.3 Bad recipient address syntax")]),
        rcpts=("r1@dest.test", "r2@dest.test"))
    assert " In:  501 5.1.3 Bad recipient address syntax" in _body(text)
    inst.wait_for_log(status_line("r1@dest.test", "bounced", dsn=r"5\.1\.3",
                                  port=srv.port, reason=said(
                                      "501 5.1.3 Bad recipient address "
                                      "syntax", "RCPT TO")))
    inst.wait_for_log(status_line("r2@dest.test", "sent", port=srv.port))


def test_no_notice_rcpt_550(ctx):
    """550 for a recipient, 554 for the message: ordinary refusals, no
    notice."""
    _compare(ctx, False, server_kw=dict(
        rcpt_rules=[(r"^r1@", "550 5.1.1 User unknown")],
        replies={"eod": "554 5.7.1 Message content rejected"}),
        rcpts=("r1@dest.test", "r2@dest.test"))


def test_notice_mail_555(ctx):
    """MAIL FROM refused with 555 (RFC 1869: parameters not recognized):
    a notice, with the RSET and QUIT that follow."""
    _compare(ctx, True, server_kw=dict(replies={
        "mail": "555 5.5.4 Unsupported option: SIZE"}))


def test_notice_rcpt_451_soft_500(ctx):
    """A soft recipient refusal is no protocol error, a 500 is: the mail is
    deferred and bounced, and one notice covers the session."""
    _compare(ctx, True, server_kw=dict(rcpt_rules=[
        (r"^r1@", "451 4.3.0 Try later"), (r"^r2@", "500 5.5.2 What?")]),
        rcpts=("r1@dest.test", "r2@dest.test"))


def test_notice_garbage_reply_line(ctx):
    """A reply line that is not "ddd-" or "ddd " (here before the real
    RCPT reply) is a protocol error: the notice shows it."""
    inst, srv, text = _compare(ctx, True, server_kw=dict(rcpt_rules=[
        (r"^r1@", ["this is no reply", "250 2.1.5 Ok"])]))
    assert " In:  this is no reply" in _body(text), text


def test_notice_helo_refused_501_with_quit(ctx):
    """EHLO 500 then HELO 501: the server refuses to talk (deferred, 4.x
    for the handshake), a 500-509 code: the notice ends with the QUIT sent
    after the failed handshake and, with smtp_skip_quit_response = no,
    its reply."""
    inst, srv, text = _compare(ctx, True, server_kw=dict(replies={
        "ehlo": "500 5.5.1 Command unrecognized",
        "helo": "501 5.5.4 Syntax: HELO hostname",
        "quit": "221 2.0.0 Bye"}),
        main_cf={"smtp_skip_quit_response": "no"})
    assert _body(text)[-3:] == [" In:  501 5.5.4 Syntax: HELO hostname",
                                " Out: QUIT", " In:  221 2.0.0 Bye"], text


def test_no_notice_ehlo_502_helo_ok(ctx):
    """EHLO refused with 502, HELO accepted: no failure is reported, so
    there is no notice even though the transcript has a 5xx."""
    _compare(ctx, False, server_kw=dict(replies={
        "ehlo": "502 5.5.2 Error: command not recognized"}))


def test_no_notice_greeting_554(ctx):
    """A 554 greeting ("refused to talk to me") is not a protocol error."""
    _compare(ctx, False, server_kw=dict(replies={
        "greeting": "554 5.3.2 No service for you"}))


def test_notice_data_class_lookup_error(ctx):
    """A lookup table that fails mid-session (smtp_reply_filter = fail:x,
    asked for the greeting) is a "data" error: deferred as "local data
    error", with a notice when notify_classes names "data" (the transcript
    ends with the QUIT after the failed handshake), none with "protocol"
    only."""
    inst, srv, text = _compare(ctx, True, main_cf={
        "smtp_reply_filter": "fail:x", "notify_classes": "data"})
    # The session ends politely: the connection itself is fine.
    assert _body(text) == [" In:  220 dest.test ESMTP postern-test-server",
                           " Out: QUIT"], text
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.3\.0", port=srv.port,
        reason=r"local data error while talking to 127\.0\.0\.1"
        r"\[127\.0\.0\.1\]"))
    _compare(ctx, False, main_cf={"smtp_reply_filter": "fail:x"})


def test_notice_after_auth_hides_secrets(ctx):
    """After AUTH LOGIN, a protocol error: the transcript has "AUTH
    LOGIN", its 334 challenges and the 235; Postfix's has the user name
    and password in base64 where Postern's has "********" (a notice must
    not carry the password; Postern's only difference)."""
    user, password = "alice", "Wonder-pass-7"
    b64 = [base64.b64encode(t.encode()).decode() for t in (user, password)]

    def other(sess, text):
        n = getattr(sess, "auth_step", 0)
        sess.auth_step = n + 1
        return ("334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
                "235 2.7.0 Authentication successful")[min(n, 2)]
    inst, srv, text = _compare(ctx, True, secrets=b64, server_kw=dict(
        ehlo_keywords=["PIPELINING", "AUTH PLAIN LOGIN"],
        replies={"other": other, "data": "250 2.0.0 Ok"}),
        main_cf=lambda srv: {
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_mechanism_filter": "login",
            "smtp_sasl_password_maps": "inline:{ [127.0.0.1]:%d=%s:%s }"
                                       % (srv.port, user, password)})
    body = _body(text)
    i = body.index(" Out: AUTH LOGIN")
    want = [" In:  334 VXNlcm5hbWU6", " In:  334 UGFzc3dvcmQ6",
            " In:  235 2.7.0 Authentication successful"]
    if ctx.agent == "postern":
        assert body[i + 1:i + 6] == [want[0], " Out: ********", want[1],
                                     " Out: ********", want[2]], text
        for secret in b64 + [password]:
            assert secret not in text, text
    else:
        assert body[i + 1:i + 6] == [want[0], " Out: " + b64[0], want[1],
                                     " Out: " + b64[1], want[2]], text


# ----------------------------------------------------------------------
# notify_classes, senders, recipient

def test_no_notice_without_protocol_class(ctx):
    """notify_classes without "protocol" (the default "resource,
    software", or all the others the agent does not raise but "bounce",
    "2bounce" and "delay", whose notices come from bounce(8)): the same
    protocol error, no notice."""
    for classes in ("resource, software", "data,policy resource\tsoftware"):
        _compare(ctx, False, server_kw=dict(replies={
            "data": "250 2.0.0 Ok"}), main_cf={"notify_classes": classes})


def test_no_notice_for_null_or_double_bounce_sender(ctx):
    """Mail from <> or from the double-bounce address never causes a
    notice: no notice wars."""
    for sender in ("", DOUBLE_BOUNCE):
        _compare(ctx, False, server_kw=dict(replies={
            "data": "250 2.0.0 Ok"}), sender=sender)


def test_notice_default_recipient_obsolete_from(ctx):
    """error_notice_recipient = postmaster (the default: cleanup makes it
    postmaster@client.test, in the To: header too) and
    header_from_format = obsolete: "From: MAILER-DAEMON@client.test (Mail
    Delivery System)", "To: postmaster@client.test (Postmaster)"."""
    inst, srv, text = _compare(ctx, True, server_kw=dict(replies={
        "data": "250 2.0.0 Ok"}), main_cf={
        "error_notice_recipient": "postmaster",
        "header_from_format": "obsolete"})
    assert "\nFrom: MAILER-DAEMON@client.test (Mail Delivery System)\n" \
        in text, text
    assert "\nTo: postmaster@client.test (Postmaster)\n" in text, text


# ----------------------------------------------------------------------
# The transcript's form

def test_notice_long_lines_wrapped(ctx):
    """Transcript lines are folded at 78 columns at word boundaries, the
    continuation indented by four more spaces; a long word stays whole."""
    words = " ".join("word%d" % i for i in range(40))
    # Transcript lines ("In:  250-X-Enn ...") of 74 to 84 characters, the
    # last word "bb": around the break.
    edges = []
    for n in range(74, 85):
        head = "X-E%d " % n
        edges.append(head + "a" * (n - len("In:  250-") - len(head) - 3)
                     + " bb")
    inst, srv, text = _compare(ctx, True, server_kw=dict(
        ehlo_keywords=["PIPELINING", "X-WORDS " + words,
                       "X-LONGWORD " + "x" * 120,
                       "X-SPACES a   b  " + "c" * 70,
                       "X-TRAIL " + "t " * 40 + "   "] + edges,
        replies={"data": "250 2.0.0 Ok"}))
    body = _body(text)
    assert " In:  250-X-LONGWORD" in body and " " * 5 + "x" * 120 in body, \
        text


def test_notice_long_multiline_reply_cut(ctx):
    """line_length_limit = 512: a reply line is cut there, and reply lines
    stop being kept once the reply text reaches it."""
    long_ehlo = ["X-FILL%02d %s" % (i, "f" * 60) for i in range(12)]
    _compare(ctx, True, server_kw=dict(
        ehlo_keywords=["PIPELINING", "X-HUGE " + "h" * 700] + long_ehlo,
        replies={"data": "250 2.0.0 Ok"}),
        main_cf={"line_length_limit": "512"})


def test_notice_reply_filter_replaced_by(ctx):
    """A reply rewritten by smtp_reply_filter shows as the original line,
    then "Replaced-by:" and the new line."""
    inst, srv, text = _compare(ctx, True, main_cf={
        "smtp_reply_filter":
            "regexp:{ {/^250 2\\.1\\.5 Ok$$/ 354 not what you expected} }"})
    body = _body(text)
    i = body.index(" Replaced-by:")
    assert body[i - 1] == " In:  250 2.1.5 Ok", text
    assert body[i + 1] == "      354 not what you expected", text


def test_notice_nonprintable_and_utf8(ctx):
    """Reply bytes: control characters become "?", valid UTF-8 stays
    (smtputf8_enable), other 8-bit bytes become "?" (transcript and log)."""
    inst, srv, text = _compare(ctx, True, server_kw=dict(rcpt_rules=[
        (r"^r1@", [b"501 5.1.3 caf\xc3\xa9 \x01ctl \xffbad"])]))
    assert " In:  501 5.1.3 caf\u00e9 ?ctl ?bad" in _body(text), text
    inst.wait_for_log(status_line("r1@dest.test", "bounced", port=srv.port,
                                  reason=said("501 5.1.3 caf\u00e9 ?ctl ?bad",
                                              "RCPT TO")))


def test_notice_lmtp(ctx):
    """LMTP: "LMTP client" in the Subject, LHLO and one reply per
    recipient after the dot in the transcript."""
    inst, srv, text = _compare(ctx, True, lmtp=True, server_kw=dict(
        lmtp_rules=[(r"^r1@", "500 5.5.1 confused")]),
        rcpts=("r1@dest.test", "r2@dest.test"))
    assert "\nSubject: Postfix LMTP client: errors from 127.0.0.1" \
        "[127.0.0.1]:PORT\n" in text, text
    assert " Out: LHLO client.test" in _body(text), text


def _reused(ctx, agent):
    """Two held messages over one cached connection (in the order qmgr
    picks); the server answers the RCPT of the session's second
    transaction with 501.  Returns (inst, srv, notices)."""
    def second_bad(sess, addr):
        if len(sess.transactions) >= 2:
            return "501 5.1.3 Bad address"
        return "250 2.1.5 Ok"
    srv = ctx.server(rcpt_rules=[(r"@", second_bad)])
    cf = dict(NO_RETRY, notify_classes="protocol",
              error_notice_recipient=POSTMASTER,
              smtp_connection_cache_destinations="127.0.0.1",
              smtp_destination_concurrency_limit="1",
              header_checks="regexp:{ {/^Subject: HOLD/ HOLD} }")
    inst = ctx.instance(relay_port=srv.port, main_cf=cf, vmailbox=BOXES,
                        agent=agent)
    for r in ("a@dest.test", "b@dest.test"):
        inst.inject(SENDER, [r], message("HOLD %s" % r, ["body"], to=r))
    inst.wait_queue(lambda q: len(q) == 2 and all(
        m["queue_name"] == "hold" for m in q), what="hold queue")
    inst.release_all()
    inst.flush()
    inst.wait_for_log(r"postfix/smtp\[\d+\]: %s: to=<[ab]@dest\.test>, "
                      r".*, conn_use=2, .*status=bounced" % QID)
    inst.wait_queue(lambda q: all(e["sender"] != SENDER for e in q),
                    what="messages done")
    inst.wait_queue(lambda q: all(e["sender"] != DOUBLE_BOUNCE for e in q),
                    what="notices delivered")
    return inst, srv, inst.mailbox(PM_BOX)


def test_notice_reused_connection(ctx):
    """A protocol error in the second transaction of a cached connection:
    the notice has only what was said since the connection was taken
    from the cache (the RSET probe first), as in Postfix."""
    inst, srv, notices = _reused(ctx, None)
    texts = [re.sub(r"<[ab]@dest\.test>", "<X@dest.test>",
                    _normal(n, inst, srv)) for n in notices]
    ctx.note("\n----\n".join(texts))
    assert len(texts) == 1, len(texts)
    body = _body(texts[0])
    assert body[0] == " Out: RSET", texts[0]
    assert " In:  501 5.1.3 Bad address" in body, texts[0]
    if ctx.agent != "postfix":
        ref, rsrv, rnotices = _reused(ctx, "postfix")
        rtexts = [re.sub(r"<[ab]@dest\.test>", "<X@dest.test>",
                         _normal(n, ref, rsrv)) for n in rnotices]
        assert texts == rtexts, "notice differs from Postfix's:\n%s\n" \
            "---- Postfix:\n%s" % ("\n".join(texts), "\n".join(rtexts))


# ----------------------------------------------------------------------
# A notice that cannot be posted

def test_notice_cleanup_unreachable(ctx):
    """cleanup_service_name pointing nowhere (for the agent only): the
    agent logs why, and the delivery's outcome is as without notices."""
    inst, srv, _ = _compare(ctx, False, server_kw=dict(
        replies={"data": "250 2.0.0 Ok"}),
        service_opts={"cleanup_service_name": "nowhere"})
    got = _agent_lines(inst, "warning")
    want = ["postfix/smtp[PID]: warning: connect to public/nowhere: "
            "No such file or directory",
            "postfix/smtp[PID]: warning: postmaster notify: No such file "
            "or directory"]
    assert got == want, got
    inst.wait_for_log(status_line(
        "r1@dest.test", "bounced", dsn=r"5\.5\.0", port=srv.port, reason=r"Protocol error: host .*"))
