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
import importlib
import os
import signal
import socket
import sys
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
    ap.add_argument("-v", dest="verbose", action="store_true",
                    help="print the maillog tail for passing tests too")
    args = ap.parse_args()

    build = pfinstance.resolve_build(args.build)
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

    print("integration: agent=%s build=%s chroot=%s, %d test(s)" % (
        args.agent, build, args.chroot, len(tests) * len(chroots)))
    sys.stdout.flush()
    passed = failed = skipped = 0
    t_start = time.time()
    signal.signal(signal.SIGALRM, _alarm)
    for name, fn in tests:
        for chroot in chroots:
            ctx = Context(args.agent, build, chroot)
            label = "%s [%s, chroot=%s]" % (name, args.agent, chroot)
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
                print("SKIP %s: %s" % (label, e))
                skipped += 1
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
            if (not ok and reason != "skip") or args.verbose:
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
                    if args.agent == "postern" else None)
            if ok:
                passed += 1
                print("PASS %s (%.1fs)%s" % (
                    label, dt, " (marked pending: remove the marker)"
                    if pend else ""))
            elif pend and reason != "skip":
                # Postfix behaviour Postern does not have yet (an open
                # issue): reported, not counted as a failure.
                skipped += 1
                print("PENDING %s (%.1fs): %s [%s]" % (label, dt, pend,
                                                     reason))
            elif reason != "skip":
                failed += 1
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
            for d, lines in tail.items():
                kept = " (kept)" if (not ok and os.path.isdir(d)) else ""
                print("    maillog %s/maillog%s:" % (d, kept))
                for l in lines:
                    print("    | " + l)
            sys.stdout.flush()
    print("integration: %.0fs" % (time.time() - t_start))
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped
                                      if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
