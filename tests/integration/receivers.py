#!/usr/bin/env python3
"""receivers - real receiving servers from Debian packages, run as private
instances for the protocol tests:

  DovecotLMTP   Dovecot's LMTP server (dovecot-lmtpd), its own config in a
                fresh folder, delivering to Maildirs, listening on a TCP
                loopback port and on a UNIX socket.
  AioSMTPD      aiosmtpd (python3-aiosmtpd, a second SMTP implementation),
                run by Debian's /usr/bin/python3, storing each message
                byte-exact with its envelope.
  postfix_receiver()  a second private Postfix instance whose smtpd
                stores mail for dest.test in Maildirs through virtual(8).

Every start and wait has a timeout; stop() ends only the process it
started, by its pid.
"""

import json
import os
import pwd
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


def postfix_receiver(ctx, port=None, users=("rcpt@dest.test",), extra=None):
    """A second private Postfix instance (always Postfix's own programs;
    it never runs the agent) whose smtpd on 127.0.0.1:port accepts mail
    for dest.test and stores it through virtual(8) in DIR/mail/dest.test/
    USER/ (Maildir).  Return (instance, port)."""
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
                                   "127.0.0.1:%d inet n - n - - smtpd "
                                   "-o smtpd_tls_security_level=none" % port))
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
