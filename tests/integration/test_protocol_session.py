#!/usr/bin/env python3
"""Issue 3, point 2 (RSET between transactions): a cached connection is
reused for the next message, as Postfix 3.7's smtp(8) does it.  Observed
with run.py --agent postfix."""

from common import SENDER, RELAY, message, status_line, assert_single
from protocol_util import NO_RETRY


def test_connection_reuse_two_messages(ctx):
    """smtp_connection_cache_destinations = 127.0.0.1: two messages
    released together go over one connection: EHLO once, then for each
    message MAIL/RCPT/DATA; the second delivery logs conn_use=2; observed
    command sequence asserted exactly."""
    srv = ctx.server(delay={"mail": 0.2})
    inst = ctx.instance(relay_port=srv.port, main_cf={
        "smtp_connection_cache_destinations": "127.0.0.1",
        "smtp_destination_concurrency_limit": "1",
        "header_checks": "regexp:{ {/^Subject: HOLD/ HOLD} }"})
    inst.inject(SENDER, ["a@dest.test"], message("HOLD one", ["1"]))
    inst.inject(SENDER, ["b@dest.test"], message("HOLD two", ["2"]))
    inst.wait_queue(lambda q: len(q) == 2 and all(
        m["queue_name"] == "hold" for m in q), what="hold queue")
    inst.release_all()
    inst.flush()
    inst.wait_queue_empty()
    ss = srv.wait_sessions(1, closed=False)
    ctx.note(srv.transcript_text())
    assert len(ss) == 1, "%d sessions" % len(ss)
    cmds = ss[0].commands
    assert cmds.count("EHLO client.test") == 1, cmds
    assert [c.split(" SIZE=")[0] for c in cmds if c.startswith("MAIL")] == \
        ["MAIL FROM:<%s>" % SENDER] * 2, cmds
    verbs = [c.split(":")[0].split(" ")[0] for c in cmds]
    assert verbs[:8] == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL",
                         "RCPT", "DATA"], verbs
    assert verbs[8:] in ([], ["QUIT"]), verbs
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: to=<[ab]@dest\.test>, "
                  r"relay=%s:%d, conn_use=2, " % (RELAY, srv.port))
