#!/usr/bin/env python3
"""Issue 5: the SASL client (SMTP AUTH with Cyrus SASL).

Two kinds of peers:
  - a second private Postfix 3.7 whose smtpd authenticates with Cyrus SASL
    (sasldb made with saslpasswd2, mechanisms PLAIN, LOGIN, CRAM-MD5 and
    SCRAM-SHA-256 from Debian's libsasl2-modules), for real logins;
  - the scriptable server, for the exact AUTH lines and faults.
Every test passes with --agent postfix (the reference) except the one that
checks that passwords never reach the log at high verbosity: Postfix's own
smtp logs them with -v, Postern never does.
"""

import base64
import os
import pwd
import re
import subprocess
import time

import pfinstance
from common import (SENDER, RELAY, message, status_line, assert_single,
                    assert_none)
from protocol_util import NO_RETRY, ndr_text
from run import Skip

USER, PASSWORD = "alice", "Wonder-pass-7"
USER2, PASSWORD2 = "bob", "Builder-pass-9"
REALM = "mx.dest.test"
MECHS = "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"


def sasl_receiver(ctx, mech_list=MECHS, tls=None):
    """A private Postfix smtpd on 127.0.0.1:PORT with Cyrus SASL AUTH
    (auxprop/sasldb with alice and bob in realm mx.dest.test).  Mail for
    dest.test is stored; no AUTH is required.  tls: (cert, key) files for
    STARTTLS, and AUTH only over TLS.  Return (instance, port)."""
    port = ctx.free_port()
    cf = {"myhostname": REALM, "mydomain": "dest.test",
          "virtual_mailbox_domains": "dest.test",
          "smtpd_banner": "$myhostname ESMTP receiver"}
    inst = pfinstance.Instance(agent="postfix", build=ctx.build, chroot="n",
                               main_cf=cf, vmailbox={
                                   "rcpt@dest.test": "dest.test/rcpt/"},
                               master_cf_extra=(
                                   "127.0.0.1:%d inet n - n - - smtpd "
                                   "%s -o smtpd_sasl_auth_enable=yes"
                                   % (port, "-o smtpd_tls_security_level=none"
                                      if tls is None else
                                      "-o smtpd_tls_security_level=may "
                                      "-o smtpd_tls_auth_only=yes "
                                      "-o smtpd_tls_cert_file=%s "
                                      "-o smtpd_tls_key_file=%s" % tls)))
    ctx.instances.append(inst)
    # Debian's smtpd reads $config_directory/sasl/smtpd.conf (its
    # cyrus_sasl_config_path is overridden by that default).
    sasl_dir = os.path.join(inst.etc, "sasl")
    os.makedirs(sasl_dir, exist_ok=True)
    db = os.path.join(sasl_dir, "sasldb2")
    for user, pw in ((USER, PASSWORD), (USER2, PASSWORD2)):
        subprocess.run(["saslpasswd2", "-f", db, "-c", "-p", "-u", REALM,
                        user], input=pw.encode(), check=True, timeout=30)
    pf = pwd.getpwnam("postfix")
    os.chown(db, pf.pw_uid, pf.pw_gid)
    os.chmod(db, 0o600)
    with open(os.path.join(sasl_dir, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                "sasldb_path: %s\nmech_list: %s\n" % (db, mech_list))
    inst.set_main_cf({"smtpd_sasl_type": "cyrus",
                      "smtpd_sasl_path": "smtpd",
                      "smtpd_sasl_security_options": "noanonymous"},
                     reload=False)
    inst.start()
    deadline = time.time() + 20
    import socket
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise RuntimeError("receiver smtpd not listening on %d" % port)
            time.sleep(0.1)
    return inst, port


def client(ctx, port, settings, start=True):
    """The sending instance, relayhost [127.0.0.1]:port, SASL on."""
    cf = {"smtp_sasl_auth_enable": "yes"}
    cf.update(settings)
    inst = ctx.instance(relay_port=port, start=False)
    inst.set_main_cf(cf, reload=False)
    if start:
        inst.start()
    return inst


def creds(port, user=USER, password=PASSWORD):
    return "inline:{ [127.0.0.1]:%d=%s:%s }" % (port, user, password)


def smtpd_login(rinst, mech_re, user):
    """The receiver logged a message accepted from an authenticated
    client (mech_re: a regex for the mechanism)."""
    return rinst.wait_for_log(
        r"postfix/smtpd\[\d+\]: [0-9A-F]+: client=localhost\[127\.0\.0\.1\], "
        r"sasl_method=%s, sasl_username=%s$" % (mech_re, re.escape(user)))


# ---------------------------------------------------------------------
# Real logins to Postfix's smtpd

def test_sasl_mechanisms_with_postfix_smtpd(ctx):
    """smtp_sasl_mechanism_filter picks each of PLAIN, LOGIN, CRAM-MD5 and
    SCRAM-SHA-256 in turn (security options "noanonymous" allow plain
    text): the receiving smtpd logs sasl_method=MECH,
    sasl_username=alice for each message, and the sender logs
    status=sent."""
    rinst, rport = sasl_receiver(ctx)
    inst = client(ctx, rport, {"smtp_sasl_password_maps": creds(rport),
                               "smtp_sasl_security_options": "noanonymous"})
    for i, mech in enumerate(MECHS.split()):
        inst.set_main_cf({"smtp_sasl_mechanism_filter": mech.lower()})
        inst.inject(SENDER, ["rcpt@dest.test"], message("m %s" % mech, ["x"]))
        inst.wait_queue_empty()
        inst.wait_for_log(status_line("rcpt@dest.test", "sent",
                                      dsn=r"2\.0\.0", port=rport),
                          count=i + 1)
        smtpd_login(rinst, re.escape(mech), USER)
    rinst.wait_mailbox(4, box="dest.test/rcpt")


def test_sasl_wrong_password_defers(ctx):
    """A wrong password: smtpd says 535 5.7.8; the client defers with
    4.7.8 (smtp_sasl_auth_soft_bounce = yes): "SASL authentication
    failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 Error:
    authentication failed: authentication failure"."""
    rinst, rport = sasl_receiver(ctx)
    inst = client(ctx, rport, dict(
        NO_RETRY, smtp_sasl_password_maps=creds(rport, password="wrong"),
        smtp_sasl_security_options="noanonymous",
        smtp_sasl_mechanism_filter="plain"))
    inst.inject(SENDER, ["rcpt@dest.test"], message("wrong", ["x"]))
    reason = (r"SASL authentication failed; server %s said: 535 5\.7\.8 "
              r"Error: authentication failed: authentication failure" % RELAY)
    inst.wait_for_log(status_line("rcpt@dest.test", "deferred",
                                  dsn=r"4\.7\.8", port=rport, reason=reason))


def test_sasl_wrong_password_bounces_without_soft_bounce(ctx):
    """smtp_sasl_auth_soft_bounce = no: the 535 bounces (5.7.8), the NDR
    names the receiver as Remote-MTA and quotes its reply."""
    rinst, rport = sasl_receiver(ctx)
    inst = client(ctx, rport, dict(
        NO_RETRY, smtp_sasl_password_maps=creds(rport, password="wrong"),
        smtp_sasl_security_options="noanonymous",
        smtp_sasl_mechanism_filter="login",
        smtp_sasl_auth_soft_bounce="no"))
    inst.inject(SENDER, ["rcpt@dest.test"], message("wrong 2", ["x"]))
    reason = (r"SASL authentication failed; server %s said: 535 5\.7\.8 "
              r"Error: authentication failed: authentication failure" % RELAY)
    inst.wait_for_log(status_line("rcpt@dest.test", "bounced",
                                  dsn=r"5\.7\.8", port=rport, reason=reason))
    inst.wait_queue_empty()
    [ndr] = ndr_text(inst)
    assert "Remote-MTA: dns; 127.0.0.1" in ndr, ndr
    assert ("Diagnostic-Code: smtp; 535 5.7.8 Error: authentication failed:"
            in ndr), ndr


def test_sasl_noplaintext_refuses_plain(ctx):
    """Default smtp_sasl_security_options (noplaintext, noanonymous) and a
    server that offers only PLAIN and LOGIN on a clear channel: libsasl2
    finds no mechanism; deferred 4.7.0 "SASL authentication failed;
    cannot authenticate to server 127.0.0.1[127.0.0.1]: no mechanism
    available"; nothing was sent to the server after EHLO but QUIT."""
    rinst, rport = sasl_receiver(ctx, mech_list="PLAIN LOGIN")
    inst = client(ctx, rport, dict(NO_RETRY,
                                   smtp_sasl_password_maps=creds(rport)))
    inst.inject(SENDER, ["rcpt@dest.test"], message("noplain", ["x"]))
    reason = (r"SASL authentication failed; cannot authenticate to server "
              r"%s: no mechanism available" % RELAY)
    inst.wait_for_log(status_line("rcpt@dest.test", "deferred",
                                  dsn=r"4\.7\.0", port=rport, reason=reason))
    rinst.wait_for_log(r"postfix/smtpd\[\d+\]: disconnect from localhost"
                       r"\[127\.0\.0\.1\] ehlo=1 quit=1 commands=2$")


def test_sasl_filter_leaves_no_mechanism(ctx):
    """smtp_sasl_mechanism_filter = gssapi, the server offers none of it:
    warning "127.0.0.1[127.0.0.1]:PORT offered no supported AUTH
    mechanisms: 'PLAIN LOGIN'", then deferred 4.7.0 "SASL authentication
    failed: server 127.0.0.1[127.0.0.1] offered no compatible
    authentication mechanisms for this type of connection security"."""
    rinst, rport = sasl_receiver(ctx, mech_list="PLAIN LOGIN")
    inst = client(ctx, rport, dict(NO_RETRY,
                                   smtp_sasl_password_maps=creds(rport),
                                   smtp_sasl_mechanism_filter="gssapi"))
    inst.inject(SENDER, ["rcpt@dest.test"], message("nomech", ["x"]))
    reason = (r"SASL authentication failed: server %s offered no compatible "
              r"authentication mechanisms for this type of connection "
              r"security" % RELAY)
    inst.wait_for_log(status_line("rcpt@dest.test", "deferred",
                                  dsn=r"4\.7\.0", port=rport, reason=reason))
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: %s:%d offered no "
                  r"supported AUTH mechanisms: 'PLAIN LOGIN'$"
                  % (RELAY, rport))


def test_sasl_sender_dependent_credentials(ctx):
    """smtp_sender_dependent_authentication = yes: the sender's own entry
    (sender@client.test = bob) wins over the next hop's (alice); another
    sender falls back to @client.test, then to the next hop."""
    rinst, rport = sasl_receiver(ctx)
    table = ("inline:{ sender@client.test=%s:%s, [127.0.0.1]:%d=%s:%s }"
             % (USER2, PASSWORD2, rport, USER, PASSWORD))
    inst = client(ctx, rport, {
        "smtp_sasl_password_maps": table,
        "smtp_sasl_security_options": "noanonymous",
        "smtp_sender_dependent_authentication": "yes"})
    inst.inject(SENDER, ["rcpt@dest.test"], message("bob", ["x"]))
    inst.wait_queue_empty()
    smtpd_login(rinst, r"[A-Z0-9-]+", USER2)
    inst.inject("other@client.test", ["rcpt@dest.test"],
                message("alice", ["x"]))
    inst.wait_queue_empty()
    smtpd_login(rinst, r"[A-Z0-9-]+", USER)
    rinst.wait_mailbox(2, box="dest.test/rcpt")


# ---------------------------------------------------------------------
# Exact AUTH lines and faults, with the scriptable server

AUTH_KW = ["PIPELINING", "SIZE 10240000", "8BITMIME", "AUTH PLAIN LOGIN"]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def login_server(ctx, final="235 2.7.0 Authentication successful",
                 challenges=("334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"),
                 **kw):
    """A server offering AUTH PLAIN LOGIN that runs AUTH LOGIN's
    dialogue: the given challenges, then final."""
    def other(sess, text):
        if text.upper().startswith("AUTH PLAIN "):
            return final
        n = getattr(sess, "auth_step", 0)
        sess.auth_step = n + 1
        if n < len(challenges):
            return challenges[n]
        return final
    return ctx.server(ehlo_keywords=AUTH_KW, replies={"other": other}, **kw)


def test_sasl_login_wire(ctx):
    """AUTH LOGIN, forced by the filter: "AUTH LOGIN", then the user name
    and the password each in base64 on a line of its own; MAIL FROM has
    no AUTH=<> (smtp_send_dummy_mail_auth = no)."""
    srv = login_server(ctx)
    inst = client(ctx, srv.port, {
        "smtp_sasl_password_maps": creds(srv.port),
        "smtp_sasl_security_options": "noanonymous",
        "smtp_sasl_mechanism_filter": "login"})
    inst.inject(SENDER, ["a@dest.test"], message("login", ["x"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    i = s.commands.index("AUTH LOGIN")
    assert s.commands[i + 1:i + 3] == [b64(USER), b64(PASSWORD)], s.text()
    assert s.commands[i + 3].startswith("MAIL FROM:<%s>" % SENDER)
    assert "AUTH=" not in s.commands[i + 3], s.text()


def test_sasl_host_key_before_destination(ctx):
    """The server's host name (here the address of [127.0.0.1]) is looked
    up before the destination as written ([127.0.0.1]:PORT)."""
    srv = ctx.server(ehlo_keywords=AUTH_KW,
                     replies={"other": "235 2.7.0 Authentication successful"})
    table = ("inline:{ [127.0.0.1]:%d=%s:%s, 127.0.0.1=%s:%s }"
             % (srv.port, USER, PASSWORD, USER2, PASSWORD2))
    inst = client(ctx, srv.port, {
        "smtp_sasl_password_maps": table,
        "smtp_sasl_security_options": "noanonymous"})
    inst.inject(SENDER, ["a@dest.test"], message("host key", ["x"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    auth = [c for c in s.commands if c.startswith("AUTH")]
    assert auth == ["AUTH PLAIN " + b64("\0%s\0%s" % (USER2, PASSWORD2))], \
        s.text()


def test_sasl_no_credentials_no_auth(ctx):
    """No entry for this server: no AUTH command, and no AUTH=<> on MAIL
    FROM even with smtp_send_dummy_mail_auth = yes; the mail is sent."""
    srv = ctx.server(ehlo_keywords=AUTH_KW)
    inst = client(ctx, srv.port, {
        "smtp_sasl_password_maps": "inline:{ other.test=u:p }",
        "smtp_send_dummy_mail_auth": "yes"})
    inst.inject(SENDER, ["a@dest.test"], message("no creds", ["x"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert not [c for c in s.commands if c.startswith("AUTH")], s.text()
    mail = [c for c in s.commands if c.startswith("MAIL")]
    assert mail and "AUTH=" not in mail[0], s.text()


def test_sasl_server_without_auth(ctx):
    """Credentials exist but the server announces no AUTH: the mail goes
    out unauthenticated."""
    srv = ctx.server()
    inst = client(ctx, srv.port, {"smtp_sasl_password_maps": creds(srv.port)})
    inst.inject(SENDER, ["a@dest.test"], message("no auth kw", ["x"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert not [c for c in s.commands if c.startswith("AUTH")], s.text()
    assert_single(inst, status_line("a@dest.test", "sent", port=srv.port))


def test_sasl_bad_base64_challenge(ctx):
    """A challenge that is not base64 ("334 !!!"): the client gives up
    with 4.7.0 "SASL authentication failed; cannot authenticate to server
    127.0.0.1[127.0.0.1]: another step is needed in authentication" (what
    libsasl2's decoder says about it)."""
    srv = login_server(ctx, challenges=("334 !!!",))
    inst = client(ctx, srv.port, dict(
        NO_RETRY, smtp_sasl_password_maps=creds(srv.port),
        smtp_sasl_security_options="noanonymous",
        smtp_sasl_mechanism_filter="login"))
    inst.inject(SENDER, ["a@dest.test"], message("bad b64", ["x"]))
    reason = (r"SASL authentication failed; cannot authenticate to server "
              r"%s: another step is needed in authentication" % RELAY)
    inst.wait_for_log(status_line("a@dest.test", "deferred", dsn=r"4\.7\.0",
                                  port=srv.port, reason=reason))


def test_sasl_disconnect_mid_auth(ctx):
    """The server closes the connection after AUTH LOGIN: deferred 4.4.2
    "lost connection with 127.0.0.1[127.0.0.1] while performing the EHLO
    handshake"."""
    srv = ctx.server(ehlo_keywords=AUTH_KW, actions={"other": "hangup"})
    inst = client(ctx, srv.port, dict(
        NO_RETRY, smtp_sasl_password_maps=creds(srv.port),
        smtp_sasl_security_options="noanonymous",
        smtp_sasl_mechanism_filter="login"))
    inst.inject(SENDER, ["a@dest.test"], message("hangup", ["x"]))
    reason = (r"lost connection with %s while performing the EHLO "
              r"handshake" % RELAY)
    inst.wait_for_log(status_line("a@dest.test", "deferred", dsn=r"4\.4\.2",
                                  port=srv.port, reason=reason))


def test_sasl_535_tries_next_server(ctx):
    """relayhost lists two servers; the first says 535 5.7.8 to AUTH: the
    client logs "QID: SASL authentication failed; server ... said: 535
    ..." and delivers through the second."""
    bad = ctx.server(ehlo_keywords=AUTH_KW, replies={
        "other": "535 5.7.8 Error: authentication failed"})
    good = ctx.server(ehlo_keywords=AUTH_KW, replies={
        "other": "235 2.7.0 Authentication successful"})
    inst = client(ctx, bad.port, {
        "relayhost": "[127.0.0.1]:%d, [127.0.0.1]:%d" % (bad.port, good.port),
        "smtp_sasl_password_maps": "inline:{ 127.0.0.1=%s:%s }"
        % (USER, PASSWORD),
        "smtp_sasl_security_options": "noanonymous"})
    inst.inject(SENDER, ["a@dest.test"], message("next", ["x"]))
    inst.wait_queue_empty()
    assert_single(inst, r"postfix/smtp\[\d+\]: [0-9A-F]+: SASL authentication "
                  r"failed; server %s said: 535 5\.7\.8 Error: authentication "
                  r"failed$" % RELAY)
    assert_single(inst, status_line("a@dest.test", "sent", port=good.port))
    [s] = good.wait_sessions(1)
    assert "AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD)) in s.commands


def test_sasl_password_never_logged(ctx):
    """Postern only (Postfix's smtp logs passwords at -v): with the agent
    run as "smtp -v -v", neither the password nor any base64 form of the
    credentials is in the maillog, for PLAIN and for LOGIN."""
    if ctx.agent != "postern":
        raise Skip("Postfix's own smtp logs the password with -v")
    srv = login_server(ctx)
    inst = client(ctx, srv.port, {
        "smtp_sasl_password_maps": creds(srv.port),
        "smtp_sasl_security_options": "noanonymous",
        "smtp_sasl_mechanism_filter": "login"}, start=False)
    cf = os.path.join(inst.etc, "master.cf")
    with open(cf) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        fields = line.split()
        if fields and fields[0] in ("smtp", "relay") and len(fields) >= 8 \
                and fields[1] == "unix":
            line = line + " -v -v"
        out.append(line)
    with open(cf, "w") as f:
        f.write("\n".join(out) + "\n")
    inst.start()
    inst.inject(SENDER, ["a@dest.test"], message("secret", ["x"]))
    inst.wait_queue_empty()
    inst.set_main_cf({"smtp_sasl_mechanism_filter": "plain"})
    plain_srv_port = srv.port  # same server: PLAIN is accepted at once
    inst.inject(SENDER, ["a@dest.test"], message("secret 2", ["x"]))
    inst.wait_queue_empty()
    sessions = srv.wait_sessions(2)
    assert any(c.startswith("AUTH PLAIN ") for c in sessions[1].commands), \
        sessions[1].text()
    log = inst.log_text()
    assert "> 127.0.0.1[127.0.0.1]:%d: AUTH LOGIN" % plain_srv_port in log
    for secret in (PASSWORD, b64(PASSWORD),
                   b64("\0%s\0%s" % (USER, PASSWORD))):
        assert secret not in log, "secret %r in the maillog" % secret


def test_sasl_auth_cache_remembers_535(ctx):
    """smtp_sasl_auth_cache_name = proxy:btree:DIR/data/sasl_auth_cache:
    after a 535 to a wrong password, the next message for the same server
    and user is deferred without asking the server again, with "SASL
    [CACHED] authentication failed; server 127.0.0.1 said: 535 5.7.8 ..."
    (the host alone, not host[address]); the server saw AUTH once."""
    srv = ctx.server(ehlo_keywords=AUTH_KW, replies={
        "other": "535 5.7.8 Error: authentication failed: bad"})
    inst = ctx.instance(relay_port=srv.port, start=False)
    inst.set_main_cf(dict(
        NO_RETRY, smtp_sasl_auth_enable="yes",
        smtp_sasl_password_maps=creds(srv.port),
        smtp_sasl_security_options="noanonymous",
        smtp_sasl_auth_cache_name="proxy:btree:%s/sasl_auth_cache"
        % inst.data), reload=False)
    inst.start()
    inst.inject(SENDER, ["a@dest.test"], message("cache 1", ["x"]))
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.7\.8", port=srv.port,
        reason=r"SASL authentication failed; server %s said: 535 5\.7\.8 "
        r"Error: authentication failed: bad" % RELAY))
    inst.inject(SENDER, ["b@dest.test"], message("cache 2", ["x"]))
    inst.wait_for_log(status_line(
        "b@dest.test", "deferred", dsn=r"4\.7\.8", port=srv.port,
        reason=r"SASL \[CACHED\] authentication failed; server 127\.0\.0\.1 "
        r"said: 535 5\.7\.8 Error: authentication failed: bad"))
    sessions = srv.wait_sessions(2)
    auth = [c for s in sessions for c in s.commands if c.startswith("AUTH")]
    assert len(auth) == 1, [s.text() for s in sessions]


def test_lmtp_sasl_by_destination(ctx):
    """LMTP reads the lmtp_ names (smtp_sasl_auth_enable = no here):
    lmtp_sasl_auth_enable, and a password for the destination as written
    after "inet:" (127.0.0.1:PORT).  AUTH PLAIN follows LHLO."""
    srv = ctx.server(lmtp=True, ehlo_keywords=AUTH_KW, replies={
        "other": "235 2.7.0 Authentication successful"})
    inst = ctx.instance(relay_port=ctx.free_port(), main_cf=dict(
        NO_RETRY,
        transport_maps="inline:{ lmtp.test=lmtp:inet:127.0.0.1:%d }"
        % srv.port,
        smtp_sasl_auth_enable="no",
        lmtp_sasl_auth_enable="yes",
        lmtp_sasl_password_maps="inline:{ 127.0.0.1:%d=%s:%s }"
        % (srv.port, USER, PASSWORD),
        lmtp_sasl_security_options="noanonymous"))
    inst.inject(SENDER, ["ok@lmtp.test"], message("lmtp auth", ["x"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert s.commands[:2] == [
        "LHLO client.test",
        "AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))], s.text()


# ---------------------------------------------------------------------
# Configuration errors: fatal, the mail stays queued

def _fatal_case(ctx, settings, lines):
    srv = ctx.server(ehlo_keywords=AUTH_KW)
    inst = client(ctx, srv.port, dict(NO_RETRY, **settings))
    inst.expect_trouble = True
    inst.inject(SENDER, ["a@dest.test"], message("fatal", ["x"]))
    for regex in lines:
        inst.wait_for_log(r"postfix/smtp\[\d+\]: " + regex)
    assert_none(inst, r"status=(?:sent|bounced)")
    # Still queued (qmgr puts it back after the agent died).
    q = inst.queue()
    assert [r["address"] for e in q for r in e["recipients"]] == \
        ["a@dest.test"], q


def test_sasl_type_not_cyrus_is_fatal(ctx):
    """smtp_sasl_type = dovecot (Postfix's smtp client has only cyrus):
    "warning: unsupported SASL client implementation: dovecot", then
    "fatal: SASL library initialization"; nothing is delivered."""
    _fatal_case(ctx, {"smtp_sasl_type": "dovecot",
                      "smtp_sasl_password_maps": "inline:{ x=y:z }"},
                [r"warning: unsupported SASL client implementation: "
                 r"dovecot$", r"fatal: SASL library initialization$"])


def test_sasl_without_password_maps_is_fatal(ctx):
    """smtp_sasl_auth_enable = yes without smtp_sasl_password_maps:
    "fatal: specify a password table via the `smtp_sasl_password_maps'
    configuration parameter"."""
    _fatal_case(ctx, {}, [r"fatal: specify a password table via the "
                          r"`smtp_sasl_password_maps' configuration "
                          r"parameter$"])


def test_sasl_bad_security_option_is_fatal(ctx):
    """smtp_sasl_security_options = noplaintext, bogus: when a session
    needs a SASL client, "warning: unknown SASL security options value
    "bogus" in "noplaintext, bogus"", "warning: bad per-session SASL
    security properties", "fatal: SASL per-connection initialization
    failed"."""
    _fatal_case(ctx, {"smtp_sasl_password_maps": "inline:{ 127.0.0.1=u:p }",
                      "smtp_sasl_security_options": "noplaintext, bogus"},
                [r'warning: unknown SASL security options value "bogus" in '
                 r'"noplaintext, bogus"$',
                 r"warning: bad per-session SASL security properties$",
                 r"fatal: SASL per-connection initialization failed$"])


def test_sasl_root_only_hash_table(ctx):
    """The usual set-up: /etc/postfix/sasl_passwd made with postmap, mode
    0600 and owned by root, key [127.0.0.1]:PORT as in relayhost.  The
    table is opened before the privilege drop (and the chroot), so the
    unprivileged agent still finds the credentials."""
    srv = ctx.server(ehlo_keywords=AUTH_KW,
                     replies={"other": "235 2.7.0 Authentication successful"})
    inst = ctx.instance(relay_port=srv.port, start=False)
    src = os.path.join(inst.etc, "sasl_passwd")
    with open(src, "w") as f:
        f.write("[127.0.0.1]:%d %s:%s\n" % (srv.port, USER, PASSWORD))
    subprocess.run(["postmap", "hash:" + src], check=True, timeout=30)
    for p in (src, src + ".db"):
        os.chown(p, 0, 0)
        os.chmod(p, 0o600)
    inst.set_main_cf({"smtp_sasl_auth_enable": "yes",
                      "smtp_sasl_password_maps": "hash:" + src,
                      "smtp_sasl_security_options": "noanonymous"},
                     reload=False)
    inst.start()
    inst.inject(SENDER, ["a@dest.test"], message("hash", ["x"]))
    inst.wait_queue_empty()
    [s] = srv.wait_sessions(1)
    assert "AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD)) in \
        s.commands, s.text()


def test_sasl_password_lookup_error_defers(ctx):
    """smtp_sasl_password_maps = fail:broken (every lookup fails):
    "warning: QID: smtp_sasl_password_maps lookup error" and the mail is
    deferred 4.3.0 "local data error while talking to
    127.0.0.1[127.0.0.1]", never sent without AUTH."""
    srv = ctx.server(ehlo_keywords=AUTH_KW)
    inst = client(ctx, srv.port, dict(
        NO_RETRY, smtp_sasl_password_maps="fail:broken"))
    inst.inject(SENDER, ["a@dest.test"], message("lookup error", ["x"]))
    inst.wait_for_log(status_line(
        "a@dest.test", "deferred", dsn=r"4\.3\.0", port=srv.port,
        reason=r"local data error while talking to %s" % RELAY))
    assert_single(inst, r"postfix/smtp\[\d+\]: warning: [0-9A-F]+: "
                  r"smtp_sasl_password_maps lookup error$")
    [s] = srv.wait_sessions(1)
    assert not [c for c in s.commands if c.startswith("MAIL")], s.text()
