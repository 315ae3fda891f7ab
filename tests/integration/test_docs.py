#!/usr/bin/env python3
"""The manual page documents every parameter the agent reads (issue 3,
4 and 5: "the man page documents each parameter").  TLS parameters may be
covered by the smtp_tls_* / tls_* patterns until STARTTLS exists.  Runs
once, for the Postern agent (no Postfix involved)."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _skip(reason):
    exc = getattr(sys.modules.get("__main__"), "Skip", None)
    if exc is None:
        from run import Skip as exc
    raise exc(reason)


def _params():
    with open(os.path.join(ROOT, "src", "global", "params.def")) as f:
        text = f.read()
    return sorted(set(re.findall(r'PARAM\(\s*[A-Z_]+,\s*"([a-z0-9_]+)"',
                                 text)))


def test_every_parameter_is_in_the_manual(ctx):
    if ctx.agent != "postern" or ctx.chroot != "n":
        _skip("documentation check: once")
    with open(os.path.join(ROOT, "man", "postern-smtp.8")) as f:
        man = f.read()
    words = set(re.findall(r"[a-z0-9_]+", man))
    tls_pattern = re.compile(r"^(smtp_tls_|tls_)")
    missing = [p for p in _params()
               if p not in words and not tls_pattern.match(p)]
    assert len(_params()) > 200
    assert not missing, "undocumented parameters: " + ", ".join(missing)
