#!/usr/bin/env python3
"""Configuration errors and process control: what an administrator sees
when main.cf or master.cf gives the agent something it cannot use, and the
generic daemon parameters.  Every expectation holds for Postfix's own smtp
too (run.py --agent postfix)."""

import re
import time

from common import SENDER, message, status_line
from protocol_util import NO_RETRY


def _bad_value(ctx, name, value):
    srv = ctx.server()
    settings = dict(NO_RETRY)
    settings[name] = value
    inst = ctx.instance(relay_port=srv.port, main_cf=settings)
    inst.expect_trouble = True     # the agent is meant to die here
    rcpt = "rcpt@dest.test"
    inst.inject(SENDER, [rcpt], message("bad config", ["x"], to=rcpt))
    # The agent refuses to start: a fatal line naming the parameter.
    inst.wait_for_log(r"postfix/smtp\[\d+\]: fatal: .*%s" % re.escape(name))
    # Nothing was delivered or lost: the message waits in the queue.
    time.sleep(1)
    assert srv.transactions() == [], "a transaction happened"
    q = inst.queue()
    assert len(q) == 1 and q[0]["recipients"][0]["address"] == rcpt, q
    assert not inst.grep_log(status_line(rcpt, "sent")), "sent?"
    assert not inst.grep_log(status_line(rcpt, "bounced")), "bounced?"


def test_bad_time_value_is_fatal_at_startup(ctx):
    _bad_value(ctx, "smtp_connect_timeout", "banana")


def test_bad_boolean_is_fatal_at_startup(ctx):
    _bad_value(ctx, "smtp_skip_quit_response", "maybe")


def test_bad_number_is_fatal_at_startup(ctx):
    _bad_value(ctx, "smtp_line_length_limit", "12x")


def test_max_use_one_request_per_process(ctx):
    """With -o max_use=1 in master.cf (here: main.cf max_use=1) every
    delivery is made by a fresh agent process."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port, main_cf={"max_use": "1"})
    for i in range(2):
        rcpt = "r%d@dest.test" % i
        inst.inject(SENDER, [rcpt], message("max_use %d" % i, ["x"],
                                            to=rcpt))
        inst.wait_for_log(status_line(rcpt, "sent"))
    pids = set(re.findall(r"postfix/smtp\[(\d+)\]: [0-9A-F]+: to=<r\d@",
                          inst.log_text()))
    assert len(pids) == 2, "expected two agent processes, got %s" % pids


def test_service_name_and_syslog_name_override(ctx):
    """Debian's relay entry style: -o syslog_name=postfix/$service_name on
    a service named "relay" logs as postfix/relay/smtp."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port, main_cf={
        "default_transport": "relay",
        "relay_transport": "relay"})
    # Debian's master.cf already has: relay unix ... smtp
    #   -o syslog_name=postfix/$service_name
    rcpt = "rcpt@dest.test"
    inst.inject(SENDER, [rcpt], message("relay", ["x"], to=rcpt))
    inst.wait_for_log(r"postfix/relay/smtp\[\d+\]: [0-9A-F]+: "
                      r"to=<rcpt@dest\.test>, .*status=sent")
