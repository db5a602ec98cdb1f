// The Rust plugin's tests (plugins/syslog-to-json/src/lib.rs), ported, and its example.
// Run: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// The SDK: the folder in WEIR_JS_SDK when set, else this repository's guest-sdk/js. Its
// testing module must be imported before plugin.js (it makes `weir:sdk` resolve).
const sdk = process.env.WEIR_JS_SDK ? pathToFileURL(`${process.env.WEIR_JS_SDK}/`) : new URL('../../../guest-sdk/js/', import.meta.url);
const { Harness, MockHost, Record, json } = await import(new URL('testing.mjs', sdk));
const { SyslogToJson, parseLine } = await import('./plugin.js');

test('RFC 3164 with and without PRI', () => {
  let v = parseLine("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick");
  assert.equal(json.stringify(v), json.stringify({
    facility: 4, severity: 2, timestamp: 'Oct 11 22:14:15', hostname: 'mymachine', program: 'su', processId: null,
    message: "'su root' failed for lonvick",
  }));
  v = parseLine('Feb  5 17:32:18 10.0.0.99 sshd[4721]: Accepted publickey');
  assert.equal(v.processId, '4721');
  assert.equal(v.program, 'sshd');
  assert.equal(v.facility, undefined);
});

test('RFC 5424 with structured data and nil values', () => {
  let v = parseLine('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\\]x"][b@1 c="d"] An application event');
  assert.equal(v.facility, 20);
  assert.equal(v.severity, 5);
  assert.equal(v.appName, 'evntslog');
  assert.equal(v.processId, null);
  assert.equal(v.messageId, 'ID47');
  assert.equal(v.structuredData, '[exampleSDID@32473 iut="3" eventSource="App\\]x"][b@1 c="d"]');
  assert.equal(v.message, 'An application event');
  v = parseLine('<13>1 2024-01-01T00:00:00Z h a 1 - -');
  assert.equal(v.structuredData, null);
  assert.equal(v.message, null);
});

test('malformed lines say what is wrong', () => {
  for (const [line, why] of [
    ['<999>Oct 11 22:14:15 h p: m', '0 to 191'],
    ['<12 Oct', 'no closing'],
    ['Octo 11 22:14:15 h p: m', 'Mmm dd'],
    ['Oct 11 22:14:15 h no tag here', 'TAG:'],
    ['Oct 11 22:14:15 h p[12: m', 'closing `]`'],
    ['<1>1 2024-01-01T00:00:00Z h a 1 m [x', 'no closing `]`'],
    ['<1>1 2024-01-01T00:00:00Z h', 'app-name is missing'],
    ['short', 'too short'],
  ]) {
    assert.throws(() => parseLine(line), (e) => e.message.includes(why), line);
  }
});

test('a batch of lines', () => {
  const h = new Harness(SyslogToJson, new MockHost());
  const out = h.transform([new Record('Oct 11 22:14:15 a p: one\nOct 11 22:14:16 b p: two\n')]);
  assert.equal(out[0].kind, 'records');
  assert.equal(out[0].records.length, 2);
  assert.equal(out[0].records[1].json().message, 'two');
});

test('the example gives the expected output', () => {
  // What `weir plugin test --raw` prints for examples/records.log, one record per line.
  const dir = new URL('../../syslog-to-json/examples/', import.meta.url);
  const lines = readFileSync(new URL('records.log', dir), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const expected = readFileSync(new URL('records.expected', dir), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const out = new Harness(SyslogToJson, new MockHost()).transform(lines.map((l) => new Record(l)));
  const got = out.flatMap((o, i) => (o.kind === 'failed'
    ? [`${i + 1}\tfailed: ${o.error.code}: ${o.error.message}`]
    : o.records.map((r) => `${i + 1}\t-> ${r.text()}`)));
  assert.deepEqual(got, expected);
});
