#!/usr/bin/env python3
"""checked.py SINCE ADDRESS LOG...: for each worker log (cl-worker --log-format json), the
seconds from SINCE (epoch seconds) to the end of the first integrity check answered by the master
at ADDRESS on a connection made after SINCE: the first "Connected to the master ADDRESS." line
after SINCE, then the first line after it in which the worker learns the check's outcome
("Integrity check: Sync not required." or "Integrity sync: Finished ..."). Times are the log
lines' own timestamps. Prints the largest and every worker's figure; exits 1 while any worker has
not got there."""
import json, sys
from datetime import datetime, timezone

since, address, logs = float(sys.argv[1]), sys.argv[2], sys.argv[3:]

def ts(s):
    return datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()

done = []
for path in logs:
    connected, end = False, None
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        t = ts(e["time"])
        if t < since:
            continue
        msg, sub = e.get("message", ""), e.get("subtag", "")
        if msg.startswith("Connected to the master "):
            connected = msg == "Connected to the master %s." % address
        elif connected and ((sub == "Integrity check" and msg == "Sync not required.")
                            or (sub == "Integrity sync" and msg.startswith("Finished"))):
            end = t - since
            break
    done.append(end)
if any(d is None for d in done):
    print("pending %d of %d" % (sum(d is None for d in done), len(done)))
    sys.exit(1)
print("%.2f %s" % (max(done), " ".join("%.2f" % d for d in done)))
