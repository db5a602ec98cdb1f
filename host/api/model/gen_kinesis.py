#!/usr/bin/env python3
"""Writes kinesis.json: the input constraints of botocore's Kinesis model, as data.

Run with a botocore installed (`python3 -m venv /tmp/bc && /tmp/bc/bin/pip install botocore`):

    /tmp/bc/bin/python host/api/model/gen_kinesis.py > host/api/model/kinesis.json

Only what a server checks is kept: every operation's input shape and the shapes it reaches,
each with its type and its `required`, `min`, `max`, `pattern` and `enum` traits; members
keep the model's order (it is the order violations are reported in). Documentation, outputs
and errors are dropped.

One normalisation: a pattern written `^(P)$` is kept as `P`. The service matches a pattern
against the whole value either way, and the anchored spelling is what newer botocore releases
print while the service's messages (and the API reference) still quote `P`
(`0|([1-9]\\d{0,38})` for a hash key).

The Rust test `model::tests::table_matches_botocore` runs this script against whatever
botocore python3 imports and compares the operations both know.
"""

import json
import re
import sys

import botocore.session

KEPT = ("required", "min", "max", "pattern", "enum")


def normalise(pattern):
    m = re.fullmatch(r"\^\((.*)\)\$", pattern)
    return m.group(1) if m else pattern


def reduce_shape(model, name, out):
    if name in out:
        return
    raw = model["shapes"][name]
    shape = {"type": raw["type"]}
    out[name] = shape
    for k in KEPT:
        if k in raw:
            shape[k] = normalise(raw[k]) if k == "pattern" else raw[k]
    if raw["type"] == "structure":
        shape["members"] = [[m, spec["shape"]] for m, spec in raw.get("members", {}).items()]
        for _, s in shape["members"]:
            reduce_shape(model, s, out)
    elif raw["type"] == "list":
        shape["member"] = raw["member"]["shape"]
        reduce_shape(model, shape["member"], out)
    elif raw["type"] == "map":
        shape["key"] = raw["key"]["shape"]
        shape["value"] = raw["value"]["shape"]
        reduce_shape(model, shape["key"], out)
        reduce_shape(model, shape["value"], out)


def build():
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("kinesis", "service-2", api_version="2013-12-02")
    ops, shapes = {}, {}
    for op, spec in sorted(model["operations"].items()):
        if "input" in spec:
            ops[op] = spec["input"]["shape"]
            reduce_shape(model, ops[op], shapes)
    return {
        "source": "botocore " + botocore.__version__ + ", kinesis 2013-12-02 service-2.json",
        "operations": ops,
        "shapes": dict(sorted(shapes.items())),
    }


if __name__ == "__main__":
    json.dump(build(), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
