#!/usr/bin/env python3
"""run.py - run the integration tests.

    python3 tests/integration/run.py [--build BUILD] [--agent postern|postfix]
                                     [--chroot y|n|both] [-k SUBSTRING]

Imports every tests/integration/test_*.py and runs each test_* function
(in file order) with a Context: the agent choice, the build directory, the
chroot setting, and helpers that create private Postfix instances and
receiving servers, which the runner stops and removes after the test
(KEEP=1 keeps the folder of a failed test).  Prints one line per test and
ends with "N passed, N failed"; exits 1 if any test failed.
"""

import argparse
import contextlib
import importlib
import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pfinstance  # noqa: E402
import smtpserver  # noqa: E402

TEST_TIMEOUT = 150  # seconds, per test run: a safety net over every wait


class Skip(Exception):
    """Raise in a test to skip it (counted neither passed nor failed)."""


class TestTimeout(Exception):
    pass


class Context:
    def __init__(self, agent, build, chroot):
        self.agent = agent
        self.build = build
        self.chroot = chroot
        self.instances = []
        self.servers = []
        self.notes = []

    def instance(self, relay_port=None, main_cf=None, start=True, agent=None,
                 **kw):
        """Create (and start) a private Postfix instance for this test
        (agent: override the agent under test, e.g. "postfix" for a
        side-by-side reference run)."""
        inst = pfinstance.Instance(agent=agent or self.agent,
                                   build=self.build,
                                   chroot=self.chroot, relay_port=relay_port,
                                   main_cf=main_cf, **kw)
        self.instances.append(inst)
        if start:
            inst.start()
        return inst

    def server(self, **kw):
        """Create and start a scriptable SMTP/LMTP server."""
        srv = smtpserver.SMTPServer(**kw)
        self.servers.append(srv)
        return srv.start()

    def free_port(self):
        """A loopback TCP port where nothing listens (just released)."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def note(self, text):
        """Extra text printed if the test fails."""
        self.notes.append(text)

    @property
    def smtp_ident(self):
        """The syslog ident of the agent, as in the log: postfix/smtp."""
        return "postfix/smtp"

    def stop_all(self):
        for srv in self.servers:
            try:
                srv.stop()
            except Exception:
                pass
        for inst in self.instances:
            try:
                inst.stop()
            except Exception as e:
                print("    (stopping %s: %s)" % (inst.dir, e))

    def cleanup(self, failed):
        for srv in self.servers:
            try:
                srv.stop()
            except Exception:
                pass
        for inst in self.instances:
            try:
                inst.cleanup(failed=failed)
            except Exception as e:
                print("    (cleanup of %s: %s)" % (inst.dir, e))


def discover(pattern):
    tests = []
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        mod = importlib.import_module(name[:-3])
        for attr, fn in vars(mod).items():
            if attr.startswith("test_") and callable(fn):
                full = "%s.%s" % (mod.__name__, attr)
                if pattern is None or pattern in full:
                    tests.append((full, fn))
    return tests


def _alarm(signum, frame):
    raise TestTimeout("test exceeded %d s" % TEST_TIMEOUT)


def _terminate(signum, frame):
    # A worker told to stop (the runner was interrupted or gave up on a
    # hung test): end like ^C, so that the test's instances are cleaned.
    raise KeyboardInterrupt("SIGTERM")


def describe(exc):
    """One-line reason plus the test-file frame where it happened."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    for fr in reversed(tb):
        if os.path.basename(fr.filename).startswith("test_"):
            where = " (%s:%d)" % (os.path.basename(fr.filename), fr.lineno)
            break
    msg = str(exc) or repr(exc)
    if not isinstance(exc, AssertionError):
        msg = "%s: %s" % (type(exc).__name__, msg)
    return msg + where


def log_tail(inst, n=20):
    lines = [l for l in inst.log_lines()
             if "symlink leaves directory" not in l]
    return lines[-n:]


def label_of(name, agent, chroot):
    return "%s [%s, chroot=%s]" % (name, agent, chroot)


def run_test(name, fn, chroot, agent, build, verbose):
    """Run one test with one chroot setting.  Return (status, seconds,
    text): status is pass, fail, skip or pending; text is the result line
    and, for a failure, its report (every line ends in a newline).  What
    the test itself prints is part of the report."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status, dt = _run_test(out, name, fn, chroot, agent, build, verbose)
    return status, dt, out.getvalue()


def _run_test(out, name, fn, chroot, agent, build, verbose):
    ctx = Context(agent, build, chroot)
    label = label_of(name, agent, chroot)
    t0 = time.time()
    ok = False
    reason = None
    try:
        signal.alarm(TEST_TIMEOUT)
        try:
            fn(ctx)
        finally:
            signal.alarm(0)
        ok = True
    except Skip as e:
        reason = "skip"
        skip_text = str(e)
    except BaseException as e:  # noqa: B902 - report everything
        if isinstance(e, KeyboardInterrupt):
            ctx.cleanup(failed=True)
            raise
        reason = describe(e)
    # Stop everything first, then look at what the instances left:
    # agent crashes in the log, sanitizer reports.
    signal.alarm(60)
    try:
        ctx.stop_all()
    except TestTimeout:
        print("    (stopping timed out)")
    finally:
        signal.alarm(0)
    extra = []
    for inst in ctx.instances:
        trouble = ([] if inst.expect_trouble
                   else inst.agent_trouble())
        reports = inst.sanitizer_reports()
        if ok and (trouble or reports):
            ok = False
            reason = "agent crashed or reported errors"
        extra.extend("agent: " + l for l in trouble)
        for path, text in reports:
            extra.append("sanitizer report %s:" % path)
            lines = text.splitlines()
            for i, l in enumerate(lines):
                if l.startswith("Shadow bytes around") or i >= 60:
                    extra.append("  ...")
                    break
                extra.append("  " + l)
    tail = {}
    if (not ok and reason != "skip") or verbose:
        for inst in ctx.instances:
            tail[inst.dir] = log_tail(inst)
    signal.alarm(60)
    try:
        ctx.cleanup(failed=not ok)
    except TestTimeout:
        print("    (cleanup timed out)")
    finally:
        signal.alarm(0)
    dt = time.time() - t0
    pend = (getattr(fn, "postern_pending", None)
            if agent == "postern" else None)
    # The result line goes first, before what was printed on the way.
    early = out.getvalue()
    out.seek(0)
    out.truncate()
    if reason == "skip":
        status = "skip"
        print("SKIP %s: %s" % (label, skip_text))
    elif ok:
        status = "pass"
        print("PASS %s (%.1fs)%s" % (
            label, dt, " (marked pending: remove the marker)"
            if pend else ""))
    elif pend:
        # Postfix behaviour Postern does not have yet (an open issue):
        # reported, not counted as a failure.
        status = "pending"
        print("PENDING %s (%.1fs): %s [%s]" % (label, dt, pend, reason))
    else:
        status = "fail"
        print("FAIL %s (%.1fs): %s" % (label, dt, reason))
        for l in extra:
            print("    ! " + l)
        for note in ctx.notes:
            for l in str(note).splitlines():
                print("    | " + l)
        for srv in ctx.servers:
            text = srv.transcript_text()
            if text:
                print("    server transcript (port %d):" % srv.port)
                for l in text.splitlines()[-30:]:
                    print("    > " + l)
    out.write(early)
    for d, lines in tail.items():
        kept = " (kept)" if (not ok and os.path.isdir(d)) else ""
        print("    maillog %s/maillog%s:" % (d, kept))
        for l in lines:
            print("    | " + l)
    return status, dt


# ----------------------------------------------------------------------
# Parallel runs: worker processes
#
# "run.py --worker" is started by the runner with its stdin and stdout
# on pipes.  It imports the tests, says {"ready": true}, then reads one
# request per line ({"name": ..., "chroot": ...}) and answers each with
# one line {"status": ..., "dt": ..., "text": ...}, until stdin ends.
# Its own file descriptors 1 and 2 go to a log file that the runner shows
# when a worker dies.  Each worker is its own process, with its own pid:
# what is per process in the helpers (dnsserver's 127.N.X addresses,
# instance folders) is per worker.

def worker_main(args, build):
    res = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides
    tests = dict(discover(None))
    res.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            break
        req = json.loads(line)
        fn = tests.get(req["name"])
        if fn is None:
            res.write(json.dumps({"status": "fail", "dt": 0.0, "text":
                                  "FAIL %s: no such test in the worker\n"
                                  % req["name"]}) + "\n")
            continue
        status, dt, text = run_test(req["name"], fn, req["chroot"],
                                    args.agent, build, args.verbose)
        res.write(json.dumps({"status": status, "dt": dt,
                              "text": text}) + "\n")
    return 0


class Worker:
    """The runner's end of one worker process."""

    def __init__(self, args):
        self.log = tempfile.NamedTemporaryFile(
            prefix="postern-it-worker-", suffix=".log", dir="/tmp",
            delete=False)
        argv = [sys.executable, "-u", os.path.abspath(__file__), "--worker",
                "--build", args.build, "--agent", args.agent]
        if args.verbose:
            argv.append("-v")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.log, close_fds=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.ready = False
        self.task = None       # (name, chroot) being run
        self.started = None    # when the task was sent
        self.done = 0          # tests finished
        self.killed = None     # why the runner killed it

    def send(self, task):
        self.task = task
        self.started = time.time()
        self.proc.stdin.write((json.dumps(
            {"name": task[0], "chroot": task[1]}) + "\n").encode())
        self.proc.stdin.flush()

    def read_messages(self):
        """Return (messages, eof) from what the pipe has now."""
        msgs = []
        eof = False
        while True:
            try:
                data = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not data:
                eof = True
                break
            self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                msgs.append(json.loads(line.decode("utf-8", "replace")))
            except ValueError:
                msgs.append({"garbage": line.decode("utf-8", "replace")})
        return msgs, eof

    def log_tail(self, n=40):
        try:
            with open(self.log.name, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []
        return lines[-n:]

    def close(self, timeout=30):
        """Tell the worker to finish; kill it if it will not."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill("did not exit")
        self.proc.stdout.close()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def kill(self, why, grace=20):
        """SIGTERM (the worker cleans its test up), then SIGKILL."""
        self.killed = why
        if self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Beyond the test's own alarm and the 60 s limits of stopping and
# cleaning up: the worker itself is stuck.
WORKER_TIMEOUT = TEST_TIMEOUT + 180


def run_parallel(tasks, args, jobs, report):
    """Run tasks [(name, chroot)] on jobs worker processes; call
    report(status, dt, text) for each result, in the order they finish.
    A worker that dies or hangs fails the test it was running."""
    todo = list(tasks)
    workers = []
    sel = selectors.DefaultSelector()
    start_failures = 0

    def spawn():
        w = Worker(args)
        workers.append(w)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)

    def retire(w):
        sel.unregister(w.proc.stdout)
        workers.remove(w)
        w.close()

    def dispatch(w):
        if todo:
            w.send(todo.pop(0))
        else:
            w.task = None
            retire(w)

    try:
        for _ in range(min(jobs, len(todo))):
            spawn()
        while workers:
            for key, _ in sel.select(timeout=5):
                w = key.data
                msgs, eof = w.read_messages()
                for m in msgs:
                    if m.get("ready"):
                        w.ready = True
                        dispatch(w)
                    elif "status" in m and w.task is not None:
                        w.done += 1
                        w.task = None
                        report(m["status"], m["dt"], m["text"])
                        dispatch(w)
                    else:
                        report("info", 0.0, "    (worker %d said: %s)\n" % (
                            w.proc.pid, m))
                    if w not in workers:
                        break
                if eof and w in workers:
                    died(w, sel, workers, todo, args, report)
                    if not w.ready:
                        start_failures += 1
                    if start_failures >= 3:
                        # Workers cannot even start: fail what is left.
                        while todo:
                            name, chroot = todo.pop(0)
                            report("fail", 0.0, "FAIL %s: no worker could "
                                   "start\n" % label_of(name, args.agent,
                                                        chroot))
                    elif todo and len(workers) < jobs:
                        spawn()
            now = time.time()
            for w in list(workers):
                if w.task is not None and now - w.started > WORKER_TIMEOUT:
                    w.kill("test still running after %d s" % WORKER_TIMEOUT)
    except KeyboardInterrupt:
        for w in workers:
            w.kill("interrupted")
        raise
    finally:
        for w in list(workers):
            try:
                sel.unregister(w.proc.stdout)
            except (KeyError, ValueError):
                pass
            w.close(timeout=5)


def died(w, sel, workers, todo, args, report):
    """A worker's pipe ended: fail the test it was running."""
    sel.unregister(w.proc.stdout)
    workers.remove(w)
    try:
        rc = w.proc.wait(30)
    except subprocess.TimeoutExpired:
        w.kill("pipe closed")
        rc = w.proc.returncode
    if w.task is not None:
        name, chroot = w.task
        lines = ["FAIL %s (%.1fs): worker %d %s (exit status %s)" % (
            label_of(name, args.agent, chroot), time.time() - w.started,
            w.proc.pid, ("killed: " + w.killed) if w.killed else "died",
            rc)]
        lines += ["    worker log: " + l for l in w.log_tail()]
        report("fail", time.time() - w.started, "\n".join(lines) + "\n")
    elif w.ready is False or rc:
        lines = ["worker %d exited (status %s) %s" % (
            w.proc.pid, rc, "before it was ready" if not w.ready
            else "between tests")]
        lines += ["    worker log: " + l for l in w.log_tail()]
        report("info", 0.0, "\n".join(lines) + "\n")
    w.close(timeout=5)


def default_jobs():
    try:
        return max(1, int(os.environ.get("IT_JOBS", "")))
    except ValueError:
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(8, 2 * cpus)


def main():
    # Test modules "from run import Skip": let them get this very module,
    # not a second copy of it, so that their Skip is the one caught here.
    sys.modules.setdefault("run", sys.modules[__name__])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default="build")
    ap.add_argument("--agent", default="postern",
                    choices=("postern", "postfix"))
    ap.add_argument("--chroot", default="both", choices=("y", "n", "both"))
    ap.add_argument("-k", dest="pattern", default=None,
                    help="run only tests whose module.name contains this")
    ap.add_argument("-j", "--jobs", type=int, default=None,
                    help="tests run at once, each in a worker process "
                    "(default: $IT_JOBS, else twice the CPU count, at most "
                    "8); 1 runs them one after the other in this process")
    ap.add_argument("-v", dest="verbose", action="store_true",
                    help="print the maillog tail for passing tests too")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    build = pfinstance.resolve_build(args.build)
    if args.worker:
        return worker_main(args, build)
    chroots = ["n", "y"] if args.chroot == "both" else [args.chroot]
    if os.geteuid() != 0:
        print("run.py: the integration tests must run as root")
        print("0 passed, 1 failed")
        return 1
    try:
        tests = discover(args.pattern)
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    tasks = [(name, chroot) for name, _ in tests for chroot in chroots]
    if args.agent == "postern":
        # Tests of behaviour Postern lacks tend to wait out a timeout:
        # start them first, so they do not make the tail of a parallel run.
        fns = dict(tests)
        tasks.sort(key=lambda t: not getattr(fns[t[0]], "postern_pending",
                                              None))
    jobs = max(1, min(args.jobs or default_jobs(), len(tasks) or 1))

    print("integration: agent=%s build=%s chroot=%s, %d test(s), %d at once"
          % (args.agent, build, args.chroot, len(tasks), jobs))
    sys.stdout.flush()
    counts = {"pass": 0, "fail": 0, "skip": 0, "pending": 0}
    times = []
    t_start = time.time()

    def report(status, dt, text):
        if status in counts:
            counts[status] += 1
        if status in ("pass", "fail", "pending"):
            times.append((dt, text.split("\n", 1)[0]))
        sys.stdout.write(text)
        sys.stdout.flush()

    if jobs == 1:
        signal.signal(signal.SIGALRM, _alarm)
        fns = dict(tests)
        for name, chroot in tasks:
            report(*run_test(name, fns[name], chroot, args.agent, build,
                             args.verbose))
    else:
        run_parallel(tasks, args, jobs, report)

    if len(times) > 1:
        times.sort(key=lambda t: -t[0])
        print("slowest:")
        for dt, line in times[:10]:
            print("  %5.1fs %s" % (dt, line.split(" (")[0].split(" ", 1)[-1]))
    print("integration: %.0fs wall, %.0fs in tests, %d at once" % (
        time.time() - t_start, sum(t[0] for t in times), jobs))
    passed, failed = counts["pass"], counts["fail"]
    skipped = counts["skip"] + counts["pending"]
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped
                                      if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
