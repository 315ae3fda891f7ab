"""test_maps_proxy - proxy: tables through the real proxymap(8).

A private Postfix instance runs proxymap; BUILD/tools/maptool (see
test_maps.py) opens proxy:TYPE:NAME over private/proxymap, the way the
agent does from its queue directory (chrooted or not), and its answers
are compared with Postfix's own `postmap -q - proxy:...` against the same
instance.  Also: a table missing from proxy_read_maps is a fatal
configuration error, as in Postfix, and an unreachable proxymap makes the
lookup fail softly (a deferral), never "not found".
"""

import os
import subprocess
import time

from test_maps import Dir, maptool, only_once, run


def test_maps_proxy_lookups(ctx):
    only_once(ctx)
    d = Dir()
    try:
        h = d.write("h", "Key1 value one\nuser@example.com u\n")
        run(["postmap", "hash:" + h])
        rx = d.write("r", "/^(.*)@regexp\\.test$/ local=$1\n")
        c = d.write("c", "10.0.0.0/8 ten\n")
        tables = ["proxy:hash:" + h, "proxy:regexp:" + rx, "proxy:cidr:" + c]
        inst = ctx.instance(main_cf={"proxy_read_maps": " ".join(tables)})
        keys = ["key1", "KEY1", "user@example.com", "nobody",
                "joe@regexp.test", "10.1.2.3", "11.0.0.1"]
        stdin = "".join(k + "\n" for k in keys)
        answers = {}
        for spec in tables:
            p = inst.run(["postmap", "-c", inst.etc, "-q", "-", spec],
                         input=stdin.encode(), check=False)
            # From the queue directory, as the agent runs.
            rc, out, err = run([maptool(ctx), "-c", inst.etc, "-q", "-",
                                spec], stdin, cwd=inst.spool)
            assert out == p.stdout, (spec, p.stdout, p.stderr, out, err)
            assert "warning" not in err, err
            for line in out.splitlines():
                answers.setdefault(line.split("\t")[0], line)
        # The three as one list (postmap -q takes one table): first wins.
        rc, out, err = run([maptool(ctx), "-c", inst.etc, "-q", "-",
                            ", ".join(tables)], stdin, cwd=inst.spool)
        assert out == "".join(answers[k] + "\n" for k in keys
                              if k in answers), (out, answers)
        rc, out, err = run([maptool(ctx), "-c", inst.etc, "-q", "KEY1",
                            tables[0]], cwd=inst.spool)
        assert (rc, out) == (0, "value one\n"), (rc, out, err)
        # From elsewhere: found through $queue_directory/private.
        rc, out, err = run([maptool(ctx), "-c", inst.etc, "-q", "KEY1",
                            tables[0]], cwd="/")
        assert (rc, out) == (0, "value one\n"), (rc, out, err)
        # Regexp captures and pattern-table flags come through.
        rc, out, err = run([maptool(ctx), "-c", inst.etc, "-a",
                            "joe@regexp.test", tables[1]], cwd=inst.spool)
        assert out == "local=joe\n", (out, err)

        # A long-lived client survives proxymap restarting (postfix
        # reload): the next lookup reconnects.
        p = subprocess.Popen([maptool(ctx), "-c", inst.etc, "-q", "-",
                              tables[0]], cwd=inst.spool,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            p.stdin.write(b"key1\n")
            p.stdin.flush()
            assert p.stdout.readline() == b"key1\tvalue one\n"
            inst.postfix("reload")
            time.sleep(2)
            p.stdin.write(b"user@example.com\n")
            p.stdin.close()
            assert p.stdout.readline() == b"user@example.com\tu\n"
            p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

        # Not in proxy_read_maps: fatal, with Postfix's words.
        other = d.write("o", "k v\n")
        run(["postmap", "hash:" + other])
        rc, out, err = run([maptool(ctx), "-c", inst.etc, "-q", "k",
                            "proxy:hash:" + other], cwd=inst.spool)
        assert rc != 0 and ("proxymap service is not configured for table "
                            "\"hash:%s\"" % other) in err, (rc, err)
        p = inst.run(["postmap", "-c", inst.etc, "-q", "k",
                      "proxy:hash:" + other], check=False)
        assert "is not configured for table" in p.stderr, p.stderr

        # proxymap unreachable: a lookup error, not "not found".
        inst.stop()
        rc, out, err = run([maptool(ctx), "-c", inst.etc, "-q", "key1",
                            tables[0]], cwd=inst.spool)
        assert rc == 2 and out == "", (rc, out, err)
        assert "lookup error for \"key1\"" in err, err
    finally:
        d.cleanup()
