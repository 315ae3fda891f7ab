#!/usr/bin/env python3
"""General Postfix parameters that smtp(8) honours outside the SMTP
dialogue itself: tcp_windowsize and debug_peer_list/debug_peer_level.
Every test passes with --agent postfix."""

import re
import subprocess
import time

from common import SENDER, message, status_line, assert_none


def _client_skmem(port, timeout=10):
    """skmem of the agent's established connection to 127.0.0.1:port."""
    end = time.time() + timeout
    while time.time() < end:
        out = subprocess.run(
            ["ss", "-tmnH", "state", "established",
             "dst", "127.0.0.1:%d" % port],
            capture_output=True, text=True).stdout
        m = re.search(r"skmem:\(([^)]*)\)", out)
        if m:
            return dict(re.findall(r"([a-z]+)(\d+)", m.group(1)))
        time.sleep(0.05)
    raise AssertionError("no connection to port %d seen by ss" % port)


def test_tcp_windowsize_sets_socket_buffers(ctx):
    """tcp_windowsize = 4096: SO_SNDBUF and SO_RCVBUF of the connection
    are set before connect (Linux doubles the value: rb and tb 8192)."""
    srv = ctx.server(delay={"greeting": 3})
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"tcp_windowsize": "4096"})
    inst.inject(SENDER, ["a@dest.test"], message("window", ["hi"]))
    mem = _client_skmem(srv.port)
    ctx.note("skmem %r" % mem)
    assert mem.get("rb") == "8192" and mem.get("tb") == "8192", mem
    inst.wait_for_log(status_line("a@dest.test", "sent"))


def test_tcp_windowsize_default_leaves_buffers(ctx):
    srv = ctx.server(delay={"greeting": 3})
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["a@dest.test"], message("window", ["hi"]))
    mem = _client_skmem(srv.port)
    assert mem.get("rb") != "8192", mem
    inst.wait_for_log(status_line("a@dest.test", "sent"))
