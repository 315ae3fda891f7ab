#!/usr/bin/env python3
"""Issue 3: delivery to real receiving SMTP servers from Debian: a second
private Postfix instance's smtpd (storing to a Maildir through virtual(8))
and aiosmtpd (python3-aiosmtpd, a second SMTP implementation), each
receiving the message byte-exact.  Observed with run.py --agent postfix."""

import re

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, assert_single)
from protocol_util import NO_RETRY, qmgr_size
from receivers import AioSMTPD, postfix_receiver

# A body that exercises dot-stuffing, long lines, 8-bit text, blank lines
# and trailing white space.
BODY = ["First line.", ".one dot", "..two dots", ".", "", "  indented",
        "trailing space ", "tab\tinside", "caf\u00e9 \u00fcber \u65e5\u672c",
        "z" * 998, "last line"]


def _msg(subject):
    return message(subject, BODY).replace(b"charset=us-ascii",
                                          b"charset=utf-8")


def test_second_postfix_smtpd_receives_byte_exact(ctx):
    """A second private Postfix (smtpd on a loopback port, mydomain
    dest.test) stores both recipients' copies through virtual(8); each
    Maildir file is the receiver's Return-Path, X-Original-To,
    Delivered-To and Received
    headers, then the sender's Received header and the message exactly as
    injected.  The sending side logs status=sent with "250 2.0.0 Ok:
    queued as QID" of the receiver."""
    rinst, rport = postfix_receiver(ctx, users=("alice@dest.test",
                                                "bob@dest.test"))
    inst = ctx.instance(relay_port=rport)
    msg = _msg("to postfix")
    inst.inject(SENDER, ["alice@dest.test", "bob@dest.test"], msg)
    inst.wait_queue_empty()
    rinst.wait_queue_empty()
    m = inst.wait_for_log(status_line("alice@dest.test", "sent",
                                      dsn=r"2\.0\.0", port=rport,
                                      reason=r"250 2\.0\.0 Ok: queued as "
                                      r"([0-9A-F]+)"))
    rqid = re.search(r"queued as ([0-9A-F]+)\)$", m.string).group(1)
    assert rinst.grep_log(r"postfix/smtpd\[\d+\]: %s: client=localhost"
                          r"\[127\.0\.0\.1\]" % rqid)
    assert_single(inst, status_line("bob@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=rport,
                                    reason=r"250 2\.0\.0 Ok: queued as %s"
                                    % rqid))
    for u in ("alice", "bob"):
        [got] = rinst.wait_mailbox(1, box="dest.test/%s" % u)
        head = ("Return-Path: <%s>\nX-Original-To: %s@dest.test\n"
                "Delivered-To: %s@dest.test\nReceived: from client.test "
                "(localhost [127.0.0.1])\n\tby mx.dest.test (Postfix) with "
                "ESMTP id %s;\n" % (SENDER, u, u, rqid)).encode()
        assert got.startswith(head), got[:400]
        i = got.index(b"\nReceived: by client.test (Postfix, from userid 0)")
        rest = got[i + 1:]
        j = rest.index(b"\n", rest.index(b"\n") + 1)
        assert rest[j + 1:] == msg, "stored message differs:\n%r" % rest
    # The receiving smtpd logs what the client did: one session, EHLO,
    # MAIL, two RCPTs, DATA, QUIT.
    assert rinst.grep_log(r"postfix/smtpd\[\d+\]: disconnect from localhost"
                          r"\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=2 data=1 "
                          r"quit=1 commands=6$")


def test_second_postfix_smtpd_rejects(ctx):
    """The receiving Postfix rejects an unknown user of its virtual domain
    ("550 5.1.1 <nobody@dest.test>: Recipient address rejected: User
    unknown in virtual mailbox table"): bounced with that text, the other
    recipient delivered."""
    rinst, rport = postfix_receiver(ctx, users=("alice@dest.test",))
    inst = ctx.instance(relay_port=rport)
    inst.inject(SENDER, ["alice@dest.test", "nobody@dest.test"],
                _msg("reject"))
    inst.wait_queue_empty()
    reply = ("550 5.1.1 <nobody@dest.test>: Recipient address rejected: "
             "User unknown in virtual mailbox table")
    assert_single(inst, status_line(
        "nobody@dest.test", "bounced", dsn=r"5\.1\.1", port=rport,
        reason=r"host %s said: %s \(in reply to RCPT TO command\)"
        % (RELAY, re.escape(reply))))
    assert_single(inst, status_line("alice@dest.test", "sent",
                                    dsn=r"2\.0\.0", port=rport))
    rinst.wait_queue_empty()
    assert len(rinst.wait_mailbox(1, box="dest.test/alice")) == 1
    [ndr] = inst.wait_mailbox(1)
    assert b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@dest.test>" in ndr


def test_aiosmtpd_receives_byte_exact(ctx):
    """aiosmtpd (announces SIZE, 8BITMIME, SMTPUTF8; no PIPELINING): the
    stored DATA content is the sender's Received header plus the message,
    CRLF, byte-exact; the envelope has SIZE= and BODY=8BITMIME (the
    message is 8-bit and the server offers 8BITMIME)."""
    rcv = AioSMTPD()
    rcv.register(ctx).start()
    inst = ctx.instance(relay_port=rcv.port)
    msg = _msg("to aiosmtpd")
    inst.inject(SENDER, ["alice@dest.test", "bob@dest.test"], msg,
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    [(env, data)] = rcv.wait_messages(1)
    size = qmgr_size(inst)
    assert env["mail_from"] == SENDER, env
    assert env["rcpt_tos"] == ["alice@dest.test", "bob@dest.test"], env
    assert env["mail_options"] == ["SIZE=%d" % size, "BODY=8BITMIME"], env
    assert env["helo"] == "client.test", env
    received, rest = strip_received(data)
    assert received.startswith(b"Received: by client.test (Postfix, from "
                               b"userid 0)\r\n\tid "), received
    assert rest == crlf(msg), "content differs:\n%r\n%r" % (rest, crlf(msg))
    for r in ("alice@dest.test", "bob@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=rcv.port,
                                        reason=r"250 2\.0\.0 Ok: stored as "
                                        r"0001"))
