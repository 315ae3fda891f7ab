#!/usr/bin/env python3
"""protocol_util - helpers shared by the test_protocol_*.py files."""

import re

# No automatic retry during the test: each deferral is logged once.
NO_RETRY = {"queue_run_delay": "300s", "minimal_backoff_time": "300s",
            "maximal_backoff_time": "300s"}


def qmgr_size(inst):
    """The message size qmgr logged for the (first) message."""
    m = inst.wait_for_log(r"postfix/qmgr\[\d+\]: [0-9A-F]+: "
                          r"from=<[^>]*>, size=(\d+), nrcpt=")
    return int(m.group(1))


def deferred_queue(inst, rcpts, reason_re):
    """Wait until the message is in the deferred queue with exactly rcpts,
    each with a delay_reason matching reason_re; return its JSON entry."""
    q = inst.wait_queue(lambda q: len(q) == 1 and q[0]["queue_name"] ==
                        "deferred", what="deferred queue")
    got = sorted(r["address"] for r in q[0]["recipients"])
    assert got == sorted(rcpts), "deferred recipients %s, wanted %s" % (
        got, sorted(rcpts))
    for r in q[0]["recipients"]:
        assert re.search(reason_re, r.get("delay_reason", "")), \
            "delay_reason %r does not match %r" % (r.get("delay_reason"),
                                                  reason_re)
    return q[0]


def pipelined_after_mail(sess, rcpts):
    """With the server's reply to MAIL delayed (delay={"mail": T}): every
    RCPT and the DATA had already arrived when the MAIL reply went out."""
    pend = sess.pending.get("mail")
    assert pend is not None, "no delay was set for mail"
    want = b"".join(b"RCPT TO:<" + r.encode() + b">" for r in rcpts)
    got = b"".join(l.split(b" ORCPT=")[0].split(b" NOTIFY=")[0]
                   for l in pend.split(b"\r\n") if l.startswith(b"RCPT"))
    assert got == want and b"\r\nDATA\r\n" in b"\r\n" + pend, \
        "not pipelined: before the MAIL reply the server had %r" % pend


def lockstep_at_mail(sess):
    """Nothing after MAIL FROM arrived before the server answered it."""
    pend = sess.pending.get("mail")
    assert pend is not None, "no delay was set for mail"
    assert pend == b"", "pipelined without PIPELINING: %r" % pend


def ndr_text(inst, count=1):
    return [m.decode("utf-8", "replace") for m in inst.wait_mailbox(count)]


def smtpd_service(port):
    """A master.cf line: an smtpd(8) of the instance on 127.0.0.1:port
    (not chrooted), for injecting mail with client attributes."""
    return ("127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_security_level=none"
            " -o smtpd_recipient_restrictions=permit_mynetworks,reject"
            " -o mynetworks=127.0.0.0/8" % port)


def smtp_inject(port, sender, rcpts, msg, mail_options=(), helo="injector.test",
                timeout=20):
    """Submit msg to the instance's smtpd on port with smtplib."""
    import smtplib
    import time
    deadline = time.time() + timeout
    while True:
        try:
            c = smtplib.SMTP("127.0.0.1", port, local_hostname=helo,
                             timeout=timeout)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    try:
        c.ehlo(helo)
        c.sendmail(sender, rcpts, msg, mail_options=list(mail_options))
    finally:
        try:
            c.quit()
        except Exception:
            c.close()
