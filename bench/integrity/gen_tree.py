#!/usr/bin/env python3
"""Makes a benchmark tree for cl-integrity: N small files (100-2,000 bytes) under etc/shared/<group>/.

Usage: gen_tree.py ROOT [--files N] [--per-group K] [--seed S] [--big-mib M]

Deterministic for a given seed. With --big-mib, it also writes one M-MiB file set instead:
etc/shared/big/part-XXX.bin files of 64 MiB each (for the peak-RSS run).
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
                f.write(rnd.randbytes(size))
            made += 1


if __name__ == "__main__":
    main()
