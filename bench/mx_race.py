#!/usr/bin/env python3
"""mx_race - time from injection to status=sent, Postern vs Postfix.

    python3 bench/mx_race.py [--build build] [--runs N] [--scenario NAME]

Scenarios (each run with Postern's smtp and with Postfix's own smtp, in
the same invocation, one private Postfix 3.7 instance per agent and run,
the agent chrooted and reading a test resolv.conf; see README.md):

  blackhole  a domain whose preference-10 MX drops SYNs (a loopback
             listener with a full accept queue) and whose preference-20
             MX is live; default settings (smtp_connect_timeout = 30s)
  fivemx     a domain with 5 MX hosts, each with an A and an AAAA record,
             all live (inet_protocols = all)

For each run it prints the wall-clock time from the start of sendmail to
the status=sent line appearing in the log, and the delay= field of that
line (Postfix's own measure, from queue arrival to delivery).  Must run
as root (like the integration tests).
"""

import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import pfinstance  # noqa: E402
from common import SENDER, message  # noqa: E402
from dnsserver import (TestDNS, BlackHole, BoundServer,  # noqa: E402
                       free_port_on)

SENT = re.compile(r"postfix/smtp\[\d+\]: [0-9A-F]+: to=<([^>]+)>, "
                  r"relay=([^,]+), delay=([\d.]+), .*status=sent")


def zone_blackhole(dns):
    dns.mx("bh.bench.test", 10, "hole.bh.bench.test")
    dns.mx("bh.bench.test", 20, "live.bh.bench.test")
    dns.a("hole.bh.bench.test", "127.0.55.10")
    dns.a("live.bh.bench.test", "127.0.55.20")


def zone_fivemx(dns):
    for i in range(5):
        host = "mx%d.five.bench.test" % i
        dns.mx("five.bench.test", 10 * (i + 1), host)
        dns.a(host, "127.0.55.%d" % (31 + i))
        dns.aaaa(host, "::1")


SCENARIOS = {
    "blackhole": (zone_blackhole, "rcpt@bh.bench.test", {}),
    "fivemx": (zone_fivemx, "rcpt@five.bench.test",
               {"inet_protocols": "all"}),
}


def run_once(agent, build, scenario, port):
    zone, rcpt, cf = SCENARIOS[scenario]
    dns = TestDNS()
    zone(dns)
    servers, holes = [], []
    inst = None
    try:
        dns.start()
        if scenario == "blackhole":
            holes.append(BlackHole("127.0.55.10", port).start())
            servers.append(BoundServer("127.0.55.20", port).start())
        else:
            servers.append(BoundServer("::1", port).start())
            for i in range(5):
                servers.append(BoundServer("127.0.55.%d" % (31 + i),
                                           port).start())
        main_cf = {"smtp_tcp_port": str(port)}
        main_cf.update(cf)
        inst = pfinstance.Instance(agent=agent, build=build, chroot="y",
                                   main_cf=main_cf)
        dns.install(inst)
        inst.start()
        t0 = time.time()
        inst.inject(SENDER, [rcpt], message("bench", ["hello"], to=rcpt))
        deadline = t0 + 120
        while time.time() < deadline:
            for line in inst.log_lines():
                m = SENT.search(line)
                if m and m.group(1) == rcpt:
                    return time.time() - t0, float(m.group(3)), m.group(2)
            time.sleep(0.01)
        raise RuntimeError("%s: no status=sent within 120 s" % agent)
    finally:
        if inst:
            inst.cleanup(failed=False)
        for s in servers + holes:
            s.stop()
        dns.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    args = ap.parse_args()
    build = pfinstance.resolve_build(args.build)
    scenarios = args.scenario or ["blackhole", "fivemx"]
    print("%-10s %-8s %4s %9s %8s  %s" % ("scenario", "agent", "run",
                                          "wall (s)", "delay=", "relay"))
    for scenario in scenarios:
        for run in range(1, args.runs + 1):
            for agent in ("postern", "postfix"):
                port = free_port_on("127.0.55.20")
                wall, delay, relay = run_once(agent, build, scenario, port)
                print("%-10s %-8s %4d %9.3f %8.2f  %s" % (
                    scenario, agent, run, wall, delay, relay))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
