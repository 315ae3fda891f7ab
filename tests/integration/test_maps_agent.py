"""test_maps_agent - lookup tables as the agent uses them, through the
real qmgr, chrooted and not (run with --agent postfix too: Postfix's own
smtp behaves the same).

- a proxy:regexp: table outside the chroot (smtp_reply_filter), read
  through proxymap(8);
- a hash: table that is rebuilt between two deliveries: the agent logs
  "table hash:FILE has changed -- restarting" before taking the next
  request, and the second delivery is made by a fresh process.
"""

import os
import re
import subprocess
import time

from common import SENDER, message, pending, status_line, said
from protocol_util import NO_RETRY, deferred_queue
from test_maps import Dir


def test_maps_agent_proxy_table(ctx):
    d = Dir()
    try:
        rx = d.write("reply_filter",
                     "/^550 5\\.1\\.1 no such user$/ 450 4.1.1 try later\n")
        spec = "proxy:regexp:" + rx
        srv = ctx.server(rcpt_rules=[(r"^r1@", "550 5.1.1 no such user")])
        cf = dict(NO_RETRY)
        cf.update({"smtp_reply_filter": spec, "proxy_read_maps": spec})
        inst = ctx.instance(relay_port=srv.port, main_cf=cf)
        inst.inject(SENDER, ["r1@dest.test"], message("proxy", ["hello"]))
        inst.wait_for_log(status_line(
            "r1@dest.test", "deferred", dsn=r"4\.1\.1", port=srv.port,
            reason=said("450 4.1.1 try later", "RCPT TO")))
        deferred_queue(inst, ["r1@dest.test"], "450 4.1.1 try later")
    finally:
        d.cleanup()


def _restart_case(ctx, flags_re):
    d = Dir()
    try:
        src = d.write("discard", "127.0.0.1 dsn\n")
        subprocess.run(["postmap", "hash:" + src], check=True)
        srv = ctx.server()
        inst = ctx.instance(relay_port=srv.port, main_cf={
            "smtp_discard_ehlo_keyword_address_maps": "hash:" + src,
            # One process for both deliveries, so the restart is visible.
            "max_idle": "300s"})
        inst.inject(SENDER, ["a@dest.test"], message("one", ["hello"]))
        inst.wait_for_log(status_line("a@dest.test", "sent", port=srv.port))
        assert "has changed" not in inst.log_text()
        time.sleep(1.1)     # mtime has one-second resolution
        d.write("discard", "127.0.0.1 pipelining\n")
        subprocess.run(["postmap", "hash:" + src], check=True)
        inst.inject(SENDER, ["b@dest.test"], message("two", ["hello"]))
        # Postfix names the table as registered: with its open flags.
        inst.wait_for_log(r"postfix/smtp\[\d+\]: table hash:%s\(0,%s\) "
                          r"has changed -- restarting" % (re.escape(src),
                                                          flags_re),
                          timeout=10)
        inst.wait_for_log(status_line("b@dest.test", "sent", port=srv.port))
    finally:
        d.cleanup()


def test_maps_agent_restart_on_table_change(ctx):
    """The table is rebuilt: the agent restarts before the next request."""
    _restart_case(ctx, r"[a-z0-9_|]+")


def test_maps_agent_restart_names_table_as_postfix(ctx):
    """Postfix logs the table with the flags its smtp opened it with."""
    _restart_case(ctx, r"lock")
