// Weir's Kinesis API driven by the AWS SDK for JavaScript v3 (`@aws-sdk/client-kinesis`).
//
// That client sends every operation over HTTP/2 (its NodeHttp2Handler; cleartext h2 with prior
// knowledge for an http:// endpoint), and reads SubscribeToShard's event stream through its own
// event-stream decoder: a second real client next to boto3, with a different transport.
//
// Run by host/tests/streams_js_suite.rs, which starts `weir streams serve --transition-ms 100`
// and sets WEIR_ENDPOINT. Plain `node test_kinesis.mjs` runs it (node:test).

import test from "node:test";
import assert from "node:assert/strict";
import {
  KinesisClient,
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  ListStreamConsumersCommand,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  StartStreamEncryptionCommand,
  SubscribeToShardCommand,
  TagResourceCommand,
  InvalidArgumentException,
  ResourceInUseException,
  ResourceNotFoundException,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from "@aws-sdk/client-kinesis";

const endpoint = process.env.WEIR_ENDPOINT;
assert.ok(endpoint, "WEIR_ENDPOINT is set");

const kinesis = new KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
  maxAttempts: 1,
});

const SHARD0 = "shardId-000000000000";
const SHARD1 = "shardId-000000000001";
const HALF = (2n ** 127n).toString();
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Polls until `probe()` is true, at most `ms` (no fixed sleeps: 20 ms steps). */
async function until(what, probe, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

async function streamStatus(name) {
  const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return out.StreamDescriptionSummary;
}

async function makeStream(name, shards) {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await until(`${name} ACTIVE`, async () => (await streamStatus(name)).StreamStatus === "ACTIVE");
  return (await streamStatus(name)).StreamARN;
}

async function register(streamARN, consumerName) {
  const { Consumer } = await kinesis.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamARN, ConsumerName: consumerName }),
  );
  assert.equal(Consumer.ConsumerStatus, "CREATING");
  await until(`${consumerName} ACTIVE`, async () => {
    const d = await kinesis.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
    return d.ConsumerDescription.ConsumerStatus === "ACTIVE";
  });
  return Consumer.ConsumerARN;
}

/**
 * One subscription: opens it, runs `afterOpen` (to put records once it is live), then reads
 * SubscribeToShardEvents until `done(events)` or the stream ends; the connection is closed
 * afterwards either way.
 */
async function subscribe(consumerARN, shardId, position, done, afterOpen = async () => {}) {
  const abort = new AbortController();
  const events = [];
  try {
    const out = await kinesis.send(
      new SubscribeToShardCommand({ ConsumerARN: consumerARN, ShardId: shardId, StartingPosition: position }),
      { abortSignal: abort.signal },
    );
    assert.equal(out.$metadata.httpStatusCode, 200);
    await afterOpen();
    for await (const ev of out.EventStream) {
      assert.ok(ev.SubscribeToShardEvent, `only SubscribeToShardEvent arrives: ${JSON.stringify(Object.keys(ev))}`);
      events.push(ev.SubscribeToShardEvent);
      if (done(events)) break;
    }
  } finally {
    abort.abort();
  }
  return events;
}

/** The error a call fails with (the SDK's modeled exception class), or a failure if it succeeds. */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("the call succeeded");
}

/** Reads a shard from TRIM_HORIZON with GetRecords until it is caught up. */
async function readShard(stream, shardId) {
  let { ShardIterator: it } = await kinesis.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  const out = [];
  for (let i = 0; i < 100 && it; i++) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 70 }));
    out.push(...page.Records);
    if (page.Records.length === 0 && page.MillisBehindLatest === 0) break;
    it = page.NextShardIterator;
  }
  return out;
}

test("every request goes over HTTP/2", { timeout: 60000 }, async () => {
  // The Kinesis client's default handler; an endpoint that could not speak cleartext h2 would
  // fail every call in this file.
  const handler = kinesis.config.requestHandler;
  assert.equal(handler.constructor.name, "NodeHttp2Handler");
});

test("create, put, read back and the waiters", { timeout: 60000 }, async () => {
  await kinesis.send(new CreateStreamCommand({ StreamName: "js-data", ShardCount: 2 }));
  assert.equal((await streamStatus("js-data")).StreamStatus, "CREATING");
  await waitUntilStreamExists(
    { client: kinesis, maxWaitTime: 20, minDelay: 1, maxDelay: 1 },
    { StreamName: "js-data" },
  );
  const summary = await streamStatus("js-data");
  assert.equal(summary.StreamStatus, "ACTIVE");
  assert.equal(summary.OpenShardCount, 2);

  const sent = Array.from({ length: 200 }, (_, i) => ({ Data: enc.encode(`r${i}`), PartitionKey: `k${i % 10}` }));
  const put = await kinesis.send(new PutRecordsCommand({ StreamName: "js-data", Records: sent }));
  assert.equal(put.FailedRecordCount, 0);
  assert.equal(put.Records.length, 200);
  const one = await kinesis.send(
    new PutRecordCommand({ StreamName: "js-data", Data: enc.encode("low"), PartitionKey: "x", ExplicitHashKey: "0" }),
  );
  assert.equal(one.ShardId, SHARD0);

  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: "js-data" }))).Shards;
  assert.deepEqual(shards.map((s) => s.ShardId), [SHARD0, SHARD1]);

  // Per shard, GetRecords returns what PutRecords placed there, in put order.
  const expected = { [SHARD0]: [], [SHARD1]: [] };
  put.Records.forEach((r, i) => expected[r.ShardId].push(`r${i}`));
  expected[SHARD0].push("low");
  for (const shard of [SHARD0, SHARD1]) {
    const got = await readShard("js-data", shard);
    assert.deepEqual(got.map((r) => dec.decode(r.Data)), expected[shard], shard);
    const seqs = got.map((r) => BigInt(r.SequenceNumber));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.ok(got.every((r) => r.ApproximateArrivalTimestamp instanceof Date));
  }
});

test("enhanced fan-out delivers every record once and in order per shard", { timeout: 60000 }, async () => {
  const arn = await makeStream("js-efo", 2);
  const consumer = await register(arn, "js-reader");
  const listed = await kinesis.send(new ListStreamConsumersCommand({ StreamARN: arn }));
  assert.deepEqual(listed.Consumers.map((c) => c.ConsumerName), ["js-reader"]);

  const expected = { [SHARD0]: [], [SHARD1]: [] };
  for (let batch = 0; batch < 3; batch++) {
    const records = Array.from({ length: 100 }, (_, i) => ({
      Data: enc.encode(`e${batch * 100 + i}`),
      PartitionKey: `p${i}`,
    }));
    const put = await kinesis.send(new PutRecordsCommand({ StreamName: "js-efo", Records: records }));
    assert.equal(put.FailedRecordCount, 0);
    put.Records.forEach((r, i) => expected[r.ShardId].push(`e${batch * 100 + i}`));
  }
  assert.ok(expected[SHARD0].length > 0 && expected[SHARD1].length > 0);

  let continuation;
  for (const shard of [SHARD0, SHARD1]) {
    const want = expected[shard].length;
    const events = await subscribe(consumer, shard, { Type: "TRIM_HORIZON" }, (evs) =>
      evs.reduce((n, e) => n + e.Records.length, 0) >= want,
    );
    const got = events.flatMap((e) => e.Records.map((r) => dec.decode(r.Data)));
    assert.deepEqual(got, expected[shard], shard);
    const last = events[events.length - 1];
    assert.equal(typeof last.ContinuationSequenceNumber, "string");
    assert.equal(last.MillisBehindLatest, 0);
    if (shard === SHARD0) continuation = last.ContinuationSequenceNumber;
  }

  // Resuming after the continuation gets only what came later (another consumer: AWS refuses
  // the same consumer on the same shard again within 5 seconds).
  await kinesis.send(
    new PutRecordCommand({ StreamName: "js-efo", Data: enc.encode("later"), PartitionKey: "x", ExplicitHashKey: "0" }),
  );
  const resumer = await register(arn, "js-resumer");
  const more = await subscribe(
    resumer,
    SHARD0,
    { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: continuation },
    (evs) => evs.some((e) => e.Records.length > 0),
  );
  assert.deepEqual(more.flatMap((e) => e.Records.map((r) => dec.decode(r.Data))), ["later"]);
});

test("a live subscription receives records put after it opened", { timeout: 60000 }, async () => {
  const arn = await makeStream("js-live", 1);
  const consumer = await register(arn, "js-live-reader");
  const sent = Array.from({ length: 50 }, (_, i) => `live${i}`);
  const events = await subscribe(
    consumer,
    SHARD0,
    { Type: "LATEST" },
    (evs) => evs.reduce((n, e) => n + e.Records.length, 0) >= sent.length,
    async () => {
      for (const d of sent) {
        await kinesis.send(new PutRecordCommand({ StreamName: "js-live", Data: enc.encode(d), PartitionKey: "k" }));
      }
    },
  );
  assert.deepEqual(events.flatMap((e) => e.Records.map((r) => dec.decode(r.Data))), sent);
});

test("a shard's end carries its child shards and no continuation", { timeout: 60000 }, async () => {
  const arn = await makeStream("js-split", 1);
  const consumer = await register(arn, "js-lineage");
  await kinesis.send(new PutRecordCommand({ StreamName: "js-split", Data: enc.encode("before"), PartitionKey: "k" }));
  await kinesis.send(new SplitShardCommand({ StreamName: "js-split", ShardToSplit: SHARD0, NewStartingHashKey: HALF }));
  await until("split done", async () => (await streamStatus("js-split")).StreamStatus === "ACTIVE");
  const events = await subscribe(consumer, SHARD0, { Type: "TRIM_HORIZON" }, (evs) =>
    Boolean(evs[evs.length - 1].ChildShards?.length),
  );
  assert.deepEqual(events.flatMap((e) => e.Records.map((r) => dec.decode(r.Data))), ["before"]);
  const end = events[events.length - 1];
  assert.equal(end.ContinuationSequenceNumber, undefined);
  assert.deepEqual(end.ChildShards.map((c) => c.ShardId).sort(), ["shardId-000000000001", "shardId-000000000002"]);
  for (const child of end.ChildShards) assert.deepEqual(child.ParentShards, [SHARD0]);
});

test("errors arrive as the SDK's modeled exceptions", { timeout: 60000 }, async () => {
  const missing = await failure(kinesis.send(new DescribeStreamCommand({ StreamName: "js-nothing" })));
  assert.ok(missing instanceof ResourceNotFoundException, missing.name);
  assert.equal(missing.$metadata.httpStatusCode, 400);
  assert.match(missing.message, /js-nothing/);

  const arn = await makeStream("js-errors", 1);
  const again = await failure(kinesis.send(new CreateStreamCommand({ StreamName: "js-errors", ShardCount: 1 })));
  assert.ok(again instanceof ResourceInUseException, again.name);
  // Off the model's pattern: ValidationException; on it but past 2^128-1: InvalidArgumentException.
  const offPattern = await failure(
    kinesis.send(
      new PutRecordCommand({ StreamName: "js-errors", Data: enc.encode("x"), PartitionKey: "k", ExplicitHashKey: "-1" }),
    ),
  );
  assert.equal(offPattern.name, "ValidationException");
  assert.match(offPattern.message, /at 'explicitHashKey' failed to satisfy constraint/);
  const badKey = await failure(
    kinesis.send(
      new PutRecordCommand({
        StreamName: "js-errors",
        Data: enc.encode("x"),
        PartitionKey: "k",
        ExplicitHashKey: "340282366920938463463374607431768211456",
      }),
    ),
  );
  assert.ok(badKey instanceof InvalidArgumentException, badKey.name);

  const consumer = await register(arn, "js-errs");
  const noShard = await failure(
    subscribe(consumer, "shardId-000000000009", { Type: "TRIM_HORIZON" }, () => true),
  );
  assert.equal(noShard.name, "ResourceNotFoundException");
  await kinesis.send(new PutRecordCommand({ StreamName: "js-errors", Data: enc.encode("x"), PartitionKey: "k" }));
  await subscribe(consumer, SHARD0, { Type: "TRIM_HORIZON" }, () => true);
  const twice = await failure(subscribe(consumer, SHARD0, { Type: "TRIM_HORIZON" }, () => true));
  assert.equal(twice.name, "ResourceInUseException");
});

test("tags, limits, encryption, consumer removal and deletion", { timeout: 60000 }, async () => {
  const arn = await makeStream("js-admin", 1);
  await kinesis.send(new AddTagsToStreamCommand({ StreamName: "js-admin", Tags: { team: "fleet" } }));
  const tags = await kinesis.send(new ListTagsForStreamCommand({ StreamName: "js-admin" }));
  assert.deepEqual(tags.Tags, [{ Key: "team", Value: "fleet" }]);

  const consumer = await register(arn, "js-tagged");
  await kinesis.send(new TagResourceCommand({ ResourceARN: consumer, Tags: { owner: "js" } }));
  const ctags = await kinesis.send(new ListTagsForResourceCommand({ ResourceARN: consumer }));
  assert.deepEqual(ctags.Tags, [{ Key: "owner", Value: "js" }]);

  const limits = await kinesis.send(new DescribeLimitsCommand({}));
  assert.ok(limits.ShardLimit > 0 && limits.OpenShardCount >= 1);

  await kinesis.send(new StartStreamEncryptionCommand({ StreamName: "js-admin", EncryptionType: "KMS", KeyId: "alias/aws/kinesis" }));
  assert.equal((await streamStatus("js-admin")).StreamStatus, "UPDATING");
  await until("encryption on", async () => (await streamStatus("js-admin")).StreamStatus === "ACTIVE");
  assert.equal((await streamStatus("js-admin")).EncryptionType, "KMS");

  await kinesis.send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumer }));
  await until("consumer gone", async () => {
    const e = await failure(kinesis.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer }))).catch(() => null);
    return e instanceof ResourceNotFoundException;
  });
  await kinesis.send(new DeleteStreamCommand({ StreamName: "js-admin" }));
  await waitUntilStreamNotExists({ client: kinesis, maxWaitTime: 20, minDelay: 1, maxDelay: 1 }, { StreamName: "js-admin" });
  const gone = await failure(kinesis.send(new DescribeStreamSummaryCommand({ StreamName: "js-admin" })));
  assert.ok(gone instanceof ResourceNotFoundException);
});
