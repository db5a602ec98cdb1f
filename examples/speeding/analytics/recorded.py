#!/usr/bin/env python3
"""Writes input.jsonl and expected.jsonl, the recorded-input check of speeding.sql.

input.jsonl: the seed's speeding rows (speed > 75) of every city that has more than one,
in CSV order, as the `speeding` rule's kinesis action writes them to `speeding-alerts`
(the message's values as strings, the owner's first_name, last_name and myphone joined
from driver_data.csv by owner-enrich), one every 3.4 s from 2019-01-01T10:00:00Z: two
minutes pass, so the tumbling windows of 10:00 and 10:01 close (the last rows, after
10:02, close 10:01 and leave 10:02 open: stream time ends there).

expected.jsonl: what the application must emit, computed here from the documented
semantics, not by the engine: per city per minute the minute's start, the count and
the maximum of the speeds, stamped with the minute's end and emitted when a row's ROWTIME
reaches it (groups in first-arrival order); per row, the average speed and count of its state's rows whose
ROWTIME is at most one minute before its own (the window includes its endpoint).

Run from this folder: python3 recorded.py
"""
import collections
import csv
import datetime
import json

DATA = "../data/"
STEP_MS = 3400
BASE = datetime.datetime(2019, 1, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)


def iso(ms):
    t = BASE + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


with open(DATA + "speeding_data.csv", newline="") as f:
    traffic = list(csv.DictReader(f))
with open(DATA + "driver_data.csv", newline="") as f:
    owners = {r["licensePlate"]: r for r in csv.DictReader(f)}

speeding = [r for r in traffic if float(r["speed"]) > 75]
per_city = collections.Counter(r["city"] for r in speeding)
rows = [r for r in speeding if per_city[r["city"]] > 1]

inputs, expected = [], []
# Tumbling state: minute start -> city -> [count, max], cities in first-arrival order.
windows = {}
history = collections.defaultdict(list)  # state -> [(t, speed)]
for k, r in enumerate(rows):
    t = k * STEP_MS
    o = owners[r["licensePlate"]]
    record = dict(r)
    record.update(first_name=o["first_name"], last_name=o["last_name"], myphone=o["myphone"])
    inputs.append({"rowtime": iso(t), "data": record})
    speed = int(r["speed"])
    # Rows reaching the end of a minute close it first.
    for start in sorted(windows):
        if start + 60000 <= t:
            for city, (n, top) in windows.pop(start).items():
                expected.append({"stream": "DESTINATION_SQL_STREAM", "ROWTIME": iso(start + 60000),
                                 "WINDOW_START": iso(start), "CITY": city, "SPEEDING_CARS": n, "MAX_SPEED": top})
    g = windows.setdefault(t - t % 60000, {}).setdefault(r["city"], [0, 0])
    g[0] += 1
    g[1] = max(g[1], speed)
    history[r["state"]].append((t, speed))
    last = [s for (u, s) in history[r["state"]] if u >= t - 60000]
    expected.append({"stream": "AVERAGE_SPEED_STREAM", "ROWTIME": iso(t), "STATE": r["state"],
                     "CITY": r["city"], "LICENSE_PLATE": r["licensePlate"], "SPEED": speed,
                     "AVG_SPEED_1MIN": sum(last) / len(last), "STATE_CARS_1MIN": len(last)})

with open("input.jsonl", "w") as f:
    for line in inputs:
        f.write(json.dumps(line) + "\n")
with open("expected.jsonl", "w") as f:
    for line in expected:
        f.write(json.dumps(line) + "\n")
print(f"{len(inputs)} input rows, {len(expected)} expected rows")
