#!/usr/bin/env python3
"""8BITMIME and MIME output conversion (issue 3, point 4).

Postfix 3.7's smtp(8) converts 8-bit content to quoted-printable when the
request's encoding is not 7bit (qmgr passes "8bit" for `sendmail -B
8BITMIME`), the server does not announce 8BITMIME and
disable_mime_output_conversion = no; it then also leaves SIZE= off the
MAIL FROM command.  Otherwise the content goes out as stored, with
BODY=8BITMIME when the server has 8BITMIME and the request says 8bit.

The corpus test delivers tests/fixtures/mime/*.eml and compares the bytes
with the golden files that Postfix's own smtp(8) produced (see
mimecorpus.py).  With --agent postern it is skipped until postern-smtp
contains the mime_state module (the hook in smtp_proto.c).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from common import SENDER, crlf, strip_received, assert_single
import mimecorpus
import mimefuzz
import pfinstance

NO_8BITMIME = ["PIPELINING", "ENHANCEDSTATUSCODES"]


def skip(reason):
    exc = getattr(sys.modules.get("__main__"), "Skip", None)
    if exc is None:
        from run import Skip as exc
    raise exc(reason)


def _need_downgrade(ctx):
    """Skip when the agent under test does not contain the MIME module."""
    if ctx.agent != "postern":
        return
    path = pfinstance.agent_paths("postern", ctx.build)[0]
    with open(path, "rb") as f:
        linked = b"mime_state: pop from an empty stack" in f.read()
    if not linked:
        skip("postern-smtp does not use mime_state yet (smtp_proto.c hook)")


def _eml(name):
    with open(os.path.join(mimecorpus.FIXTURES, name + ".eml"), "rb") as f:
        return f.read()


def test_mime_corpus_downgrade(ctx):
    """Every corpus message, byte for byte as Postfix 3.7 sends it to a
    server without 8BITMIME (the over-nested one: see below)."""
    _need_downgrade(ctx)
    names = [n for n in mimecorpus.corpus_names() if n != NESTED]
    out, _ = mimecorpus.deliver_corpus(ctx, ctx.agent, ctx.build, names)
    problems = []
    for name, (_recs, data, outcome) in sorted(out.items()):
        # The Received: header names this run's queue ID and date.
        problems += mimecorpus.compare(name, data, outcome,
                                       ignore_received=True)
    assert not problems, "\n".join(problems)


NESTED = "m12-nesting-limit"


def test_mime_nesting_bounce(ctx):
    """multipart nesting past mime_nesting_limit while downgrading: the
    message bounces with 5.6.0 "MIME nesting exceeds safety limit"; the
    server has received everything written before the parser gave up
    (Postfix flushes its output, then closes the connection without "."
    or QUIT)."""
    _need_downgrade(ctx)
    out, inst = mimecorpus.deliver_corpus(ctx, ctx.agent, ctx.build,
                                          [NESTED])
    _recs, data, outcome = out[NESTED]
    problems = mimecorpus.compare(NESTED, data, outcome,
                                  ignore_received=bool(data))
    if problems and outcome == "bounced 5.6.0 MIME nesting exceeds safety " \
            "limit":
        problems.append("(the agent must flush what it wrote before the "
                        "error, then close without \".\"; Postfix 3.7 "
                        "smtp_session_free() flushes before closing)")
    assert not problems, "\n".join(problems)
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: "
                  r"to=<m12-nesting-limit@dest\.test>, relay=127\.0\.0\.1"
                  r"\[127\.0\.0\.1\]:\d+, .*dsn=5\.6\.0, status=bounced "
                  r"\(MIME nesting exceeds safety limit\)$")


def test_mime_no_size_when_downgrading(ctx):
    """SIZE offered, 8BITMIME not: MAIL FROM carries no SIZE= (Postfix
    cannot know the size after conversion)."""
    _need_downgrade(ctx)
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE 10240000"])
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["rcpt@dest.test"], _eml("m01-8bit-plain"),
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    assert t.mail_line == "MAIL FROM:<%s>" % SENDER, t.mail_line
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in t.data


def test_mime_8bitmime_passthrough(ctx):
    """Server with 8BITMIME: BODY=8BITMIME, content unchanged."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    msg = _eml("m03-nested-rfc822")
    inst.inject(SENDER, ["rcpt@dest.test"], msg,
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    assert re.match(r"MAIL FROM:<%s> SIZE=\d+ BODY=8BITMIME$"
                    % re.escape(SENDER), t.mail_line), t.mail_line
    _, rest = strip_received(t.data)
    assert rest == crlf(msg), "content changed:\n%r\n%r" % (rest,
                                                             crlf(msg))


def test_mime_conversion_disabled(ctx):
    """disable_mime_output_conversion = yes: 8-bit content goes out as it
    is, without BODY=, even to a server without 8BITMIME."""
    srv = ctx.server(ehlo_keywords=NO_8BITMIME)
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"disable_mime_output_conversion": "yes"})
    msg = _eml("m02-alternative")
    inst.inject(SENDER, ["rcpt@dest.test"], msg,
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    assert t.mail_line == "MAIL FROM:<%s>" % SENDER, t.mail_line
    _, rest = strip_received(t.data)
    assert rest == crlf(msg), "content changed:\n%r\n%r" % (rest,
                                                             crlf(msg))


def test_mime_7bit_request_not_converted(ctx):
    """A request that says 7bit (sendmail -B 7BIT, with cleanup's
    detect_8bit_encoding_header = no so that the 8bit label does not
    override it) is not converted, whatever the content holds."""
    srv = ctx.server(ehlo_keywords=NO_8BITMIME)
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"detect_8bit_encoding_header": "no"})
    msg = _eml("m01-8bit-plain")
    inst.inject(SENDER, ["rcpt@dest.test"], msg, extra_args=["-B", "7BIT"])
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    assert rest == crlf(msg), "content changed:\n%r\n%r" % (rest,
                                                             crlf(msg))


def _differential(ctx, seed, count, deep, limits):
    tool = os.path.join(pfinstance.resolve_build(ctx.build), "tools",
                        "mime_convert")
    assert os.access(tool, os.X_OK), "%s not built (make unit)" % tool
    tmp = tempfile.mkdtemp(prefix="postern-mimefuzz-")
    try:
        mimefuzz.generate(seed, count, tmp, deep=deep)
        main_cf = {"mime_nesting_limit": str(limits[0]),
                   "mime_boundary_length_limit": str(limits[1])}
        out, _ = mimecorpus.deliver_corpus(ctx, ctx.agent, ctx.build,
                                           main_cf=main_cf, fixtures=tmp)
        problems = []
        for name, (recs, data, outcome) in sorted(out.items()):
            cp = subprocess.run([tool, "-r", "-N", str(limits[0]), "-B",
                                 str(limits[1])],
                                input=mimecorpus.encode_records(recs),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
            err = cp.stderr.decode("utf-8", "replace").strip()
            want = "sent" if cp.returncode == 0 else "bounced " + \
                err.replace("mime_convert: ", "", 1)
            if outcome != want:
                problems.append("%s: outcome %r, mime_convert %r"
                                % (name, outcome, want))
            if data != cp.stdout:
                problems.append("%s: %d bytes sent, mime_convert wrote %d"
                                % (name, len(data), len(cp.stdout)))
        if problems:
            ctx.note("messages kept in " + tmp)
            tmp = None
        assert not problems, "\n".join(problems)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def test_mime_random_differential(ctx):
    """Random messages (fixed seeds, see mimefuzz.py): what the agent
    sends to a server without 8BITMIME is what mime_convert makes of the
    same queue file records.  With --agent postfix this checks the
    converter against Postfix itself on structures nobody wrote by hand;
    with postern, that the agent uses it as Postfix would.  A second set
    favours deep nesting, with mime_nesting_limit = 2 and
    mime_boundary_length_limit = 6, so that some messages bounce."""
    _need_downgrade(ctx)
    if ctx.chroot == "y":
        skip("runs once per agent (chroot n)")
    _differential(ctx, 1, 40, False, (100, 2048))
    _differential(ctx, 11, 30, True, (2, 6))


def test_mime_smtputf8_implies_8bitmime(ctx):
    """A server that offers SMTPUTF8 but not 8BITMIME is taken to have
    8BITMIME (logged once): BODY=8BITMIME, nothing converted."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SMTPUTF8"])
    inst = ctx.instance(relay_port=srv.port)
    msg = _eml("m01-8bit-plain")
    inst.inject(SENDER, ["rcpt@dest.test"], msg,
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    assert t.mail_line == "MAIL FROM:<%s> BODY=8BITMIME" % SENDER, \
        t.mail_line
    _, rest = strip_received(t.data)
    assert rest == crlf(msg), "content changed"
    assert_single(inst, r"%s\[\d+\]: host 127\.0\.0\.1\[127\.0\.0\.1\] "
                  r"offers SMTPUTF8 support, but not 8BITMIME$"
                  % re.escape(ctx.smtp_ident))
