"""AWS IoT's rules API and Device Shadow service through two Weir hosts on one cluster, with
boto3's `iot` and `iot-data` clients: what one host was told, the other answers at once.

Usage: python3 cluster_iot.py STEP ENDPOINT_1 ENDPOINT_2
  rules    create a rule through host 1 (`load/+/data` into the stream `api_out`); host 2
           gets and lists it without waiting
  shadows  shadow updates, version conflicts, deletes and named shadows across the hosts
  delete   delete the rule through host 2; host 1 no longer gets or lists it
Run by host/tests/cluster_iot.rs; prints "ok" when every check held.
"""

import json
import sys
import uuid

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/iot-rules"
RULE = "api_load"


def client(kind, endpoint):
    return boto3.client(kind, endpoint_url=endpoint, region_name=REGION)


def code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call did not fail")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def rules(one, two):
    client("iot", one).create_topic_rule(
        ruleName=RULE,
        topicRulePayload={
            "sql": "SELECT * FROM 'load/+/data'",
            "actions": [
                {"kinesis": {"streamName": "api_out", "roleArn": ROLE, "partitionKey": "${topic(2)}"}}
            ],
        },
    )
    other = client("iot", two)
    got = other.get_topic_rule(ruleName=RULE)["rule"]
    check(got["sql"] == "SELECT * FROM 'load/+/data'", f"host 2 gets {got}")
    names = [r["ruleName"] for r in other.list_topic_rules()["rules"]]
    check(RULE in names, f"host 2 lists {names}")
    # The name is taken on every host.
    check(
        code(lambda: other.create_topic_rule(
            ruleName=RULE, topicRulePayload={"sql": "SELECT * FROM 'x'", "actions": []}))
        == ("ResourceAlreadyExistsException", 409),
        "host 2 created a rule of a name host 1 holds",
    )


def shadows(one, two):
    a, b = client("iot-data", one), client("iot-data", two)
    thing = f"car-{uuid.uuid4().hex[:8]}"

    def update(c, doc, **kw):
        return json.loads(c.update_thing_shadow(thingName=thing, payload=json.dumps(doc), **kw)["payload"].read())

    def get(c, **kw):
        return json.loads(c.get_thing_shadow(thingName=thing, **kw)["payload"].read())

    first = update(a, {"state": {"desired": {"speed": 60}}})
    check(first["version"] == 1, f"first update {first}")
    seen = get(b)
    check(seen["version"] == 1 and seen["state"]["desired"] == {"speed": 60}, f"host 2 reads {seen}")
    check(seen["state"]["delta"] == {"speed": 60}, f"host 2's delta {seen}")
    # Both hosts expect version 1: the second to write is refused, whichever host it is on.
    second = update(b, {"state": {"reported": {"speed": 60}}, "version": 1})
    check(second["version"] == 2, f"host 2's update {second}")
    check(
        code(lambda: update(a, {"state": {"reported": {"speed": 0}}, "version": 1})) == ("ConflictException", 409),
        "host 1 wrote over version 2 while expecting version 1",
    )
    seen = get(a)
    check(seen["version"] == 2 and seen["state"]["reported"] == {"speed": 60}, f"host 1 reads {seen}")
    check("delta" not in seen["state"], f"no delta once reported matches: {seen}")
    # Deleted through one host: gone on the other, and a new shadow continues the version.
    b.delete_thing_shadow(thingName=thing)
    check(code(lambda: get(a)) == ("ResourceNotFoundException", 404), "host 1 still reads a deleted shadow")
    again = update(a, {"state": {"reported": {"speed": 10}}})
    check(again["version"] == 3, f"a recreated shadow's version {again}")
    # Named shadows made through one host are listed through the other.
    for name in ["left", "right"]:
        update(a, {"state": {"reported": {"door": name}}}, shadowName=name)
    listed = b.list_named_shadows_for_thing(thingName=thing)["results"]
    check(sorted(listed) == ["left", "right"], f"host 2 lists {listed}")
    seen = get(b, shadowName="right")
    check(seen["state"]["reported"] == {"door": "right"}, f"host 2 reads the named shadow {seen}")


def delete(one, two):
    client("iot", two).delete_topic_rule(ruleName=RULE)
    first = client("iot", one)
    check(
        code(lambda: first.get_topic_rule(ruleName=RULE)) == ("UnauthorizedException", 401),
        "host 1 still gets the deleted rule",
    )
    names = [r["ruleName"] for r in first.list_topic_rules()["rules"]]
    check(RULE not in names, f"host 1 still lists it: {names}")


def main():
    step, one, two = sys.argv[1], sys.argv[2], sys.argv[3]
    {"rules": rules, "shadows": shadows, "delete": delete}[step](one, two)
    print("ok")


if __name__ == "__main__":
    main()
