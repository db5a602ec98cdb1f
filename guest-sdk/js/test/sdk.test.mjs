// The SDK's records, errors, host and batch drivers, through the test harness (which packs
// every batch as the host does), with the Rust SDK's own tests ported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Drop, EmitError, Failed, Harness, HostError, InitError, Keep, Level, MockHost, Record,
  RecordError, Records, exportFilter, json, packBatch, runEmit, runFilter, runTransform, StageCell,
  Host, unpackBatch,
} from '../testing.mjs';

const rec = (value) => Record.fromJson(value);

// ---- README: a filter in ten lines

class HotEnough {
  constructor(host) {
    this.min = host.configParse('min', 30);
  }

  keep(record) {
    return json.numberField(record.jsonObject(), 'temperature') > this.min;
  }
}

test('the README filter', () => {
  const h = new Harness(HotEnough, new MockHost().withConfig('min', '25'));
  const out = h.filter([rec({ temperature: '31.5' }), rec({ temperature: 20 }), rec({ humidity: 80 })]);
  assert.deepEqual(out.slice(0, 2), [Keep, Drop]);
  assert.equal(out[2].kind, 'failed');
  assert.equal(out[2].error.code, 'missing-field');
});

// ---- record.rs

test('json round trip and errors', () => {
  const r = rec({ a: 1 });
  assert.deepEqual(r.json(), { a: 1 });
  r.setJson([1, 2]);
  assert.throws(() => r.jsonObject(), (e) => e.code === 'bad-json' && e.message === 'payload is JSON but not an object: an array');
  assert.throws(() => new Record('{not json').json(), (e) => e.code === 'bad-json' && e.message.includes('not valid JSON'));
});

test('attributes replace in place', () => {
  const r = new Record('x').withAttribute('a', '1');
  r.setAttribute('b', '2');
  r.setAttribute('a', '3');
  assert.equal(r.attribute('a'), '3');
  assert.equal(r.attributes.length, 2);
  assert.equal(r.attribute('zz'), undefined);
});

test('text rejects invalid UTF-8', () => {
  const r = new Record(new Uint8Array([0x6f, 0x6b, 0xff]));
  assert.throws(() => r.text(), (e) => e.code === 'bad-utf8' && e.message === 'payload is not UTF-8 text: invalid byte at offset 2');
});

test('a payload changed in place is read afresh', () => {
  const [r] = unpackBatch(packBatch([new Record('{"a": 1}')]));
  assert.equal(r.text(), '{"a": 1}');
  r.payload[6] = 0x32;
  assert.equal(r.text(), '{"a": 2}');
  assert.deepEqual(r.json(), { a: 2 });
  r.payload = 'plain';
  assert.equal(r.text(), 'plain');
  assert.deepEqual(Array.from(r.payload), [112, 108, 97, 105, 110]);
});

test('derive keeps the metadata around a new payload', () => {
  const r = new Record('x', { partitionKey: 'k', sourceTopic: 't', clientId: 'c', ruleName: 'r', arrivalTimestampMs: 7, attributes: [['a', '1']] });
  const d = r.derive('y');
  assert.deepEqual([d.text(), d.partitionKey, d.sourceTopic, d.clientId, d.ruleName, d.arrivalTimestampMs, d.attributes], ['y', 'k', 't', 'c', 'r', 7, [['a', '1']]]);
  d.setAttribute('a', '2');
  assert.equal(r.attribute('a'), '1');
});

// ---- json.rs

test('numbers from numbers and strings', () => {
  const o = { a: 82, b: '82.5', c: ' 7 ', d: '-1e2' };
  assert.equal(json.numberField(o, 'a'), 82);
  assert.equal(json.numberField(o, 'b'), 82.5);
  assert.equal(json.numberField(o, 'c'), 7);
  assert.equal(json.numberField(o, 'd'), -100);
});

test('bad numbers name field and value', () => {
  const o = { a: 'fast', b: 'NaN', c: [1], d: null, e: 'inf', f: '' };
  assert.throws(() => json.numberField(o, 'a'), (e) => e.code === 'bad-value' && e.message.includes('`a`') && e.message.includes('"fast"'));
  for (const [k, code] of [['b', 'bad-value'], ['d', 'missing-field'], ['e', 'bad-value'], ['f', 'bad-value'], ['zz', 'missing-field']]) {
    assert.throws(() => json.numberField(o, k), (e) => e.code === code, k);
  }
  assert.throws(() => json.numberField(o, 'c'), (e) => e.message.includes('an array'));
  // Inherited properties are not fields.
  assert.throws(() => json.numberField({}, 'toString'), (e) => e.code === 'missing-field');
});

test('lines become records and bad lines are numbered', () => {
  const r = new Record('a\r\n\n b\n').withPartitionKey('k');
  const out = json.linesToJson(r, (l) => l);
  assert.equal(out.length, 2);
  assert.equal(out[1].text(), '" b"');
  assert.equal(out[1].partitionKey, 'k');
  assert.throws(() => json.linesToJson(r, (l) => {
    if (l === 'a') return null;
    throw new Error('nope');
  }), (e) => e.code === 'bad-line' && e.message === 'line 3: nope: " b"');
  assert.deepEqual(json.mapLines(new Record(''), () => 'x'), []);
  assert.throws(() => json.mapLines(new Record(new Uint8Array([0xff])), () => 'x'), (e) => e.code === 'bad-utf8');
});

test('strings accept scalars', () => {
  const o = { s: 'x', n: 5, b: true, o: {} };
  assert.equal(json.stringField(o, 's'), 'x');
  assert.equal(json.stringField(o, 'n'), '5');
  assert.equal(json.stringField(o, 'b'), 'true');
  assert.throws(() => json.stringField(o, 'o'), (e) => e.message === 'field `o`: expected a string, found an object');
});

test('parseNumber follows Rust', () => {
  for (const [t, v] of [['82', 82], [' 7 ', 7], ['+80', 80], ['.5', 0.5], ['5.', 5], ['-1e2', -100], ['\t90\n', 90], ['\u008582', 82]]) {
    assert.equal(json.parseNumber(t), v, t);
  }
  for (const t of ['', '   ', 'NaN', 'inf', 'Infinity', '0x50', '1_000', '1,5', '1e999', '--1', 'e5', '\ufeff82', '0b1', '.', '-']) {
    assert.equal(json.parseNumber(t), undefined, t);
  }
});

// ---- testing.rs

class Echo {
  constructor(host) {
    if (host.config('fail') !== undefined) throw InitError.config('fail', 'asked to fail');
  }

  transform(r, host) {
    host.log(Level.Info, 'echo');
    return [r.clone(), r];
  }
}

class Shout {
  emit(r, outbox) {
    const text = r.text();
    try {
      outbox.notify('sms', '+1', text);
    } catch (e) {
      throw EmitError.retryable(new RecordError('refused', e.message));
    }
  }
}

test('transformer fans out and logs', () => {
  const h = new Harness(Echo, new MockHost());
  const out = h.transform([new Record('a')]);
  assert.equal(out.length, 1);
  assert.equal(out[0].kind, 'records');
  assert.deepEqual(out[0].records.map((r) => r.text()), ['a', 'a']);
  assert.deepEqual(h.host.logs(), [['info', 'echo']]);
});

test('init failure fails every record, and the next batch tries again', () => {
  let built = 0;
  class Flaky {
    constructor(host) {
      built++;
      if (host.config('ready') === undefined) throw InitError.config('ready', 'not yet');
    }

    keep() {
      return true;
    }
  }
  const host = new MockHost();
  const h = new Harness(Flaky, host);
  const out = h.filter([new Record('a'), new Record('b')]);
  assert.deepEqual(out.map((o) => [o.kind, o.error.code, o.error.message]), [
    ['failed', 'plugin-init', 'config `ready`: not yet'], ['failed', 'plugin-init', 'config `ready`: not yet'],
  ]);
  host.withConfig('ready', 'yes');
  assert.deepEqual(h.filter([new Record('a')]), [Keep]);
  assert.deepEqual(h.filter([new Record('a')]), [Keep]);
  assert.equal(built, 2);
  // An empty batch (the host's health check) builds the plugin too.
  const h2 = new Harness(Echo, new MockHost());
  assert.deepEqual(h2.transform([]), []);
  assert.notEqual(h2.cell.instance, null);
});

test('emitter failures carry index and retryability', () => {
  const h = new Harness(Shout, new MockHost());
  const out = h.emit([new Record('hi'), new Record(new Uint8Array([0xff]))]);
  assert.equal(out.length, 1);
  assert.equal(out[0].index, 1);
  assert.equal(out[0].retryable, false);
  assert.equal(out[0].error.code, 'bad-utf8');
  assert.deepEqual(h.host.notifications(), [['sms', '+1', 'hi']]);
  const refused = new Harness(Shout, new MockHost().refusingOutbox('down'));
  const r = refused.emit([new Record('hi')]);
  assert.equal(r[0].retryable, true);
  assert.equal(r[0].error.message, 'down');
  assert.deepEqual(refused.host.outbox(), []);
  // An emitter that cannot start fails every record, retryably.
  class Broken {
    constructor() {
      throw new InitError('no');
    }

    emit() {}
  }
  assert.deepEqual(new Harness(Broken).emit([new Record('a')]).map((f) => [f.index, f.error.code, f.retryable]), [[0, 'plugin-init', true]]);
});

test('CSV tables and missing tables', () => {
  const host = new MockHost().withCsvTable('t', 'k', 'k,v\na,1\na,2\nb,3\n');
  const h = new Host(host.imports());
  assert.equal(h.lookup('t', 'a').get('v'), '1');
  assert.equal(h.lookup('t', 'zz'), undefined);
  assert.throws(() => h.lookup('nope', 'a'), (e) => e instanceof HostError && e.message.includes('nope'));
  assert.throws(() => new MockHost().withCsvTable('t', 'x', 'k,v\n'));
  const quoted = new MockHost().withCsvTable('t', 'k', 'k,v\r\n"a,b","say ""hi"""\r\n');
  assert.equal(new Host(quoted.imports()).lookup('t', 'a,b').get('v'), 'say "hi"');
});

// ---- the drivers

test('a wrong return value or any other exception leaves the driver: the batch fails', () => {
  class Sloppy {
    keep(r) {
      if (r.text() === 'async') return Promise.resolve(true);
      if (r.text() === 'truthy') return 1;
      return true;
    }
  }
  const sloppy = new Harness(Sloppy);
  assert.throws(() => sloppy.filter(['ok', 'async'].map((t) => new Record(t))), /Promise/);
  assert.throws(() => sloppy.filter([new Record('truthy')]), /true or false/);
  assert.deepEqual(sloppy.filter([new Record('ok')]).map((o) => o.kind), ['keep']);

  // A bug, as a panic is in Rust: the batch fails as a whole (in a component it traps), and
  // the plugin is built afresh for the next batch.
  let built = 0;
  class Buggy {
    constructor() { built += 1; }
    keep(r) { return r.text() === 'boom' ? r.missing.property : true; }
  }
  const h = new Harness(Buggy);
  assert.throws(() => h.filter(['ok', 'boom'].map((t) => new Record(t))), TypeError);
  assert.deepEqual(h.filter([new Record('ok')]).map((o) => o.kind), ['keep']);
  class Throws { transform() { throw new Error('no'); } }
  assert.throws(() => new Harness(Throws).transform([new Record('x')]), /no/);
  class EmitThrows { emit() { throw new RangeError('bad'); } }
  assert.throws(() => new Harness(EmitThrows).emit([new Record('x')]), RangeError);
  class BadConstructor { constructor() { throw new TypeError('oops'); } keep() { return true; } }
  assert.throws(() => new Harness(BadConstructor).filter([new Record('x')]), /oops/);
});

test('a transformer must return Records; packing keeps every field', () => {
  class Odd {
    transform(r) {
      switch (r.text()) {
        case 'none': return [];
        case 'str': return 'x';
        case 'obj': return [{ payload: 'x' }];
        case 'key': { const d = r.derive('k'); d.partitionKey = 5; return [d]; }
        default: {
          const d = r.derive(`${r.text()}!`);
          d.partitionKey = 'ké';
          d.setAttribute('x', 'ÿ');
          d.arrivalTimestampMs = 2 ** 60;
          return [d, r];
        }
      }
    }
  }
  const input = new Record('in', { partitionKey: 'p', sourceTopic: 't/ü', clientId: 'c', ruleName: 'r', arrivalTimestampMs: 42, attributes: [['a', 'b']] });
  const out = new Harness(Odd).transform([input, new Record('none')]);
  assert.equal(out[0].kind, 'records');
  const [d, same] = out[0].records;
  assert.deepEqual([d.text(), d.partitionKey, d.sourceTopic, d.attributes, BigInt(d.arrivalTimestampMs)], ['in!', 'ké', 't/ü', [['a', 'b'], ['x', 'ÿ']], 2n ** 60n]);
  assert.deepEqual([same.text(), same.partitionKey, same.sourceTopic, same.clientId, same.ruleName, same.arrivalTimestampMs, same.attributes],
    ['in', 'p', 't/ü', 'c', 'r', 42, [['a', 'b']]]);
  assert.deepEqual(out[1], Records([]));
  // Anything but an array of well-formed Records is a bug: the batch fails (a TypeError).
  for (const bad of ['str', 'obj', 'key']) {
    assert.throws(() => new Harness(Odd).transform([new Record('fine'), new Record(bad)]), TypeError, bad);
  }
});

test('both batch shapes are read alike', () => {
  for (const shape of ['quickjs', 'starlingmonkey']) {
    const h = new Harness(HotEnough, new MockHost(), { shape });
    assert.deepEqual(h.filter([rec({ temperature: 31 }), rec({ temperature: '3' })]), [Keep, Drop]);
    const t = new Harness(Echo, new MockHost(), { shape }).transform([new Record('é', { arrivalTimestampMs: 1733580000123, partitionKey: 'k' })]);
    assert.deepEqual(t[0].records.map((r) => [r.text(), r.partitionKey, Number(r.arrivalTimestampMs)]), [['é', 'k', 1733580000123], ['é', 'k', 1733580000123]]);
  }
});

test('a malformed batch fails every record with bad-batch', () => {
  const cell = new StageCell(HotEnough);
  const host = new Host(new MockHost().imports());
  const good = packBatch([new Record('ab', { partitionKey: 'k' }), new Record('c')]);
  const cases = [
    [{ ...good, lengths: good.lengths.slice(1) }, '`lengths` holds 11 entries; 2 records need 12'],
    [{ ...good, data: good.data.slice(0, 2) }, 'record 0: its partition-key (1 bytes) runs past the end of `data` (0 bytes left)'],
    [{ ...good, data: Uint8Array.of(...good.data, 0) }, '1 bytes of `data` and 0 entries of `attribute-lengths` follow the last record'],
    [{ ...good, data: Uint8Array.of(0x61, 0x62, 0xff, 0x63) }, 'record 0: its partition-key is not UTF-8 (invalid byte at offset 0)'],
    [{ ...good, lengths: Uint32Array.of(2, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0) }, 'record 0: its 1 attributes run past the end of `attribute-lengths`'],
  ];
  for (const [batch, why] of cases) {
    const out = runFilter(cell, batch, host);
    assert.deepEqual(Array.from(out.verdicts), [2, 2], why);
    assert.deepEqual(out.failures.map((f) => f.error), [0, 1].map(() => ({ code: 'bad-batch', message: `the host sent a malformed batch: ${why}` })), why);
  }
  assert.equal(runTransform(cell, cases[0][0], host).failures.length, 2);
  assert.deepEqual(runEmit(cell, cases[0][0], host).map((f) => f.retryable), [false, false]);
});

test('capabilities: configuration, lookup, logging, console, grants', () => {
  const host = new Host(new MockHost().withConfig('n', ' 12 ').withConfig('b', 'yes').withConfig('f', 'lots').imports());
  assert.equal(host.configParse('n', 0, 'u32'), 12);
  assert.equal(host.configParse('missing', 5), 5);
  assert.equal(host.configOr('missing', 'x'), 'x');
  assert.deepEqual(host.configKeys(), ['b', 'f', 'n']);
  assert.throws(() => host.configParse('f', 1.5), (e) => e instanceof InitError && e.message === 'config `f`: cannot parse "lots": invalid float literal');
  assert.throws(() => host.configParse('b', false), (e) => e.message === 'config `b`: cannot parse "yes": provided string was not `true` or `false`');
  assert.equal(host.configParse('n', 0, 'u8'), 12);
  const more = new Host(new MockHost().withConfig('big', '300').withConfig('neg', '-1').withConfig('inf', 'inf').imports());
  assert.throws(() => more.configParse('big', 0, 'u8'), (e) => e.message === 'config `big`: cannot parse "300": number too large to fit in target type');
  assert.throws(() => more.configParse('neg', 0, 'u32'), (e) => e.message === 'config `neg`: cannot parse "-1": invalid digit found in string');
  assert.equal(more.configParse('neg', 0, 'i32'), -1);
  assert.equal(more.configParse('inf', 0), Infinity);
  assert.equal(host.configParse('n', 0, (t) => Number(t) * 2), 24);
  const limited = new Host(new MockHost({ grants: ['config'] }).imports());
  assert.throws(() => limited.lookup('t', 'k'), /not granted "lookup"/);
  assert.throws(() => limited.log('info', 'x'), /not granted "log"/);
  assert.throws(() => limited.notify('sms', '+1', 'x'), /not granted "outbox"/);

  class Chatty {
    keep() {
      console.log('seen', { a: 1 }, 2);
      console.error(new Error('bad'));
      return true;
    }
  }
  const h = new Harness(Chatty, new MockHost());
  h.filter([new Record('x')]);
  assert.deepEqual(h.host.logs(), [['info', 'seen {"a":1} 2'], ['error', 'Error: bad']]);
  // Without the log grant, console lines go nowhere (and never fail the plugin).
  const quiet = new Harness(Chatty, new MockHost({ grants: [] }));
  assert.deepEqual(quiet.filter([new Record('x')]), [Keep]);
});

test('exportFilter registers one plugin', () => {
  class A { keep() { return true; } }
  class B { keep() { return false; } }
  assert.equal(exportFilter(A), A);
  assert.throws(() => exportFilter(B), /already exported/);
  assert.throws(() => exportFilter(class { transform() {} }), /keep\(\)/);
  assert.deepEqual(new Harness(new MockHost()).filter([new Record('x')]), [Keep]);
  assert.deepEqual(Failed(new RecordError('c', 'm')).kind, 'failed');
});

test('EmitError takes a RecordError, or a code and a message, as in Python', () => {
  const e = EmitError.retryable('publish-refused', 'the broker said no');
  assert.deepEqual([e.error.code, e.error.message, e.retryable], ['publish-refused', 'the broker said no', true]);
  const r = new RecordError('bad', 'why');
  assert.equal(EmitError.permanent(r).error, r);
  assert.throws(() => EmitError.permanent(new Error('x')), TypeError);
  assert.throws(() => EmitError.permanent(r, 'and a message'), TypeError);
  assert.throws(() => EmitError.retryable('code only'), TypeError);
});
