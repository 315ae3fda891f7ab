#!/usr/bin/env python3
"""Issue 3: delivery to real receiving SMTP servers from Debian: a second
private Postfix instance's smtpd (storing to a Maildir through virtual(8)),
aiosmtpd (python3-aiosmtpd) and Exim 4.96 (exim4-daemon-light, unpacked by
tests/deps.sh), each receiving the message byte-exact.  Observed with
run.py --agent postfix."""

import re

import pfinstance

from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, assert_single)
from protocol_util import NO_RETRY, qmgr_size
from receivers import AioSMTPD, Exim, postfix_receiver

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



# ---------------------------------------------------------------------------
# Exim 4.96 (Debian 12's exim4-daemon-light) as the receiving server.  Exim
# keeps messages with LF line ends and writes its own Received header
# first; each Maildir copy is that header, the sender's Received header
# (2 lines), then the message exactly as injected.

EXIM_RCVD = re.compile(
    rb"Received: from \[127\.0\.0\.1\] \(port=\d+ helo=client\.test\)\n"
    rb"\tby exim\.test with esmtp \(Exim 4\.96\)\n"
    rb"\t\(envelope-from <sender@client\.test>\)\n"
    rb"\tid ([0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2})(?:\n"
    rb"\tfor (\S+))?;\n"
    rb"\t[A-Z][a-z]{2}, \d\d? [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4}\n")
EXIM_ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}"


def _first_header(data):
    """Split an LF message into (first header with its continuation lines,
    rest)."""
    lines = data.split(b"\n")
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\n".join(lines[:i]) + b"\n", b"\n".join(lines[i:])


def _exim_content(data, rcpt=None):
    """Check Exim's and the sender's Received headers of a stored copy;
    return (exim id, the rest)."""
    m = EXIM_RCVD.match(data)
    assert m, "not Exim's Received header: %r" % data[:300]
    if rcpt is not None:
        assert m.group(2) in (None, rcpt.encode()), m.group(0)
    ours, rest = _first_header(data[m.end():])
    assert re.match(rb"Received: by client\.test \(Postfix, from userid 0\)\n"
                    rb"\tid [0-9A-F]+; ", ours), ours
    return m.group(1).decode(), rest


def _exim_session(exim, count=1):
    s = exim.sessions()
    assert len(s) == count, "exim saw %d session(s): %s" % (len(s), s)
    return s


def test_exim_receives_byte_exact(ctx):
    """Exim (PIPELINING, SIZE 52428800, 8BITMIME, CHUNKING, SMTPUTF8)
    receives one copy for two recipients: its log shows the commands as
    sent (EHLO client.test, MAIL FROM with SIZE= the size qmgr logged and
    BODY=8BITMIME, one RCPT each in qmgr's order, DATA, QUIT: no BDAT),
    its "<=" line the envelope; each stored copy is the message as
    injected.  The agent logs "250 OK id=EXIMID" for both."""
    exim = Exim().register(ctx).start()
    inst = ctx.instance(relay_port=exim.port)
    msg = _msg("to exim")
    inst.inject(SENDER, ["bob@dest.test", "alice@dest.test"], msg,
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    size = qmgr_size(inst)
    ids = set()
    for u in ("alice", "bob"):
        [got] = exim.wait_messages(u)
        eid, rest = _exim_content(got)
        assert rest == msg, "stored message differs:\n%r\n%r" % (rest, msg)
        ids.add(eid)
    [eid] = ids
    assert _exim_session(exim) == [[
        "EHLO client.test",
        "MAIL FROM:<sender@client.test> SIZE=%d BODY=8BITMIME" % size,
        "RCPT TO:<alice@dest.test>", "RCPT TO:<bob@dest.test>",
        "DATA", "QUIT"]]
    exim.wait_log(r"\] %s <= sender@client\.test H=\(client\.test\) "
                  r"\[127\.0\.0\.1\]:\d+ I=\[127\.0\.0\.1\]:%d P=esmtp .*"
                  r"from <sender@client\.test> for alice@dest\.test "
                  r"bob@dest\.test$" % (eid, exim.port))
    for r in ("alice@dest.test", "bob@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=exim.port,
                                        reason=r"250 OK id=%s" % eid))
    assert not exim.grep_log(r"synchronization error|protocol error")
    assert exim.ehlo() == ["SIZE 52428800", "8BITMIME", "PIPELINING",
                           "PIPECONNECT", "CHUNKING", "SMTPUTF8", "HELP"]


def test_exim_no_pipelining_lockstep(ctx):
    """Exim without PIPELINING enforces lock-step (a client that sends
    ahead gets "554 SMTP synchronization error" and is dropped): the
    agent waits for each reply, the message arrives as injected."""
    exim = Exim(pipelining=False).register(ctx).start()
    inst = ctx.instance(relay_port=exim.port)
    msg = _msg("lockstep")
    inst.inject(SENDER, ["alice@dest.test", "bob@dest.test"], msg,
                extra_args=["-B", "8BITMIME"])
    inst.wait_queue_empty()
    for u in ("alice", "bob"):
        [got] = exim.wait_messages(u)
        assert _exim_content(got)[1] == msg
    [sess] = _exim_session(exim)
    assert sess[2:] == ["RCPT TO:<alice@dest.test>",
                        "RCPT TO:<bob@dest.test>", "DATA", "QUIT"], sess
    assert not exim.grep_log(r"synchronization error|protocol error")
    assert exim.ehlo() == ["SIZE 52428800", "8BITMIME", "CHUNKING",
                           "SMTPUTF8", "HELP"]
    for r in ("alice@dest.test", "bob@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=exim.port,
                                        reason=r"250 OK id=%s" % EXIM_ID))


def test_exim_rejects_one_recipient(ctx):
    """Exim's RCPT ACL refuses reject-me@dest.test with "550 5.1.1
    <reject-me@dest.test>: Recipient rejected by Exim ACL": that recipient
    bounced (dsn=5.1.1, in reply to RCPT TO), an NDR with the reply, the
    two others delivered in the same transaction."""
    exim = Exim().register(ctx).start()
    inst = ctx.instance(relay_port=exim.port)
    msg = _msg("partial")
    inst.inject(SENDER, ["alice@dest.test", "reject-me@dest.test",
                         "carol@dest.test"], msg)
    inst.wait_queue_empty()
    reply = ("550 5.1.1 <reject-me@dest.test>: Recipient rejected by Exim "
             "ACL")
    assert_single(inst, status_line(
        "reject-me@dest.test", "bounced", dsn=r"5\.1\.1", port=exim.port,
        reason=r"host %s said: %s \(in reply to RCPT TO command\)"
        % (RELAY, re.escape(reply))))
    for u in ("alice", "carol"):
        [got] = exim.wait_messages(u)
        assert _exim_content(got)[1] == msg
        assert_single(inst, status_line("%s@dest.test" % u, "sent",
                                        dsn=r"2\.0\.0", port=exim.port,
                                        reason=r"250 OK id=%s" % EXIM_ID))
    assert exim.messages("_other") == []
    [sess] = _exim_session(exim)
    assert sess[2:] == ["RCPT TO:<alice@dest.test>", "RCPT TO:<carol@dest.test>",
                        "RCPT TO:<reject-me@dest.test>", "DATA", "QUIT"], sess
    exim.wait_log(r"F=<sender@client\.test> rejected RCPT "
                  r"<reject-me@dest\.test>: 5\.1\.1 <reject-me@dest\.test>: "
                  r"Recipient rejected by Exim ACL$")
    exim.wait_log(r"<= sender@client\.test .* for alice@dest\.test "
                  r"carol@dest\.test$")
    [ndr] = inst.wait_mailbox(1)
    report = ndr.split(b"Content-Type: message/rfc822")[0].replace(
        b"\n    ", b" ")
    assert b"\nFinal-Recipient: rfc822; reject-me@dest.test\n" in report
    assert ("\nDiagnostic-Code: smtp; %s\n" % reply).encode() in report, ndr
    assert b"alice@dest.test" not in report and b"carol@" not in report


def test_exim_rejects_every_recipient(ctx):
    """Every RCPT refused by Exim: both bounced with Exim's text, nothing
    stored.  The pipelined DATA is answered "503 Valid RCPT command must
    precede DATA" (no DATA ACL runs, so Exim logs no DATA); the client
    then ends the transaction with RSET (Exim: "incomplete transaction
    (RSET) from <sender@client.test>") and QUIT."""
    exim = Exim().register(ctx).start()
    inst = ctx.instance(relay_port=exim.port)
    inst.inject(SENDER, ["reject1@dest.test", "reject2@dest.test"],
                _msg("all refused"))
    inst.wait_queue_empty()
    for r in ("reject1@dest.test", "reject2@dest.test"):
        reply = "550 5.1.1 <%s>: Recipient rejected by Exim ACL" % r
        assert_single(inst, status_line(
            r, "bounced", dsn=r"5\.1\.1", port=exim.port,
            reason=r"host %s said: %s \(in reply to RCPT TO command\)"
            % (RELAY, re.escape(reply))))
    inst.wait_mailbox(1)
    [sess] = _exim_session(exim)
    assert sess[2:] == ["RCPT TO:<reject1@dest.test>",
                        "RCPT TO:<reject2@dest.test>", "QUIT"], sess
    exim.wait_log(r"F=<sender@client\.test> rejected RCPT <reject2@dest\.test>")
    assert len(exim.grep_log(r"\] H=\(client\.test\) \[127\.0\.0\.1\]:\d+ "
                             r"I=\S+ incomplete transaction \(RSET\) from "
                             r"<sender@client\.test>$")) == 1
    assert not exim.grep_log(r" <= ")
    assert exim.messages("_other") == []


MIME_MSG = (
    "From: Sender <sender@client.test>\n"
    "To: <rcpt@dest.test>\n"
    "Subject: mime to exim\n"
    "Date: Wed, 25 Nov 2026 10:00:00 +0000\n"
    "Message-ID: <mime-exim@client.test>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\n"
    "\n"
    "This is a multi-part message.\n"
    "--b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "caf\u00e9 \u00fcber \u65e5\u672c\n"
    + "\u00e9" * 60 + " long 8-bit line\n"
    "trailing space \n"
    ".leading dot\n"
    "= equals sign\n"
    "--b1\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>caf\u00e9</p>\n"
    "--b1--\n"
    "epilogue\n").encode()


def _with_reference(ctx, exim, msg, args):
    """Deliver msg (sendmail args) to exim from the agent under test (to
    alice) and from Postfix's own smtp in a second instance (to bob);
    return (agent's copy, reference copy, agent's session, reference
    session, the size qmgr logged) once both are stored."""
    inst = ctx.instance(relay_port=exim.port)
    ref = pfinstance.Instance(agent="postfix", build=ctx.build,
                              chroot=ctx.chroot, relay_port=exim.port)
    ctx.instances.append(ref)
    ref.start()
    inst.inject(SENDER, ["alice@dest.test"], msg, extra_args=args)
    ref.inject(SENDER, ["bob@dest.test"], msg, extra_args=args)
    inst.wait_queue_empty()
    ref.wait_queue_empty()
    [mine] = exim.wait_messages("alice")
    [theirs] = exim.wait_messages("bob")
    sessions = {}
    for s in _exim_session(exim, 2):
        rcpts = [c for c in s if c.startswith("RCPT")]
        sessions[rcpts[0].split()[1]] = s
    assert_single(inst, status_line("alice@dest.test", "sent",
                                    dsn=r"2\.0\.0", port=exim.port,
                                    reason=r"250 OK id=%s" % EXIM_ID))
    return (_exim_content(mine)[1], _exim_content(theirs)[1],
            sessions["TO:<alice@dest.test>"],
            sessions["TO:<bob@dest.test>"], qmgr_size(inst))


def _mime_to_exim(ctx, eightbit):
    exim = Exim(eightbitmime=eightbit).register(ctx).start()
    return (exim,) + _with_reference(ctx, exim, MIME_MSG,
                                     ["-B", "8BITMIME"])


def test_exim_8bitmime_offered(ctx):
    """Exim announces 8BITMIME: MAIL FROM has SIZE= and BODY=8BITMIME, the
    8-bit message is stored unchanged, and Postfix's own smtp delivers the
    same bytes to the same Exim."""
    _, mine, theirs, sess, ref_sess, size = _mime_to_exim(ctx, True)
    assert mine == MIME_MSG, "content differs:\n%r" % mine
    assert mine == theirs
    assert sess[1] == ("MAIL FROM:<sender@client.test> SIZE=%d "
                       "BODY=8BITMIME" % size), sess
    assert sess[0] == ref_sess[0] and sess[1] == ref_sess[1], ref_sess


def test_exim_8bitmime_not_offered_downgrade(ctx):
    """Exim configured with accept_8bitmime = false announces no 8BITMIME
    (nor SMTPUTF8): the part declared 8bit arrives converted to
    quoted-printable (76-byte lines, soft breaks, "=20" before a line end,
    "=3D"), MAIL FROM carries neither SIZE= nor BODY=, and the stored bytes
    equal, byte for byte, what Postfix's own smtp delivers to the same
    Exim.  As Postfix, the part without a Content-Transfer-Encoding
    header (7bit by default) is sent as it is, 8-bit bytes and all."""
    exim, mine, theirs, sess, ref_sess, size = _mime_to_exim(ctx, False)
    assert mine == theirs, "differs from Postfix's smtp:\n%r\n%r" % (
        mine, theirs)
    assert sess == [c.replace("bob@", "alice@") for c in ref_sess], (
        sess, ref_sess)
    assert sess[1] == "MAIL FROM:<sender@client.test>", sess
    assert exim.ehlo() == ["SIZE 52428800", "PIPELINING", "PIPECONNECT",
                           "CHUNKING", "HELP"]
    assert b"\nContent-Transfer-Encoding: quoted-printable\n" in mine, mine
    assert b"caf=C3=A9 =C3=BCber =E6=97=A5=E6=9C=AC\n" in mine, mine
    assert b"trailing space=20\n" in mine, mine
    assert b"\n=3D equals sign\n" in mine, mine
    assert b"\nContent-Type: text/html; charset=utf-8\n\n<p>caf\xc3\xa9</p>\n" \
        in mine, mine
    part = mine.split(b"--b1\n")[1]
    assert all(b < 0x80 for b in part), "8-bit bytes left: %r" % part
    assert max(len(l) for l in part.split(b"\n")) <= 76, part


def _large_body():
    """About 2.4 MB of lines that dot-stuffing touches: a lone dot, two
    dots, dots before text, a 998-byte line starting with a dot."""
    pat = [".", "..", "...", ".x", ". ", "x.", "", "line %d",
           "." + "d" * 997, ".\t.", "end."]
    lines = []
    i = 0
    while len(lines) < 22000:
        p = pat[i % len(pat)]
        lines.append(p % i if "%d" in p else p)
        i += 1
    return lines


def test_exim_large_message_dot_stuffing(ctx):
    """A 2.4 MB message with thousands of lines starting with dots (and a
    lone "." line) reaches Exim byte-exact: SIZE= is what qmgr logged,
    Exim's log shows the message received and stored."""
    exim = Exim().register(ctx).start()
    inst = ctx.instance(relay_port=exim.port)
    msg = message("large dots", _large_body())
    assert len(msg) > 2000000
    inst.inject(SENDER, ["alice@dest.test"], msg)
    inst.wait_queue_empty(timeout=60)
    [got] = exim.wait_messages("alice", timeout=60)
    eid, rest = _exim_content(got, "alice@dest.test")
    assert rest == msg, "stored message differs (%d vs %d bytes)" % (
        len(rest), len(msg))
    size = qmgr_size(inst)
    [sess] = _exim_session(exim)
    assert sess[1] == "MAIL FROM:<sender@client.test> SIZE=%d" % size, sess
    exim.wait_log(r"%s => alice <alice@dest\.test> .*R=known T=maildir"
                  % eid)
    assert_single(inst, status_line("alice@dest.test", "sent",
                                    dsn=r"2\.0\.0", port=exim.port,
                                    reason=r"250 OK id=%s" % eid))



def test_exim_dsn_parameters(ctx):
    """Exim announcing DSN (dsn_advertise_hosts = *), sendmail -N
    success,delay,failure -R hdrs -V ENVID: the MAIL FROM and RCPT TO
    commands Exim logged carry RET=, ENVID=, NOTIFY= and ORCPT= exactly as
    Postfix's own smtp sends them to the same Exim, the message is stored
    unchanged, and Exim (asked for NOTIFY=SUCCESS) sends its own success
    notice to the sender, which its catch-all stores."""
    exim = Exim(dsn=True).register(ctx).start()
    msg = _msg("dsn to exim")
    mine, theirs, sess, ref_sess, size = _with_reference(
        ctx, exim, msg, ["-N", "success,delay,failure", "-R", "hdrs",
                         "-V", "env-id-42"])
    assert mine == msg and theirs == msg
    assert sess == [c.replace("bob@", "alice@") for c in ref_sess], (
        sess, ref_sess)
    assert sess[1] == ("MAIL FROM:<sender@client.test> SIZE=%d "
                       "ENVID=env-id-42 RET=HDRS" % size), sess
    assert sess[2] == ("RCPT TO:<alice@dest.test> ORCPT=rfc822;alice@dest."
                       "test NOTIFY=SUCCESS,FAILURE,DELAY"), sess
    notices = exim.wait_messages("_other", 2)
    for rcpt in ("alice@dest.test", "bob@dest.test"):
        assert len([n for n in notices if ("\nFinal-Recipient: rfc822;%s\n"
                                           % rcpt).encode() in n]) == 1, \
            notices
