#!/usr/bin/env python3
"""The TLS security level of each server is computed as Postfix 3.7
does (smtp_tls_security_level or the legacy smtp_use_tls/smtp_enforce_tls,
smtp_tls_policy_maps by next-hop destination and parent domains,
smtp_tls_per_site by destination and host name).  Against a server that
does not offer STARTTLS, a level that needs TLS defers the mail with
Postfix's "TLS is required, but was not offered by host ..." (4.7.4,
nothing sent), and "none" and "may" deliver in clear: the same with
Postfix's smtp.  What STARTTLS does not cover yet (the DANE levels and
smtp_tls_wrappermode) is refused before any connection: Postern only."""

import sys

from common import SENDER, message, status_line, assert_single
from protocol_util import NO_RETRY


def _skip(reason):
    exc = getattr(sys.modules.get("__main__"), "Skip", None)
    if exc is None:
        from run import Skip as exc
    raise exc(reason)


def _postern_only(ctx):
    if ctx.agent != "postern":
        _skip("Postern without DANE or wrappermode: Postfix's smtp does "
              "them")


def _setup(ctx, cf):
    srv = ctx.server()
    main_cf = dict(NO_RETRY)
    main_cf.update(cf)
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["secret"]))
    return srv, inst


def _deferred(ctx, level, cf):
    """A level that needs TLS; the server offers no STARTTLS."""
    srv, inst = _setup(ctx, cf)
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.7\.4",
        reason=r"TLS is required, but was not offered by host "
               r"127\.0\.0\.1\[127\.0\.0\.1\]"))
    assert srv.transactions() == [], "mail was sent in clear"


def _refused(ctx, level, cf):
    """What STARTTLS does not do yet: no connection at all."""
    _postern_only(ctx)
    srv, inst = _setup(ctx, cf)
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.7\.5", relay="none",
        reason=r"TLS is required for 127\.0\.0\.1 \(security level %s\), "
               r"but this Postern build cannot do it yet" % level))
    assert srv.sessions == [], "a session was opened"


def _sent(ctx, cf):
    srv, inst = _setup(ctx, cf)
    inst.wait_for_log(status_line("a@dest.test", "sent"))
    assert len(srv.transactions()) == 1
    return inst


def test_tls_encrypt_defers(ctx):
    _deferred(ctx, "encrypt", {"smtp_tls_security_level": "encrypt"})


def test_tls_verify_defers(ctx):
    _deferred(ctx, "verify", {"smtp_tls_security_level": "verify"})


def test_tls_enforce_tls_defers(ctx):
    """The legacy switches count only when the security level is empty;
    smtp_tls_enforce_peername (default yes) makes it "verify"."""
    _deferred(ctx, "verify", {"smtp_enforce_tls": "yes",
                              "smtp_tls_security_level": ""})


def test_tls_enforce_tls_nopeername_defers(ctx):
    _deferred(ctx, "encrypt", {"smtp_enforce_tls": "yes",
                               "smtp_tls_enforce_peername": "no",
                               "smtp_tls_security_level": ""})


def test_tls_wrappermode_refused(ctx):
    _refused(ctx, "wrappermode", {"smtp_tls_wrappermode": "yes",
                                   "smtp_tls_security_level": "encrypt"})


def test_tls_dane_refused(ctx):
    _refused(ctx, "dane", {"smtp_tls_security_level": "dane"})


def test_tls_dane_only_refused(ctx):
    _refused(ctx, "dane-only", {"smtp_tls_security_level": "dane-only"})


def test_tls_policy_maps_exact_destination(ctx):
    """The policy table is asked for the next hop as written."""
    srv = ctx.server()
    main_cf = dict(NO_RETRY, smtp_tls_policy_maps=(
        "inline:{[127.0.0.1]:%d=encrypt}" % srv.port))
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["secret"]))
    inst.wait_for_log(status_line("a@dest.test", "deferred", dsn=r"4\.7\.4",
                                  reason=r"TLS is required, but was not "
                                  r"offered by host .*"))
    assert srv.transactions() == []


def test_tls_policy_maps_none_overrides_global(ctx):
    """A policy entry of "none" for the destination wins over a global
    "encrypt": the mail goes in clear."""
    srv = ctx.server()
    main_cf = dict(NO_RETRY, smtp_tls_security_level="encrypt",
                   smtp_tls_policy_maps=("inline:{[127.0.0.1]:%d=none}"
                                         % srv.port))
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["hello"]))
    inst.wait_for_log(status_line("a@dest.test", "sent"))


def test_tls_policy_maps_other_destination_clear(ctx):
    _sent(ctx, {"smtp_tls_policy_maps": "inline:{other.test=encrypt}"})


def test_tls_per_site_must_defers(ctx):
    """smtp_tls_per_site by server host name: MUST is "verify"."""
    _deferred(ctx, "verify", {"smtp_tls_per_site": "inline:{127.0.0.1=MUST}"})


def test_tls_per_site_none_wins(ctx):
    """Per-site NONE for the server overrides a global "encrypt"."""
    _sent(ctx, {"smtp_tls_security_level": "encrypt",
                "smtp_tls_per_site": "inline:{127.0.0.1=NONE}"})


def test_tls_policy_bad_level_defers(ctx):
    """An unknown level in the policy table: "client TLS configuration
    problem" (4.7.5) and Postfix's warning.  Postfix's smtp does the
    same."""
    srv = ctx.server()
    main_cf = dict(NO_RETRY, smtp_tls_policy_maps=(
        "inline:{[127.0.0.1]:%d=bogus}" % srv.port))
    inst = ctx.instance(relay_port=srv.port, main_cf=main_cf)
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["secret"]))
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.7\.5", relay="none",
        reason=r"client TLS configuration problem"))
    inst.wait_for_log(r"warning: TLS policy lookup for \[127\.0\.0\.1\]:%d/"
                      r"127\.0\.0\.1: client TLS configuration problem"
                      % srv.port)
    bad = (r"warning: smtp_tls_policy_maps, next-hop destination "
           r"\"\[127\.0\.0\.1\]:%d\": invalid security level "
           r"\"bogus\"" % srv.port)
    inst.wait_for_log(bad)
    # The policy is looked up once per delivery: one warning.
    assert_single(inst, bad)
    assert srv.sessions == []


def test_tls_may_not_offered_sends_in_clear(ctx):
    """"may" and a server without STARTTLS: sent in clear."""
    _sent(ctx, {"smtp_tls_security_level": "may"})


def test_tls_bad_global_level_is_fatal(ctx):
    """smtp_tls_security_level = bogus: the agent refuses to start with
    Postfix's fatal message; the mail stays queued.  Both agents."""
    srv = ctx.server()
    inst = ctx.instance(relay_port=srv.port, main_cf=dict(
        NO_RETRY, smtp_tls_security_level="bogus"))
    inst.expect_trouble = True
    inst.inject(SENDER, ["a@dest.test"], message("tls", ["x"]))
    inst.wait_for_log(r"postfix/smtp\[\d+\]: fatal: Invalid TLS level "
                      r"\"bogus\"")
    assert srv.sessions == []
    q = inst.queue()
    assert len(q) == 1, q


def test_tls_per_site_lookup_error_defers(ctx):
    """A per-site table that cannot be read: "Temporary lookup error"
    (4.3.0) and Postfix's warnings; nothing sent.  Both agents."""
    srv, inst = _setup(ctx, {"smtp_tls_per_site": "fail:broken"})
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.3\.0", relay="none",
        reason=r"Temporary lookup error"))
    inst.wait_for_log(r"warning: smtp_tls_per_site: next-hop destination "
                      r"\"\[127\.0\.0\.1\]:%d\": per-site table lookup "
                      r"error" % srv.port)
    assert srv.sessions == []
