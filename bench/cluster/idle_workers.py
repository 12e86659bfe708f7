#!/usr/bin/env python3
"""Opens N simulated workers against a running cl-master: each connects, says hello (encrypted
with Python's cryptography Fernet, as a reference worker does) and sends `echo-c keepalive`
every KEEPALIVE seconds. After all are connected it samples the master's CPU time and memory
over DURATION seconds and prints one JSON object.

Usage: idle_workers.py --port P --key-file F --pid PID [--workers N] [--duration S] [--keepalive S]
"""
import argparse, base64, json, os, random, selectors, socket, struct, time
from cryptography.fernet import Fernet

def frame(fernet, command, counter, payload):
    token = fernet.encrypt(payload)
    field = (command + " " + "-" * (11 - len(command))).encode()[:12]
    return struct.pack("!2I12s", counter, len(token), field) + token

def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / ticks        # utime + stime, seconds

def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--keepalive", type=float, default=10)
    a = ap.parse_args()
    key = open(a.key_file).read().strip().encode()
    fernet = Fernet(base64.urlsafe_b64encode(key))
    sel = selectors.DefaultSelector()
    socks = []
    rss_before = proc_mem(a.pid)
    t0 = time.time()
    for i in range(a.workers):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.setblocking(False)
        counter = random.getrandbits(32)
        s.sendall(frame(fernet, "hello", counter, f"sim-{os.getpid()}-{i} wazuh worker 4.9.2".encode()))
        sel.register(s, selectors.EVENT_READ, {"counter": counter, "buf": b""})
        socks.append(s)
    # Wait for every hello answer.
    answered = 0
    deadline = time.time() + 60
    while answered < a.workers and time.time() < deadline:
        for key_, _ in sel.select(timeout=1):
            data = key_.fileobj.recv(65536)
            if not data:
                raise SystemExit("the master closed a simulated worker")
            key_.data["buf"] += data
            buf = key_.data["buf"]
            while len(buf) >= 20:
                counter, length, field = struct.unpack("!2I12s", buf[:20])
                if len(buf) < 20 + length:
                    break
                payload = fernet.decrypt(buf[20:20 + length])
                buf = buf[20 + length:]
                if field.startswith(b"err"):
                    raise SystemExit("hello refused: " + payload.decode())
                if field.startswith(b"ok ") and payload.startswith(b"Client"):
                    answered += 1
            key_.data["buf"] = buf
    connect_seconds = time.time() - t0
    if answered < a.workers:
        raise SystemExit(f"only {answered} of {a.workers} hellos answered")
    # Idle phase: keepalives at the given period, spread evenly.
    cpu0, w0 = proc_stat(a.pid), time.time()
    sent = 0
    next_at = [w0 + a.keepalive * i / a.workers for i in range(a.workers)]
    while time.time() - w0 < a.duration:
        now = time.time()
        for i, s in enumerate(socks):
            if now >= next_at[i]:
                d = sel.get_key(s).data
                d["counter"] = (d["counter"] + 1) & 0xFFFFFFFF
                s.sendall(frame(fernet, "echo-c", d["counter"], b"keepalive"))
                next_at[i] += a.keepalive
                sent += 1
        for key_, _ in sel.select(timeout=0.05):
            if not key_.fileobj.recv(65536):
                raise SystemExit("the master closed a simulated worker")
    cpu1, w1 = proc_stat(a.pid), time.time()
    mem = proc_mem(a.pid)
    print(json.dumps({
        "workers": a.workers, "keepalive_period_s": a.keepalive, "window_s": round(w1 - w0, 1),
        "keepalives_sent": sent, "connect_all_s": round(connect_seconds, 2),
        "master_cpu_pct_of_one_core": round(100 * (cpu1 - cpu0) / (w1 - w0), 2),
        "master_rss_mib_before": round(rss_before.get("VmRSS", 0) / 1024, 1),
        "master_rss_mib": round(mem.get("VmRSS", 0) / 1024, 1),
        "master_peak_rss_mib": round(mem.get("VmHWM", 0) / 1024, 1),
    }))
    for s in socks:
        s.close()

if __name__ == "__main__":
    main()
