#!/usr/bin/env python3
"""Makes a benchmark tree for cl-integrity: N small files (100-2,000 bytes) under etc/shared/<group>/.

Usage: gen_tree.py ROOT [--files N] [--per-group K] [--seed S] [--big-mib M] [--text]

Deterministic for a given seed. The files hold random bytes (incompressible), or with --text
configuration text of the kind a group's shared directory holds (agent.conf blocks, CDB lists,
rules), which deflates as real configuration does. With --big-mib, it writes one M-MiB file set
instead: etc/shared/big/part-XXX.bin files of 64 MiB each (for the peak-RSS run).
"""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--files", type=int, default=50000)
    ap.add_argument("--per-group", type=int, default=100)
    ap.add_argument("--seed", type=int, default=4920)
    ap.add_argument("--big-mib", type=int, default=0)
    ap.add_argument("--text", action="store_true")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    shared = os.path.join(a.root, "etc", "shared")
    os.makedirs(shared, exist_ok=True)
    if a.big_mib:
        d = os.path.join(shared, "big")
        os.makedirs(d, exist_ok=True)
        part = 64
        left = a.big_mib
        i = 0
        while left > 0:
            n = min(part, left)
            with open(os.path.join(d, "part-%03d.bin" % i), "wb") as f:
                # Half random (incompressible), half repetitive, 1 MiB at a time.
                for _ in range(n):
                    f.write(rnd.randbytes(512 * 1024))
                    f.write(bytes(range(256)) * 2048)
            left -= n
            i += 1
        return
    groups = (a.files + a.per_group - 1) // a.per_group
    made = 0
    for g in range(groups):
        d = os.path.join(shared, "group%04d" % g)
        os.makedirs(d, exist_ok=True)
        for k in range(min(a.per_group, a.files - made)):
            size = rnd.randint(100, 2000)
            with open(os.path.join(d, "file%03d.conf" % k), "wb") as f:
                f.write(config_text(rnd, size) if a.text else rnd.randbytes(size))
            made += 1


LOGS = ["/var/log/syslog", "/var/log/auth.log", "/var/log/nginx/access.log", "/var/log/audit/audit.log",
        "/var/log/dpkg.log", "/opt/app/logs/app.log", "C:\\Windows\\System32\\LogFiles\\Firewall\\pfirewall.log"]
FORMATS = ["syslog", "apache", "json", "audit", "multi-line:3", "eventchannel"]
WORDS = ["sshd", "sudo", "nginx", "kernel", "cron", "postfix", "dovecot", "systemd", "docker", "mysqld"]


def config_block(rnd):
    """One piece of text as a group's files hold it."""
    kind = rnd.randrange(4)
    if kind == 0:
        return ("  <localfile>\n    <location>%s</location>\n    <log_format>%s</log_format>\n"
                "  </localfile>\n" % (rnd.choice(LOGS), rnd.choice(FORMATS)))
    if kind == 1:
        return "%d.%d.%d.%d:%s\n" % (rnd.randrange(1, 255), rnd.randrange(256), rnd.randrange(256),
                                     rnd.randrange(1, 255), rnd.choice(["malicious", "scanner", "tor-exit"]))
    if kind == 2:
        return ("<rule id=\"%d\" level=\"%d\">\n  <if_sid>%d</if_sid>\n  <match>%s: %s</match>\n"
                "  <description>%s event %08x</description>\n</rule>\n"
                % (rnd.randrange(100000, 120000), rnd.randrange(16), rnd.randrange(5700, 5800),
                   rnd.choice(WORDS), rnd.choice(["Failed password", "session opened", "invalid user"]),
                   rnd.choice(WORDS), rnd.getrandbits(32)))
    return ("  <syscheck>\n    <frequency>%d</frequency>\n    <directories check_all=\"yes\">/etc,/usr/bin,/srv/%s%d</directories>\n"
            "  </syscheck>\n" % (rnd.choice([3600, 43200, 86400]), rnd.choice(WORDS), rnd.randrange(1000)))


def config_text(rnd, size):
    """About `size` bytes of configuration text, cut at exactly `size`."""
    parts = ["<agent_config os=\"%s\">\n" % rnd.choice(["Linux", "Windows", "Darwin"])]
    n = len(parts[0])
    while n < size:
        b = config_block(rnd)
        parts.append(b)
        n += len(b)
    return "".join(parts).encode()[:size]


if __name__ == "__main__":
    main()
