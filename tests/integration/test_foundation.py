#!/usr/bin/env python3
"""Foundation integration tests: one SMTP session to relayhost
[127.0.0.1]:PORT and what Postfix 3.7's smtp(8) does with its outcomes.
Every expectation here was observed with Postfix's own smtp
(run.py --agent postfix)."""

import os
import pwd
import time

from pfinstance import descendants
from protocol_util import NO_RETRY, qmgr_size, deferred_queue
from common import (SENDER, RELAY, message, crlf, strip_received,
                    assert_crlf_only, status_line, said, assert_single,
                    assert_none)


def test_deliver_one_recipient(ctx):
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    rcpt = "rcpt@dest.test"
    body = ["First line.",
            ".starts with one dot",
            "..starts with two dots",
            ".",
            "..",
            "last line"]
    msg = message("deliver one", body, to=rcpt)
    inst.inject(SENDER, [rcpt], msg)
    inst.wait_for_log(status_line(rcpt, "sent"))
    inst.wait_queue_empty()

    [t] = srv.wait_transactions(1)
    assert t.mail_from == SENDER, t.mail_line
    assert t.rcpt_to == [rcpt], t.rcpt_lines
    assert t.mail_line.startswith("MAIL FROM:<%s>" % SENDER), t.mail_line
    assert t.rcpt_lines == ["RCPT TO:<%s>" % rcpt], t.rcpt_lines

    assert_crlf_only(t.data_raw)
    received, rest = strip_received(t.data)
    assert received.startswith(b"Received: by client.test (Postfix"), received
    assert rest == crlf(msg), "content differs:\n%r\n%r" % (rest, crlf(msg))
    # Dot-stuffing on the wire: every line that starts with "." got one
    # more; unstuffed it equals the original.
    _, raw_rest = strip_received(t.data_raw)
    for line in body:
        wire = (b"." + line.encode()) if line.startswith(".") else line.encode()
        assert b"\r\n" + wire + b"\r\n" in raw_rest, \
            "line %r not sent as %r" % (line, wire)
    assert b"\r\n.\r\n" not in t.data_raw

    port = srv.port
    assert_single(inst, status_line(rcpt, "sent", dsn=r"2\.0\.0", port=port,
                                    reason=r"250 .*"), "sent line")
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: to=<rcpt@dest\.test>,"
                  r" relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, delay=[\d.]+, "
                  r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                  r"status=sent \(250 2\.0\.0 Ok: queued as TEST0001\)$" % port)
    [s] = srv.wait_sessions(1)
    assert s.client_quit, "client did not send QUIT:\n" + s.text()




def test_smtp_commands_in_order(ctx):
    """With PIPELINING and SIZE announced: EHLO $myhostname, MAIL FROM
    with SIZE=<queue file message size>, RCPT TO per recipient in qmgr's
    (sorted) order, DATA, QUIT."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["b@dest.test", "c@dest.test", "a@dest.test"]
    inst.inject(SENDER, rcpts, message("commands", ["hello"]))
    inst.wait_queue_empty()
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands == [
        "EHLO client.test",
        "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
        "RCPT TO:<a@dest.test>",
        "RCPT TO:<b@dest.test>",
        "RCPT TO:<c@dest.test>",
        "DATA",
        "QUIT"], "client commands:\n" + s.text()
    for r in rcpts:
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0",
                                        port=srv.port,
                                        reason=r"250 2\.0\.0 Ok: queued as "
                                        r"TEST0001"))


def test_helo_name(ctx):
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_helo_name": "helo.example"})
    inst.inject(SENDER, ["rcpt@dest.test"], message("helo name", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "EHLO helo.example", s.text()
    assert_single(inst, status_line("rcpt@dest.test", "sent", port=srv.port))


def test_ehlo_rejected_falls_back_to_helo(ctx):
    """502 to EHLO: the client sends HELO and then MAIL FROM without ESMTP
    parameters (no SIZE=)."""
    srv = ctx.server(replies={"ehlo": "502 5.5.2 Error: command not "
                              "recognized"})
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["rcpt@dest.test"], message("helo fallback", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands == ["EHLO client.test", "HELO client.test",
                          "MAIL FROM:<%s>" % SENDER, "RCPT TO:<rcpt@dest.test>",
                          "DATA", "QUIT"], s.text()
    assert_single(inst, status_line("rcpt@dest.test", "sent",
                                    dsn=r"2\.0\.0", port=srv.port))


def test_rcpt_451_deferred(ctx):
    reply = "451 4.3.0 <soft@dest.test>: Temporary lookup failure"
    srv = ctx.server(rcpt_rules=[(r"^soft", reply)])
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["soft@dest.test"], message("rcpt 451", ["hi"]))
    reason = said(reply, "RCPT TO")
    inst.wait_for_log(status_line("soft@dest.test", "deferred",
                                  dsn=r"4\.3\.0", port=srv.port,
                                  reason=reason))
    deferred_queue(inst, ["soft@dest.test"], reason)
    text = inst.queue_text()
    assert "Temporary lookup failure" in text, text
    assert "(in reply to RCPT TO command)" in text, text
    assert_single(inst, status_line("soft@dest.test", "deferred",
                                    dsn=r"4\.3\.0", port=srv.port,
                                    reason=reason))
    # Every RCPT was refused; the pipelined DATA was still sent, refused
    # by the server, and no content followed.
    [s] = srv.wait_sessions(1)
    assert "DATA" in s.commands, s.text()
    assert not srv.transactions(), "content was sent"
    assert s.commands[-1] == "QUIT", s.text()


def test_one_of_three_bounces(ctx):
    reply = ("550 5.1.1 <hard@dest.test>: Recipient address rejected: "
             "User unknown")
    srv = ctx.server(rcpt_rules=[(r"^hard@", reply)])
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["ok1@dest.test", "hard@dest.test", "ok2@dest.test"]
    msg = message("one bounces", ["hello"])
    inst.inject(SENDER, rcpts, msg)
    inst.wait_queue_empty()
    port = srv.port
    m = assert_single(inst, status_line("hard@dest.test", "bounced",
                                        dsn=r"5\.1\.1", port=port,
                                        reason=said(reply, "RCPT TO")))
    qid = m.group(1)
    for r in ("ok1@dest.test", "ok2@dest.test"):
        assert_single(inst, status_line(r, "sent", dsn=r"2\.0\.0", port=port))
    assert_single(inst, r"postfix/bounce\[\d+\]: %s: sender non-delivery "
                  r"notification: [0-9A-F]+$" % qid)
    [t] = srv.wait_transactions(1)
    assert t.rcpt_to == ["hard@dest.test", "ok1@dest.test", "ok2@dest.test"]
    assert t.accepted == ["ok1@dest.test", "ok2@dest.test"]
    _, rest = strip_received(t.data)
    assert rest == crlf(msg)

    [ndr] = inst.wait_mailbox(1)
    text = ndr.decode("utf-8", "replace")
    assert "Subject: Undelivered Mail Returned to Sender" in text
    # The DSN fields the bounce daemon built from the agent's report.
    for want in ("<hard@dest.test>: host 127.0.0.1[127.0.0.1] said: 550 "
                 "5.1.1 <hard@dest.test>:",
                 "Final-Recipient: rfc822; hard@dest.test",
                 "Original-Recipient: rfc822;hard@dest.test",
                 "Action: failed",
                 "Status: 5.1.1",
                 "Remote-MTA: dns; 127.0.0.1",
                 "Diagnostic-Code: smtp; 550 5.1.1 <hard@dest.test>: "
                 "Recipient address rejected:\n    User unknown",
                 "(in reply to RCPT TO command)"):
        assert want in text, "NDR lacks %r:\n%s" % (want, text)
    assert "ok1@dest.test" not in text.split("Undelivered Message")[0], \
        "NDR mentions a delivered recipient"


def test_connection_refused(ctx):
    port = ctx.free_port()
    inst = ctx.instance(relay_port=port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["rcpt@dest.test"], message("refused", ["hi"]))
    reason = r"connect to %s:%d: Connection refused" % (RELAY, port)
    inst.wait_for_log(status_line("rcpt@dest.test", "deferred",
                                  dsn=r"4\.4\.1", relay="none",
                                  reason=reason))
    assert_single(inst, r"postfix/smtp\[\d+\]: connect to 127\.0\.0\.1"
                  r"\[127\.0\.0\.1\]:%d: Connection refused$" % port)
    assert_single(inst, status_line("rcpt@dest.test", "deferred",
                                    dsn=r"4\.4\.1", relay="none",
                                    reason=reason))
    deferred_queue(inst, ["rcpt@dest.test"], reason)


def _session_failure(ctx, server_kw, reason, dsn=r"4\.4\.2", main_cf=None,
                     nrcpt=2, content_sent=False):
    """Deliver nrcpt recipients to a misbehaving server; every recipient
    is deferred with reason; return (inst, srv)."""
    srv = ctx.server(**server_kw)
    cf = dict(NO_RETRY)
    cf.update(main_cf or {})
    inst = ctx.instance(relay_port=srv.port, main_cf=cf)
    rcpts = ["r%d@dest.test" % i for i in range(1, nrcpt + 1)]
    inst.inject(SENDER, rcpts, message("session failure", ["hi"]))
    for r in rcpts:
        inst.wait_for_log(status_line(r, "deferred", dsn=dsn, port=srv.port,
                                      reason=reason))
    for r in rcpts:
        assert_single(inst, status_line(r, "deferred", dsn=dsn, port=srv.port,
                                        reason=reason))
    deferred_queue(inst, rcpts, reason)
    if not content_sent:
        assert not srv.transactions(), "a transaction completed"
    return inst, srv


def test_greeting_then_hangup(ctx):
    """220 greeting, then close: Postfix has sent EHLO and reads EOF."""
    _session_failure(ctx, dict(actions={"greeting": "hangup_after_reply"}),
                     r"lost connection with %s while performing the EHLO "
                     r"handshake" % RELAY)


def test_hangup_before_greeting(ctx):
    _session_failure(ctx, dict(actions={"greeting": "hangup"}),
                     r"lost connection with %s while receiving the initial "
                     r"server greeting" % RELAY)


def test_greeting_timeout(ctx):
    _session_failure(ctx, dict(actions={"greeting": "stall"}),
                     r"conversation with %s timed out while receiving the "
                     r"initial server greeting" % RELAY,
                     main_cf={"smtp_helo_timeout": "2s"})


def test_greeting_554_deferred(ctx):
    """A 5xx greeting is treated as a soft error (smtp_skip_5xx_greeting):
    the reply text is kept, the status becomes 4.x.x."""
    inst, srv = _session_failure(
        ctx, dict(greeting="554 5.3.2 No service for you"),
        r"host %s refused to talk to me: 554 5\.3\.2 No service for you"
        % RELAY, dsn=r"4\.3\.2")
    [s] = srv.wait_sessions(1)
    assert s.commands == ["QUIT"], s.text()


def test_hangup_after_end_of_data(ctx):
    inst, srv = _session_failure(
        ctx, dict(actions={"eod": "hangup"}),
        r"lost connection with %s while sending end of data -- message may "
        r"be sent more than once" % RELAY, content_sent=True)
    [t] = srv.wait_transactions(1)
    assert t.accepted == ["r1@dest.test", "r2@dest.test"]


def test_mail_from_550_bounces_all(ctx):
    reply = "550 5.7.1 <sender@client.test>: Sender address rejected"
    srv = ctx.server(replies={"mail": reply})
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["r1@dest.test", "r2@dest.test"]
    inst.inject(SENDER, rcpts, message("mail 550", ["hi"]))
    inst.wait_queue_empty()
    for r in rcpts:
        assert_single(inst, status_line(r, "bounced", dsn=r"5\.7\.1",
                                        port=srv.port,
                                        reason=said(reply, "MAIL FROM")))
    [ndr] = inst.wait_mailbox(1)
    for r in rcpts:
        assert ("Final-Recipient: rfc822; %s" % r).encode() in ndr
    assert b"(in reply to MAIL FROM command)" in ndr
    assert not srv.transactions()
    [s] = srv.wait_sessions(1)
    assert s.commands[-1] == "QUIT", s.text()


def test_end_of_data_554_bounces_all(ctx):
    reply = "554 5.7.1 Message content rejected"
    srv = ctx.server(replies={"eod": reply})
    inst = ctx.instance(relay_port=srv.port)
    rcpts = ["r1@dest.test", "r2@dest.test"]
    inst.inject(SENDER, rcpts, message("eod 554", ["hi"]))
    inst.wait_queue_empty()
    for r in rcpts:
        assert_single(inst, status_line(r, "bounced", dsn=r"5\.7\.1",
                                        port=srv.port,
                                        reason=said(reply, "end of DATA")))
    [ndr] = inst.wait_mailbox(1)
    assert b"(in reply to end of DATA command)" in ndr
    [t] = srv.wait_transactions(1)
    assert t.accepted == rcpts


def test_long_line_broken(ctx):
    """smtp_line_length_limit = 998 (3.7 default): a longer body line is
    sent as pieces of at most 998 bytes joined by CRLF SPACE (the space
    counts in the next piece's 998); 998-byte lines are left alone."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    long_line = "".join("%010d" % i for i in range(0, 5000, 10))
    assert len(long_line) == 5000
    body = ["short", long_line, "x" * 998, "y" * 999, "end"]
    msg = message("long line", body)
    inst.inject(SENDER, ["rcpt@dest.test"], msg)
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data_raw)
    lb = long_line.encode()
    want_long = (lb[0:998] + b"\r\n " + lb[998:1995] + b"\r\n " +
                 lb[1995:2992] + b"\r\n " + lb[2992:3989] + b"\r\n " +
                 lb[3989:4986] + b"\r\n " + lb[4986:])
    want = (b"\r\n\r\nshort\r\n" + want_long + b"\r\n" + b"x" * 998 +
            b"\r\n" + b"y" * 998 + b"\r\n " + b"y" + b"\r\nend\r\n")
    assert rest.endswith(want), "body on the wire:\n%r" % rest[-6000:]
    assert_crlf_only(t.data_raw)
    assert max(len(l) for l in t.data_raw.split(b"\r\n")) == 998
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: breaking line > 998 "
                  r"bytes with <CR><LF>SPACE$")
    assert_single(inst, status_line("rcpt@dest.test", "sent",
                                    dsn=r"2\.0\.0", port=srv.port))


def test_corrupt_queue_file(ctx):
    """A bad record type in the message content: the agent logs it,
    bounces the recipient (5.3.0 unreadable mail queue entry), drops the
    session without the final ".", marks the file corrupt (mode 0400), and
    qmgr moves it to corrupt/."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port, main_cf={
        "header_checks": "regexp:{ {/^Subject: HOLDME/ HOLD} }"})
    inst.inject(SENDER, ["rcpt@dest.test"],
                message("HOLDME corrupt", ["line one", "line two",
                                           "line three"]))
    inst.wait_for_log(r"postfix/cleanup\[\d+\]: [0-9A-F]+: hold: header "
                      r"Subject: HOLDME")
    [q] = inst.wait_queue(lambda q: len(q) == 1 and
                          q[0]["queue_name"] == "hold", what="hold queue")
    qid = q["queue_id"]
    path = inst.queue_file(qid, queues=("hold",))
    assert path, "no hold/%s" % qid
    with open(path, "r+b") as f:
        data = f.read()
        # N record "line two": change its type byte to 'Z' (90).  The file
        # keeps its length, so qmgr (which skips the content) sees nothing.
        i = data.index(b"N\x08line two")
        f.seek(i)
        f.write(b"Z")
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o700)
    inst.release_all()
    inst.flush()
    inst.wait_for_log(r"postfix/qmgr\[\d+\]: warning: saving corrupt file "
                      r"\"%s\" from queue \"active\" to queue \"corrupt\"$"
                      % qid)
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: %s: bad record type: "
                  r"90 in message content$" % qid)
    assert_single(inst, status_line("rcpt@dest.test", "bounced",
                                    dsn=r"5\.3\.0", port=srv.port,
                                    reason=r"unreadable mail queue entry"))
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: corrupted queue "
                  r"file: active/%s$" % qid)
    inst.wait_queue_empty()
    assert inst.corrupt_files() == [qid], inst.corrupt_files()
    cpath = inst.queue_file(qid, queues=("corrupt",))
    assert os.stat(cpath).st_mode & 0o777 == 0o400, oct(os.stat(cpath).st_mode)
    # The session was dropped after 354: no final ".", no QUIT.
    [s] = srv.wait_sessions(1)
    [t] = s.transactions
    assert t.data_started and not t.complete, s.text()
    assert not s.client_quit and s.eof, s.text()
    assert_none(inst, status_line("rcpt@dest.test", "sent"))


def test_lmtp_per_recipient_replies(ctx):
    """LMTP (transport lmtp:inet:127.0.0.1:PORT): LHLO, one reply per
    accepted recipient after the final dot."""
    srv = ctx.server(lmtp=True, lmtp_rules=[
        (r"^full@", "452 4.2.2 <full@lmtp.test>: Mailbox full")])
    cf = dict(NO_RETRY)
    cf["transport_maps"] = ("inline:{ lmtp.test=lmtp:inet:127.0.0.1:%d }"
                            % srv.port)
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=cf)
    msg = message("lmtp", ["hello"])
    inst.inject(SENDER, ["ok@lmtp.test", "full@lmtp.test"], msg)
    inst.wait_for_log(status_line("full@lmtp.test", "deferred",
                                  ident="postfix/lmtp"))
    inst.wait_for_log(status_line("ok@lmtp.test", "sent",
                                  ident="postfix/lmtp"))
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    assert s.commands == ["LHLO client.test",
                          "MAIL FROM:<%s> SIZE=%d" % (SENDER, size),
                          "RCPT TO:<full@lmtp.test>", "RCPT TO:<ok@lmtp.test>",
                          "DATA", "QUIT"], s.text()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    assert rest == crlf(msg)
    assert_single(inst, status_line(
        "ok@lmtp.test", "sent", dsn=r"2\.0\.0", port=srv.port,
        ident="postfix/lmtp",
        reason=r"250 2\.0\.0 <ok@lmtp\.test> Ok delivered"))
    assert_single(inst, status_line(
        "full@lmtp.test", "deferred", dsn=r"4\.2\.2", port=srv.port,
        ident="postfix/lmtp",
        reason=said("452 4.2.2 <full@lmtp.test>: Mailbox full",
                    "end of DATA")))
    deferred_queue(inst, ["full@lmtp.test"], r"Mailbox full")


def test_agent_process_chroot_and_user(ctx):
    """While the agent talks to the server, it runs as the postfix user
    (real, effective, saved, fs uids and gids), with the queue directory as
    its working directory, and chrooted there when master.cf says y."""
    srv = ctx.server(actions={"greeting": "stall"})
    inst = ctx.instance(relay_port=srv.port, main_cf=NO_RETRY)
    inst.inject(SENDER, ["rcpt@dest.test"], message("process", ["hi"]))
    srv.wait_sessions(1, closed=False)
    exe = os.path.realpath(inst.smtp_prog)
    deadline = time.time() + 10
    pids = []
    while not pids and time.time() < deadline:
        for pid in descendants(inst.master_pid):
            try:
                if os.path.realpath("/proc/%d/exe" % pid) == exe:
                    pids.append(pid)
            except OSError:
                pass
        time.sleep(0.1)
    assert len(pids) == 1, "agent processes (%s): %s" % (exe, pids)
    pid = pids[0]
    spool = os.path.realpath(inst.spool)
    root = os.readlink("/proc/%d/root" % pid)
    cwd = os.readlink("/proc/%d/cwd" % pid)
    assert root == (spool if ctx.chroot == "y" else "/"), \
        "agent root %s (chroot=%s)" % (root, ctx.chroot)
    assert cwd == spool, "agent cwd %s" % cwd
    pw = pwd.getpwnam("postfix")
    with open("/proc/%d/status" % pid) as f:
        status = dict(l.split(":", 1) for l in f.read().splitlines()
                      if ":" in l)
    uids = [int(x) for x in status["Uid"].split()]
    gids = [int(x) for x in status["Gid"].split()]
    assert uids == [pw.pw_uid] * 4, "uids %s" % uids
    assert gids == [pw.pw_gid] * 4, "gids %s" % gids
    groups = [int(x) for x in status["Groups"].split()]
    assert groups == [pw.pw_gid], "supplementary groups %s" % groups
