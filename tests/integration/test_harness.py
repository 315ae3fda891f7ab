#!/usr/bin/env python3
"""Self-tests of the scriptable server (no Postfix involved): pipelined
commands, dot-unstuffing, rules and actions.  They make sure a failure in
the other tests is about the agent, not the harness."""

import socket
import time

from smtpserver import SMTPServer


def _client(srv):
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return c, c.makefile("rb")


def _reply(f):
    """Read one (possibly multi-line) reply; return its lines."""
    lines = []
    while True:
        line = f.readline()
        assert line, "server closed the connection"
        lines.append(line.decode().rstrip("\r\n"))
        if line[3:4] != b"-":
            return lines


def test_server_pipelining_and_dots(ctx):
    srv = SMTPServer(rcpt_rules={r"^hard": "550 5.1.1 no such user",
                                 r"^soft": "451 4.3.0 later"})
    srv.start()
    try:
        c, f = _client(srv)
        assert _reply(f) == ["220 dest.test ESMTP postern-test-server"]
        c.sendall(b"EHLO me\r\n")
        assert _reply(f)[-1] == "250 8BITMIME"
        # Everything up to DATA in one write.
        c.sendall(b"MAIL FROM:<a@x> SIZE=10\r\nRCPT TO:<hard@y>\r\n"
                  b"RCPT TO:<ok@y>\r\nRCPT TO:<soft@y>\r\nDATA\r\n")
        got = [_reply(f)[0] for _ in range(5)]
        assert got == ["250 2.1.0 Ok", "550 5.1.1 no such user",
                       "250 2.1.5 Ok", "451 4.3.0 later",
                       "354 End data with <CR><LF>.<CR><LF>"], got
        c.sendall(b"line\r\n..dot\r\n...\r\n.x\r\n.\r\nQUIT\r\n")
        assert _reply(f) == ["250 2.0.0 Ok: queued as TEST0001"]
        assert _reply(f) == ["221 2.0.0 Bye"]
        c.close()
        [s] = srv.wait_sessions(1)
        [t] = s.transactions
        assert t.mail_from == "a@x" and t.mail_line == "MAIL FROM:<a@x> SIZE=10"
        assert t.rcpt_to == ["hard@y", "ok@y", "soft@y"]
        assert t.accepted == ["ok@y"]
        assert t.data_raw == b"line\r\n..dot\r\n...\r\n.x\r\n"
        assert t.data == b"line\r\n.dot\r\n..\r\nx\r\n"
        assert s.commands == ["EHLO me", "MAIL FROM:<a@x> SIZE=10",
                              "RCPT TO:<hard@y>", "RCPT TO:<ok@y>",
                              "RCPT TO:<soft@y>", "DATA", "QUIT"]
        assert s.client_quit
    finally:
        srv.stop()


def test_server_lmtp_and_actions(ctx):
    srv = SMTPServer(lmtp=True, lmtp_rules=[(r"^full", "452 4.2.2 full")],
                     actions={"rset": "hangup_after_reply"})
    srv.start()
    try:
        c, f = _client(srv)
        _reply(f)
        c.sendall(b"EHLO me\r\n")
        assert _reply(f) == ["502 5.5.2 Error: command not recognized"]
        c.sendall(b"LHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<full@y>\r\n"
                  b"RCPT TO:<ok@y>\r\nDATA\r\n")
        assert _reply(f)[0] == "250-dest.test"
        for _ in range(3):
            _reply(f)
        assert _reply(f)[0].startswith("354")
        c.sendall(b"hi\r\n.\r\n")
        assert _reply(f) == ["452 4.2.2 full"]
        assert _reply(f) == ["250 2.0.0 <ok@y> Ok delivered"]
        c.sendall(b"RSET\r\n")
        assert _reply(f) == ["250 2.0.0 Ok"]
        assert f.readline() == b"", "no hangup after RSET"
        c.close()
        [s] = srv.wait_sessions(1)
        assert not s.client_quit
    finally:
        srv.stop()


def test_server_stall_and_stop(ctx):
    """A stalled session ends when the server stops; stop() is quick."""
    srv = SMTPServer(actions={"greeting": "stall"})
    srv.start()
    c, f = _client(srv)
    srv.wait_sessions(1, closed=False)
    t0 = time.time()
    srv.stop()
    assert time.time() - t0 < 3, "stop() took %.1fs" % (time.time() - t0)
    assert f.readline() == b""
    c.close()
