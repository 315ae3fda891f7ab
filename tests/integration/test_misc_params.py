#!/usr/bin/env python3
"""General Postfix parameters that smtp(8) honours outside the SMTP
dialogue itself: tcp_windowsize and debug_peer_list/debug_peer_level.
Every test passes with --agent postfix."""

import os
import re
import subprocess
import time

from common import SENDER, message, status_line, assert_none
from protocol_util import NO_RETRY


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


def _flush_log(inst, site):
    # flush(8) names the log after the site with dots made underscores.
    path = os.path.join(inst.spool, "flush", site.replace(".", "_"))
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _defer_one(ctx, main_cf):
    srv = ctx.server(rcpt_rules=[(r".", "451 4.3.0 try later")])
    cf = dict(NO_RETRY)
    cf.update(main_cf)
    inst = ctx.instance(relay_port=srv.port, main_cf=cf)
    inst.inject(SENDER, ["a@dest.test"], message("flush", ["hi"]))
    m = inst.wait_for_log(status_line("a@dest.test", "deferred"))
    return inst, m.group(1)


def test_fast_flush_domains_logs_deferred_mail(ctx):
    """A deferral for a domain in fast_flush_domains is added to flush(8)'s
    log of that site (what ETRN and "sendmail -qR" use)."""
    inst, qid = _defer_one(ctx, {"fast_flush_domains": "dest.test"})
    end = time.time() + 10
    while qid not in _flush_log(inst, "dest.test") and time.time() < end:
        time.sleep(0.1)
    assert qid in _flush_log(inst, "dest.test"), _flush_log(inst,
                                                             "dest.test")
    assert_none(inst, r"flush service failure")


def test_fast_flush_domains_other_domain_not_logged(ctx):
    inst, qid = _defer_one(ctx, {"fast_flush_domains": "other.test"})
    time.sleep(0.5)
    assert qid not in _flush_log(inst, "dest.test")
    assert_none(inst, r"flush service failure")
