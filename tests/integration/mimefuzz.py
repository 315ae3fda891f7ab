#!/usr/bin/env python3
"""mimefuzz - random MIME messages for differential tests.

    python3 tests/integration/mimefuzz.py SEED COUNT DIR

generate(seed, count, directory, deep=False) writes DIR/fNNN.eml: random
structures (multipart/* with quoted, odd and repeated boundaries, missing
final boundaries, message/rfc822, message/partial, message/global,
missing separators), random Content-Transfer-Encoding labels (valid,
upper case, quoted, commented, unknown, empty) and bodies mixing 8-bit
text, "=", blanks at line ends, bare CR, NUL, "From " and "." lines,
long lines and long headers.  The recipient of fNNN is fNNN@dest.test.
deep=True favours multipart nesting (for nesting-limit tests).
"""

import os
import random
import sys

WORDS = [b"hello", b"caf\xc3\xa9", b"=", b"x" * 80, b"\t", b" ", b".",
         b"From ", b"--", b"\xff\xfe", b"\r", b"\x00", b"a=b",
         b"\xc3\xa4\xc3\xb6", b"Stra\xdfe"]
CTES = [None, b"8bit", b"7bit", b"binary", b"base64", b"quoted-printable",
        b"8BIT", b"x-foo", b'"8bit"', b"8bit (c)", b""]


class _Gen:
    def __init__(self, seed, deep):
        self.r = random.Random(seed)
        self.deep = deep

    def line(self):
        r = self.r
        s = b"".join(r.choice(WORDS)
                     for _ in range(r.choice([0, 1, 2, 3, 5, 10, 20, 40])))
        if r.random() < 0.05:
            s = s * r.randint(10, 60)
        if r.random() < 0.1:
            s += r.choice([b" ", b"\t", b"  "])
        return s

    def ctype(self, kind, b):
        r = self.r
        if kind == "multi":
            sub = r.choice([b"mixed", b"alternative", b"digest", b"related"])
            return [b"Content-Type: multipart/" + sub + b"; boundary=" +
                    (b'"' + b + b'"' if r.random() < 0.7 else b)]
        if kind == "rfc822":
            return [b"Content-Type: message/rfc822"]
        if kind == "partial":
            return [b"Content-Type: message/partial; id=x"]
        if kind == "global":
            return [b"Content-Type: message/global"]
        if kind == "none":
            return []
        return [b"Content-Type: " + r.choice(
            [b"text/plain; charset=utf-8", b"text/html",
             b"application/octet-stream", b"image/png", b"Text/Plain",
             b";"])]

    def entity(self, depth, hdrs):
        r = self.r
        if self.deep:
            kind = (r.choice(["multi", "multi", "rfc822", "leaf"])
                    if depth < 6 else "leaf")
        else:
            kind = (r.choice(["leaf", "leaf", "leaf", "multi", "rfc822",
                              "partial", "global", "none"])
                    if depth < 4 else "leaf")
        b = (b"b%d_" % r.randint(0, 999)) + r.choice(
            [b"", b"=_x", b"(odd)", b" sp"])
        h = list(hdrs) + self.ctype(kind, b)
        cte = r.choice(CTES)
        if cte is not None:
            h.append(b"Content-Transfer-Encoding: " + cte)
        if r.random() < 0.2:
            h.append(b"X-Folded: a\n\tb \xc3\xa9\n c")
        if r.random() < 0.05:
            h.append(b"X-Long: " + b"y" * r.randint(2000, 5000))
        r.shuffle(h)
        body = []
        if kind == "multi":
            if r.random() < 0.5:
                body.append(self.line())
            for _ in range(r.randint(0, 3)):
                body.append(b"--" + b + r.choice([b"", b"", b" junk"]))
                body += self.entity(depth + 1, [])
            if r.random() < 0.85:
                body.append(b"--" + b + b"--")
            if r.random() < 0.5:
                body.append(self.line())
        elif kind in ("rfc822", "global", "partial"):
            body += self.entity(depth + 1, [b"Subject: nested " +
                                            self.line()])
        else:
            body = [self.line() for _ in range(r.randint(0, 8))]
        sep = [b""] if r.random() < 0.95 else []
        return h + sep + body


def generate(seed, count, directory, deep=False):
    """Write count messages; return their names."""
    g = _Gen(seed, deep)
    names = []
    for i in range(count):
        name = "f%03d" % i
        h = [b"From: s@client.test", b"To: %s@dest.test" % name.encode(),
             b"Subject: fuzz", b"Date: Wed, 25 Nov 2026 10:00:00 +0000",
             b"Message-ID: <%s@client.test>" % name.encode(),
             b"MIME-Version: 1.0"]
        data = b"\n".join(g.entity(0, h))
        if g.r.random() < 0.9:
            data += b"\n"
        with open(os.path.join(directory, name + ".eml"), "wb") as f:
            f.write(data)
        names.append(name)
    return names


if __name__ == "__main__":
    generate(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
