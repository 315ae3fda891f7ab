#!/usr/bin/env python3
"""Lookup tables consulted by the SMTP client during a session:
smtp_reply_filter, smtp_delivery_status_filter,
smtp_discard_ehlo_keyword_address_maps and smtp_pix_workaround_maps.
Every expectation was observed with Postfix's own smtp as well."""

import os

from common import SENDER, message, status_line
from protocol_util import NO_RETRY


def _table(inst, name, text):
    path = os.path.join(inst.etc, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def _instance(ctx, srv, settings, tables):
    """An instance whose main.cf names table files written before start."""
    inst = ctx.instance(relay_port=srv.port, start=False,
                        main_cf=dict(NO_RETRY))
    cf = {}
    for param, (fname, text) in tables.items():
        cf[param] = "regexp:" + _table(inst, fname, text)
    cf.update(settings)
    inst.set_main_cf(cf, reload=False)
    inst.start()
    return inst


def test_reply_filter_rewrites_server_replies(ctx):
    srv = ctx.server(rcpt_rules=[(r"^hard", "550 5.1.1 User unknown")])
    inst = _instance(ctx, srv, {}, {
        "smtp_reply_filter": ("reply_filter",
                              "/^550 5\\.1\\.1 (.*)/ 450 4.1.1 $1\n")})
    rcpt = "hard@dest.test"
    inst.inject(SENDER, [rcpt], message("reply filter", ["x"], to=rcpt))
    inst.wait_for_log(status_line(rcpt, "deferred", dsn=r"4\.1\.1",
                                  reason=r"host .* said: 450 4\.1\.1 User "
                                  r"unknown \(in reply to RCPT TO command\)"))
    assert inst.grep_log(r'replacing server reply "550 5\.1\.1 User unknown"'
                         r' with "450 4\.1\.1 User unknown"'), \
        "no replacement logged"


def test_delivery_status_filter_turns_bounce_into_deferral(ctx):
    srv = ctx.server(rcpt_rules=[(r"^hard", "550 5.1.1 User unknown")])
    inst = _instance(ctx, srv, {}, {
        "smtp_delivery_status_filter": (
            "dsn_filter", "/^5\\.1\\.1 (.*)/ 4.7.1 filtered: $1\n")})
    rcpt = "hard@dest.test"
    inst.inject(SENDER, [rcpt], message("dsn filter", ["x"], to=rcpt))
    inst.wait_for_log(status_line(rcpt, "deferred", dsn=r"4\.7\.1",
                                  reason=r"filtered: host .* said: 550 "
                                  r"5\.1\.1 User unknown .*"))
    assert not inst.grep_log(status_line(rcpt, "bounced")), "bounced"
    assert len(inst.queue()) == 1


def test_discard_ehlo_keyword_address_maps(ctx):
    srv = ctx.server(delay={"mail": 0.5})
    inst = _instance(ctx, srv, {}, {
        "smtp_discard_ehlo_keyword_address_maps": (
            "ehlo_discard", "/^127\\.0\\.0\\.1$/ pipelining, size\n")})
    rcpt = "rcpt@dest.test"
    inst.inject(SENDER, [rcpt], message("discard", ["x"], to=rcpt))
    inst.wait_for_log(status_line(rcpt, "sent"))
    assert inst.grep_log(r"postfix/smtp\[\d+\]: discarding EHLO keywords: "
                         r"PIPELINING SIZE$"), "no discard line"
    [t] = srv.wait_transactions(1)
    # no SIZE= on MAIL FROM, and lock-step: nothing pending after MAIL
    assert t.mail_line == "MAIL FROM:<%s>" % SENDER, t.mail_line
    [s] = srv.wait_sessions(1)
    assert not s.pending.get("mail"), s.pending


def test_pix_workaround_maps_select_workarounds(ctx):
    srv = ctx.server(greeting="220 *************************")
    inst = _instance(ctx, srv, {}, {
        "smtp_pix_workaround_maps": ("pix", "/^127\\./ disable_esmtp\n")})
    rcpt = "rcpt@dest.test"
    inst.inject(SENDER, [rcpt], message("pix", ["x"], to=rcpt))
    inst.wait_for_log(status_line(rcpt, "sent"))
    assert inst.grep_log(r"[0-9A-F]+: enabling PIX workarounds: "
                         r"disable_esmtp for 127\.0\.0\.1\[127\.0\.0\.1\]:\d+"
                         ), "no PIX line"
    [s] = srv.wait_sessions(1)
    cmds = [c.split()[0].upper() for c in s.commands]
    assert cmds[0] == "HELO", cmds


def test_header_and_body_checks_on_the_wire(ctx):
    """smtp_header_checks / smtp_body_checks (regexp files): REPLACE,
    IGNORE, PREPEND and STRIP change only the copy sent, and are logged
    as "QID: replace: header ...: TEXT"."""
    from common import crlf, strip_received
    srv = ctx.server()
    inst = _instance(ctx, srv, {}, {
        "smtp_header_checks": ("header_checks",
                               "/^Subject: secret/ REPLACE Subject: public\n"
                               "/^X-Internal:/ IGNORE\n"
                               "/^To:/ PREPEND X-Checked: yes\n"),
        "smtp_body_checks": ("body_checks",
                             "/^password=/ REPLACE password=xxx\n"
                             "/^drop me/ STRIP\n")})
    rcpt = "rcpt@dest.test"
    msg = message("secret plans", ["one", "password=hunter2", "drop me",
                                   "three"], to=rcpt).replace(
        b"MIME-Version", b"X-Internal: 42\nMIME-Version")
    inst.inject(SENDER, [rcpt], msg)
    inst.wait_for_log(status_line(rcpt, "sent"))
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    want = crlf(msg.replace(b"Subject: secret plans", b"Subject: public")
                .replace(b"X-Internal: 42\n", b"")
                .replace(b"To: <", b"X-Checked: yes\nTo: <")
                .replace(b"password=hunter2", b"password=xxx")
                .replace(b"drop me\n", b""))
    assert rest == want, "content:\n%r\n%r" % (rest, want)
    for what in (r"replace: header Subject: secret plans: Subject: public",
                 r"prepend: header To: <rcpt@dest\.test>: X-Checked: yes",
                 r"replace: body password=hunter2: password=xxx",
                 r"strip: body drop me"):
        assert inst.grep_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: %s$" % what), \
            what
