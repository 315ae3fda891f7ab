#!/usr/bin/env python3
"""Issue 3, points 7 and 9: XFORWARD and the compatibility controls that
need no lookup tables, as Postfix 3.7's smtp(8) does them.  Observed with
run.py --agent postfix."""

import time

from common import pending
from common import (SENDER, RELAY, message, crlf, strip_received,
                    status_line, said, assert_single, assert_none)
from protocol_util import (NO_RETRY, qmgr_size, deferred_queue,
                           smtpd_service, smtp_inject)

XFORWARD_KEYWORDS = ["PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                     "8BITMIME", "XFORWARD NAME ADDR PROTO HELO SOURCE PORT "
                     "IDENT"]


def _xforward_setup(ctx, keywords=XFORWARD_KEYWORDS, send="yes"):
    srv = ctx.server(ehlo_keywords=keywords,
                     replies={"other": "250 2.0.0 Ok"})
    sport = ctx.free_port()
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_send_xforward_command": send},
                        master_cf_extra=smtpd_service(sport))
    return srv, inst, sport


def _smtpd_qid(inst):
    """The queue ID smtpd gave the injected message, and the client port
    it logged."""
    m = inst.wait_for_log(r"postfix/smtpd\[\d+\]: ([0-9A-F]+): "
                          r"client=localhost\[127\.0\.0\.1\]")
    return m.group(1)


def test_xforward_attributes_from_smtpd(ctx):
    """Mail received by the instance's smtpd from 127.0.0.1 (EHLO
    injector.test): with smtp_send_xforward_command = yes and a server
    announcing XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT, two
    XFORWARD commands go before MAIL FROM, each answered:
    "XFORWARD NAME=localhost ADDR=127.0.0.1 PORT=<client port>" and
    "XFORWARD PROTO=ESMTP HELO=injector.test IDENT=<smtpd queue id>
    SOURCE=LOCAL"."""
    srv, inst, sport = _xforward_setup(ctx)
    smtp_inject(sport, SENDER, ["a@dest.test"], message("xforward", ["hi"]))
    inst.wait_queue_empty()
    qid = _smtpd_qid(inst)
    [s] = srv.wait_sessions(1)
    xf = [c for c in s.commands if c.startswith("XFORWARD")]
    ctx.note("\n".join(xf))
    assert len(xf) == 2, s.text()
    i = s.commands.index(xf[0])
    assert s.commands[i + 2].startswith("MAIL FROM:"), s.text()
    import re
    m = re.match(r"^XFORWARD NAME=localhost ADDR=127\.0\.0\.1 PORT=(\d+)$",
                 xf[0])
    assert m, xf
    assert xf[1] == ("XFORWARD PROTO=ESMTP HELO=injector.test IDENT=%s "
                     "SOURCE=LOCAL" % qid), xf
    assert_single(inst, status_line("a@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_xforward_attributes_from_sendmail(ctx):
    """Mail from sendmail(1) has no client attributes: the only XFORWARD
    command is "XFORWARD SOURCE=LOCAL" (attributes without a value are
    left out, IDENT included)."""
    srv, inst, sport = _xforward_setup(ctx)
    inst.inject(SENDER, ["a@dest.test"], message("xforward local", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    xf = [c for c in s.commands if c.startswith("XFORWARD")]
    ctx.note("\n".join(xf))
    m = inst.wait_for_log(r"postfix/pickup\[\d+\]: ([0-9A-F]+): uid=0")
    assert xf == ["XFORWARD SOURCE=LOCAL"], xf
    i = s.commands.index(xf[0])
    assert s.commands[i + 1].startswith("MAIL FROM:"), s.text()


def test_xforward_subset_announced(ctx):
    """The server announces only XFORWARD NAME ADDR: only those are sent,
    in one command."""
    srv, inst, sport = _xforward_setup(ctx, keywords=[
        "PIPELINING", "SIZE 10240000", "XFORWARD NAME ADDR"])
    smtp_inject(sport, SENDER, ["a@dest.test"], message("xforward 2", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    xf = [c for c in s.commands if c.startswith("XFORWARD")]
    assert xf == ["XFORWARD NAME=localhost ADDR=127.0.0.1"], s.text()


def test_xforward_not_sent_by_default(ctx):
    """smtp_send_xforward_command = no (default): no XFORWARD even when
    announced."""
    srv, inst, sport = _xforward_setup(ctx, send="no")
    smtp_inject(sport, SENDER, ["a@dest.test"], message("xforward 3", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert not [c for c in s.commands if c.startswith("XFORWARD")], s.text()


def test_xforward_rejected_is_ignored(ctx):
    """A 421 to both XFORWARD commands is only a warning, "host
    HOST[ADDR]:PORT said: 421 ... (in reply to XFORWARD name/address
    command)" and "... (in reply to XFORWARD helo/protocol command)"; the
    mail is then sent in the same session."""
    reply = "421 4.3.0 XFORWARD broken"
    srv = ctx.server(ehlo_keywords=XFORWARD_KEYWORDS,
                     replies={"other": reply})
    sport = ctx.free_port()
    cf = dict(NO_RETRY, smtp_send_xforward_command="yes")
    inst = ctx.instance(relay_port=srv.port, main_cf=cf,
                        master_cf_extra=smtpd_service(sport))
    smtp_inject(sport, SENDER, ["a@dest.test"], message("xforward 4", ["hi"]))
    inst.wait_queue_empty()
    for what in ("name/address", "helo/protocol"):
        assert_single(inst, r"postfix/smtp\[\d+\]: warning: host %s:%d said: "
                      r"421 4\.3\.0 XFORWARD broken \(in reply to XFORWARD "
                      r"%s command\)$" % (RELAY, srv.port, what))
    assert_single(inst, status_line("a@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))
    [s] = srv.wait_sessions(1)
    assert len([c for c in s.commands if c.startswith("XFORWARD")]) == 2


# ----------------------------------------------------------------------
# Compatibility controls


def test_quote_rfc821_envelope(ctx):
    """A recipient local part with a space: smtp_quote_rfc821_envelope =
    yes (default) sends RCPT TO:<"a b"@dest.test>; = no sends it as it
    is, RCPT TO:<a b@dest.test>."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ['"a b"@dest.test'], message("quote", ["hi"]))
    inst.wait_queue_empty()
    inst.set_main_cf({"smtp_quote_rfc821_envelope": "no"})
    inst.inject(SENDER, ['"c d"@dest.test'], message("noquote", ["hi"]))
    inst.wait_queue_empty()
    s1, s2 = srv.wait_sessions(2)
    assert s1.commands[2] == 'RCPT TO:<"a b"@dest.test>', s1.text()
    assert s2.commands[2] == "RCPT TO:<c d@dest.test>", s2.text()
    assert_single(inst, status_line('"a b"@dest.test', "sent",
                                    dsn=r"2\.0\.0", port=srv.port))


def test_quote_rfc821_envelope_sender(ctx):
    """The sender's local part "x.y." (a trailing dot) is quoted in MAIL
    FROM by default: MAIL FROM:<"x.y."@client.test>."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port)
    inst.inject('"x.y."@client.test', ["a@dest.test"], message("q2", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[1].startswith('MAIL FROM:<"x.y."@client.test>'), \
        s.text()


def _long_line_delivery(ctx, limit):
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_line_length_limit": str(limit)})
    long_line = "".join("%010d" % i for i in range(0, 2500, 10))
    body = ["short", long_line, "x" * 990, "y" * 991, "end"]
    inst.inject(SENDER, ["rcpt@dest.test"], message("long", body))
    inst.wait_queue_empty()
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data_raw)
    return inst, srv, long_line.encode(), rest


def test_line_length_limit_990(ctx):
    """smtp_line_length_limit = 990: pieces of 990 bytes, the next ones
    starting with the inserted space (990 with it); a 990-byte line is
    left alone; one "breaking line > 990 bytes" log line."""
    inst, srv, lb, rest = _long_line_delivery(ctx, 990)
    want_long = (lb[0:990] + b"\r\n " + lb[990:1979] + b"\r\n " +
                 lb[1979:])
    want = (b"\r\n\r\nshort\r\n" + want_long + b"\r\n" + b"x" * 990 +
            b"\r\n" + b"y" * 990 + b"\r\n y\r\nend\r\n")
    assert rest.endswith(want), "body on the wire:\n%r" % rest[-3000:]
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: breaking line > 990 "
                  r"bytes with <CR><LF>SPACE$")


def test_line_length_limit_0(ctx):
    """smtp_line_length_limit = 0: no limit, the 2500-byte line goes out
    whole; nothing logged."""
    inst, srv, lb, rest = _long_line_delivery(ctx, 0)
    assert (b"\r\n" + lb + b"\r\n") in rest, rest[-3000:]
    assert_none(inst, r"breaking line")


def test_skip_quit_response_default_closes(ctx):
    """smtp_skip_quit_response = yes (default): after QUIT the client
    closes without waiting for the reply."""
    srv = ctx.server(delay={"quit": 1.0})
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["a@dest.test"], message("quit skip", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.client_quit, s.text()
    assert s.peer_closed["quit"], "client waited for the QUIT reply"


def test_skip_quit_response_no_waits(ctx):
    """smtp_skip_quit_response = no: the client waits for the QUIT reply
    (the connection is still open while the server delays it)."""
    srv = ctx.server(delay={"quit": 1.0})
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_skip_quit_response": "no"})
    inst.inject(SENDER, ["a@dest.test"], message("quit wait", ["hi"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.client_quit, s.text()
    assert not s.peer_closed["quit"], "client closed before the QUIT reply"
    assert_single(inst, status_line("a@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))


def test_pix_greeting_disables_esmtp(ctx):
    """A greeting of "220 ****" (a PIX firewall's mangled banner): with
    the default smtp_pix_workarounds and a fresh message (younger than
    smtp_pix_workaround_threshold_time, 500s), only disable_esmtp:
    "QID: enabling PIX workarounds: disable_esmtp for HOST[ADDR]:PORT",
    then HELO and no ESMTP parameters."""
    srv = ctx.server(greeting="220 ****************")
    inst = ctx.instance(relay_port=srv.port)
    inst.inject(SENDER, ["a@dest.test"], message("pix", ["hi"]))
    inst.wait_queue_empty()
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: enabling PIX "
                  r"workarounds: disable_esmtp for %s:%d$" % (RELAY, srv.port))
    [s] = srv.wait_sessions(1)
    assert s.commands == ["HELO client.test", "MAIL FROM:<%s>" % SENDER,
                          "RCPT TO:<a@dest.test>", "DATA", "QUIT"], s.text()


def test_pix_delay_dotcrlf_after_threshold(ctx):
    """smtp_pix_workaround_threshold_time = 0s: the message counts as old,
    so delay_dotcrlf is on too: logged as "disable_esmtp delay_dotcrlf",
    and the final "." comes smtp_pix_workaround_delay_time (1s) after the
    content."""
    srv = ctx.server(greeting="220 **** ** *****", record_data_times=True)
    inst = ctx.instance(relay_port=srv.port, main_cf={
        "smtp_pix_workaround_threshold_time": "0s",
        "smtp_pix_workaround_delay_time": "1s"})
    inst.inject(SENDER, ["a@dest.test"], message("pix 2", ["hi"]))
    inst.wait_queue_empty()
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: enabling PIX "
                  r"workarounds: disable_esmtp delay_dotcrlf for %s:%d$"
                  % (RELAY, srv.port))
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "HELO client.test", s.text()
    times = s.data_times
    assert times[-1][1] == b".\r\n", times[-3:]
    gap = times[-1][0] - times[-2][0]
    assert gap >= 0.9, "final dot came %.2fs after the content" % gap


def test_pix_workarounds_empty(ctx):
    """smtp_pix_workarounds = (empty): the banner changes nothing."""
    srv = ctx.server(greeting="220 ****")
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_pix_workarounds": ""})
    inst.inject(SENDER, ["a@dest.test"], message("pix 3", ["hi"]))
    inst.wait_queue_empty()
    assert_none(inst, r"PIX workarounds")
    [s] = srv.wait_sessions(1)
    assert s.commands[0] == "EHLO client.test", s.text()


def test_send_dummy_mail_auth(ctx):
    """SASL: with a password for [127.0.0.1]:PORT and a server offering
    AUTH PLAIN, the client authenticates (AUTH PLAIN <base64>, one line);
    smtp_send_dummy_mail_auth = yes then adds AUTH=<> to MAIL FROM."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "SIZE 10240000",
                                    "8BITMIME", "AUTH PLAIN LOGIN"],
                     replies={"other": "235 2.7.0 Authentication successful"})
    inst = ctx.instance(relay_port=srv.port, start=False)
    inst.set_main_cf({
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": "inline:{ [127.0.0.1]:%d=user:secret }"
        % srv.port,
        "smtp_sasl_security_options": "noanonymous",
        "smtp_send_dummy_mail_auth": "yes"}, reload=False)
    inst.start()
    inst.inject(SENDER, ["a@dest.test"], message("dummy auth", ["hi"]))
    inst.wait_queue_empty()
    size = qmgr_size(inst)
    [s] = srv.wait_sessions(1)
    auth = [c for c in s.commands if c.startswith("AUTH")]
    assert auth == ["AUTH PLAIN AHVzZXIAc2VjcmV0"], s.text()
    assert s.commands[s.commands.index(auth[0]) + 1] == \
        "MAIL FROM:<%s> SIZE=%d AUTH=<>" % (SENDER, size), s.text()


def test_data_stall_times_out(ctx):
    """The server stops reading after 354 and the message (3 MB) no longer
    fits in the socket buffers: after smtp_data_xfer_timeout (2s) the
    recipient is deferred "conversation with HOST[ADDR] timed out while
    sending message body"."""
    srv = ctx.server(data_stall=True, rcvbuf=4096, stall_timeout=60)
    inst = ctx.instance(relay_port=srv.port, main_cf=dict(
        NO_RETRY, smtp_data_xfer_timeout="2s"))
    inst.inject(SENDER, ["a@dest.test"],
                message("stall", ["z" * 99] * 30000))
    reason = (r"conversation with %s timed out while sending message body"
              % RELAY)
    inst.wait_for_log(status_line("a@dest.test", "deferred", dsn=r"4\.4\.2",
                                  port=srv.port, reason=reason))
    deferred_queue(inst, ["a@dest.test"], "timed out while sending message "
                   "body")


def test_per_request_deadline_slow_reader_sent(ctx):
    """smtp_per_request_deadline = yes with smtp_data_xfer_timeout = 2s
    and smtp_min_data_rate = 500 (default): the limit applies to each
    write request (one queue record, a few kB) and grows with the bytes
    written, not to the whole DATA phase: a 3 MB message (one long line,
    smtp_line_length_limit = 0) to a server that reads 1 MB/s takes more
    than 2s in all and is still sent, byte-exact."""
    msg = message("slow reader", ["w" * 3000000])
    srv = ctx.server(data_rate=1000000, rcvbuf=4096)
    inst = ctx.instance(relay_port=srv.port, main_cf=dict(
        NO_RETRY, smtp_data_xfer_timeout="2s", smtp_per_request_deadline="yes",
        smtp_line_length_limit="0"))
    t0 = time.time()
    inst.inject(SENDER, ["a@dest.test"], msg)
    inst.wait_queue_empty()
    assert time.time() - t0 > 2.5, "the server was not slow enough"
    assert_single(inst, status_line("a@dest.test", "sent", dsn=r"2\.0\.0",
                                    port=srv.port))
    [t] = srv.wait_transactions(1)
    _, rest = strip_received(t.data)
    assert rest == crlf(msg)


def test_xforward_values_xtext_encoded(ctx):
    """XFORWARD values are xtext-encoded with no extra specials: an EHLO
    name "inj+x=y.test" given to the instance's smtpd goes out as
    HELO=inj+2Bx=y.test ("+" encoded, "=" not, unlike ENVID)."""
    srv, inst, sport = _xforward_setup(ctx)
    smtp_inject(sport, SENDER, ["a@dest.test"], message("xforward 5", ["hi"]),
                helo="inj+x=y.test")
    inst.wait_queue_empty()
    qid = _smtpd_qid(inst)
    [s] = srv.wait_sessions(1)
    xf = [c for c in s.commands if c.startswith("XFORWARD")]
    assert xf[1] == ("XFORWARD PROTO=ESMTP HELO=inj+2Bx=y.test IDENT=%s "
                     "SOURCE=LOCAL" % qid), xf
