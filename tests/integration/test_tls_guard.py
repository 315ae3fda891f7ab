#!/usr/bin/env python3
"""Until STARTTLS is built, Postern must not send in clear what the
configuration wants encrypted: every setting that can require TLS defers
the mail (4.7.5, nothing sent), while "may" still delivers in clear with a
warning.  Postern's own behaviour (Postfix's smtp does TLS)."""

import sys

from common import SENDER, message, status_line, assert_single
from protocol_util import NO_RETRY


def _postern_only(ctx):
    if ctx.agent != "postern":
        exc = getattr(sys.modules.get("__main__"), "Skip", None)
        if exc is None:
            from run import Skip as exc
        raise exc("Postern without TLS: Postfix's smtp does STARTTLS")


def _deferred(ctx, setting, cf):
    _postern_only(ctx)
    srv = ctx.server()
    main_cf = dict(NO_RETRY)
    main_cf.update(cf)
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["secret"]))
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.7\.5", relay="none",
        reason=r"TLS is required by smtp_%s, but this Postern build "
               r"cannot do STARTTLS yet" % setting))
    assert srv.sessions == [], "a session was opened"


def test_tls_encrypt_defers(ctx):
    _deferred(ctx, "tls_security_level",
              {"smtp_tls_security_level": "encrypt"})


def test_tls_verify_defers(ctx):
    _deferred(ctx, "tls_security_level",
              {"smtp_tls_security_level": "verify"})


def test_tls_enforce_tls_defers(ctx):
    _deferred(ctx, "enforce_tls", {"smtp_enforce_tls": "yes",
                                   "smtp_tls_security_level": ""})


def test_tls_policy_maps_defers(ctx):
    _deferred(ctx, "tls_policy_maps",
              {"smtp_tls_policy_maps": "inline:{dest.test=encrypt}"})


def test_tls_wrappermode_defers(ctx):
    _deferred(ctx, "tls_wrappermode", {"smtp_tls_wrappermode": "yes",
                                       "smtp_tls_security_level": "encrypt"})


def test_tls_may_sends_in_clear_with_warning(ctx):
    _postern_only(ctx)
    srv = ctx.server(ehlo_keywords=["PIPELINING", "STARTTLS"])
    inst = ctx.instance(relay_port=srv.port,
                        main_cf={"smtp_tls_security_level": "may"})
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["hello"]))
    inst.wait_for_log(status_line("a@dest.test", "sent"))
    assert len(srv.transactions()) == 1
    assert_single(inst, r"warning: smtp_tls_security_level = may: this "
                  r"Postern build cannot do STARTTLS yet; mail is sent in "
                  r"clear")
