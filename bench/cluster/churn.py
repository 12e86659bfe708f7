#!/usr/bin/env python3
"""Churn for the soak (bench/soak.sh): FILES changes per second under the master's synced
directory (rewrite, create, delete, in turn) and AGENTS agent updates per second spread over the
workers' local stores through `cl-worker agents upsert`. Runs until DURATION seconds have passed,
then prints one JSON object: what it did and whether it kept the pace.

Usage: churn.py --bin DIR --master-root R --workers CONFIG... [--files 10] [--agents 1000]
                [--duration S] [--agent-ids 5000]
"""
import argparse, json, os, random, subprocess, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--master-root", required=True)
    ap.add_argument("--workers", nargs="+", required=True)
    ap.add_argument("--files", type=float, default=10)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=1800)
    ap.add_argument("--agent-ids", type=int, default=5000)
    a = ap.parse_args()
    shared = os.path.join(a.master_root, "etc", "shared", "churn")
    os.makedirs(shared, exist_ok=True)
    rnd = random.Random(7)
    start = time.monotonic()
    tick = 0
    done = {"files_changed": 0, "agent_updates": 0, "late_ticks": 0}
    per_worker = max(1, a.agents // len(a.workers))
    while time.monotonic() - start < a.duration:
        tick_start = time.monotonic()
        # Files: this second's share, spread over the second.
        for k in range(int(a.files)):
            name = os.path.join(shared, f"f{rnd.randrange(500)}.conf")
            op = (tick + k) % 3
            if op == 2 and os.path.exists(name):
                os.unlink(name)
            else:
                tmp = name + ".tmp"
                with open(tmp, "w") as f:
                    f.write(f"tick {tick} change {k} {rnd.random()}\n" * rnd.randrange(1, 40))
                os.replace(tmp, name)
            done["files_changed"] += 1
        # Agents: each worker updates its own id range (ids never move between workers).
        now = int(time.time())
        procs = []
        for w, cfg in enumerate(a.workers):
            base = w * a.agent_ids
            lines = []
            for _ in range(per_worker):
                i = base + rnd.randrange(1, a.agent_ids + 1)
                lines.append(json.dumps({"id": i, "name": f"agent-{i}", "ip": f"10.{w}.{i % 250}.{i % 199}",
                                         "version": "Wazuh v4.9.2", "last_keepalive": now,
                                         "connection_status": rnd.choice(["active", "disconnected"]),
                                         "status_code": 0}, separators=(",", ":")))
            p = subprocess.Popen([os.path.join(a.bin, "cl-worker"), "agents", "upsert", "-c", cfg],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p.stdin.write(("\n".join(lines) + "\n").encode())
            p.stdin.close()
            procs.append(p)
        for p in procs:
            p.wait()
        done["agent_updates"] += per_worker * len(a.workers)
        tick += 1
        left = 1.0 - (time.monotonic() - tick_start)
        if left > 0:
            time.sleep(left)
        else:
            done["late_ticks"] += 1
    done["seconds"] = round(time.monotonic() - start, 1)
    done["files_per_s"] = round(done["files_changed"] / done["seconds"], 1)
    done["agent_updates_per_s"] = round(done["agent_updates"] / done["seconds"], 1)
    print(json.dumps(done))

if __name__ == "__main__":
    main()
