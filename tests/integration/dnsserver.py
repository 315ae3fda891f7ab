#!/usr/bin/env python3
"""dnsserver - DNS and network fixtures for the MX tests.

    dns = TestDNS()                       # dnsmasq on 127.N.X.1:53
    dns.mx("mx.test", 10, "mx1.mx.test")
    dns.a("mx1.mx.test", "127.0.53.11")
    dns.start()
    dns.install(inst)                     # inst's spool/etc/resolv.conf
    ...
    dns.stop()

TestDNS runs Debian's dnsmasq (dnsmasq-base) as an authoritative-only
server for the zone "test" on 127.N.X.1 port 53 (N.X from the process id,
so that parallel runs do not collide), from records given by
the test: mx(), a(), aaaa(), cname(), nullmx().  Names under
"fault.test" are forwarded to a FaultResponder of ours on 127.N.X.2 (a
scripted server written here, UDP and TCP), which answers by the first
label of the name:

  servfail.*     SERVFAIL
  timeout.*      no answer at all
  malformed.*    an answer record cut off in the middle
  badmx.*        an MX record whose exchanger is a malformed name
  mxfail.*       SERVFAIL for MX, an A record (127.0.53.70) for A
  anything else  NXDOMAIN

The agent must run chrooted: install() writes the instance's
spool/etc/resolv.conf (the host's /etc/resolv.conf is never touched);
direct=True points it at the FaultResponder itself, for replies that
dnsmasq would not pass on.

Also here: bound_server() (the scriptable SMTP server of smtpserver.py
listening on any loopback address, IPv4 or IPv6), BlackHole (a loopback
address:port whose listen queue is full, so the kernel drops every SYN:
connects hang until the client gives up), and free_port_on().
"""

import errno
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import smtpserver

# Per process, so that test runs in parallel (the runner's workers,
# postern and postfix, or two developers) do not fight over port 53 of
# the same address; TestDNS.start() moves to another 127.N.X when its
# addresses are taken all the same (pids equal modulo 10040).
_PID = os.getpid()
_NET = "127.%d.%d" % (53 + (_PID // 251) % 40, _PID % 251)
DNS_ADDR = _NET + ".1"
FAULT_ADDR = _NET + ".2"
FAULT_A = "127.0.53.70"


def _other_net():
    """(dns_addr, fault_addr) on a random 127.N.X, N in 53..92."""
    net = "127.%d.%d" % (random.randint(53, 92), random.randint(0, 250))
    return net + ".1", net + ".2"


def free_port_on(addr="127.0.0.1"):
    """A TCP port free on addr (and on 127.0.0.1, for good measure)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for _ in range(50):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((addr, 0))
        port = s.getsockname()[1]
        s.close()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
        return port
    raise RuntimeError("no free port")


class BoundServer(smtpserver.SMTPServer):
    """SMTPServer on a given loopback address (IPv4 or IPv6)."""

    def __init__(self, addr, port, **kw):
        super().__init__(port=port, **kw)
        self.bind_addr = addr

    def start(self):
        fam = socket.AF_INET6 if ":" in self.bind_addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.bind_addr, self.port))
        s.listen(64)
        s.settimeout(0.1)
        self.port = s.getsockname()[1]
        self._listener = s
        self._accept_thread = threading.Thread(target=self._accept_loop,
                                               name="smtpserver-accept",
                                               daemon=True)
        self._accept_thread.start()
        return self


def bound_server(ctx, addr, port, **kw):
    """Start a BoundServer that ctx stops at the end of the test."""
    srv = BoundServer(addr, port, **kw)
    ctx.servers.append(srv)
    return srv.start()


class BlackHole:
    """addr:port where SYNs are dropped: a listener that never accepts,
    with its accept queue filled, so the kernel drops further SYNs."""

    def __init__(self, addr, port):
        self.addr, self.port = addr, port
        self.listener = None
        self.fillers = []

    def start(self):
        self.listener = socket.socket()
        self.listener.bind((self.addr, self.port))
        self.listener.listen(0)
        for _ in range(2):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect((self.addr, self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.1)
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect((self.addr, self.port))
            raise RuntimeError("black hole %s:%d accepts" % (self.addr,
                                                               self.port))
        except socket.timeout:
            pass
        finally:
            probe.close()
        return self

    def transcript_text(self):
        return "black hole %s:%d" % (self.addr, self.port)

    def stop(self):
        for c in self.fillers:
            c.close()
        self.fillers = []
        if self.listener:
            self.listener.close()
            self.listener = None


def _qname(packet):
    """(name, type, end offset) of the question of a query."""
    pos, labels = 12, []
    while packet[pos]:
        n = packet[pos]
        labels.append(packet[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += n + 1
    qtype = struct.unpack(">H", packet[pos + 1:pos + 3])[0]
    return ".".join(labels), qtype, pos + 5


def _encode(name):
    if name in ("", "."):
        return b"\0"
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) \
        + b"\0"


class FaultResponder:
    """A DNS responder that misbehaves on purpose (see module doc)."""

    def __init__(self, addr=FAULT_ADDR):
        self.addr = addr
        self.queries = []
        self._stop = threading.Event()
        self._threads = []
        self._socks = []

    def answer(self, packet):
        name, qtype, end = _qname(packet)
        self.queries.append((name, qtype))
        first = name.split(".")[0].lower()
        qid = packet[:2]
        question = packet[12:end]
        flags_rd = packet[2] & 0x01

        def reply(rcode, answers=b"", count=0, aa=True):
            flags = 0x8000 | (0x0400 if aa else 0) | (flags_rd << 8) | 0x80
            return qid + struct.pack(">HHHHH", flags | rcode, 1, count, 0, 0) \
                + question + answers

        if first == "timeout":
            return None
        if first == "servfail" or (first == "mxfail" and qtype == 15):
            return reply(2, aa=False)
        if first == "mxfail" and qtype == 1:
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) \
                + socket.inet_aton(FAULT_A)
            return reply(0, rr, 1)
        if first == "malformed":
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 60, 40) + b"\x00\x0a"
            return reply(0, rr, 1)
        if first == "badmx" and qtype == 15:
            target = bytes([4]) + b"-bad" + _encode("test")
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 60,
                                           2 + len(target)) \
                + struct.pack(">H", 10) + target
            return reply(0, rr, 1)
        if first in ("mxfail", "badmx"):
            return reply(0)
        return reply(3)

    def _udp(self, s):
        while not self._stop.is_set():
            try:
                data, peer = s.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            out = self.answer(data)
            if out is not None:
                s.sendto(out, peer)

    def _tcp(self, s):
        while not self._stop.is_set():
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                c.settimeout(2)
                n = struct.unpack(">H", c.recv(2))[0]
                data = b""
                while len(data) < n:
                    more = c.recv(n - len(data))
                    if not more:
                        break
                    data += more
                out = self.answer(data)
                if out is not None:
                    c.sendall(struct.pack(">H", len(out)) + out)
                    time.sleep(0.05)
            except (OSError, struct.error):
                pass
            finally:
                c.close()

    def start(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((self.addr, 53))
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind((self.addr, 53))
        except OSError:
            u.close()
            t.close()
            raise
        u.settimeout(0.2)
        t.listen(8)
        t.settimeout(0.2)
        self._socks = [u, t]
        for fn, s in ((self._udp, u), (self._tcp, t)):
            th = threading.Thread(target=fn, args=(s,), daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def stop(self):
        self._stop.set()
        for th in self._threads:
            th.join(2)
        for s in self._socks:
            s.close()


class TestDNS:
    """dnsmasq serving the zone "test" from records given by the test."""

    def __init__(self, addr=DNS_ADDR, fault_addr=FAULT_ADDR):
        self.addr = addr
        self.fault = FaultResponder(fault_addr)
        self.args = []
        self.proc = None
        self.dir = None

    # Records ------------------------------------------------------------
    def mx(self, domain, pref, host):
        self.args.append("--mx-host=%s,%s,%d" % (domain, host, pref))

    def nullmx(self, domain):
        self.args.append("--mx-host=%s,.,0" % domain)

    def a(self, host, *addrs):
        for addr in addrs:
            self.args.append("--host-record=%s,%s" % (host, addr))

    aaaa = a

    def cname(self, alias, target):
        self.args.append("--cname=%s,%s" % (alias, target))

    # Running ------------------------------------------------------------
    def start(self):
        for attempt in range(10):
            try:
                return self._start()
            except OSError as e:
                if e.errno != errno.EADDRINUSE or attempt == 9:
                    raise
            self.stop()
            self.addr, self.fault.addr = _other_net()
            self.fault = FaultResponder(self.fault.addr)

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="postern-dns-")
        self.log = os.path.join(self.dir, "dnsmasq.log")
        argv = ["dnsmasq", "--keep-in-foreground", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null", "--user=root",
                "--pid-file=", "--bind-interfaces",
                "--listen-address=" + self.addr, "--port=53",
                "--local=/test/", "--server=/fault.test/" + self.fault.addr,
                "--cache-size=0", "--log-queries",
                "--log-facility=" + self.log] + self.args
        self.fault.start()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode()
                if "in use" in err:
                    raise OSError(errno.EADDRINUSE, "dnsmasq: " + err)
                raise RuntimeError("dnsmasq died: %s" % err)
            if self.query("probe.test", 1, timeout=0.2) is not None:
                return self
            time.sleep(0.05)
        raise RuntimeError("dnsmasq did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        self.fault.stop()
        # Keep the log text for a failure report; remove the folder.
        if self.dir:
            self._final_log = self.log_text()
            if os.environ.get("KEEP") != "1":
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def install(self, inst, direct=False, options="timeout:1 attempts:2",
                search=None):
        """Write the instance's chroot resolv.conf."""
        path = os.path.join(inst.spool, "etc", "resolv.conf")
        with open(path, "w") as f:
            if search:
                f.write("search %s\n" % search)
            f.write("nameserver %s\n" % (self.fault.addr if direct
                                         else self.addr))
            if options:
                f.write("options %s\n" % options)

    def hosts(self, inst, lines):
        """Append lines to the instance's chroot /etc/hosts."""
        path = os.path.join(inst.spool, "etc", "hosts")
        with open(path, "a") as f:
            for line in lines:
                f.write(line + "\n")

    def query(self, name, qtype, timeout=2.0):
        """One UDP query without EDNS: (rcode, tc, ancount) or None."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
                     + _encode(name) + struct.pack(">HH", qtype, 1),
                     (self.addr, 53))
            data = s.recv(65535)
        except (socket.timeout, OSError):
            return None
        finally:
            s.close()
        flags, _, ancount = struct.unpack(">HHH", data[2:8])
        return flags & 0x0f, bool(flags & 0x0200), ancount

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except (OSError, AttributeError):
            return getattr(self, "_final_log", "")


def start_dns(ctx, setup):
    """A TestDNS with records added by setup(dns), stopped with ctx."""
    dns = TestDNS()
    setup(dns)
    dns.start()

    class Stopper:
        port = 53

        def stop(self):
            dns.stop()

        def transcript_text(self):
            return "dnsmasq log:\n" + dns.log_text()
    ctx.servers.append(Stopper())
    return dns
