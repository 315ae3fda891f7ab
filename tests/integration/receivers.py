#!/usr/bin/env python3
"""receivers - real receiving servers from Debian packages, run as private
instances for the protocol tests:

  DovecotLMTP   Dovecot's LMTP server (dovecot-lmtpd), its own config in a
                fresh folder, delivering to Maildirs, listening on a TCP
                loopback port and on a UNIX socket.
  AioSMTPD      aiosmtpd (python3-aiosmtpd, a second SMTP implementation),
                run by Debian's /usr/bin/python3, storing each message
                byte-exact with its envelope.
  Exim          Debian 12's Exim 4.96 (exim4-daemon-light, unpacked by
                tests/deps.sh, not installed as the MTA), a foreground
                daemon with a generated configuration, storing each
                recipient's copy in a Maildir and logging every SMTP
                command it was given.
  postfix_receiver()  a second private Postfix instance whose smtpd
                stores mail for dest.test in Maildirs through virtual(8).

Every start and wait has a timeout; stop() ends only the process it
started, by its pid.
"""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SYSTEM_PYTHON = "/usr/bin/python3"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port, proc, timeout, what, log=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited (%s)%s" % (what, proc.returncode,
                                                    _tail(log)))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not listen on %d%s" % (what, port, _tail(log)))


def _tail(path, n=20):
    if not path:
        return ""
    try:
        with open(path, errors="replace") as f:
            return "\n" + "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _stop_proc(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


class _Registered:
    """Mixin: register with a run.py Context as one of its servers, so
    that the runner stops it (stop() keeps the log text for a failure
    report and removes the folder unless KEEP=1)."""

    _final_log = ""

    def register(self, ctx):
        ctx.servers.append(self)
        return self

    def transcript_text(self):
        return self._final_log

    def stop(self):
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        self._stop()
        self._final_log = "%s log:%s" % (type(self).__name__,
                                         _tail(self.log, 30))
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


class DovecotLMTP(_Registered):
    """A private Dovecot running only LMTP.  Mail for user@domain goes to
    DIR/mail/domain/user/ (Maildir), owned by the postfix user."""

    def __init__(self, unix_path=None, port=None):
        self.dir = tempfile.mkdtemp(prefix="postern-dovecot-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.port = port or free_port()
        self.unix_path = unix_path or os.path.join(self.dir, "lmtp.sock")
        self.mail = os.path.join(self.dir, "mail")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.proc = None
        pw = pwd.getpwnam("postfix")
        os.makedirs(self.mail)
        os.chown(self.mail, pw.pw_uid, pw.pw_gid)
        for d in ("run", "state"):
            os.makedirs(os.path.join(self.dir, d))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write("""\
base_dir = {d}/run
state_dir = {d}/state
instance_name = postern-{port}
log_path = {log}
info_log_path = {log}
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
postmaster_address = postmaster@lmtp.test
hostname = lmtp.test
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{mail}/%d/%n
lmtp_save_to_detail_mailbox = no
recipient_delimiter =
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%d/%n allow_all_users=yes
}}
passdb {{
  driver = static
  args = nopassword=y
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener {sock} {{
    mode = 0666
  }}
}}
""".format(d=self.dir, port=self.port, log=self.log, mail=self.mail,
           uid=pw.pw_uid, gid=pw.pw_gid, sock=self.unix_path))

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            ["/usr/sbin/dovecot", "-F", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=open(self.log + ".out", "wb"),
            stderr=subprocess.STDOUT)
        _wait_port(self.port, self.proc, timeout, "dovecot", self.log + ".out")
        deadline = time.time() + timeout
        while not os.path.exists(self.unix_path):
            if time.time() > deadline:
                raise RuntimeError("dovecot socket %s missing%s" % (
                    self.unix_path, _tail(self.log)))
            time.sleep(0.1)
        return self

    def messages(self, user, domain):
        new = os.path.join(self.mail, domain, user, "Maildir", "new")
        if not os.path.isdir(new):
            new = os.path.join(self.mail, domain, user, "new")
        try:
            names = sorted(os.listdir(new))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            with open(os.path.join(new, n), "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, user, domain, count=1, timeout=30):
        deadline = time.time() + timeout
        while True:
            m = self.messages(user, domain)
            if len(m) >= count:
                return m
            if time.time() > deadline:
                raise AssertionError("dovecot: %d message(s) for %s@%s%s" % (
                    len(m), user, domain, _tail(self.log)))
            time.sleep(0.1)

    def log_text(self):
        return _tail(self.log, 200)

    def _stop(self):
        _stop_proc(self.proc)


AIOSMTPD_SCRIPT = r'''
import json, os, sys, time, asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

outdir, port = sys.argv[1], int(sys.argv[2])
count = [0]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        count[0] += 1
        base = os.path.join(outdir, "%04d" % count[0])
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from,
                       "mail_options": envelope.mail_options,
                       "rcpt_tos": envelope.rcpt_tos,
                       "rcpt_options": envelope.rcpt_options,
                       "helo": session.host_name}, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Ok: stored as %04d" % count[0]

c = Controller(Handler(), hostname="127.0.0.1", port=port,
               server_hostname="aiosmtpd.test", decode_data=False,
               enable_SMTPUTF8=True, data_size_limit=50000000)
c.start()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    c.stop()
'''


class AioSMTPD(_Registered):
    """aiosmtpd on 127.0.0.1:port; each message stored as NNNN.eml (the
    DATA content, dot-unstuffed, CRLF as received) and NNNN.json (the
    envelope)."""

    def __init__(self, port=None):
        self.dir = tempfile.mkdtemp(prefix="postern-aiosmtpd-", dir="/tmp")
        self.port = port or free_port()
        self.log = os.path.join(self.dir, "aiosmtpd.log")
        self.proc = None

    def start(self, timeout=20):
        if not os.path.exists(SYSTEM_PYTHON):
            raise RuntimeError("no %s" % SYSTEM_PYTHON)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", AIOSMTPD_SCRIPT, self.dir, str(self.port)],
            stdin=subprocess.PIPE, stdout=open(self.log, "wb"),
            stderr=subprocess.STDOUT, env=env)
        _wait_port(self.port, self.proc, timeout, "aiosmtpd", self.log)
        return self

    def messages(self):
        out = []
        for n in sorted(os.listdir(self.dir)):
            if n.endswith(".json"):
                with open(os.path.join(self.dir, n)) as f:
                    env = json.load(f)
                with open(os.path.join(self.dir, n[:-5] + ".eml"), "rb") as f:
                    out.append((env, f.read()))
        return out

    def wait_messages(self, count=1, timeout=30):
        deadline = time.time() + timeout
        while True:
            m = self.messages()
            if len(m) >= count:
                return m
            if time.time() > deadline:
                raise AssertionError("aiosmtpd: %d message(s)%s" % (
                    len(m), _tail(self.log)))
            time.sleep(0.1)

    def _stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _stop_proc(self.proc)


def postfix_receiver(ctx, port=None, users=("rcpt@dest.test",), extra=None,
                     smtpd_opts=None):
    """A second private Postfix instance (always Postfix's own programs;
    it never runs the agent) whose smtpd on 127.0.0.1:port accepts mail
    for dest.test and stores it through virtual(8) in DIR/mail/dest.test/
    USER/ (Maildir).  smtpd_opts: "-o name=value" settings of that smtpd
    (default: smtpd_tls_security_level=none).  Return (instance, port)."""
    import pfinstance
    port = port or ctx.free_port()
    vmap = {u: "dest.test/%s/" % u.split("@")[0] for u in users}
    cf = {"myhostname": "mx.dest.test", "mydomain": "dest.test",
          "virtual_mailbox_domains": "dest.test",
          "smtpd_banner": "$myhostname ESMTP receiver"}
    cf.update(extra or {})
    inst = pfinstance.Instance(agent="postfix", build=ctx.build, chroot="n",
                               main_cf=cf, vmailbox=vmap,
                               master_cf_extra=(
                                   "127.0.0.1:%d inet n - n - - smtpd %s"
                                   % (port, " ".join(
                                       "-o %s=%s" % kv for kv in
                                       (smtpd_opts or {
                                           "smtpd_tls_security_level":
                                           "none"}).items()))))
    ctx.instances.append(inst)
    inst.start()
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise RuntimeError("receiver smtpd not listening on %d" % port)
            time.sleep(0.1)
    return inst, port


EXIM_DIR = os.environ.get("POSTERN_EXIM_DIR", "/var/cache/postern-test/exim")
EXIM_BIN = os.path.join(EXIM_DIR, "usr/sbin/exim4")

EXIM_CONF = """\
# Generated by tests/integration/receivers.py (Exim class).
primary_hostname = exim.test
qualify_domain = exim.test
exim_path = {bin}
keep_environment =
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
log_selector = +all
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
host_lookup =
rfc1413_query_timeout = 0s
tls_advertise_hosts =
message_size_limit = 50M
accept_8bitmime = {eightbit}
pipelining_advertise_hosts = {pipelining}
dsn_advertise_hosts = {dsn}
chunking_advertise_hosts = *
acl_smtp_helo = log_command
acl_smtp_mail = log_command
acl_smtp_rcpt = check_rcpt
acl_smtp_predata = log_command
acl_smtp_quit = log_command

begin acl

log_command:
  warn logwrite = postern-cmd: $smtp_command
  accept

check_rcpt:
  warn logwrite = postern-cmd: $smtp_command
  deny local_parts = ^{reject}
       message = 5.1.1 <$local_part@$domain>: Recipient rejected by Exim ACL
  accept

begin routers

# A Maildir of each local part that has a folder in mail/ (dsearch gives an
# untainted name); every other recipient goes to mail/_other.
known:
  driver = accept
  local_parts = dsearch;{dir}/mail
  transport = maildir

other:
  driver = accept
  transport = other

begin transports

maildir:
  driver = appendfile
  directory = {dir}/mail/$local_part_data
  maildir_format
  create_directory
  user = {user}
  group = {group}
  mode = 0600

other:
  driver = appendfile
  directory = {dir}/mail/_other
  maildir_format
  create_directory
  user = {user}
  group = {group}
  mode = 0600
"""


class Exim(_Registered):
    """Exim 4.96 from Debian's exim4-daemon-light, unpacked in EXIM_DIR by
    tests/deps.sh, run as root with its own configuration (-C) as a
    foreground daemon (-bdf) on 127.0.0.1:port.  It announces SIZE
    52428800, 8BITMIME (unless eightbitmime=False), PIPELINING (unless
    pipelining=False; then it enforces lock-step and drops a client that
    pipelines), CHUNKING, SMTPUTF8, DSN only with dsn=True; accepts every recipient except local
    parts starting with `reject` (550 5.1.1 from the RCPT ACL); stores
    each recipient's copy in DIR/mail/LOCALPART/new/ (Maildir; for the
    local parts in users, else DIR/mail/_other) as Exim keeps messages:
    its Received header, then the content with LF line ends, dot-unstuffed.
    Every SMTP command goes to its log as `postern-cmd: COMMAND`.

    Exim's own rules: the binary looks up the user Debian-exim at start
    (deps.sh creates it); it drops to that user to receive and to deliver
    (-C from root is trusted, but the re-executed delivery process loses
    root: "exim user lost privilege for using -C option"), so its spool,
    log and mail folders belong to Debian-exim.  Root may not be a local
    delivery user (compiled-in never_users)."""

    def __init__(self, port=None, users=("alice", "bob", "carol", "rcpt"),
                 eightbitmime=True, pipelining=True, dsn=False,
                 reject="reject"):
        self.dir = tempfile.mkdtemp(prefix="postern-exim-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.port = port or free_port()
        self.mail = os.path.join(self.dir, "mail")
        self.log = os.path.join(self.dir, "log", "mainlog")
        self.out = os.path.join(self.dir, "exim.out")
        self.conf = os.path.join(self.dir, "exim.conf")
        self.proc = None
        pw = pwd.getpwnam("Debian-exim")
        for d in ["spool", "log", "mail"] + ["mail/" + u for u in users]:
            path = os.path.join(self.dir, d)
            os.makedirs(path)
            os.chown(path, pw.pw_uid, pw.pw_gid)
        with open(self.conf, "w") as f:
            f.write(EXIM_CONF.format(
                bin=EXIM_BIN, dir=self.dir, port=self.port,
                eightbit="true" if eightbitmime else "false",
                pipelining="*" if pipelining else ":",
                dsn="*" if dsn else ":",
                reject=reject, user=pw.pw_uid, group=pw.pw_gid))
        os.chmod(self.conf, 0o644)

    def start(self, timeout=20):
        if not os.access(EXIM_BIN, os.X_OK):
            raise RuntimeError("no Exim at %s: run tests/deps.sh as root"
                               % EXIM_BIN)
        self.proc = subprocess.Popen(
            [EXIM_BIN, "-C", self.conf, "-bdf", "-oX", str(self.port),
             "-oP", os.path.join(self.dir, "exim.pid")],
            stdin=subprocess.DEVNULL, stdout=open(self.out, "wb"),
            stderr=subprocess.STDOUT, cwd=self.dir)
        _wait_port(self.port, self.proc, timeout, "exim", self.out)
        return self

    def ehlo(self):
        """The EHLO keywords Exim announces (an extra session, logged as
        EHLO probe.test and QUIT)."""
        import smtplib
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname="probe.test",
                         timeout=20)
        try:
            code, text = c.ehlo()
            assert code == 250, (code, text)
            return text.decode().split("\n")[1:]
        finally:
            c.quit()

    # -- what it received

    def messages(self, user):
        """The stored copies for local part user (or "_other"), oldest
        first."""
        new = os.path.join(self.mail, user, "new")
        try:
            names = os.listdir(new)
        except FileNotFoundError:
            return []
        paths = [os.path.join(new, n) for n in names]
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, user, count=1, timeout=30):
        deadline = time.time() + timeout
        while True:
            m = self.messages(user)
            if len(m) >= count:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("exim exited (%s)%s" % (
                    self.proc.returncode, _tail(self.log)))
            if time.time() > deadline:
                raise AssertionError("exim: %d message(s) for %s%s" % (
                    len(m), user, _tail(self.log)))
            time.sleep(0.1)

    def log_lines(self):
        """The complete lines of Exim's main log, without the time stamp
        (`[PID] text`)."""
        try:
            with open(self.log, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        lines = data.split("\n")[:-1]
        return [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? ", "", l)
                for l in lines]

    def grep_log(self, regex):
        r = re.compile(regex)
        return [m for m in (r.search(l) for l in self.log_lines()) if m]

    def wait_log(self, regex, timeout=30):
        deadline = time.time() + timeout
        while True:
            found = self.grep_log(regex)
            if found:
                return found[0]
            if time.time() > deadline:
                raise AssertionError("exim log: no line matches %r%s" % (
                    regex, _tail(self.log)))
            time.sleep(0.1)

    def sessions(self):
        """The SMTP commands of each connection (as logged by the ACLs,
        grouped by the receiving process), in order."""
        by_pid = {}
        for l in self.log_lines():
            m = re.match(r"\[(\d+)\] postern-cmd: (.*)$", l)
            if m:
                by_pid.setdefault(m.group(1), []).append(m.group(2))
        return list(by_pid.values())

    def log_text(self):
        return _tail(self.log, 200)

    def _stop(self):
        _stop_proc(self.proc)
        # Delivery processes re-executed by the daemon's children run on
        # their own: end those still running with our configuration.
        deadline = time.time() + 10
        while True:
            left = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if self.conf.encode() in argv:
                    left.append(int(pid))
            if not left:
                return
            if time.time() > deadline:
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                return
            time.sleep(0.1)
