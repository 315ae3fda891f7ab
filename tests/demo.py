#!/usr/bin/env python3
"""demo - show Postern delivering mail inside a real Postfix 3.7.

Starts a private Postfix instance (under /tmp) whose smtp transport is
build/postern-smtp, a receiving SMTP server on 127.0.0.1 that offers
STARTTLS with a certificate made on the spot by openssl(1) (a test CA and
a certificate for mx.dest.test), injects one message with sendmail, waits
for delivery over TLS (smtp_tls_security_level = verify against the test
CA), and prints the Postfix log and the message as the server received
it.  Everything it starts is stopped before it exits.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "integration"))

from pfinstance import Instance  # noqa: E402
from smtpserver import SMTPServer  # noqa: E402
from common import message, SENDER  # noqa: E402
from tlsutil import Pki, server_context  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    args = ap.parse_args()

    rcpt = "friend@dest.test"
    pki = Pki()
    try:
        run(args, rcpt, pki)
    finally:
        pki.stop()
    print("\n== demo done")


def run(args, rcpt, pki):
    tls_cf = {"smtp_tls_security_level": "verify",
              "smtp_tls_verify_cert_match": "mx.dest.test",
              "smtp_tls_CAfile": pki.ca, "smtp_tls_loglevel": "1"}
    with SMTPServer(tls_context=server_context(pki.good)) as server:
        with Instance(agent="postern", build=args.build, chroot="y",
                      relay_port=server.port, main_cf=tls_cf) as pf:
            print("== private Postfix 3.7 in %s, smtp = %s" %
                  (pf.dir, pf.smtp_prog))
            print("== receiving server on 127.0.0.1:%d (STARTTLS, "
                  "certificate for mx.dest.test)" % server.port)
            pf.inject(SENDER, [rcpt], message(
                "Hello from Postern",
                ["This message was delivered by postern-smtp,",
                 "running under Postfix's own master(8) and qmgr(8).",
                 ".A line starting with a dot survives dot-stuffing."],
                to=rcpt))
            pf.wait_for_log(r"status=sent")
            pf.wait_queue_empty()
            print("\n== Postfix log (%s):" % pf.maillog)
            for line in pf.log_text().splitlines():
                if "symlink leaves directory" not in line:
                    print(line)
            t = server.wait_transactions(1)[0]
            sess = server.wait_sessions(1)[0]
            print("\n== the server received over %s (MAIL FROM %s, RCPT "
                  "TO %s):" % (sess.tls or "plaintext (!)", t.mail_from,
                               ", ".join(t.accepted)))
            sys.stdout.write(t.data.decode("utf-8", "replace")
                             .replace("\r\n", "\n"))


if __name__ == "__main__":
    main()
