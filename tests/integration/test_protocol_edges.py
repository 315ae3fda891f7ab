#!/usr/bin/env python3
"""Issue 3: reply parsing and session failures in the middle of a
transaction, as Postfix 3.7's smtp(8) reports them (multi-line replies,
421 mid-session, hang-ups and timeouts at each pipelined stage, replies
with unexpected codes).  Observed with run.py --agent postfix."""

from common import (SENDER, RELAY, message, status_line, said,
                    assert_single, assert_none)
from protocol_util import NO_RETRY, deferred_queue


def _one(ctx, server_kw, main_cf=None, rcpts=("r1@dest.test",)):
    srv = ctx.server(**server_kw)
    cf = dict(NO_RETRY)
    cf.update(main_cf or {})
    inst = ctx.instance(relay_port=srv.port, main_cf=cf)
    inst.inject(SENDER, list(rcpts), message("edge", ["hello"]))
    return inst, srv


def test_multiline_rcpt_reply_joined(ctx):
    """A multi-line 550 reply to RCPT: the log and NDR reason join the
    lines with a space, each line keeping its code: "550-5.1.1 first line
    550 5.1.1 second line"; the status comes from the first line."""
    reply = "550-5.1.1 first line\n550 5.1.1 second line"
    inst, srv = _one(ctx, dict(rcpt_rules=[(r"^r1@", reply)]))
    inst.wait_queue_empty()
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.1\.1", port=srv.port,
        reason=r"host %s said: 550-5\.1\.1 first line 550 5\.1\.1 second "
        r"line \(in reply to RCPT TO command\)" % RELAY))


def test_421_at_rcpt_then_close(ctx):
    """421 to the first RCPT and the server closes: that recipient is
    deferred with the 421 text (dsn 4.4.2), the next one with "lost
    connection with HOST[ADDR] while sending RCPT TO"; no content."""
    reply = "421 4.4.2 dest.test Error: timeout exceeded"
    inst, srv = _one(ctx, dict(replies={"rcpt": reply},
                               actions={"rcpt": "hangup_after_reply"}),
                     rcpts=("r1@dest.test", "r2@dest.test"))
    for r in ("r1@dest.test", "r2@dest.test"):
        inst.wait_for_log(status_line(r, "deferred", port=srv.port))
    deferred_queue(inst, ["r1@dest.test", "r2@dest.test"], r".")
    assert_single(inst, status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=said(reply, "RCPT TO")))
    assert_single(inst, status_line(
        "r2@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"lost connection with %s while sending RCPT TO" % RELAY))
    assert not srv.transactions()


def test_hangup_at_rcpt(ctx):
    """The server closes instead of answering the first RCPT: "lost
    connection with HOST[ADDR] while sending RCPT TO"."""
    inst, srv = _one(ctx, dict(actions={"rcpt": "hangup"}))
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"lost connection with %s while sending RCPT TO" % RELAY))


def test_hangup_at_data(ctx):
    """The server closes instead of answering DATA: "lost connection with
    HOST[ADDR] while sending DATA command"."""
    inst, srv = _one(ctx, dict(actions={"data": "hangup"}))
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"lost connection with %s while sending DATA command"
        % RELAY))


def test_hangup_at_mail(ctx):
    """The server closes instead of answering MAIL FROM: "lost connection
    with HOST[ADDR] while sending MAIL FROM"."""
    inst, srv = _one(ctx, dict(actions={"mail": "hangup"}))
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"lost connection with %s while sending MAIL FROM" % RELAY))


def test_stall_at_mail_timeout(ctx):
    """No reply to MAIL FROM within smtp_mail_timeout (2s): "conversation
    with HOST[ADDR] timed out while sending MAIL FROM"."""
    inst, srv = _one(ctx, dict(actions={"mail": "stall"}, stall_timeout=30),
                     main_cf={"smtp_mail_timeout": "2s"})
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"conversation with %s timed out while sending MAIL FROM"
        % RELAY))


def test_stall_at_eod_timeout(ctx):
    """No reply to the final dot within smtp_data_done_timeout (2s):
    "conversation with HOST[ADDR] timed out while sending end of data --
    message may be sent more than once"."""
    inst, srv = _one(ctx, dict(actions={"eod": "stall"}, stall_timeout=30),
                     main_cf={"smtp_data_done_timeout": "2s"})
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.4\.2", port=srv.port,
        reason=r"conversation with %s timed out while sending end of data "
        r"-- message may be sent more than once" % RELAY))


def test_4xx_greeting_deferred(ctx):
    """A 421 greeting: deferred, "host HOST[ADDR] refused to talk to me:
    421 ..."; only QUIT is sent."""
    reply = "421 4.3.2 Service shutting down"
    inst, srv = _one(ctx, dict(greeting=reply))
    inst.wait_for_log(status_line(
        "r1@dest.test", "deferred", dsn=r"4\.3\.2", port=srv.port,
        reason=r"host %s refused to talk to me: 421 4\.3\.2 Service "
        r"shutting down" % RELAY))
    [s] = srv.wait_sessions(1)
    assert s.commands == ["QUIT"], s.text()


def test_mail_reply_354_protocol_error(ctx):
    """A 354 reply to MAIL FROM (a code MAIL never gets): the recipient
    bounces with dsn=5.5.0 (a 3xx reply has no usable status) and the
    plain reason "host ... said: 354 go ahead (in reply to MAIL FROM
    command)" (no "Protocol error:" prefix, unlike a 250 to DATA)."""
    inst, srv = _one(ctx, dict(replies={"mail": "354 go ahead"}))
    m = inst.wait_for_log(status_line("r1@dest.test", r"\w+", port=srv.port))
    ctx.note(m.string)
    inst.wait_queue(lambda q: not q or q[0]["queue_name"] == "deferred")
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.5\.0", port=srv.port,
        reason=r"host %s said: 354 go ahead \(in reply to MAIL FROM "
        r"command\)" % RELAY))


def test_eod_reply_multiline_queue_id(ctx):
    """A multi-line 250 after the dot: the whole reply, joined with
    spaces, is the reason of the sent line."""
    inst, srv = _one(ctx, dict(replies={
        "eod": "250-2.0.0 Ok\n250 2.0.0 queued as XYZ"}))
    inst.wait_queue_empty()
    assert_single(inst, status_line(
        "r1@dest.test", "sent", dsn=r"2\.0\.0", port=srv.port,
        reason=r"250-2\.0\.0 Ok 250 2\.0\.0 queued as XYZ"))


def test_reply_without_text(ctx):
    """A bare "550" to RCPT (no text): dsn=5.0.0, reason "host HOST[ADDR]
    said: 550 (in reply to RCPT TO command)"."""
    inst, srv = _one(ctx, dict(rcpt_rules=[(r"^r1@", "550")]))
    inst.wait_queue_empty()
    assert_single(inst, status_line(
        "r1@dest.test", "bounced", dsn=r"5\.0\.0", port=srv.port,
        reason=r"host %s said: 550 \(in reply to RCPT TO command\)" % RELAY))
