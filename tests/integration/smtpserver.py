#!/usr/bin/env python3
"""smtpserver - a scriptable SMTP/LMTP receiving server for fault injection.

    srv = SMTPServer(ehlo_keywords=["PIPELINING", "8BITMIME"],
                     rcpt_rules=[(r"^hard", "550 5.1.1 User unknown")])
    srv.start()           # listens on 127.0.0.1:srv.port (port 0: any free)
    ...
    srv.stop()

Behaviour is set per stage.  Stages: greeting, ehlo, helo, lhlo, mail,
rcpt, data, eod (the reply to the final "."), rset, noop, quit, other.

  replies     {stage: reply} overrides the default reply of a stage.  A
              reply is a str (one line, or several lines separated by
              "\\n", sent as given, each ending in CRLF), a list of lines,
              or a callable(session, arg) returning either.  For rcpt the
              arg is the address; for eod in LMTP mode it is the address of
              one accepted recipient (one reply per recipient).
  rcpt_rules  [(regex, reply)] or {regex: reply}: the first regex that
              matches the RCPT address (re.search, case-insensitive) gives
              the reply (a str, or a callable(session, address)); else the
              default.
  lmtp_rules  [(regex, reply)]: the same for LMTP per-recipient replies
              after the final ".".
  actions     {stage: action}: "hangup" (close instead of replying),
              "stall" (never reply; keep the connection open until stop()
              or stall_timeout), "hangup_after_reply" (reply, then close).
              The "greeting" stage is the server's opening: "hangup" is
              "accept and close", "stall" is "accept and never greet".
              An action may also be a callable(session, arg) returning an
              action or None.
  ehlo_keywords  list of EHLO keywords (e.g. "SIZE 10240000").
  delay       {stage: seconds}: wait that long before replying at that
              stage, then record in session.pending[stage] the bytes the
              client had already sent beyond the command being answered
              (proof of pipelining: with PIPELINING, MAIL's pending bytes
              hold the RCPTs and DATA), and in session.peer_closed[stage]
              whether the client had already closed the connection.
  host        the loopback address to listen on (default 127.0.0.1).
  unix_path   listen on this AF_UNIX socket (mode 0666) instead of
              127.0.0.1:port.
  data_stall  after the 354 reply, stop reading (the client's writes then
              block once the socket buffers are full); the session ends
              when the client closes or at stop().
  data_rate   read the DATA content at about this many bytes per second
              (a slow reader; 0: as fast as possible).
  record_data_times  record (time, line) of every content line, the
              final "." included, in session.data_times.
  rcvbuf      SO_RCVBUF of accepted connections (with data_stall: small
              buffers fill sooner).
  tls_context an ssl.SSLContext (server side): STARTTLS is announced and
              done (stage "starttls"); session.tls is then the protocol
              version, e.g. "TLSv1.3".

Every session is recorded (Session): the transcript as a list of
("C", bytes) / ("S", bytes) items (client lines exactly as received, CRLF
included; DATA content is not in the transcript), the client command
lines (commands), and the transactions (Transaction): mail_from, the
MAIL FROM line, rcpt_to (every RCPT address), accepted (those given a 2xx
reply), data_raw (the exact bytes after the 354 up to, not including, the
terminating ".\\r\\n"), data (the same, dot-unstuffed), eod_replies.

Pipelined commands are read line by line and answered one at a time, in
order.
"""

import re
import socket
import threading
import time

HANGUP = "hangup"
STALL = "stall"
HANGUP_AFTER_REPLY = "hangup_after_reply"

DEFAULT_KEYWORDS = ["PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                    "8BITMIME"]
ADDR_RE = re.compile(rb"^(?:MAIL FROM|RCPT TO):\s*<([^>]*)>", re.I)


def _rules(rules):
    """[(regex, reply)] or {regex: reply} -> [(compiled, reply)]."""
    if isinstance(rules, dict):
        rules = list(rules.items())
    return [(re.compile(r, re.I), v) for r, v in (rules or [])]


class Transaction:
    def __init__(self, mail_line, mail_from):
        self.mail_line = mail_line        # str, without CRLF
        self.mail_from = mail_from        # str, the address inside <>
        self.rcpt_lines = []              # str, without CRLF
        self.rcpt_to = []                 # every RCPT address
        self.accepted = []                # addresses given 2xx
        self.data_started = False         # 354 was sent
        self.data_raw = None              # bytes on the wire (stuffed)
        self.partial = b""                # what arrived, if no final "." 
        self.data = None                  # dot-unstuffed bytes
        self.complete = False             # the final "." was received
        self.eod_replies = []             # replies sent after "."

    def __repr__(self):
        return "<Transaction from=%r rcpt=%r accepted=%r complete=%r>" % (
            self.mail_from, self.rcpt_to, self.accepted, self.complete)


class Session:
    def __init__(self, peer):
        self.peer = peer
        self.transcript = []     # ("C"|"S", bytes)
        self.commands = []       # client command lines, str without CRLF
        self.transactions = []
        self.helo = None         # the EHLO/HELO/LHLO line
        self.pending = {}        # stage -> bytes already sent (see delay)
        self.peer_closed = {}    # stage -> client had closed (see delay)
        self.data_times = []     # (time, line) of DATA content lines
        self.closed = False      # the session thread has finished
        self.client_quit = False
        self.tls = None          # the TLS version after STARTTLS
        self.eof = False         # client closed the connection
        self.lock = threading.Lock()

    @property
    def current(self):
        return self.transactions[-1] if self.transactions else None

    def client_lines(self):
        return [d for who, d in self.transcript if who == "C"]

    def text(self):
        """The transcript as text, for error messages."""
        return "".join("%s: %s\n" % (who, d.decode("utf-8", "replace")
                                     .rstrip("\r\n"))
                       for who, d in self.transcript)


class SMTPServer:
    def __init__(self, port=0, host="127.0.0.1", lmtp=False, hostname="dest.test",
                 greeting=None, ehlo_keywords=None, replies=None,
                 rcpt_rules=None, lmtp_rules=None, actions=None,
                 stall_timeout=120.0, read_timeout=120.0, delay=None,
                 unix_path=None, data_stall=False, rcvbuf=None,
                 data_rate=0, record_data_times=False, tls_context=None):
        self.port = port
        self.host = host
        self.tls_context = tls_context
        self.delay = dict(delay or {})
        self.unix_path = unix_path
        self.data_stall = data_stall
        self.rcvbuf = rcvbuf
        self.data_rate = data_rate
        self.record_data_times = record_data_times
        self.lmtp = lmtp
        self.hostname = hostname
        self.greeting = greeting or "220 %s ESMTP postern-test-server" % (
            hostname)
        self.ehlo_keywords = (DEFAULT_KEYWORDS if ehlo_keywords is None
                              else list(ehlo_keywords))
        self.replies = dict(replies or {})
        self.rcpt_rules = _rules(rcpt_rules)
        self.lmtp_rules = _rules(lmtp_rules)
        self.actions = dict(actions or {})
        self.stall_timeout = stall_timeout
        self.read_timeout = read_timeout
        self.sessions = []
        self.errors = []          # exceptions raised in session threads
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []
        self._conns = []
        self._listener = None
        self._accept_thread = None
        self._queued_id = 0

    # ------------------------------------------------------------------
    def start(self):
        if self.unix_path:
            import os
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if self.rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            try:
                os.unlink(self.unix_path)
            except FileNotFoundError:
                pass
            s.bind(self.unix_path)
            os.chmod(self.unix_path, 0o666)
            self.port = 0
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            s.bind((self.host, self.port))
            self.port = s.getsockname()[1]
        s.listen(64)
        s.settimeout(0.1)
        self._listener = s
        self._accept_thread = threading.Thread(target=self._accept_loop,
                                               name="smtpserver-accept",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def stop(self, timeout=5.0):
        self._stop.set()
        if self._accept_thread:
            self._accept_thread.join(timeout)
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.time() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.time()))
        for c in conns:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ------------------------------------------------------------------
    # Results

    def transactions(self, complete_only=True):
        out = []
        with self._lock:
            sessions = list(self.sessions)
        for s in sessions:
            for t in s.transactions:
                if t.complete or not complete_only:
                    out.append(t)
        return out

    def wait_sessions(self, n=1, timeout=30.0, closed=True):
        """Wait until n sessions exist (and, by default, have ended)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                ss = list(self.sessions)
            if len(ss) >= n and (not closed or all(s.closed for s in ss[:n])):
                return ss
            if time.time() > deadline:
                raise AssertionError("server: %d session(s) after %ss, wanted "
                                     "%d%s" % (len(ss), timeout, n,
                                               " closed" if closed else ""))
            time.sleep(0.05)

    def wait_transactions(self, n=1, timeout=30.0):
        deadline = time.time() + timeout
        while True:
            t = self.transactions()
            if len(t) >= n:
                return t
            if time.time() > deadline:
                raise AssertionError("server: %d complete transaction(s) "
                                     "after %ss, wanted %d" % (len(t), timeout,
                                                               n))
            time.sleep(0.05)

    def transcript_text(self):
        with self._lock:
            ss = list(self.sessions)
        return "\n".join("--- session %d\n%s" % (i, s.text())
                         for i, s in enumerate(ss))

    # ------------------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, peer = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(self.read_timeout)
            sess = Session(peer)
            t = threading.Thread(target=self._serve, args=(conn, sess),
                                 name="smtpserver-session", daemon=True)
            with self._lock:
                self.sessions.append(sess)
                self._conns.append(conn)
                self._threads.append(t)
            t.start()

    def _serve(self, conn, sess):
        try:
            _Handler(self, conn, sess).run()
        except (OSError, socket.timeout, _Close):
            pass
        except Exception as e:  # a bug in a test's callable
            self.errors.append(e)
        finally:
            try:
                conn.close()
            except OSError:
                pass
            sess.closed = True

    def _next_queue_id(self):
        with self._lock:
            self._queued_id += 1
            return "TEST%04d" % self._queued_id


class _Close(Exception):
    pass


class _Handler:
    def __init__(self, server, conn, sess):
        self.srv = server
        self.conn = conn
        self.sess = sess
        self.rfile = conn.makefile("rb")

    # --- helpers --------------------------------------------------------
    def send_lines(self, lines):
        data = b""
        for line in lines:
            b = line.encode() if isinstance(line, str) else line
            data += b + b"\r\n"
            self.sess.transcript.append(("S", b + b"\r\n"))
        self.conn.sendall(data)

    def resolve(self, stage, default, arg=None):
        reply = self.srv.replies.get(stage, default)
        if callable(reply):
            reply = reply(self.sess, arg)
            if reply is None:
                reply = default
        if isinstance(reply, str):
            reply = reply.split("\n")
        return list(reply)

    def action(self, stage, arg=None):
        a = self.srv.actions.get(stage)
        if callable(a):
            a = a(self.sess, arg)
        return a

    def respond(self, stage, default, arg=None, reply=None):
        """Reply for a stage, honouring its action.  Return the reply's
        first line (str), or raise _Close."""
        act = self.action(stage, arg)
        if stage in self.srv.delay:
            time.sleep(self.srv.delay[stage])
            self.sess.pending[stage] = self.peek_pending()
            self.sess.peer_closed[stage] = (
                self.sess.pending[stage] == b"" and self.peer_eof())
        if act == HANGUP:
            raise _Close()
        if act == STALL:
            self.srv._stop.wait(self.srv.stall_timeout)
            raise _Close()
        lines = reply if reply is not None else self.resolve(stage, default,
                                                             arg)
        self.send_lines(lines)
        if act == HANGUP_AFTER_REPLY:
            raise _Close()
        last = lines[-1] if lines else ""
        return last.decode("latin-1") if isinstance(last, bytes) else last

    def peek_pending(self):
        """Bytes the client sent that were not read yet (no blocking)."""
        self.conn.settimeout(0)
        try:
            got = self.rfile.peek(1 << 16)
        except (BlockingIOError, OSError):
            got = b""
        finally:
            self.conn.settimeout(self.srv.read_timeout)
        return bytes(got or b"")

    def peer_eof(self):
        """True if the client has closed its end (nothing more to read)."""
        self.conn.settimeout(0)
        try:
            return self.conn.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, socket.timeout):
            return False
        except OSError:
            return True
        finally:
            self.conn.settimeout(self.srv.read_timeout)

    def readline(self):
        buf = getattr(self, "_slowbuf", None)
        if buf:
            if b"\n" in buf:
                i = buf.index(b"\n") + 1
                line = bytes(buf[:i])
                del buf[:i]
                return line
            rest = self.rfile.readline(1 << 20)
            line = bytes(buf) + rest
            del buf[:]
            if not rest:
                self.sess.eof = True
                raise _Close()
            return line
        line = self.rfile.readline(1 << 20)
        if not line:
            self.sess.eof = True
            raise _Close()
        return line

    # --- the session ------------------------------------------------------
    def run(self):
        self.respond("greeting", self.srv.greeting)
        while True:
            raw = self.readline()
            self.sess.transcript.append(("C", raw))
            line = raw.rstrip(b"\r\n")
            text = line.decode("utf-8", "replace")
            self.sess.commands.append(text)
            verb = text.split(" ", 1)[0].upper()
            if self.command(verb, text, line) == "quit":
                return

    def ehlo_lines(self):
        kw = [self.srv.hostname] + list(self.srv.ehlo_keywords)
        if self.srv.tls_context is not None and not self.sess.tls \
                and "STARTTLS" not in kw:
            kw.append("STARTTLS")
        return ["250%s%s" % ("-" if i < len(kw) - 1 else " ", k)
                for i, k in enumerate(kw)]

    def command(self, verb, text, line):
        srv, sess = self.srv, self.sess
        if verb in ("EHLO", "LHLO"):
            sess.helo = text
            stage = verb.lower()
            if srv.lmtp != (verb == "LHLO"):
                self.respond(stage, "502 5.5.2 Error: command not recognized")
            else:
                self.respond(stage, self.ehlo_lines())
        elif verb == "HELO":
            sess.helo = text
            if srv.lmtp:
                self.respond("helo", "502 5.5.2 Error: command not recognized")
            else:
                self.respond("helo", "250 %s" % srv.hostname)
        elif text.upper().startswith("MAIL FROM:"):
            m = ADDR_RE.match(line)
            addr = m.group(1).decode("utf-8", "replace") if m else None
            reply = self.respond("mail", "250 2.1.0 Ok", addr)
            if reply.startswith("2"):
                sess.transactions.append(Transaction(text, addr))
        elif text.upper().startswith("RCPT TO:"):
            m = ADDR_RE.match(line)
            addr = m.group(1).decode("utf-8", "replace") if m else None
            t = sess.current
            if t is None or t.data_started:
                self.respond("rcpt", "503 5.5.1 Error: need MAIL command",
                             addr, reply=["503 5.5.1 Error: need MAIL command"])
                return
            default = "250 2.1.5 Ok"
            for r, v in srv.rcpt_rules:
                if addr is not None and r.search(addr):
                    default = v(sess, addr) if callable(v) else v
                    break
            t.rcpt_lines.append(text)
            t.rcpt_to.append(addr)
            reply = self.respond("rcpt", default, addr)
            if reply.startswith("2"):
                t.accepted.append(addr)
        elif verb == "DATA":
            t = sess.current
            if t is None or t.data_started:
                self.respond("data", None,
                             reply=["503 5.5.1 Error: need RCPT command"])
                return
            if not t.accepted:
                self.respond("data", None,
                             reply=["554 5.5.1 Error: no valid recipients"])
                return
            reply = self.respond("data",
                                 "354 End data with <CR><LF>.<CR><LF>")
            if not reply.startswith("3"):
                return
            t.data_started = True
            if srv.data_stall:
                srv._stop.wait(srv.stall_timeout)
                raise _Close()
            self.read_data(t)
            self.end_of_data(t)
        elif verb == "RSET":
            if sess.current is not None and not sess.current.complete:
                sess.transactions.pop()
            self.respond("rset", "250 2.0.0 Ok")
        elif verb == "NOOP":
            self.respond("noop", "250 2.0.0 Ok")
        elif verb == "STARTTLS" and srv.tls_context is not None \
                and not sess.tls:
            reply = self.respond("starttls", "220 2.0.0 Ready to start TLS")
            if reply.startswith("2"):
                self.conn = srv.tls_context.wrap_socket(self.conn,
                                                        server_side=True)
                self.rfile = self.conn.makefile("rb")
                sess.tls = self.conn.version()
                sess.helo = None
        elif verb == "QUIT":
            sess.client_quit = True
            self.respond("quit", "221 2.0.0 Bye")
            return "quit"
        else:
            self.respond("other", "502 5.5.2 Error: command not recognized",
                         text)

    def slow_readline(self):
        """readline() at about srv.data_rate bytes per second."""
        while b"\n" not in self._slowbuf:
            chunk = self.rfile.read1(4096)
            if not chunk:
                self.sess.eof = True
                raise _Close()
            self._slowbuf += chunk
            time.sleep(len(chunk) / float(self.srv.data_rate))
        i = self._slowbuf.index(b"\n") + 1
        line = bytes(self._slowbuf[:i])
        del self._slowbuf[:i]
        return line

    def read_data(self, t):
        raw = bytearray()
        data = bytearray()
        if not getattr(self, "_slowbuf", None):
            self._slowbuf = bytearray()
        while True:
            if self.srv.data_rate:
                line = self.slow_readline()
            else:
                line = self.readline()
            if self.srv.record_data_times:
                self.sess.data_times.append((time.time(), line))
            if line == b".\r\n":
                break
            raw += line
            t.partial = bytes(raw)
            data += line[1:] if line.startswith(b".") else line
        t.data_raw = bytes(raw)
        t.data = bytes(data)
        t.complete = True

    def end_of_data(self, t):
        if not self.srv.lmtp:
            reply = self.respond(
                "eod", "250 2.0.0 Ok: queued as %s" % self.srv._next_queue_id())
            t.eod_replies.append(reply)
            return
        for addr in list(t.accepted):
            default = "250 2.0.0 <%s> Ok delivered" % addr
            for r, v in self.srv.lmtp_rules:
                if r.search(addr):
                    default = v(self.sess, addr) if callable(v) else v
                    break
            reply = self.respond("eod", default, addr)
            t.eod_replies.append(reply)
