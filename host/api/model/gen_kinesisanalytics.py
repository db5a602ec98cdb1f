#!/usr/bin/env python3
"""Writes kinesisanalytics.json: the input constraints of botocore's Kinesis Data Analytics
model (the v1 SQL API, `kinesisanalytics` 2015-08-14), as data, the way gen_kinesis.py
writes kinesis.json (same reduction, same normalisation):

    /tmp/bc/bin/python host/api/model/gen_kinesisanalytics.py > host/api/model/kinesisanalytics.json

The Rust test `analytics::tests::table_matches_botocore` runs this script against whatever
botocore python3 imports and compares the operations both know.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore  # noqa: E402
import botocore.session  # noqa: E402
from gen_kinesis import reduce_shape  # noqa: E402


def build():
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model(
        "kinesisanalytics", "service-2", api_version="2015-08-14"
    )
    ops, shapes = {}, {}
    for op, spec in sorted(model["operations"].items()):
        if "input" in spec:
            ops[op] = spec["input"]["shape"]
            reduce_shape(model, ops[op], shapes)
    return {
        "source": "botocore "
        + botocore.__version__
        + ", kinesisanalytics 2015-08-14 service-2.json",
        "operations": ops,
        "shapes": dict(sorted(shapes.items())),
    }


if __name__ == "__main__":
    json.dump(build(), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
