#!/usr/bin/env python3
"""common - helpers shared by the integration tests: messages, log line
patterns, wire-data checks."""

import re

SENDER = "sender@client.test"
RELAY = r"127\.0\.0\.1\[127\.0\.0\.1\]"
DELAYS = r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+"
QID = r"[0-9A-F]+"


def message(subject, body_lines, to="rcpt@dest.test", msgid=None):
    """A complete message (bytes, LF line ends) with the headers cleanup
    would otherwise add, so only a Received: header is prepended."""
    msgid = msgid or "<%s@client.test>" % re.sub(r"\W", "-", subject)
    head = ["From: Sender <%s>" % SENDER,
            "To: <%s>" % to,
            "Subject: %s" % subject,
            "Date: Wed, 25 Nov 2026 10:00:00 +0000",
            "Message-ID: %s" % msgid,
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii"]
    return ("\n".join(head) + "\n\n" + "\n".join(body_lines) + "\n").encode()


def crlf(msg):
    """LF line ends to CRLF."""
    return msg.replace(b"\n", b"\r\n")


def strip_received(data):
    """Return (received_header, rest): split off the first header of data
    (the Received: header Postfix prepends) and its continuation lines."""
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"Received: "), \
        "first line on the wire is not Received: %r" % lines[0]
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\r\n".join(lines[:i]) + b"\r\n", b"\r\n".join(lines[i:])


def assert_crlf_only(data):
    """Every line ends in CRLF; there is no bare CR or LF."""
    assert data.endswith(b"\r\n"), "data does not end in CRLF: %r" % data[-20:]
    stripped = data.replace(b"\r\n", b"")
    assert b"\r" not in stripped and b"\n" not in stripped, \
        "bare CR or LF in data"


def status_line(rcpt, status, dsn=r"[245]\.\d+\.\d+", relay=None, port=None,
                reason=r".*", ident="postfix/smtp"):
    """Regex for a Postfix 3.7 per-recipient delivery log line."""
    if relay is None:
        relay = RELAY + (":%d" % port if port is not None else r":\d+")
    return (r"%s\[\d+\]: (%s): to=<%s>, relay=%s, %s, dsn=%s, status=%s "
            r"\(%s\)$" % (re.escape(ident), QID, re.escape(rcpt), relay,
                          DELAYS, dsn, status, reason))


def said(reply, command):
    """Regex for the reason text of a remote error."""
    return r"host %s said: %s \(in reply to %s command\)" % (
        RELAY, re.escape(reply), re.escape(command))


def assert_single(inst, regex, what=None):
    """Exactly one log line matches regex; return the match."""
    found = inst.grep_log(regex)
    assert len(found) == 1, "%s: %d log lines match %r, wanted 1" % (
        what or "log", len(found), regex)
    return found[0]


def assert_none(inst, regex, what=None):
    found = inst.grep_log(regex)
    assert not found, "%s: unexpected log line(s): %s" % (
        what or "log", [m.string for m in found])


def pending(reason):
    """Mark a test of Postfix behaviour that Postern does not have yet
    (reason: which issue brings it).  With --agent postern a failure is
    reported as PENDING and not counted as failed; with --agent postfix
    the test must pass as usual."""
    def mark(fn):
        fn.postern_pending = reason
        return fn
    return mark
