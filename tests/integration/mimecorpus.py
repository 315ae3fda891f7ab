#!/usr/bin/env python3
"""mimecorpus - deliver the MIME corpus to a server without 8BITMIME.

    python3 tests/integration/mimecorpus.py [--agent postfix] [--update]

Shared by tests/integration/test_mime.py and usable by hand.  For every
tests/fixtures/mime/NAME.eml: submit it with `sendmail -B 8BITMIME` to
NAME@dest.test in one private Postfix 3.7 instance (held back with
defer_transports until every message is queued), read the content
records of each queue file, then let the agent deliver them all to a
server that announces PIPELINING and ENHANCEDSTATUSCODES only.

With --update (and --agent postfix, the reference), write for each NAME:

  NAME.rec       the message content records exactly as cleanup(8) stored
                 them (queue-file record encoding, N and L records only):
                 the input of `BUILD/tools/mime_convert -r`
  NAME.expected  the bytes the server received after the 354 reply, up to
                 and not including the final ".": CRLF line ends,
                 dot-stuffed.  For a message the agent gives up on in the
                 middle of DATA (MIME error), everything it had written
                 before the error: Postfix flushes its output, then closes
                 the connection without "." or QUIT.
  NAME.outcome   one line: "sent", or "bounced DSN REASON" from the
                 agent's status= log line.

Without --update it compares what the agent sent with those files and
exits 1 on any difference.
"""

import argparse
import glob
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pfinstance  # noqa: E402
import smtpserver  # noqa: E402
from common import SENDER  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures", "mime")
NO_8BITMIME = ["PIPELINING", "ENHANCEDSTATUSCODES"]

# Queue-file record types used here (Postfix rec_type.h).
REC_MESG, REC_XTRA, REC_NORM, REC_CONT = b"M", b"X", b"N", b"L"
REC_PTR, REC_DTXT, REC_END = b"p", b"w", b"E"


def corpus_names(fixtures=None):
    return sorted(os.path.basename(p)[:-4] for p in
                  glob.glob(os.path.join(fixtures or FIXTURES, "*.eml")))


def _rec_len(data, pos):
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def content_records(path):
    """The message content records (type, bytes) of a queue file, from the
    M record to the X record, following pointer records."""
    with open(path, "rb") as f:
        data = f.read()
    pos, out, in_content, jumps = 0, [], False, 0
    while pos < len(data):
        t = data[pos:pos + 1]
        n, p = _rec_len(data, pos + 1)
        body = data[p:p + n]
        pos = p + n
        if t == REC_MESG:
            in_content = True
        elif t == REC_XTRA or t == REC_END:
            if in_content:
                return out
        elif t == REC_PTR:
            off = int(body or b"0")
            if off:
                jumps += 1
                assert jumps < 1000, "pointer loop in " + path
                pos = off
        elif in_content and t in (REC_NORM, REC_CONT):
            out.append((t, body))
        elif in_content and t != REC_DTXT:
            raise AssertionError("record %r in content of %s" % (t, path))
    raise AssertionError("no end of content in " + path)


def encode_records(recs):
    out = bytearray()
    for t, body in recs:
        out += t
        n = len(body)
        while True:
            b = n & 0x7f
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                break
        out += body
    return bytes(out)


def deliver_corpus(ctx_or_none, agent, build, names=None, main_cf=None,
                   fixtures=None):
    """Deliver the corpus; return {name: (records, data, outcome)} and the
    instance (for log inspection).  main_cf: extra main.cf settings
    (e.g. smaller MIME limits).  fixtures: the directory of the NAME.eml
    files (default: tests/fixtures/mime).  ctx_or_none: a run.py Context (which
    cleans up), or None: a private instance and server, stopped and removed
    before returning (kept on failure with KEEP=1)."""
    fixtures = fixtures or FIXTURES
    names = names or corpus_names(fixtures)
    if ctx_or_none is not None:
        srv = ctx_or_none.server(ehlo_keywords=NO_8BITMIME)
    else:
        srv = smtpserver.SMTPServer(ehlo_keywords=NO_8BITMIME).start()
    # smtputf8_autodetect_classes: 8-bit headers would otherwise make
    # sendmail-submitted mail require SMTPUTF8 (and bounce here).
    settings = {"defer_transports": "smtp relay",
                "smtputf8_autodetect_classes": "verify",
                "queue_run_delay": "300s", "minimal_backoff_time": "300s",
                "maximal_backoff_time": "300s"}
    settings.update(main_cf or {})
    if ctx_or_none is not None:
        inst = ctx_or_none.instance(relay_port=srv.port, main_cf=settings)
        return _deliver(inst, srv, names, fixtures), inst
    inst = pfinstance.Instance(agent=agent, build=build,
                               relay_port=srv.port, main_cf=settings)
    failed = True
    try:
        inst.start()
        out = _deliver(inst, srv, names, fixtures)
        failed = False
        return out, inst
    finally:
        inst.cleanup(failed=failed)
        srv.stop()


def _deliver(inst, srv, names, fixtures):
    for name in names:
        with open(os.path.join(fixtures, name + ".eml"), "rb") as f:
            inst.inject(SENDER, [name + "@dest.test"], f.read(),
                        extra_args=["-B", "8BITMIME"])
    q = inst.wait_queue(lambda q: len(q) == len(names) and all(
        e["queue_name"] == "deferred" for e in q), what="all deferred")
    recs = {}
    for e in q:
        [r] = e["recipients"]
        name = r["address"].split("@")[0]
        recs[name] = content_records(inst.queue_file(e["queue_id"]))
    inst.set_main_cf({"defer_transports": ""})
    time.sleep(1)
    inst.flush()
    results = {}
    for name in names:
        m = inst.wait_for_log(r"postfix/smtp\[\d+\]: [0-9A-F]+: to=<%s>, "
                              r".*dsn=(\S+), status=(sent|bounced|deferred) "
                              r"\((.*)\)$" % re.escape(name + "@dest.test"))
        if m.group(2) == "sent":
            results[name] = "sent"
        else:
            results[name] = "%s %s %s" % (m.group(2), m.group(1), m.group(3))
    # Every session over (the agent hangs up on a message it gives up).
    deadline = time.time() + 30
    while time.time() < deadline:
        with srv._lock:
            sessions = list(srv.sessions)
        if sessions and all(x.closed for x in sessions):
            break
        time.sleep(0.1)
    data = {}
    for t in srv.transactions(complete_only=False):
        for r in t.rcpt_to:
            name = r.split("@")[0]
            data[name] = t.data_raw if t.complete else t.partial
    out = {}
    for name in names:
        out[name] = (recs[name], data.get(name, b""), results[name])
    return out


def strip_first_header(data):
    """data without its first header (with continuation lines): the
    Received: header that names this run's queue ID and time."""
    i = data.find(b"\r\n") + 2
    while data[i:i + 1] in (b" ", b"\t"):
        i = data.find(b"\r\n", i) + 2
    return data[i:]


def compare(name, data, outcome, ignore_received=False):
    """Differences between one delivery and the golden files, as text.
    With ignore_received, the first header of both is not compared."""
    with open(os.path.join(FIXTURES, name + ".expected"), "rb") as f:
        want = f.read()
    if ignore_received:
        want = strip_first_header(want)
        data = strip_first_header(data)
    with open(os.path.join(FIXTURES, name + ".outcome")) as f:
        want_outcome = f.read().strip()
    problems = []
    if outcome != want_outcome:
        problems.append("%s: outcome %r, golden %r" % (name, outcome,
                                                       want_outcome))
    # Also for a message the agent gives up on: Postfix flushes what it
    # had written before it drops the connection (without the final ".").
    ok = data == want
    if not ok:
        i = next((k for k in range(min(len(data), len(want)))
                  if data[k] != want[k]), min(len(data), len(want)))
        problems.append("%s: data differs at byte %d: got %r, golden %r"
                        % (name, i, data[max(0, i - 40):i + 40],
                           want[max(0, i - 40):i + 40]))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", default="postfix")
    ap.add_argument("--build", default="build")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    if a.update and a.agent != "postfix":
        sys.exit("--update needs --agent postfix (the reference)")
    out, _ = deliver_corpus(None, a.agent, a.build, a.names or None)
    bad = 0
    for name, (recs, data, outcome) in sorted(out.items()):
        if a.update:
            base = os.path.join(FIXTURES, name)
            with open(base + ".rec", "wb") as f:
                f.write(encode_records(recs))
            with open(base + ".expected", "wb") as f:
                f.write(data)
            with open(base + ".outcome", "w") as f:
                f.write(outcome + "\n")
            print("%s: %s, %d records, %d bytes" % (name, outcome, len(recs),
                                                     len(data)))
        else:
            for p in compare(name, data, outcome):
                print(p)
                bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
