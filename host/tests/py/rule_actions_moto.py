"""moto's side of host/tests/rule_actions_aws.rs: `setup` creates what the rule actions write
to (two SQS queues, an SNS topic that fans out to a second queue, a DynamoDB table, an S3
bucket) and prints the queue URLs; `collect` prints, as JSON, what each of them holds."""

import json
import sys

import boto3

ENDPOINT = sys.argv[2]


def client(name):
    return boto3.client(
        name,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )


def setup():
    sqs, sns = client("sqs"), client("sns")
    alerts = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    encoded = sqs.create_queue(QueueName="alerts-base64")["QueueUrl"]
    inbox = sqs.create_queue(QueueName="sms-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic = sns.create_topic(Name="sms")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=inbox_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    client("dynamodb").create_table(
        TableName="cars",
        KeySchema=[{"AttributeName": "plate", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "plate", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client("s3").create_bucket(Bucket="archive")
    print(json.dumps({"alerts": alerts, "encoded": encoded, "inbox": inbox, "topic": topic}))


def drain(url):
    sqs = client("sqs")
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return sorted(bodies)
        bodies += [m["Body"] for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def collect():
    urls = json.loads(sys.argv[3])
    s3 = client("s3")
    objects = {}
    for o in s3.list_objects_v2(Bucket="archive").get("Contents", []):
        objects[o["Key"]] = s3.get_object(Bucket="archive", Key=o["Key"])["Body"].read().decode()
    items = client("dynamodb").scan(TableName="cars")["Items"]
    print(
        json.dumps(
            {
                "alerts": drain(urls["alerts"]),
                "encoded": drain(urls["encoded"]),
                "inbox": drain(urls["inbox"]),
                "items": sorted(items, key=lambda i: i["plate"]["S"]),
                "objects": objects,
            }
        )
    )


{"setup": setup, "collect": collect}[sys.argv[1]]()
