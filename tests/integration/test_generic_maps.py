#!/usr/bin/env python3
"""test_generic_maps - smtp_generic_maps / lmtp_generic_maps (issue 5):
the envelope (MAIL FROM, RCPT TO) and the address headers of the
message as the receiving server sees them, byte for byte.  Every
expectation was taken from Postfix 3.7.11's own smtp(8)/lmtp(8) (run.py
--agent postfix) and every test passes with it.

Facts shown here:
- lookup order user@domain, then (domain = $myorigin or $mydestination)
  the bare local part, then @domain; fixed-string tables get all of them,
  regexp/pcre tables only the full address;
- a value "@domain" keeps the user; any other value is made canonical by
  trivial-rewrite ("joe" -> "joe@$myorigin"); of several, the first is
  used with a "multi-valued" warning;
- recipient_delimiter: user+ext@domain matches user@domain, and the
  extension is dropped unless propagate_unmatched_extensions names
  "generic";
- only headers of the message itself that hold sender or recipient
  addresses are rewritten, and only a header with a rewritten address is
  rebuilt (comments kept, one address per line joined below 70 columns,
  tab-indented continuation lines); the body and attached messages are
  left alone;
- the log and the DSN ORCPT keep the original recipient;
- a table that cannot be used is fatal to the agent ("map lookup
  problem"): nothing is sent, the message stays queued.
"""

import os
import re
import subprocess

from common import SENDER, message, strip_received, status_line
from protocol_util import NO_RETRY
from test_maps import Dir


def _deliver(ctx, main_cf, rcpts, msg, server_kw=None, sender=SENDER,
             extra_args=()):
    srv = ctx.server(**(server_kw or {}))
    cf = dict(NO_RETRY)
    cf.update(main_cf)
    inst = ctx.instance(relay_port=srv.port, main_cf=cf)
    inst.inject(sender, list(rcpts), msg, extra_args=extra_args)
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    ctx.note(s.text())
    ctx.note(rest.decode("utf-8", "replace"))
    dump = os.environ.get("GENERIC_DUMP")
    if dump:
        with open("%s.%s" % (dump, ctx.agent), "wb") as f:
            f.write(s.text().encode() + b"\n=====\n" + rest)
    return inst, srv, s, rest


HEADERS = (
    b'From: "Sender, Name" <sender@client.test> (the sender)\n'
    b'Sender: sender@client.test (comment (nested) here)\n'
    b'To: rcpt@dest.test, "Other Guy" <r2@dest.test>,\n'
    b'\tundisclosed: a@x.test, sender@client.test;,\n'
    b'  (comment only)\n'
    b'Cc: keep@elsewhere.test,\n'
    b'    keep2@elsewhere.test\n'
    b'reply-to: list: ;, <sender@client.test>\n'
    b'Errors-To: <@hop.test:sender@client.test>\n'
    b'Disposition-Notification-To: sender@client.test\n'
    b'Mail-Followup-To: a1@x.test, a2@x.test, a3@x.test, a4@x.test, '
    b'a5@x.test, a6@x.test, a7@x.test, a8@x.test\n'
    b'X-Other: sender@client.test\n'
    b'Subject: for sender@client.test\n'
    b'Message-ID: <headers@client.test>\n'
    b'Date: Wed, 25 Nov 2026 10:00:00 +0000\n'
    b'MIME-Version: 1.0\n'
    b'Content-Type: multipart/mixed; boundary="BB"\n'
    b'\n'
    b'--BB\n'
    b'Content-Type: text/plain\n'
    b'\n'
    b'From: sender@client.test (a body line)\n'
    b'--BB\n'
    b'Content-Type: message/rfc822\n'
    b'\n'
    b'From: sender@client.test\n'
    b'To: rcpt@dest.test\n'
    b'Subject: attached\n'
    b'\n'
    b'attached body\n'
    b'--BB--\n')

HEADERS_OUT = (
    b'From: "Sender, Name" <public@example.com>(the sender)\r\n'
    b'Sender: public@example.com (comment (nested) here)\r\n'
    b'To: other@dest.test, "Other Guy" <second@example.com>,\r\n'
    b'\tundisclosed: a@xx.test, public@example.com;, (comment only)\r\n'
    b'Cc: keep@elsewhere.test,\r\n'
    b'    keep2@elsewhere.test\r\n'
    b'reply-to: list: ;, <public@example.com>\r\n'
    b'Errors-To: <public@example.com>\r\n'
    b'Disposition-Notification-To: public@example.com\r\n'
    b'Mail-Followup-To: a1@xx.test, a2@xx.test, a3@xx.test, a4@xx.test,\r\n'
    b'\ta5@xx.test, a6@xx.test, a7@xx.test, a8@xx.test\r\n'
    b'X-Other: sender@client.test\r\n'
    b'Subject: for sender@client.test\r\n'
    b'Message-ID: <headers@client.test>\r\n'
    b'Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n'
    b'MIME-Version: 1.0\r\n'
    b'Content-Type: multipart/mixed; boundary="BB"\r\n'
    b'\r\n'
    b'--BB\r\n'
    b'Content-Type: text/plain\r\n'
    b'\r\n'
    b'From: sender@client.test (a body line)\r\n'
    b'--BB\r\n'
    b'Content-Type: message/rfc822\r\n'
    b'\r\n'
    b'From: sender@client.test\r\n'
    b'To: rcpt@dest.test\r\n'
    b'Subject: attached\r\n'
    b'\r\n'
    b'attached body\r\n'
    b'--BB--\r\n')

HASH_TABLE = ("sender@client.test public@example.com\n"
              "rcpt@dest.test     other@dest.test\n"
              "r2@dest.test       second@example.com\n"
              "@x.test            @xx.test\n")


def test_generic_hash_headers_byte_exact(ctx):
    """A hash: table made with postmap: MAIL FROM, RCPT TO and the
    headers (folded lines, comments, nested comments, a group, an empty
    group, a route address, a lower-case header name, a long list that
    is refolded) exactly as Postfix's smtp sends them; the body, the
    MIME parts and the attached message are untouched."""
    d = Dir()
    try:
        src = d.write("generic", HASH_TABLE)
        subprocess.run(["postmap", "hash:" + src], check=True)
        inst, srv, s, rest = _deliver(
            ctx, {"smtp_generic_maps": "hash:" + src},
            ["rcpt@dest.test", "r2@dest.test"], HEADERS)
        assert s.commands[1].startswith("MAIL FROM:<public@example.com> "
                                        "SIZE="), s.text()
        assert s.commands[2:4] == ["RCPT TO:<second@example.com>",
                                   "RCPT TO:<other@dest.test>"], s.text()
        assert rest == HEADERS_OUT, rest
        # The log names the recipients as they were queued.
        for r in ("rcpt@dest.test", "r2@dest.test"):
            inst.wait_for_log(status_line(r, "sent", dsn=r"2\.0\.0",
                                          port=srv.port))
    finally:
        d.cleanup()


def test_generic_with_body_checks_mime_parsed(ctx):
    """With body checks the message is parsed as MIME (attached messages
    are recognised as such): the attached message's headers are still
    not rewritten, and the output is the same as without checks."""
    inst, _, _, rest = _deliver(
        ctx, {"smtp_generic_maps": "inline:{ sender@client.test="
              "public@example.com, rcpt@dest.test=other@dest.test,"
              " r2@dest.test=second@example.com, @x.test=@xx.test }",
              "smtp_body_checks": "regexp:{ {/^no such line$$/ WARN} }",
              "smtp_nested_header_checks":
              "regexp:{ {/^Subject: attached/ WARN nested} }"},
        ["rcpt@dest.test", "r2@dest.test"], HEADERS)
    assert rest == HEADERS_OUT, rest
    inst.wait_for_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: warning: header "
                      r"Subject: attached: nested$")


TRICKY = (
    b'From: ' + b'Very Long Phrase ' * 16 + b'<sender@client.test>\n'
    b'To: <rcpt (inside) @ dest.test>, "caf\xc3\xa9" <r2@dest.test>\n'
    b'Cc:\n'
    b'\trcpt@dest.test\n'
    b'Reply-To: ' + b', '.join(b'user%02d@x.test' % i for i in range(90))
    + b'\n'
    b'Subject: tricky\n'
    b'\n'
    b'body\n')


def test_generic_tricky_headers_byte_exact(ctx):
    """Harder headers, byte for byte as Postfix's smtp sends them: a
    phrase of more than 250 bytes (reduced to <address>, with a warning),
    a comment and blanks inside <> (the comment stays inside), an 8-bit
    phrase, a header whose
    value starts on a continuation line, and an address list longer
    than smtp_line_length_limit (one address per line, joined below 70
    columns)."""
    table = ("inline:{ sender@client.test=public@example.com,"
             " rcpt@dest.test=other@dest.test,"
             " r2@dest.test=second@example.com, @x.test=@xx.test }")
    # The 8-bit header makes sendmail's mail need SMTPUTF8.
    inst, _, _, rest = _deliver(
        ctx, {"smtp_generic_maps": table}, ["rcpt@dest.test"], TRICKY,
        server_kw={"ehlo_keywords": ["PIPELINING", "SIZE 10240000",
                                     "ENHANCEDSTATUSCODES", "8BITMIME",
                                     "SMTPUTF8"]})
    want = (b'From: <public@example.com>\r\n'
            b'To: <other@dest.test (inside)>, "caf\xc3\xa9" '
            b'<second@example.com>\r\n'
            b'Cc: other@dest.test\r\n')
    lines = [b'user%02d@xx.test' % i for i in range(90)]
    folded, cur = [], b'Reply-To: ' + lines[0] + b','
    for a in lines[1:]:
        piece = a + (b',' if a != lines[-1] else b'')
        if len(cur) + 1 + len(piece) - (1 if folded else 0) < 70:
            cur += b' ' + piece
        else:
            folded.append(cur)
            cur = b'\t' + piece
    folded.append(cur)
    want += b'\r\n'.join(folded) + b'\r\nSubject: tricky\r\n'
    assert rest.startswith(want), (rest, want)
    inst.wait_for_log(r"postfix/smtp\[\d+\]: warning: stripping too many "
                      r"comments from address: Very Long Phrase Very")


def test_generic_untouched_header_kept_as_is(ctx):
    """A header with no address in the table goes out exactly as it came
    (not rebuilt); a header with an address that the table maps to
    itself is rebuilt (folded lines joined)."""
    msg = (b'From: Sender <sender@client.test>\n'
           b'To: nobody@dest.test (c1),\n'
           b'\t  "odd  spacing" <rcpt@dest.test>\n'
           b'Cc: nobody@dest.test (c1),\n'
           b'\t  "odd  spacing" <other@dest.test>\n'
           b'Subject: x\n\nbody\n')
    _, _, s, rest = _deliver(
        ctx, {"smtp_generic_maps":
              "inline:{ rcpt@dest.test=rcpt@dest.test }"},
        ["rcpt@dest.test"], msg)
    assert s.commands[1].startswith("MAIL FROM:<sender@client.test>"), \
        s.text()
    assert rest.startswith(b'From: Sender <sender@client.test>\r\n'
                           b'To: nobody@dest.test (c1), "odd  spacing" '
                           b'<rcpt@dest.test>\r\n'
                           b'Cc: nobody@dest.test (c1),\r\n'
                           b'\t  "odd  spacing" <other@dest.test>\r\n'), rest


def test_generic_regexp_and_pcre(ctx):
    """regexp: and pcre: tables are asked the full address only; the
    value may use $1; an unqualified value gets @$myorigin."""
    for kind in ("regexp", "pcre"):
        d = Dir()
        try:
            src = d.write("generic", "/^(.*)@client\\.test$/ ${1}@public.test\n"
                          "/^rcpt@dest\\.test$/ joe\n")
            inst, srv, s, rest = _deliver(
                ctx, {"smtp_generic_maps": "%s:%s" % (kind, src)},
                ["rcpt@dest.test"], message(kind, ["hi"]))
            assert s.commands[1].startswith("MAIL FROM:<sender@public.test>"), \
                s.text()
            assert s.commands[2] == "RCPT TO:<joe@client.test>", s.text()
            assert rest.startswith(b"From: Sender <sender@public.test>\r\n"
                                   b"To: <joe@client.test>\r\n"), rest
        finally:
            d.cleanup()


def test_generic_localpart_and_at_domain(ctx):
    """The bare local part is a key when the domain is $myorigin (here
    client.test); "@domain" keys and values keep the user; of a
    multi-valued result the first address is used, with a warning."""
    msg = (b"From: sender@client.test\n"
           b"To: x@old.test, y@multi.test\n"
           b"Subject: local\n\nbody\n")
    inst, _, s, rest = _deliver(
        ctx, {"smtp_generic_maps":
              "inline:{ sender=public@example.com, @old.test=@new.test,"
              " {y@multi.test=first@m.test, second@m.test} }"},
        ["x@old.test", "y@multi.test"], msg)
    assert s.commands[1].startswith("MAIL FROM:<public@example.com>"), \
        s.text()
    # qmgr sorts the recipients by domain first.
    assert s.commands[2:4] == ["RCPT TO:<first@m.test>",
                               "RCPT TO:<x@new.test>"], s.text()
    assert rest.startswith(b"From: public@example.com\r\n"
                           b"To: x@new.test, first@m.test\r\n"), rest
    inst.wait_for_log(r"postfix/smtp\[\d+\]: warning: multi-valued "
                      r"smtp_generic_maps result for y@multi\.test$")


def test_generic_localpart_local_domains(ctx):
    """The bare local part is also a key for domains in $mydestination
    and for address literals of this host ([127.0.0.1] with
    inet_interfaces = loopback-only), never for other domains."""
    msg = (b"From: sender@client.test\n"
           b"To: rcpt@dest.test\n"
           b"Cc: joe@[127.0.0.1], joe@mydest.test, joe@other.test\n"
           b"Subject: local\n\nbody\n")
    _, _, _, rest = _deliver(
        ctx, {"smtp_generic_maps": "inline:{ joe=local-joe@example.com }",
              "mydestination": "mydest.test"},
        ["rcpt@dest.test"], msg)
    assert b"\r\nCc: local-joe@example.com, local-joe@example.com, " \
        b"joe@other.test\r\n" in rest, rest



def test_generic_localpart_mydestination_exact(ctx):
    """$mydestination is an exact-match list here (Postfix's
    resolve_local): no parent-domain or ".domain" matching, even with
    parent_domain_matches_subdomains at its default."""
    msg = (b"From: sender@client.test\n"
           b"To: rcpt@dest.test\n"
           b"Cc: joe@MyDest.test, joe@sub.mydest.test, joe@a.dot.test\n"
           b"Subject: local\n\nbody\n")
    _, _, _, rest = _deliver(
        ctx, {"smtp_generic_maps": "inline:{ joe=local-joe@example.com }",
              "mydestination": "mydest.test, .dot.test"},
        ["rcpt@dest.test"], msg)
    assert b"\r\nCc: local-joe@example.com, joe@sub.mydest.test, " \
        b"joe@a.dot.test\r\n" in rest, rest

def test_generic_address_extension(ctx):
    """recipient_delimiter = +: user+ext@domain matches user@domain;
    the extension is dropped by default and kept when
    propagate_unmatched_extensions names generic.  An "@domain" value
    keeps the whole local part."""
    msg = (b"From: sender@client.test\n"
           b"To: user+foo@dest.test, a+b@dest2.test\n"
           b"Subject: ext\n\nbody\n")
    table = ("inline:{ user@dest.test=other@dest.test,"
             " @dest2.test=@new.test }")
    for prop, rcpt, hdr in (
            ("canonical, virtual", "other@dest.test",
             b"To: other@dest.test, a+b@new.test\r\n"),
            ("canonical, virtual, generic", "other+foo@dest.test",
             b"To: other+foo@dest.test, a+b@new.test\r\n")):
        _, _, s, rest = _deliver(
            ctx, {"smtp_generic_maps": table, "recipient_delimiter": "+",
                  "propagate_unmatched_extensions": prop},
            ["user+foo@dest.test", "a+b@dest2.test"], msg)
        assert s.commands[2:4] == ["RCPT TO:<%s>" % rcpt,
                                   "RCPT TO:<a+b@new.test>"], s.text()
        assert b"\r\n" + hdr in b"\r\n" + rest, rest


def test_generic_quoted_local_part(ctx):
    """Keys are looked up in quoted form; values with a quoted local part
    are sent quoted on the wire and in headers."""
    msg = (b'From: "john doe"@client.test\n'
           b'To: rcpt@dest.test\n'
           b'Subject: quoted\n\nbody\n')
    _, _, s, rest = _deliver(
        ctx, {"smtp_generic_maps":
              'inline:{ {"john doe"@client.test="J. Doe"@example.com},'
              ' {rcpt@dest.test="r x"@dest.test} }'},
        ["rcpt@dest.test"], msg, sender='"john doe"@client.test')
    assert s.commands[1].startswith('MAIL FROM:<"J. Doe"@example.com>'), \
        s.text()
    assert s.commands[2] == 'RCPT TO:<"r x"@dest.test>', s.text()
    assert rest.startswith(b'From: "J. Doe"@example.com\r\n'
                           b'To: "r x"@dest.test\r\n'), rest


def test_generic_dsn_orcpt_and_log(ctx):
    """With DSN offered: RCPT TO has the rewritten address, ORCPT and
    the log keep the original one."""
    inst, srv, s, _ = _deliver(
        ctx, {"smtp_generic_maps": "inline:{ rcpt@dest.test=other@dest.test }"},
        ["rcpt@dest.test"], message("dsn", ["hi"]),
        server_kw={"ehlo_keywords": ["PIPELINING", "SIZE 10240000",
                                     "ENHANCEDSTATUSCODES", "8BITMIME",
                                     "DSN"]},
        extra_args=["-N", "success"])
    assert s.commands[2] == ("RCPT TO:<other@dest.test> "
                             "ORCPT=rfc822;rcpt@dest.test NOTIFY=SUCCESS"), \
        s.text()
    inst.wait_for_log(status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                  port=srv.port))


def test_generic_with_header_checks_and_downgrade(ctx):
    """With smtp_header_checks and a server without 8BITMIME (MIME
    downgrade), the header checks see the original header, the generic
    rewrite applies to the result, and the 8-bit body is converted."""
    msg = ("From: Sender <sender@client.test>\n"
           "To: rcpt@dest.test\n"
           "Subject: 8bit\n"
           "MIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: 8bit\n\n"
           "caf\u00e9\n").encode()
    inst, _, s, rest = _deliver(
        ctx, {"smtp_generic_maps":
              "inline:{ sender@client.test=public@example.com }",
              "smtp_header_checks":
              "regexp:{ {/^From: .*sender@client/ WARN seen} }"},
        ["rcpt@dest.test"], msg,
        server_kw={"ehlo_keywords": ["PIPELINING", "ENHANCEDSTATUSCODES"]},
        extra_args=["-B", "8BITMIME"])
    assert rest.startswith(b"From: Sender <public@example.com>\r\n"), rest
    assert b"caf=C3=A9\r\n" in rest, rest
    inst.wait_for_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: warning: header "
                      r"From: Sender <sender@client\.test>")


def test_generic_after_header_checks_replace(ctx):
    """A header replaced by smtp_header_checks (REPLACE) is rewritten in
    its new form; a header that the checks strip is gone."""
    msg = (b"From: Sender <sender@client.test>\n"
           b"To: rcpt@dest.test\n"
           b"Cc: sender@client.test\n"
           b"Subject: replace\n\nbody\n")
    inst, _, _, rest = _deliver(
        ctx, {"smtp_generic_maps":
              "inline:{ sender@client.test=public@example.com }",
              "smtp_header_checks":
              "regexp:{ {/^From:/ REPLACE From: Changed (c) "
              "<sender@client.test>}, {/^Cc:/ STRIP} }"},
        ["rcpt@dest.test"], msg)
    assert rest.startswith(b"From: Changed (c) <public@example.com>\r\n"
                           b"To: rcpt@dest.test\r\n"
                           b"Subject: replace\r\n"), rest


def test_generic_null_sender_unchanged(ctx):
    """The null sender is never looked up: MAIL FROM:<> even when the
    table would match "<>" or the empty string."""
    _, _, s, _ = _deliver(
        ctx, {"smtp_generic_maps":
              "inline:{ <>=nobody@example.com, @client.test=@x.test }"},
        ["rcpt@dest.test"], message("null", ["hi"]), sender="")
    assert s.commands[1].startswith("MAIL FROM:<> ") or \
        s.commands[1] == "MAIL FROM:<>", s.text()


def test_generic_lmtp(ctx):
    """lmtp_generic_maps does the same for LMTP (and smtp_generic_maps
    does not apply to it)."""
    srv = ctx.server(lmtp=True)
    cf = dict(NO_RETRY)
    cf["transport_maps"] = ("inline:{ lmtp.test=lmtp:inet:127.0.0.1:%d }"
                            % srv.port)
    cf["lmtp_generic_maps"] = ("inline:{ sender@client.test=lmtp@example.com,"
                               " ok@lmtp.test=box@lmtp.test }")
    cf["smtp_generic_maps"] = "inline:{ sender@client.test=smtp@example.com }"
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=cf)
    inst.inject(SENDER, ["ok@lmtp.test"], message("lmtp", ["hi"],
                                                   to="ok@lmtp.test"))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    [t] = srv.wait_transactions(1)
    assert s.commands[1].startswith("MAIL FROM:<lmtp@example.com>"), \
        s.text()
    assert s.commands[2] == "RCPT TO:<box@lmtp.test>", s.text()
    _, rest = strip_received(t.data)
    assert rest.startswith(b"From: Sender <lmtp@example.com>\r\n"
                           b"To: <box@lmtp.test>\r\n"), rest
    inst.wait_for_log(status_line("ok@lmtp.test", "sent", dsn=r"2\.0\.0",
                                  port=srv.port, ident="postfix/lmtp"))


def _fatal_case(ctx, spec, lines):
    srv = ctx.server()
    cf = dict(NO_RETRY)
    cf["smtp_generic_maps"] = spec
    inst = ctx.instance(relay_port=srv.port, main_cf=cf)
    inst.expect_trouble = True      # the agent's fatal exit is the point
    inst.fail_fast = False
    inst.inject(SENDER, ["rcpt@dest.test"], message("fatal", ["hi"]))
    for l in lines:
        inst.wait_for_log(l)
    # ... in this order.
    log = inst.log_lines()
    where = [next(i for i, x in enumerate(log) if re.search(l, x))
             for l in lines]
    assert where == sorted(where), (where, lines)
    inst.wait_for_log(r"postfix/master\[\d+\]: warning: process \S+/smtp "
                      r"pid \d+ exit status 1$")
    # Nothing was sent past EHLO, and the message is still queued.
    for s in srv.sessions:
        assert not any(c.startswith("MAIL") for c in s.commands), s.text()
    q = inst.queue()
    assert len(q) == 1 and [r["address"] for r in q[0]["recipients"]] == \
        ["rcpt@dest.test"], q
    assert not inst.grep_log(r"status=(sent|bounced)")


def test_generic_missing_table_is_fatal(ctx):
    """A hash: table whose .db file is missing: Postfix's smtp logs an
    error when it opens the table, the table as unavailable when it is
    used, then exits with "map lookup problem" at the
    first lookup (the sender); qmgr keeps the message."""
    _fatal_case(ctx, "hash:/nonexistent/generic", [
        r"postfix/smtp\[\d+\]: error: open database "
        r"/nonexistent/generic\.db: No such file or directory$",
        r"postfix/smtp\[\d+\]: warning: hash:/nonexistent/generic is "
        r"unavailable\. open database /nonexistent/generic\.db: No such "
        r"file or directory$",
        r"postfix/smtp\[\d+\]: warning: hash:/nonexistent/generic lookup "
        r"error for \"sender@client\.test\"$",
        r"postfix/smtp\[\d+\]: fatal: smtp_generic_maps map lookup problem "
        r"for sender@client\.test$"])


def test_generic_non_address_value_is_fatal(ctx):
    """A value that holds no address (only a comment) is a lookup
    problem too."""
    _fatal_case(ctx, "inline:{ {sender@client.test=(no address)} }", [
        r"postfix/smtp\[\d+\]: warning: smtp_generic_maps lookup of "
        r"sender@client\.test returns non-address result "
        r"\"\(no address\)\"$",
        r"postfix/smtp\[\d+\]: fatal: smtp_generic_maps map lookup problem "
        r"for sender@client\.test$"])
