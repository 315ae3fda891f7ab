#!/usr/bin/env python3
"""tlsutil - certificates made at test time with openssl(1).

    pki = Pki()        # a CA; leaf certificates for mx.dest.test (good)
                       # and other.test (wrong), both signed by the CA;
                       # a self-signed one for mx.dest.test (selfsigned)
    pki.good           # (cert.pem, key.pem)
    pki.fingerprint(pki.good[0])   # "AB:CD:..." (sha256)
    ctx = server_context(pki.good) # an ssl.SSLContext for smtpserver.py
    pki.stop()         # removes the folder
"""

import os
import shutil
import ssl
import subprocess
import tempfile


class Pki:
    """Certificates in a temporary folder, removed with the servers."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="postern-it-pki-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.ca = self._path("ca.pem")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes",
                  "-keyout", self._path("ca.key"), "-out", self.ca,
                  "-days", "30", "-subj", "/CN=Postern Test CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.good = self._leaf("good", "mx.dest.test")
        self.wrong = self._leaf("wrong", "other.test")
        self.selfsigned = self._path("self.pem"), self._path("self.key")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes",
                  "-keyout", self.selfsigned[1], "-out", self.selfsigned[0],
                  "-days", "30", "-subj", "/CN=mx.dest.test",
                  "-addext", "subjectAltName=DNS:mx.dest.test")
        for name in os.listdir(self.dir):
            os.chmod(self._path(name), 0o644)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run(("openssl",) + args, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _leaf(self, name, dns):
        key, csr, pem = (self._path(name + ext)
                         for ext in (".key", ".csr", ".pem"))
        ext = self._path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n"
                    % dns)
        self._run("req", "-new", "-newkey", "rsa:2048", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=%s" % dns)
        self._run("x509", "-req", "-in", csr, "-CA", self.ca,
                  "-CAkey", self._path("ca.key"), "-CAcreateserial",
                  "-out", pem, "-days", "30", "-extfile", ext)
        return pem, key

    def fingerprint(self, pem, digest="sha256"):
        out = subprocess.run(["openssl", "x509", "-in", pem, "-noout",
                              "-fingerprint", "-" + digest], check=True,
                             capture_output=True, text=True).stdout
        return out.strip().split("=", 1)[1]

    def transcript_text(self):
        return ""

    def stop(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def server_context(cert):
    """A server-side ssl.SSLContext with cert = (cert.pem, key.pem)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    return ctx
