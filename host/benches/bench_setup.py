"""Creates the bench stream on one server and writes the request bodies wrk will post.

usage: bench_setup.py ENDPOINT OUTDIR
Writes OUTDIR/put.json (PutRecords, 500 records of 100 bytes) and OUTDIR/get.json
(GetRecords with a TRIM_HORIZON iterator and Limit 500, over pre-loaded records). With
BENCH_SECRET set (a server verifying signatures), also put.sig and get.sig: the X-Amz-Date and
Authorization headers of each body, signed by botocore, which wrk then replays (valid for the
server's 15-minute window).
"""
import base64
import json
import os
import random
import sys
import time

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

endpoint, out = sys.argv[1], sys.argv[2]
k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="AKIDBENCH", aws_secret_access_key=os.environ.get("BENCH_SECRET", "x"),
                 config=Config(retries={"max_attempts": 1}))
k.create_stream(StreamName="bench", ShardCount=4)
deadline = time.monotonic() + 30
while k.describe_stream(StreamName="bench")["StreamDescription"]["StreamStatus"] != "ACTIVE":
    if time.monotonic() > deadline:
        sys.exit("stream never became ACTIVE")
    time.sleep(0.05)
rnd = random.Random(7)
records = [{"Data": base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(100))).decode(),
            "PartitionKey": f"95B•{rnd.randrange(10**6)}"} for _ in range(500)]
body = {"StreamName": "bench", "Records": records}
with open(os.path.join(out, "put.json"), "w") as f:
    json.dump(body, f)
# preload: enough records that every GetRecords returns a full page of 500
for _ in range(6):
    k.put_records(StreamName="bench", Records=[{"Data": base64.b64decode(r["Data"]), "PartitionKey": r["PartitionKey"]} for r in records])
shard = k.list_shards(StreamName="bench")["Shards"][0]["ShardId"]
it = k.get_shard_iterator(StreamName="bench", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
n = len(k.get_records(ShardIterator=it, Limit=500)["Records"])
with open(os.path.join(out, "get.json"), "w") as f:
    json.dump({"ShardIterator": it, "Limit": 500}, f)


def sign(name, action):
    with open(os.path.join(out, name + ".json"), "rb") as f:
        data = f.read()
    req = AWSRequest(method="POST", url=endpoint + "/", data=data, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202." + action})
    SigV4Auth(Credentials("AKIDBENCH", os.environ["BENCH_SECRET"]), "kinesis", "us-east-1").add_auth(req)
    with open(os.path.join(out, name + ".sig"), "w") as f:
        f.write(req.headers["X-Amz-Date"] + "\n" + req.headers["Authorization"] + "\n")


if os.environ.get("BENCH_SECRET"):
    sign("put", "PutRecords")
    sign("get", "GetRecords")
print(n)
