#!/usr/bin/env python3
"""STARTTLS: the security levels may, encrypt, fingerprint, verify and
secure against a second private Postfix whose smtpd offers STARTTLS with
a certificate made at test time (openssl(1): a CA, a server certificate
for mx.dest.test, one for another name, and a self-signed one), and
against the scriptable server for STARTTLS not offered, refused (454)
and a broken handshake.  Every outcome, the "... TLS connection
established ..." lines (smtp_tls_loglevel = 1) and the deferral texts are
the same with Postfix's own smtp (run.py --agent postfix)."""

import os
import re

from common import (SENDER, message, status_line, assert_single, crlf,
                    strip_received)
from protocol_util import NO_RETRY
from receivers import postfix_receiver
from tlsutil import Pki, server_context

BODY = ["Over TLS.", ".one dot", "", "caf\u00e9", "z" * 998, "last line"]


def _pki(ctx):
    pki = Pki()
    ctx.servers.append(pki)
    return pki


def _receiver(ctx, cert):
    pem, key = cert
    return postfix_receiver(ctx, users=("alice@dest.test",), smtpd_opts={
        "smtpd_tls_security_level": "may",
        "smtpd_tls_cert_file": pem, "smtpd_tls_key_file": key,
        "smtpd_tls_loglevel": "1"})


def _sender(ctx, rport, cf):
    main_cf = dict(NO_RETRY, smtp_tls_loglevel="1")
    main_cf.update(cf)
    return ctx.instance(relay_port=rport, main_cf=main_cf)


def _msg(subject):
    return message(subject, BODY).replace(b"charset=us-ascii",
                                          b"charset=utf-8")


def _summary(trust, port):
    """The TLS summary line both agents log (TLS 1.3, RSA 2048 key)."""
    return (r"postfix/smtp\[\d+\]: %s TLS connection established to "
            r"127\.0\.0\.1\[127\.0\.0\.1\]:%d: TLSv1\.3 with cipher "
            r"TLS_AES_256_GCM_SHA384 \(256/256 bits\) key-exchange X25519 "
            r"server-signature RSA-PSS \(2048 bits\) server-digest SHA256$"
            % (trust, port))


def _delivered(ctx, rinst, rport, inst, msg, trust):
    """Sent over TLS; the receiver stored the message byte-exact."""
    inst.wait_queue_empty()
    assert_single(inst, status_line("alice@dest.test", "sent",
                                    dsn=r"2\.0\.0", port=rport))
    assert_single(inst, _summary(trust, rport))
    rinst.wait_queue_empty()
    [got] = rinst.wait_mailbox(1, box="dest.test/alice")
    # The receiver's Received header says ESMTPS: TLS was used.
    assert re.search(rb"\n\tby mx\.dest\.test \(Postfix\) with ESMTPS id ",
                     got), got[:600]
    i = got.index(b"\nReceived: by client.test (Postfix, from userid 0)")
    rest = got[i + 1:]
    j = rest.index(b"\n", rest.index(b"\n") + 1)
    assert rest[j + 1:] == msg, "stored message differs:\n%r" % rest
    assert rinst.grep_log(r"postfix/smtpd\[\d+\]: disconnect from localhost"
                          r"\[127\.0\.0\.1\] ehlo=2 starttls=1 mail=1 rcpt=1 "
                          r"data=1 quit=1 commands=7$")


def _deferred(inst, dsn, reason):
    inst.wait_for_log(status_line("alice@dest.test", "deferred", dsn=dsn,
                                  reason=reason))
    assert len(inst.queue()) == 1


def test_tls_may_delivers_untrusted(ctx):
    """"may" without a CA: the certificate is untrusted, delivered over
    TLS all the same."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.good)
    inst = _sender(ctx, rport, {"smtp_tls_security_level": "may"})
    msg = _msg("may")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Untrusted")


def test_tls_encrypt_delivers_trusted(ctx):
    """"encrypt" with the CA: "Trusted" (no name is checked)."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.wrong)
    inst = _sender(ctx, rport, {"smtp_tls_security_level": "encrypt",
                                "smtp_tls_CAfile": pki.ca})
    msg = _msg("encrypt")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Trusted")


def test_tls_verify_delivers_verified(ctx):
    """"verify" with the CA and the name in smtp_tls_verify_cert_match:
    "Verified"."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.good)
    inst = _sender(ctx, rport, {"smtp_tls_security_level": "verify",
                                "smtp_tls_verify_cert_match": "mx.dest.test",
                                "smtp_tls_CAfile": pki.ca})
    msg = _msg("verify")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Verified")


def test_tls_secure_delivers_verified(ctx):
    """"secure" with a ".domain" match: subdomains of dest.test."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.good)
    inst = _sender(ctx, rport, {"smtp_tls_security_level": "secure",
                                "smtp_tls_secure_cert_match": ".dest.test",
                                "smtp_tls_CAfile": pki.ca})
    msg = _msg("secure")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Verified")


def test_tls_verify_wrong_name_defers(ctx):
    """A trusted certificate for another name: "Server certificate not
    verified" (4.7.5), with the verification failure logged."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.wrong)
    inst = _sender(ctx, rport, {"smtp_tls_security_level": "verify",
                                "smtp_tls_verify_cert_match": "mx.dest.test",
                                "smtp_tls_CAfile": pki.ca})
    inst.inject(SENDER, ["alice@dest.test"], _msg("wrong name"))
    _deferred(inst, r"4\.7\.5", r"Server certificate not verified")
    assert_single(inst, r"postfix/smtp\[\d+\]: server certificate "
                  r"verification failed for 127\.0\.0\.1\[127\.0\.0\.1\]:%d: "
                  r"num=62:hostname mismatch$" % rport)
    # The name check is part of the chain check: "Untrusted".
    assert_single(inst, _summary("Untrusted", rport))
    assert rinst.wait_for_log(r"disconnect from localhost\[127\.0\.0\.1\] "
                              r"ehlo=1 starttls=1 quit=1 commands=3$")


def test_tls_verify_untrusted_defers(ctx):
    """A self-signed certificate under "verify": deferred, and the
    reason logged as Postfix does."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.selfsigned)
    inst = _sender(ctx, rport, {"smtp_tls_security_level": "verify",
                                "smtp_tls_verify_cert_match": "mx.dest.test",
                                "smtp_tls_CAfile": pki.ca})
    inst.inject(SENDER, ["alice@dest.test"], _msg("self-signed"))
    _deferred(inst, r"4\.7\.5", r"Server certificate not verified")
    assert_single(inst, r"postfix/smtp\[\d+\]: certificate verification "
                  r"failed for 127\.0\.0\.1\[127\.0\.0\.1\]:%d: self-signed "
                  r"certificate$" % rport)
    assert_single(inst, _summary("Untrusted", rport))


def test_tls_fingerprint_match_delivers(ctx):
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.selfsigned)
    inst = _sender(ctx, rport, {
        "smtp_tls_security_level": "fingerprint",
        "smtp_tls_fingerprint_cert_match":
        pki.fingerprint(pki.selfsigned[0])})
    msg = _msg("fingerprint")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Verified")


def test_tls_fingerprint_mismatch_defers(ctx):
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.selfsigned)
    inst = _sender(ctx, rport, {
        "smtp_tls_security_level": "fingerprint",
        "smtp_tls_fingerprint_cert_match": pki.fingerprint(pki.good[0])})
    inst.inject(SENDER, ["alice@dest.test"], _msg("fingerprint"))
    _deferred(inst, r"4\.7\.5", r"Server certificate not verified")
    assert_single(inst, _summary("Untrusted", rport))


def test_tls_encrypt_not_offered_defers(ctx):
    """"encrypt" and no STARTTLS in the EHLO reply: "TLS is required, but
    was not offered by host ..." (4.7.4); nothing sent."""
    srv = ctx.server(ehlo_keywords=["PIPELINING"])
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "encrypt"})
    inst.inject(SENDER, ["alice@dest.test"], _msg("no tls"))
    _deferred(inst, r"4\.7\.4", r"TLS is required, but was not offered by "
              r"host 127\.0\.0\.1\[127\.0\.0\.1\]")
    assert srv.transactions() == []


def test_tls_encrypt_refused_defers(ctx):
    """STARTTLS answered 454: "TLS is required, but host ... refused to
    start TLS: 454 ..." with the reply's status, and (as Postfix) neither
    "host ... said:" nor "in reply to"."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "STARTTLS"],
                     replies={"other": "454 4.7.0 TLS not available due "
                              "to local problem"})
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "encrypt"})
    inst.inject(SENDER, ["alice@dest.test"], _msg("454"))
    _deferred(inst, r"4\.7\.0", r"TLS is required, but host 127\.0\.0\.1"
              r"\[127\.0\.0\.1\] refused to start TLS: 454 4\.7\.0 TLS not "
              r"available due to local problem")
    assert srv.transactions() == []


def test_tls_may_refused_sends_in_clear(ctx):
    """"may" and 454 to STARTTLS: the mail goes in clear."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "STARTTLS"],
                     replies={"other": "454 4.7.0 TLS not available"})
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "may"})
    inst.inject(SENDER, ["alice@dest.test"], _msg("may 454"))
    inst.wait_for_log(status_line("alice@dest.test", "sent"))
    assert len(srv.transactions()) == 1


def test_tls_handshake_failure_defers(ctx):
    """The server says 220 to STARTTLS but speaks no TLS: "Cannot start
    TLS: handshake failure" (4.7.5) for a new message, even with "may"
    (Postfix retries in clear only for mail older than
    minimal_backoff_time); no QUIT on the broken connection."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "STARTTLS"],
                     replies={"other": "220 2.0.0 Ready to start TLS"})
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "may"})
    inst.inject(SENDER, ["alice@dest.test"], _msg("handshake"))
    _deferred(inst, r"4\.7\.5", r"Cannot start TLS: handshake failure")
    inst.wait_for_log(r"postfix/smtp\[\d+\]: SSL_connect error to "
                      r"127\.0\.0\.1\[127\.0\.0\.1\]:%d: " % srv.port)
    assert srv.transactions() == []


def test_tls_may_handshake_failure_probe_retries_in_clear(ctx):
    """A probe (sendmail -bv, trace only): after a failed "may" handshake
    the same server is tried again in clear, as Postfix does for probes
    and for mail older than minimal_backoff_time; the address is
    deliverable."""
    srv = ctx.server(ehlo_keywords=["PIPELINING", "STARTTLS"],
                     replies={"other": "220 2.0.0 Ready to start TLS"})
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "may"})
    inst.inject(SENDER, ["alice@dest.test"], b"", extra_args=["-bv"])
    inst.wait_queue_empty()
    assert_single(inst, status_line("alice@dest.test", "deliverable",
                                    dsn=r"2\.1\.5", port=srv.port))
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: Cannot start TLS: "
                  r"handshake failure$")
    s0, s1 = srv.wait_sessions(2)
    # The first session ends in the ClientHello (binary "lines").
    assert s0.commands[:2] == ["EHLO client.test", "STARTTLS"]
    assert "QUIT" not in s0.commands
    assert s1.commands == ["EHLO client.test",
                           "MAIL FROM:<%s>" % SENDER,
                           "RCPT TO:<alice@dest.test>", "RSET", "QUIT"]


def _policy(pki, rport, value):
    """A smtp_tls_policy_maps table for [127.0.0.1]:rport."""
    path = os.path.join(pki.dir, "policy")
    with open(path, "w") as f:
        f.write("[127.0.0.1]:%d %s\n" % (rport, value))
    os.chmod(path, 0o644)
    return "texthash:" + path


def test_tls_policy_verify_match_delivers(ctx):
    """smtp_tls_policy_maps "verify match=NAME:NAME": the table's names,
    not smtp_tls_verify_cert_match."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.good)
    inst = _sender(ctx, rport, {
        "smtp_tls_policy_maps": _policy(
            pki, rport, "verify match=nomatch.test:mx.dest.test"),
        "smtp_tls_CAfile": pki.ca})
    msg = _msg("policy verify")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Verified")


def test_tls_policy_fingerprint_match_delivers(ctx):
    """"fingerprint match=FP1|FP2" (sha256, the second one matches), and
    protocols= / ciphers= attributes."""
    pki = _pki(ctx)
    rinst, rport = _receiver(ctx, pki.selfsigned)
    inst = _sender(ctx, rport, {
        "smtp_tls_policy_maps": _policy(
            pki, rport, "fingerprint match=%s|%s protocols=>=TLSv1.2 "
            "ciphers=high" % (pki.fingerprint(pki.good[0]),
                              pki.fingerprint(pki.selfsigned[0])))})
    msg = _msg("policy fingerprint")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    _delivered(ctx, rinst, rport, inst, msg, "Verified")


def test_tls_policy_bad_attribute_defers(ctx):
    """An unknown attribute: "client TLS configuration problem" (4.7.5)
    and Postfix's warning; nothing sent."""
    srv = ctx.server(ehlo_keywords=["STARTTLS"])
    pki = _pki(ctx)
    inst = _sender(ctx, srv.port, {"smtp_tls_policy_maps": _policy(
        pki, srv.port, "encrypt bogus=1")})
    inst.inject(SENDER, ["alice@dest.test"], _msg("bad attribute"))
    inst.wait_for_log(status_line("alice@dest.test", "deferred",
                                  dsn=r"4\.7\.5", relay="none",
                                  reason=r"client TLS configuration problem"))
    inst.wait_for_log(r"warning: smtp_tls_policy_maps, next-hop destination "
                      r"\"\[127\.0\.0\.1\]:%d\": invalid attribute name: "
                      r"\"bogus\"" % srv.port)
    assert srv.sessions == []


def test_tls_fingerprint_without_fingerprints_defers(ctx):
    srv = ctx.server(ehlo_keywords=["STARTTLS"])
    inst = _sender(ctx, srv.port,
                   {"smtp_tls_security_level": "fingerprint"})
    inst.inject(SENDER, ["alice@dest.test"], _msg("no fingerprints"))
    inst.wait_for_log(status_line("alice@dest.test", "deferred",
                                  dsn=r"4\.7\.5", relay="none",
                                  reason=r"client TLS configuration problem"))
    inst.wait_for_log(r"warning: nexthop domain \[127\.0\.0\.1\]:%d: "
                      r"configured at fingerprint security level, but with "
                      r"no fingerprints to match\." % srv.port)
    assert srv.sessions == []


def test_tls_sasl_plain_after_starttls(ctx):
    """A server that offers AUTH (PLAIN, LOGIN) only over TLS
    (smtpd_tls_auth_only): with "encrypt" and smtp_sasl_tls_security_options
    = noanonymous, the client authenticates with PLAIN after STARTTLS and
    the second EHLO; the default (clear) options would refuse PLAIN."""
    from test_sasl import sasl_receiver, client, creds, smtpd_login
    pki = _pki(ctx)
    rinst, rport = sasl_receiver(ctx, mech_list="PLAIN LOGIN",
                                 tls=pki.good)
    inst = client(ctx, rport, dict(
        NO_RETRY, smtp_tls_security_level="encrypt", smtp_tls_loglevel="1",
        smtp_sasl_tls_security_options="noanonymous",
        smtp_sasl_password_maps=creds(rport)))
    inst.inject(SENDER, ["rcpt@dest.test"], _msg("sasl over tls"))
    inst.wait_for_log(status_line("rcpt@dest.test", "sent", dsn=r"2\.0\.0",
                                  port=rport))
    smtpd_login(rinst, "PLAIN", "alice")
    assert_single(inst, _summary("Untrusted", rport))
    rinst.wait_for_log(r"postfix/smtpd\[\d+\]: disconnect from localhost"
                       r"\[127\.0\.0\.1\] ehlo=2 starttls=1 auth=1 mail=1 "
                       r"rcpt=1 data=1 quit=1 commands=8$")


def test_tls_scripted_server_commands(ctx):
    """The scriptable server doing STARTTLS (Python's ssl): EHLO,
    STARTTLS, then EHLO again over TLS before MAIL; the message arrives
    byte-exact after the Received header."""
    pki = _pki(ctx)
    srv = ctx.server(ehlo_keywords=["PIPELINING", "8BITMIME"],
                     tls_context=server_context(pki.good))
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "encrypt"})
    msg = _msg("scripted")
    inst.inject(SENDER, ["alice@dest.test"], msg)
    inst.wait_for_log(status_line("alice@dest.test", "sent",
                                  port=srv.port))
    [sess] = srv.wait_sessions(1)
    assert sess.tls == "TLSv1.3", sess.text()
    assert sess.commands[:3] == ["EHLO client.test", "STARTTLS",
                                 "EHLO client.test"], sess.text()
    assert sess.commands[-1] == "QUIT", sess.text()
    [t] = srv.transactions()
    assert strip_received(t.data)[1] == crlf(msg)


def _lmtp_instance(ctx, nexthop, cf):
    main_cf = dict(NO_RETRY, lmtp_tls_loglevel="1")
    main_cf["transport_maps"] = "inline:{ lmtp.test=lmtp:%s }" % nexthop
    main_cf.update(cf)
    return ctx.instance(relay_port=ctx.free_port(), main_cf=main_cf,
                        start=False)


def test_tls_lmtp_inet_encrypt(ctx):
    """LMTP over TCP with lmtp_tls_security_level = encrypt: LHLO,
    STARTTLS, LHLO again over TLS."""
    pki = _pki(ctx)
    srv = ctx.server(lmtp=True, tls_context=server_context(pki.good))
    inst = _lmtp_instance(ctx, "inet:127.0.0.1:%d" % srv.port,
                          {"lmtp_tls_security_level": "encrypt"})
    inst.start()
    inst.inject(SENDER, ["ok@lmtp.test"], _msg("lmtp tls"))
    inst.wait_for_log(status_line("ok@lmtp.test", "sent", port=srv.port,
                                  ident="postfix/lmtp"))
    [sess] = srv.wait_sessions(1)
    assert sess.tls == "TLSv1.3", sess.text()
    assert sess.commands[:3] == ["LHLO client.test", "STARTTLS",
                                 "LHLO client.test"], sess.text()
    assert_single(inst, _summary("Untrusted", srv.port).replace(
        "postfix/smtp", "postfix/lmtp"))


def test_tls_lmtp_unix_may_is_none(ctx):
    """LMTP over a UNIX socket and "may": Postfix's warning, and no
    STARTTLS although the server offers it."""
    pki = _pki(ctx)
    inst = _lmtp_instance(ctx, "unix:lmtpsock/sock",
                          {"lmtp_tls_security_level": "may"})
    d = os.path.join(inst.spool, "lmtpsock")
    os.mkdir(d, 0o755)
    srv = ctx.server(lmtp=True, unix_path=os.path.join(d, "sock"),
                     tls_context=server_context(pki.good))
    inst.start()
    inst.inject(SENDER, ["ok@lmtp.test"], _msg("lmtp unix"))
    inst.wait_queue_empty()
    [sess] = srv.wait_sessions(1)
    assert "STARTTLS" not in sess.commands, sess.text()
    assert sess.tls is None
    assert inst.grep_log(r"postfix/lmtp\[\d+\]: warning: smtp_connect_local: "
                         r"opportunistic TLS encryption is not appropriate "
                         r"for unix-domain destinations\.$")


def test_tls_engine_unavailable_defers(ctx):
    """A CAfile that cannot be loaded turns the TLS engine off at start:
    "encrypt" mail for a server that offers STARTTLS is deferred with
    "TLS is required, but our TLS engine is unavailable" (4.7.5)."""
    srv = ctx.server(ehlo_keywords=["STARTTLS"])
    inst = _sender(ctx, srv.port, {"smtp_tls_security_level": "encrypt",
                                   "smtp_tls_CAfile": "/nonexistent/ca.pem"})
    inst.inject(SENDER, ["alice@dest.test"], _msg("no engine"))
    _deferred(inst, r"4\.7\.5", r"TLS is required, but our TLS engine is "
              r"unavailable")
    assert srv.transactions() == []
    assert_single(inst, r"postfix/smtp\[\d+\]: cannot load Certification "
                  r"Authority data, CAfile=\"/nonexistent/ca\.pem\": "
                  r"disabling TLS support$")
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: TLS library "
                  r"problem: error:80000002:system library::No such file or "
                  r"directory:\S+:\d+:calling fopen\(/nonexistent/ca\.pem, "
                  r"r\):$")
