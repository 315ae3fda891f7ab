#!/usr/bin/env python3
"""pfinstance - a private Postfix 3.7 instance for integration tests.

An Instance lives in a fresh folder under /tmp (mode 755, so the postfix
user can traverse it):

    DIR/etc/main.cf, DIR/etc/master.cf, DIR/etc/vmailbox
    DIR/spool/      queue_directory (the chroot of chrooted services)
    DIR/data/       data_directory, owned by postfix
    DIR/libexec/    daemon_directory: symbolic links to every program in
                    /usr/lib/postfix/sbin, except smtp and lmtp, which point
                    at the agent under test
    DIR/mail/       virtual_mailbox_base: the sender's Maildir (NDRs)
    DIR/maillog     written by postlogd(8)

The agent under test is "postfix" (Postfix's own smtp/lmtp, the reference)
or "postern" (BUILD/postern-smtp and BUILD/postern-lmtp).  master.cf is
Debian's, with the "smtp inet" (smtpd) line commented out and the chroot
column of the smtp, relay and lmtp services set to the requested y or n.

The sender's domain client.test is a virtual mailbox domain of the
instance, so non-delivery notifications to sender@client.test are
delivered locally by virtual(8) and never pass through the agent.  All
other domains go to relayhost = [127.0.0.1]:PORT, the test's server.

Every wait has a timeout; nothing here waits forever.  stop() never kills
by name: it uses the pid in spool/pid/master.pid and the pids of the
master's own descendants.
"""

import json
import os
import pwd
import grp
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

PF_SBIN = "/usr/lib/postfix/sbin"
DEBIAN_MASTER_CF = "/etc/postfix/master.cf"
SENDER = "sender@client.test"
# Services whose chroot column a test chooses.
AGENT_SERVICES = ("smtp", "relay", "lmtp")
# Copied into spool/etc for chrooted services, as Debian's init script does.
CHROOT_ETC_FILES = ("localtime", "hosts", "resolv.conf", "nsswitch.conf",
                    "services", "host.conf")
DEFAULT_TIMEOUT = float(os.environ.get("IT_TIMEOUT", "30"))
# [(name, mode, uid, gid)] of the queue directories, learnt from the first
# instance's check-fatal (see Instance._make_queue_dirs).
_QUEUE_DIRS = None


class InstanceError(Exception):
    """A setup or command failure of the instance (not a test verdict)."""


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def resolve_build(build):
    """Return the absolute build directory: relative to the current
    directory when it exists there, else relative to the repository."""
    if os.path.isabs(build):
        return build
    here = os.path.abspath(build)
    if os.path.isdir(here):
        return here
    return os.path.join(repo_root(), build)


def agent_paths(agent, build="build"):
    """Return (smtp_program, lmtp_program) for an agent choice."""
    if agent == "postfix":
        return (os.path.join(PF_SBIN, "smtp"), os.path.join(PF_SBIN, "lmtp"))
    if agent == "postern":
        b = resolve_build(build)
        return (os.path.join(b, "postern-smtp"),
                os.path.join(b, "postern-lmtp"))
    raise ValueError("unknown agent %r (postern or postfix)" % agent)


def settle(path):
    """Date a configuration file just written a few seconds back.  Every
    Postfix program that reads main.cf (or a texthash table) whose mtime
    is under 2 s old pauses in 0.3 s steps until it is older ("pausing to
    let ... cool down"): that made each instance start and each reload
    cost about 2 s."""
    t = time.time() - 5
    os.utime(path, (t, t))


def _proc_stat(pid):
    """Return (ppid, starttime) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the
    # last ')'.
    rest = data[data.rindex(")") + 2:].split()
    if rest[0] == "Z":
        return None
    return int(rest[1]), int(rest[19])


def descendants(root):
    """Return {pid: starttime} of every live descendant of root."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st is not None:
            children.setdefault(st[0], []).append((int(name), st[1]))
    found = {}
    todo = [root]
    while todo:
        p = todo.pop()
        for child, start in children.get(p, ()):
            if child not in found:
                found[child] = start
                todo.append(child)
    return found


def _alive(pid, starttime=None):
    st = _proc_stat(pid)
    return st is not None and (starttime is None or st[1] == starttime)


class Instance:
    """One private Postfix instance.  Use as a context manager, or call
    start() and cleanup() (which stops) yourself."""

    def __init__(self, agent="postfix", build="build", chroot="n",
                 relay_port=None, main_cf=None, master_cf_extra=None,
                 vmailbox=None, keep=None, drop_services=()):
        if chroot not in ("y", "n"):
            raise ValueError("chroot must be y or n")
        self.agent = agent
        self.build = resolve_build(build)
        self.chroot = chroot
        self.relay_port = relay_port
        self.main_cf_extra = dict(main_cf or {})
        self.master_cf_extra = master_cf_extra or ""
        # master.cf services left out (e.g. "scache": not running)
        self.drop_services = tuple(drop_services)
        self.vmailbox = vmailbox or {SENDER: "client.test/sender/"}
        self.keep = (os.environ.get("KEEP") == "1") if keep is None else keep
        self.smtp_prog, self.lmtp_prog = agent_paths(agent, self.build)
        self.pf_uid = pwd.getpwnam("postfix").pw_uid
        self.pf_gid = grp.getgrnam("postfix").gr_gid
        self.dir = tempfile.mkdtemp(prefix="postern-it-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.libexec = os.path.join(self.dir, "libexec")
        self.mail = os.path.join(self.dir, "mail")
        self.maillog = os.path.join(self.dir, "maillog")
        self.sanitizer_dirs = [os.path.join(self.dir, "sanitizer"),
                               os.path.join(self.spool, self.dir.lstrip("/"),
                                            "sanitizer")]
        self.master_pid = None
        self.started = False
        # Waits give up at once when the agent crashed (see agent_trouble),
        # and the runner fails the test for such lines, unless a test that
        # provokes them sets expect_trouble.
        self.fail_fast = True
        self.expect_trouble = False
        self._create()

    # ------------------------------------------------------------------
    # Construction

    def main_cf_settings(self):
        d = self.dir
        s = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": self.data,
            "daemon_directory": self.libexec,
            "myhostname": "client.test",
            "mydomain": "client.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "alias_maps": "",
            "alias_database": "",
            "maillog_file": os.path.join(d, "maillog"),
            "maillog_file_prefixes": d,
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "delay_warning_time": "0",
            "smtp_tls_security_level": "none",
            "virtual_mailbox_domains": "client.test",
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps": "texthash:" + os.path.join(
                self.etc, "vmailbox"),
            "virtual_uid_maps": "static:%d" % self.pf_uid,
            "virtual_gid_maps": "static:%d" % self.pf_gid,
        }
        if self.relay_port is not None:
            s["relayhost"] = "[127.0.0.1]:%d" % self.relay_port
        if self.agent == "postern":
            # Sanitizer reports of an ASan/UBSan build: master(8) passes
            # only import_environment to its children, whose stderr is
            # /dev/null, so send the reports to files (the same absolute
            # path is created inside the chroot too).
            logdir = os.path.join(d, "sanitizer")
            asan = os.environ.get("POSTERN_ASAN_OPTIONS",
                                  "detect_leaks=0:abort_on_error=0")
            s["import_environment"] = (
                "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY "
                "LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME "
                "ASAN_OPTIONS=%s:log_path=%s/asan "
                "UBSAN_OPTIONS=print_stacktrace=1:log_path=%s/ubsan"
                % (asan, logdir, logdir))
        s.update(self.main_cf_extra)
        return s

    def _master_cf(self):
        try:
            with open(DEBIAN_MASTER_CF) as f:
                lines = f.read().splitlines()
        except OSError:
            with open(DEBIAN_MASTER_CF + ".proto") as f:
                lines = f.read().splitlines()
        out = []
        for line in lines:
            fields = line.split()
            if (line and not line[0].isspace() and not line.startswith("#")
                    and len(fields) >= 8):
                if (fields[0] == "smtp" and fields[1] == "inet"
                        or fields[0] in self.drop_services):
                    out.append("#" + line)
                    continue
                if fields[0] in AGENT_SERVICES and fields[1] == "unix":
                    fields[4] = self.chroot
                    line = "%-10s %-5s %-7s %-7s %-7s %-7s %-7s %s" % (
                        fields[0], fields[1], fields[2], fields[3],
                        fields[4], fields[5], fields[6], " ".join(fields[7:]))
            out.append(line)
        if self.master_cf_extra:
            out.append(self.master_cf_extra.rstrip("\n"))
        return "\n".join(out) + "\n"

    def _create(self):
        for p in (self.etc, self.spool, self.libexec):
            os.mkdir(p, 0o755)
        os.mkdir(self.data, 0o700)
        os.chown(self.data, self.pf_uid, self.pf_gid)
        os.mkdir(self.mail, 0o755)
        os.chown(self.mail, self.pf_uid, self.pf_gid)
        # daemon_directory: links to Postfix's programs, agent swapped in.
        for name in sorted(os.listdir(PF_SBIN)):
            target = os.path.join(PF_SBIN, name)
            if name == "smtp":
                target = self.smtp_prog
            elif name == "lmtp":
                target = self.lmtp_prog
            os.symlink(target, os.path.join(self.libexec, name))
        self.write_main_cf()
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(self._master_cf())
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for k, v in self.vmailbox.items():
                f.write("%s %s\n" % (k, v))
        settle(os.path.join(self.etc, "vmailbox"))
        for p in self.sanitizer_dirs:
            os.makedirs(p)
            os.chmod(p, 0o1777)
        # What Debian's init script copies into the chroot.
        setc = os.path.join(self.spool, "etc")
        os.mkdir(setc, 0o755)
        for name in CHROOT_ETC_FILES:
            src = os.path.join("/etc", name)
            if os.path.exists(src):
                shutil.copy2(src, os.path.join(setc, name), follow_symlinks=True)

    def write_main_cf(self):
        path = os.path.join(self.etc, "main.cf")
        with open(path, "w") as f:
            for k, v in self.main_cf_settings().items():
                f.write("%s = %s\n" % (k, v))
        settle(path)

    def set_main_cf(self, settings, reload=True):
        """Change main.cf settings (and reload when running)."""
        self.main_cf_extra.update(settings)
        self.write_main_cf()
        if reload and self.started:
            self.postfix("reload")

    # ------------------------------------------------------------------
    # Commands

    @property
    def env(self):
        e = dict(os.environ)
        e["MAIL_CONFIG"] = self.etc
        return e

    def run(self, argv, input=None, timeout=DEFAULT_TIMEOUT, check=True):
        """Run a command with MAIL_CONFIG set; return CompletedProcess
        (stdout/stderr as str).  Raise InstanceError on failure."""
        try:
            cp = subprocess.run(argv, input=input, env=self.env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise InstanceError("timed out after %ss: %s" % (timeout,
                                                             " ".join(argv)))
        cp.stdout = cp.stdout.decode("utf-8", "replace")
        cp.stderr = cp.stderr.decode("utf-8", "replace")
        if check and cp.returncode != 0:
            raise InstanceError("%s: exit %d\n%s%s" % (
                " ".join(argv), cp.returncode, cp.stdout, cp.stderr))
        return cp

    def postfix(self, *args, timeout=DEFAULT_TIMEOUT, check=True):
        """Run `postfix -c DIR/etc ARGS` under script(1), so that the
        errors it writes only to a terminal become visible."""
        cmd = " ".join(["/usr/sbin/postfix", "-c", self.etc] + list(args))
        return self.run(["script", "-qec", cmd, "/dev/null"],
                        timeout=timeout, check=check)

    def start(self, timeout=DEFAULT_TIMEOUT):
        if self.agent == "postern":
            for p in (self.smtp_prog, self.lmtp_prog):
                if not os.access(p, os.X_OK):
                    raise InstanceError("agent not built: %s (run make)" % p)
        try:
            # "postfix start" runs postfix-script's check-fatal (creates
            # the queue directories) and check-warn (a permission audit
            # of the installation: many find and postlog processes, and
            # warnings about the libexec links).  Create the directories
            # (_make_queue_dirs), then start through the quick-start path
            # that skips both.
            self._make_queue_dirs(timeout)
            with open(os.path.join(self.spool, "quick-start"), "w"):
                pass
            self.postfix("start", timeout=timeout)
        except InstanceError as e:
            raise InstanceError("postfix start failed: %s\n%s" % (
                e, self.maillog_tail()))
        self.started = True
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid = self._read_master_pid()
            if pid and _alive(pid):
                self.master_pid = pid
                break
            time.sleep(0.05)
        else:
            raise InstanceError("master did not start\n" + self.maillog_tail())
        # qmgr and pickup are started by master at once; wait until the
        # public/pickup and public/qmgr sockets exist.
        for name in ("public/pickup", "public/qmgr", "public/postlog"):
            path = os.path.join(self.spool, name)
            while not os.path.exists(path):
                if time.time() > deadline:
                    raise InstanceError("%s never appeared" % path)
                time.sleep(0.05)
        return self

    def _make_queue_dirs(self, timeout):
        """Create the queue directories as postfix-script check-fatal
        does.  The first instance of a process runs check-fatal itself
        (about 0.2 s of CPU in some 40 processes), and the others copy the
        names, modes and owners it made."""
        global _QUEUE_DIRS
        if _QUEUE_DIRS is None:
            before = set(os.listdir(self.spool))
            self.postfix("check-fatal", timeout=timeout)
            made = []
            for name in sorted(set(os.listdir(self.spool)) - before):
                st = os.lstat(os.path.join(self.spool, name))
                if not stat.S_ISDIR(st.st_mode):
                    raise InstanceError("check-fatal made a file: " + name)
                made.append((name, stat.S_IMODE(st.st_mode), st.st_uid,
                             st.st_gid))
            _QUEUE_DIRS = made
            return
        for name, mode, uid, gid in _QUEUE_DIRS:
            p = os.path.join(self.spool, name)
            os.mkdir(p)
            os.chown(p, uid, gid)
            os.chmod(p, mode)

    def _read_master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout=15.0):
        """Stop the instance: `postfix stop`, then SIGKILL the master (by
        its pid file) and any of its descendants still alive."""
        if not self.started:
            return
        self.started = False
        pid = self.master_pid or self._read_master_pid()
        kids = descendants(pid) if pid and _alive(pid) else {}
        # What "postfix stop" does (SIGTERM to the master, which passes
        # it on to its children), without its one-second sleeps.
        if pid and _alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while pid and _alive(pid) and time.time() < deadline:
            time.sleep(0.02)
        if pid and _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Children of the master we started (agents that hang, etc.).
        deadline = time.time() + 2
        while time.time() < deadline and any(
                _alive(p, s) for p, s in kids.items()):
            time.sleep(0.05)
        for p, s in kids.items():
            if _alive(p, s):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cleanup(self, failed=False):
        """Stop, then delete the folder unless KEEP=1 and failed."""
        try:
            self.stop()
        finally:
            if self.keep and failed:
                return
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.cleanup(failed=exc_type is not None)
        return False

    # ------------------------------------------------------------------
    # Mail

    def inject(self, sender=SENDER, rcpts=(), message=b"", extra_args=(),
               timeout=DEFAULT_TIMEOUT):
        """Submit a message with sendmail(1) (-i: a lone "." line is
        content).  message is bytes (or str) with LF line ends."""
        if isinstance(message, str):
            message = message.encode()
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        argv = (["/usr/sbin/sendmail", "-C", self.etc, "-i", "-f", sender]
                + list(extra_args) + ["--"] + list(rcpts))
        return self.run(argv, input=message, timeout=timeout)

    def queue(self):
        """Return the queue as a list of dicts (postqueue -j)."""
        out = self.run(["/usr/sbin/postqueue", "-c", self.etc, "-j"]).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def queue_text(self):
        """Return `postqueue -p` output."""
        return self.run(["/usr/sbin/postqueue", "-c", self.etc, "-p"]).stdout

    def flush(self):
        self.run(["/usr/sbin/postqueue", "-c", self.etc, "-f"])

    def postsuper(self, *args):
        return self.run(["/usr/sbin/postsuper", "-c", self.etc] + list(args))

    def postcat(self, *args):
        return self.run(["/usr/sbin/postcat", "-c", self.etc] + list(args))

    def hold_all(self):
        return self.postsuper("-h", "ALL")

    def release_all(self):
        return self.postsuper("-H", "ALL")

    def queue_file(self, queue_id, queues=("incoming", "active", "deferred",
                                           "hold", "corrupt", "maildrop")):
        """Return the path of a queue file, or None.  Queue files may sit
        in hashed subdirectories (hash_queue_names)."""
        for q in queues:
            top = os.path.join(self.spool, q)
            for dirpath, _dirs, files in os.walk(top):
                if queue_id in files:
                    return os.path.join(dirpath, queue_id)
        return None

    def queue_dir_files(self, queue):
        """Return the file names in one queue directory (recursively)."""
        found = []
        for dirpath, _dirs, files in os.walk(os.path.join(self.spool, queue)):
            found.extend(files)
        return sorted(found)

    def corrupt_files(self):
        return self.queue_dir_files("corrupt")

    def _check_agent(self):
        if self.fail_fast and not self.expect_trouble:
            trouble = self.agent_trouble()
            if trouble:
                raise AssertionError("agent failed: " + " | ".join(trouble))

    def wait_queue_empty(self, timeout=DEFAULT_TIMEOUT):
        deadline = time.time() + timeout
        while True:
            q = self.queue()
            if not q:
                return
            self._check_agent()
            if time.time() > deadline:
                raise AssertionError("queue not empty after %ss: %s" % (
                    timeout, json.dumps(q)))
            time.sleep(0.2)

    def wait_queue(self, predicate, timeout=DEFAULT_TIMEOUT, what="queue"):
        """Poll postqueue -j until predicate(list) is true; return list."""
        deadline = time.time() + timeout
        while True:
            q = self.queue()
            if predicate(q):
                return q
            self._check_agent()
            if time.time() > deadline:
                raise AssertionError("%s: condition not met after %ss: %s" % (
                    what, timeout, json.dumps(q)))
            time.sleep(0.2)

    def mailbox(self, box="client.test/sender"):
        """Return the messages (bytes) in a Maildir's new/ folder, oldest
        first."""
        new = os.path.join(self.mail, box, "new")
        try:
            names = os.listdir(new)
        except FileNotFoundError:
            return []
        paths = sorted((os.path.join(new, n) for n in names),
                       key=lambda p: (os.stat(p).st_mtime, p))
        msgs = []
        for p in paths:
            with open(p, "rb") as f:
                msgs.append(f.read())
        return msgs

    def wait_mailbox(self, count=1, box="client.test/sender",
                     timeout=DEFAULT_TIMEOUT):
        deadline = time.time() + timeout
        while True:
            m = self.mailbox(box)
            if len(m) >= count:
                return m
            self._check_agent()
            if time.time() > deadline:
                raise AssertionError("mailbox %s: %d message(s) after %ss, "
                                     "wanted %d" % (box, len(m), timeout,
                                                    count))
            time.sleep(0.2)

    def sanitizer_reports(self):
        """Return [(path, text)] of ASan/UBSan report files."""
        out = []
        for d in self.sanitizer_dirs:
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            for n in names:
                p = os.path.join(d, n)
                with open(p, "rb") as f:
                    out.append((p, f.read().decode("utf-8", "replace")))
        return out

    def agent_trouble(self):
        """Log lines that show the agent crashed or gave up: master's
        'process .../smtp pid N killed by signal / exit status' warnings,
        and fatal:/panic: lines of postfix/smtp or postfix/lmtp."""
        bad = re.compile(
            r"postfix/master\[\d+\]: warning: process \S+/(?:smtp|lmtp) pid "
            r"\d+ (?:killed by signal|exit status)"
            r"|postfix/(?:smtp|lmtp)\[\d+\]: (?:fatal|panic): ")
        return [l for l in self.log_lines() if bad.search(l)]

    # ------------------------------------------------------------------
    # Log

    def log_text(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log_text().splitlines()

    def maillog_tail(self, n=25):
        lines = self.log_lines()
        return "\n".join(lines[-n:])

    def grep_log(self, regex):
        """Return the list of match objects of regex over log lines."""
        r = re.compile(regex)
        return [m for m in (r.search(line) for line in self.log_lines()) if m]

    def wait_for_log(self, regex, timeout=DEFAULT_TIMEOUT, count=1):
        """Poll the maillog until regex matches count lines; return the
        first match object."""
        r = re.compile(regex)
        deadline = time.time() + timeout
        while True:
            found = [m for m in (r.search(line) for line in self.log_lines())
                     if m]
            if len(found) >= count:
                return found[0]
            self._check_agent()
            if time.time() > deadline:
                raise AssertionError(
                    "no log line matching %r (wanted %d, found %d) after %ss"
                    % (regex, count, len(found), timeout))
            time.sleep(0.1)
