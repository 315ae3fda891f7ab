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


def _debug_peer(ctx, peers, **cf):
    srv = ctx.server()
    main_cf = {"debug_peer_list": peers}
    main_cf.update(cf)
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, ["a@dest.test"], message("debug peer", ["hi"]))
    inst.wait_for_log(status_line("a@dest.test", "sent"))
    return inst, srv


# The verbose trace of the dialogue: "> host[addr]:port: MAIL FROM:<...>".
VERBOSE_MAIL = (r"postfix/smtp\[\d+\]: > 127\.0\.0\.1\[127\.0\.0\.1\]:%d: "
                r"MAIL FROM:<sender@client\.test>")


def test_debug_peer_list_address(ctx):
    inst, srv = _debug_peer(ctx, "192.0.2.1, 127.0.0.0/8")
    inst.wait_for_log(VERBOSE_MAIL % srv.port)


def test_debug_peer_list_bracketed_address(ctx):
    inst, srv = _debug_peer(ctx, "[127.0.0.1]")
    inst.wait_for_log(VERBOSE_MAIL % srv.port)


def test_debug_peer_list_table(ctx):
    inst, srv = _debug_peer(ctx, "inline:{127.0.0.1=yes}")
    inst.wait_for_log(VERBOSE_MAIL % srv.port)


def test_debug_peer_list_no_match_is_quiet(ctx):
    inst, srv = _debug_peer(ctx, "192.0.2.0/24, other.test, !127.0.0.1")
    time.sleep(0.5)
    assert_none(inst, VERBOSE_MAIL % srv.port)


def test_debug_peer_list_negation(ctx):
    """The first matching pattern decides: "!127.0.0.1" before the
    network that contains it keeps the peer quiet."""
    inst, srv = _debug_peer(ctx, "!127.0.0.1, 127.0.0.0/8")
    time.sleep(0.5)
    assert_none(inst, VERBOSE_MAIL % srv.port)
