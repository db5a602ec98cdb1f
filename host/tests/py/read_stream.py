"""Reads every record of a Kinesis stream with boto3, shard by shard from TRIM_HORIZON, and
prints them as one JSON array: [{"shard", "seq", "pk", "data"}], data as UTF-8 text.

Usage: python3 read_stream.py ENDPOINT STREAM
A test calls it through each of several hosts to compare what they serve.
"""

import json
import sys

import boto3
from botocore.config import Config


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    kinesis = boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
    )
    shards = []
    kwargs = {"StreamName": stream}
    while True:
        page = kinesis.list_shards(**kwargs)
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            break
        kwargs = {"NextToken": token}
    out = []
    for shard in shards:
        it = kinesis.get_shard_iterator(
            StreamName=stream,
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10000)
            for r in page["Records"]:
                out.append(
                    {
                        "shard": shard["ShardId"],
                        "seq": r["SequenceNumber"],
                        "pk": r["PartitionKey"],
                        "data": r["Data"].decode("utf-8"),
                    }
                )
            it = page.get("NextShardIterator")
            # An open shard always has a next iterator: stop at its tip.
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
