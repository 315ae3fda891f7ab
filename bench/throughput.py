#!/usr/bin/env python3
"""throughput - CPU, memory and rate of delivery, Postern vs Postfix.

    python3 bench/throughput.py [--build build] [--rounds R] [--messages N]
                                [--variant NAME ...] [--seed S]

For each variant, round and agent (Postern's smtp/lmtp and Postfix's own
/usr/lib/postfix/sbin/smtp and lmtp, alternately, in this one
invocation), it builds a private Postfix 3.7 instance with that agent as
its smtp and lmtp transport (master.cf maxproc 1, max_use and max_idle
large, so one agent process does every delivery), injects N messages
through the instance's own smtpd, which puts them on hold, releases them
all at once and waits until every recipient has been logged sent.  The
receiving server is Postfix's smtp-sink(1), a C program (see README.md
for how much CPU it needs: it is not the bottleneck).

Measured per run, of the agent process only (read from /proc/PID before
the instance stops; never qmgr, cleanup, scache or the sink):

  cpu      user+sys CPU seconds (utime+stime of /proc/PID/stat; it starts
           no children, cutime+cstime are added anyway)
  ms/msg   the same per message
  rss      peak resident set size, VmHWM of /proc/PID/status (MiB)
  msg/s    messages per second of wall-clock time, from the release of
           the held messages to the last status=sent log line (this one
           depends on the load of the machine; CPU seconds do not)
  sink cpu user+sys CPU seconds of smtp-sink (the same work for both
           agents: a check that the sink is not the bottleneck, and a
           gauge of the machine's noise)
  reused   share of the status=sent lines with conn_use= (delivered over
           a connection from scache(8))

and then the ratios Postern/Postfix of the per-variant medians.  The
message set is the same for both agents (a seeded pseudo-random mix of
sizes from 2 to 100 KB, 1 to 5 recipients, 7bit text, 8bit text and
multipart messages with an 8bit part and a base64 attachment).

Variants (see VARIANTS below): esmtp (PIPELINING and 8BITMIME announced,
no connection cache), cache (the same with Postfix's default
smtp_connection_cache_on_demand = yes), plain (no PIPELINING, no
8BITMIME: 8bit messages are converted to quoted-printable), checks
(esmtp with smtp_header_checks and smtp_body_checks regexp tables),
lmtp (LMTP over a UNIX-domain socket).  Must run as root.
"""

import argparse
import os
import random
import re
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import pfinstance  # noqa: E402
from common import SENDER  # noqa: E402
from dnsserver import free_port_on  # noqa: E402

SMTP_SINK = "/usr/sbin/smtp-sink"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SENT = re.compile(r"postfix/(?:smtp|lmtp)\[\d+\]: [0-9A-F]+: to=<[^>]+>, "
                  r"relay=.*status=sent")
TROUBLE = re.compile(r"postfix/(?:smtp|lmtp)\[\d+\]: [0-9A-F]+: to=<[^>]+>, "
                     r"relay=.*status=(?:deferred|bounced)"
                     r"|postfix/(?:smtp|lmtp)\[\d+\]: (?:fatal|panic):"
                     r"|postfix/master\[\d+\]: warning: process "
                     r"\S+/(?:smtp|lmtp) pid")

HEADER_CHECKS = r"""# smtp_header_checks of the checks variant: one pattern matches
# (X-Bench-Trace: is removed), the others look for things that are absent.
/^X-Bench-Trace:/ IGNORE
/^Subject:.*\b(viagra|lottery|winner)\b/ WARN spam subject
/^From:.*@(spam|junk)\.example>?$/ WARN bad sender
/^Received:.*\[10\.66\.66\.\d+\]/ WARN internal relay
/^X-Mailer:.*(BulkMailer|MassSender)/ WARN bulk mailer
/^Content-Type:.*name="?[^"]*\.(exe|scr|pif|bat|com)"?/ WARN executable
/^Content-Disposition:.*filename="?[^"]*\.(exe|scr|pif|bat|com)"?/ WARN exe
/^X-Originating-IP:\s*\[?192\.0\.2\./ WARN documentation net
/^Reply-To:.*@(example\.invalid|nowhere\.test)/ WARN bad reply-to
/^Message-ID:.*@localhost\.localdomain>/ WARN default message id
/^X-Spam-Flag:\s*YES/ WARN spam flag
/^Subject:\s*=\?[^?]+\?B\?[A-Za-z0-9+\/]{200,}/ WARN long encoded subject
/^List-Unsubscribe:.*mailto:unsub-\d{12,}@/ WARN list
/^Organization:\s*(ACME Rockets|Evil Corp)/ WARN organization
"""

BODY_CHECKS = r"""# smtp_body_checks of the checks variant: nothing matches.
/^This message was sent by BulkMailer/ WARN bulk body
/\b(click here to unsubscribe now)\b/ WARN unsubscribe
/^begin [0-7]{3} .*\.(exe|scr|pif)$/ WARN uuencoded executable
/https?:\/\/[a-z0-9.-]+\.(zip|mov)\/[a-z]{20,}/ WARN suspicious link
/\bwire \$?\d{5,} (USD|EUR) to\b/ WARN money
/^TVqQAAMAAAAEAAAA/ WARN base64 executable
/<iframe[^>]+src=/ WARN iframe
/\bpassword\s+expires\s+in\s+\d+\s+hours\b/ WARN phishing
/^--=_BulkBoundary_/ WARN bulk boundary
/[\x80-\xff]{40,}/ WARN long 8bit run
"""

# name: (sink options, main.cf settings, transport)
NOCACHE = {"smtp_connection_cache_on_demand": "no",
           "lmtp_connection_cache_on_demand": "no"}
VARIANTS = {
    "esmtp": ([], dict(NOCACHE), "smtp"),
    "cache": ([], {}, "smtp"),
    "plain": (["-p", "-8"], dict(NOCACHE), "smtp"),
    "checks": ([], dict(NOCACHE, smtp_header_checks="regexp:HC",
                        smtp_body_checks="regexp:BC"), "smtp"),
    "lmtp": (["-L"], dict(NOCACHE), "lmtp"),
}

WORDS = ("the of and to in is that for it as was with be by on not he "
         "this are or his from at which but have an they you were her "
         "mail queue server message delivery transport recipient domain "
         "agent session pipelining envelope header body content").split()
WORDS8 = ("Grüße Käse Straße naïve café déjà façade smörgåsbord "
          "Ærø Œuvre señor mañana piñata über Zürich").split()


def text_lines(rnd, nbytes, eight):
    out, size = [], 0
    while size < nbytes:
        n = rnd.randint(6, 14)
        words = [rnd.choice(WORDS8) if eight and rnd.random() < 0.15
                 else rnd.choice(WORDS) for _ in range(n)]
        line = " ".join(words)
        if rnd.random() < 0.01:
            line = "." + line          # dot-stuffing
        out.append(line)
        size += len(line.encode()) + 1
    return out


def b64_lines(rnd, nbytes):
    import base64
    raw = bytes(rnd.getrandbits(8) for _ in range(nbytes * 3 // 4))
    s = base64.b64encode(raw).decode()
    return [s[i:i + 76] for i in range(0, len(s), 76)]


def make_messages(n, seed):
    """Return [(rcpts, bytes, eight)]: the same list for every agent."""
    rnd = random.Random(seed)
    msgs = []
    for i in range(n):
        size = int(2048 * (50 ** rnd.random()))   # 2 KB .. 100 KB
        nrcpt = rnd.randint(1, 5)
        rcpts = ["user%d-%d@dest%d.test" % (i, j, rnd.randint(1, 3))
                 for j in range(nrcpt)]
        kind = rnd.random()
        head = ["From: Sender <%s>" % SENDER,
                "To: " + ", ".join("<%s>" % r for r in rcpts),
                "Subject: bench message %d" % i,
                "Date: Wed, 25 Nov 2026 10:00:00 +0000",
                "Message-ID: <bench-%d@client.test>" % i,
                "X-Bench-Trace: %d" % i,
                "MIME-Version: 1.0"]
        if kind < 0.4:                               # 7bit text
            eight = False
            head += ["Content-Type: text/plain; charset=us-ascii",
                     "Content-Transfer-Encoding: 7bit"]
            body = text_lines(rnd, size, False)
        elif kind < 0.7:                             # 8bit text
            eight = True
            head += ["Content-Type: text/plain; charset=utf-8",
                     "Content-Transfer-Encoding: 8bit"]
            body = text_lines(rnd, size, True)
        else:                                        # multipart, attachment
            eight = True
            bnd = "=_bench_%d" % i
            head += ['Content-Type: multipart/mixed; boundary="%s"' % bnd]
            tsize = min(size // 4, 8192)
            body = ["This is a multi-part message in MIME format.", "",
                    "--" + bnd,
                    "Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: 8bit", ""]
            body += text_lines(rnd, tsize, True)
            body += ["", "--" + bnd,
                     "Content-Type: application/octet-stream; name=a.bin",
                     "Content-Disposition: attachment; filename=a.bin",
                     "Content-Transfer-Encoding: base64", ""]
            body += b64_lines(rnd, max(size - tsize, 512))
            body += ["", "--" + bnd + "--"]
        data = ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body)
                + "\r\n").encode()
        msgs.append((rcpts, data, eight))
    return msgs


def proc_cpu(pid):
    """Return (user_seconds, sys_seconds, vmhwm_kib) of a live process
    (children it waited for included), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    if rest[0] == "Z":
        return None
    user = (int(rest[11]) + int(rest[13])) / CLK_TCK
    system = (int(rest[12]) + int(rest[14])) / CLK_TCK
    m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return user, system, int(m.group(1)) if m else 0


def agent_pids(inst, service):
    """Pids of the instance's processes of master.cf service `service`
    (master runs them as `COMMAND -n SERVICE -t unix ...`, without -n
    when SERVICE is COMMAND)."""
    pids = []
    for pid in pfinstance.descendants(inst.master_pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        name = os.path.basename(argv[0])
        for i, a in enumerate(argv[:-1]):
            if a == b"-n":
                name = argv[i + 1]
        if name == service.encode():
            pids.append(pid)
    return pids


def set_maxproc(inst, service, maxproc):
    path = os.path.join(inst.etc, "master.cf")
    with open(path) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        fields = line.split()
        if (len(fields) >= 8 and fields[0] == service
                and fields[1] == "unix"):
            fields[6] = str(maxproc)
            lines[i] = "%-10s %-5s %-7s %-7s %-7s %-7s %-7s %s" % tuple(
                fields[:7] + [" ".join(fields[7:])])
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Sink:
    """smtp-sink(1) on a TCP port or a UNIX-domain socket."""

    def __init__(self, endpoint, opts, sockpath=None):
        self.sockpath = sockpath
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "postfix"] + opts + [endpoint, "1024"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            if sockpath and os.path.exists(sockpath):
                os.chmod(sockpath, 0o666)
                break
            if not sockpath and self._listening(endpoint):
                break
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("smtp-sink did not start")
            time.sleep(0.02)

    @staticmethod
    def _listening(endpoint):
        import socket
        host, port = endpoint.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), 1).close()
            return True
        except OSError:
            return False

    def cpu(self):
        r = proc_cpu(self.proc.pid)
        return r[0] + r[1] if r else float("nan")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def inject(port, msgs):
    """Submit every message over one SMTP session to the instance's
    smtpd, which puts each on hold."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.ehlo("bench.test")
    for rcpts, data, eight in msgs:
        opts = ["BODY=8BITMIME"] if eight else []
        s.sendmail(SENDER, rcpts, data, mail_options=opts)
    s.quit()


def run_once(agent, build, variant, msgs, tmp, hook=None):
    """One run; returns the measures.  With hook, one message is
    delivered first, then hook(agent_pids) is called (to attach strace
    or perf to the running agent) before the others are released; it
    returns a function called after the last delivery."""
    sink_opts, cf, transport = VARIANTS[variant]
    cf = dict(cf)
    for k, v in cf.items():
        cf[k] = v.replace("regexp:HC", "regexp:" + os.path.join(tmp, "hc")) \
                 .replace("regexp:BC", "regexp:" + os.path.join(tmp, "bc"))
    inj_port = free_port_on("127.0.0.1")
    sink = inst = None
    try:
        if transport == "lmtp":
            sockpath = os.path.join(tmp, "lmtp-%s.sock" % agent)
            if os.path.exists(sockpath):
                os.unlink(sockpath)
            sink = Sink("unix:" + sockpath, sink_opts, sockpath)
            cf["default_transport"] = "lmtp:unix:" + sockpath
            relay_port = None
        else:
            relay_port = free_port_on("127.0.0.1")
            sink = Sink("127.0.0.1:%d" % relay_port, sink_opts)
        main_cf = {
            "max_use": "1000000", "max_idle": "3600s",
            "in_flow_delay": "0",
            "smtpd_end_of_data_restrictions":
                "check_client_access static:HOLD",
        }
        main_cf.update(cf)
        inst = pfinstance.Instance(
            agent=agent, build=build, chroot="n", relay_port=relay_port,
            main_cf=main_cf,
            master_cf_extra="127.0.0.1:%d inet n - n - 1 smtpd" % inj_port)
        set_maxproc(inst, transport, 1)
        inst.start()
        inject(inj_port, msgs)
        want_msgs = len(msgs)
        want = sum(len(r) for r, _d, _e in msgs)
        deadline = time.time() + 60
        while len(inst.queue_dir_files("hold")) < want_msgs:
            if time.time() > deadline:
                raise RuntimeError("only %d of %d messages on hold" % (
                    len(inst.queue_dir_files("hold")), want_msgs))
            time.sleep(0.1)
        after = None
        if hook:
            first = inst.queue_dir_files("hold")[0]
            inst.postsuper("-H", first)
            inst.flush()
            deadline = time.time() + 30
            while not agent_pids(inst, transport) or not inst.grep_log(
                    first + r": to=.*status=sent"):
                if time.time() > deadline:
                    raise RuntimeError("warm-up message not sent")
                time.sleep(0.05)
            after = hook(agent_pids(inst, transport))
        inst.postsuper("-H", "ALL")
        t0 = time.time()
        inst.flush()
        sent, reused, pos, samples, t_last = 0, 0, 0, {}, None
        deadline = t0 + 600
        while sent < want:
            with open(inst.maillog, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            cut = chunk.rfind(b"\n") + 1
            pos += cut
            for line in chunk[:cut].decode("utf-8", "replace").splitlines():
                if SENT.search(line):
                    sent += 1
                    reused += ", conn_use=" in line
                    t_last = time.time()
                elif TROUBLE.search(line):
                    raise RuntimeError("%s/%s: %s" % (agent, variant, line))
            for pid in agent_pids(inst, transport):
                r = proc_cpu(pid)
                if r:
                    samples[pid] = r
            if time.time() > deadline:
                raise RuntimeError("%s/%s: %d of %d sent after 600 s" % (
                    agent, variant, sent, want))
            time.sleep(0.05)
        wall = t_last - t0
        if after:
            after()
        pids = agent_pids(inst, transport)
        for pid in pids:
            r = proc_cpu(pid)
            if r:
                samples[pid] = r
        lost = sorted(set(samples) - set(pids))
        if lost:
            print("warning: %s/%s: agent process(es) %s exited before the "
                  "final sample: their last samples are used" % (
                      agent, variant, lost), file=sys.stderr)
        user = sum(u for u, _s, _h in samples.values())
        system = sum(s for _u, s, _h in samples.values())
        hwm = max(h for _u, _s, h in samples.values())
        return {"cpu": user + system, "user": user, "sys": system,
                "rss": hwm / 1024.0, "wall": wall,
                "rate": len(msgs) / wall, "procs": len(samples),
                "sink": sink.cpu(), "rcpts": want, "reused": reused / want}
    finally:
        if inst:
            inst.cleanup(failed=False)
        if sink:
            sink.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", choices=list(VARIANTS), action="append")
    args = ap.parse_args()
    build = pfinstance.resolve_build(args.build)
    variants = args.variant or list(VARIANTS)
    msgs = make_messages(args.messages, args.seed)
    total = sum(len(d) for _r, d, _e in msgs)
    print("%d messages, %d recipients, %.1f MB, %d with 8bit content" % (
        len(msgs), sum(len(r) for r, _d, _e in msgs), total / 1e6,
        sum(1 for m in msgs if m[2])))
    tmp = tempfile.mkdtemp(prefix="postern-bench-", dir="/tmp")
    os.chmod(tmp, 0o755)
    with open(os.path.join(tmp, "hc"), "w") as f:
        f.write(HEADER_CHECKS)
    with open(os.path.join(tmp, "bc"), "w") as f:
        f.write(BODY_CHECKS)
    results = {}
    hdr = "%-7s %-8s %5s %6s %6s %8s %7s %8s %8s %6s %9s %7s" % (
        "variant", "agent", "round", "user", "sys", "cpu (s)", "ms/msg",
        "rss MiB",
        "msg/s", "procs", "sink cpu", "reused")
    print(hdr)
    try:
        for variant in variants:
            for rnd in range(1, args.rounds + 1):
                order = ("postern", "postfix") if rnd % 2 else \
                    ("postfix", "postern")
                for agent in order:
                    r = run_once(agent, build, variant, msgs, tmp)
                    results.setdefault((variant, agent), []).append(r)
                    print("%-7s %-8s %5d %6.2f %6.2f %8.2f %7.3f %8.1f %8.1f"
                          " %6d %9.2f %6.0f%%"
                          % (variant, agent, rnd, r["user"], r["sys"],
                             r["cpu"],
                             1000 * r["cpu"] / len(msgs), r["rss"],
                             r["rate"], r["procs"], r["sink"],
                             100 * r["reused"]))
                    sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("medians; ratio = Postern / Postfix (below 1: Postern uses less)")
    print("%-7s %14s %14s %14s" % ("variant", "cpu ratio", "rss ratio",
                                   "msg/s ratio"))
    for variant in variants:
        a = results[(variant, "postern")]
        b = results[(variant, "postfix")]

        def med(rs, k):
            return statistics.median(r[k] for r in rs)
        print("%-7s %14.2f %14.2f %14.2f   (cpu %.2f/%.2f s, rss %.1f/%.1f"
              " MiB, %.0f/%.0f msg/s)" % (
                  variant, med(a, "cpu") / med(b, "cpu"),
                  med(a, "rss") / med(b, "rss"),
                  med(a, "rate") / med(b, "rate"),
                  med(a, "cpu"), med(b, "cpu"), med(a, "rss"), med(b, "rss"),
                  med(a, "rate"), med(b, "rate")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
