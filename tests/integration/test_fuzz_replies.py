#!/usr/bin/env python3
"""Bad input from the server never crashes the agent and never loses
mail: a scripted server answers every stage with random replies (broken
codes, mixed multi-line codes, control and 8-bit bytes, NULs, over-long
lines, missing final lines, hang-ups) for a batch of messages.  Every
recipient must end with one status line (sent, bounced or deferred),
every message not finished must still be in the queue, and no agent may
die (the instance fails fast on fatal/panic/signal lines; the ASan run
also fails on any sanitizer report).  Passes with Postfix's smtp too."""

import os
import random
import re
import time

from common import SENDER, message

# A longer campaign: FUZZ_SEED=N FUZZ_MESSAGES=M run.py -k fuzz
SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
MESSAGES = int(os.environ.get("FUZZ_MESSAGES", "16"))

CODES = ["220", "221", "250", "251", "252", "334", "354", "421", "450",
         "451", "452", "500", "501", "503", "550", "552", "554", "555",
         "999", "099", "25", "2500", "abc", "", "2x0"]
JUNK = [b"\x00", b"\x01\x02", b"\xff\xfe", b"\r", b"\xc3\xa9t\xc3\xa9",
        b"%s%n%x", b"\x1b[31m", b" " * 3, b"\t"]


def _line(rng, code):
    sep = rng.choice([b" ", b"-", b"", b"  ", b"\t"])
    text = b"fuzz" + rng.choice(JUNK) + b"text"
    if rng.random() < 0.1:
        text = b"x" * rng.choice([600, 1100, 2100, 5000])
    return code.encode() + sep + text


def _reply(rng, stage, default):
    """A random reply for a stage: usually plausible, often not."""
    r = rng.random()
    if r < 0.8:
        return None                      # the server's normal reply
    if r < 0.9:
        code = rng.choice(CODES)
        return [_line(rng, code)]
    lines = []
    for _ in range(rng.randint(2, 5)):
        lines.append(_line(rng, rng.choice([default[:3], rng.choice(CODES)])
                           ).replace(b" ", b"-", 1))
    if rng.random() < 0.7:               # usually a proper last line
        lines.append(_line(rng, default[:3]).replace(b"-", b" ", 1))
    return lines


def test_fuzzed_server_replies_lose_nothing(ctx):
    rng = random.Random(SEED)
    defaults = {"greeting": "220", "ehlo": "250", "helo": "250",
                "mail": "250", "rcpt": "250", "data": "354", "eod": "250",
                "rset": "250", "quit": "221"}

    def make_reply(stage):
        def fn(sess, arg):
            return _reply(rng, stage, defaults[stage])
        return fn

    def make_action(stage):
        def fn(sess, arg):
            return "hangup" if rng.random() < 0.03 else None
        return fn

    stages = list(defaults)
    srv = ctx.server(replies={s: make_reply(s) for s in stages},
                     actions={s: make_action(s) for s in stages},
                     read_timeout=20)
    cf = {"queue_run_delay": "300s", "minimal_backoff_time": "300s",
          "maximal_backoff_time": "300s"}
    for t in ("helo", "mail", "rcpt", "data_init", "data_xfer",
              "data_done", "rset", "quit"):
        cf["smtp_%s_timeout" % t] = "2s"
    cf["smtp_connect_timeout"] = "3s"
    # Keep qmgr from declaring the site dead after a few failures, so
    # that every message meets the fuzzed server.
    cf["smtp_destination_concurrency_failed_cohort_limit"] = "1000"
    cf["smtp_destination_concurrency_limit"] = "4"
    inst = ctx.instance(relay_port=srv.port, main_cf=cf)
    rcpts = []
    for i in range(MESSAGES):
        r = ["f%da@dest.test" % i, "f%db@dest.test" % i]
        rcpts.extend(r)
        inst.inject(SENDER, r, message("fuzz %d" % i, ["line %d" % i,
                                                       ".dot", "end"]))
    status = {}
    end = time.time() + 120
    pat = re.compile(r"postfix/(?:smtp|error)\[\d+\]: [0-9A-F]+: "
                     r"to=<([^>]+)>, "
                     r".*status=(sent|bounced|deferred) ")
    while time.time() < end and len(status) < len(rcpts):
        for m in inst.grep_log(pat.pattern):
            status.setdefault(m.group(1), m.group(2))
        trouble = inst.agent_trouble()
        assert not trouble, "agent trouble:\n" + "\n".join(trouble)
        time.sleep(0.5)
    missing = sorted(set(rcpts) - set(status))
    assert not missing, "no status line for %s" % missing
    counts = {}
    for v in status.values():
        counts[v] = counts.get(v, 0) + 1
    ctx.note("outcomes: %r" % counts)
    # Nothing lost: every deferred recipient is still queued.
    time.sleep(1)
    queued = set()
    for q in inst.queue():
        queued.update(r["address"] for r in q["recipients"])
    deferred = {a for a, v in status.items() if v == "deferred"}
    assert deferred <= queued, "deferred but not queued: %s" % sorted(
        deferred - queued)
