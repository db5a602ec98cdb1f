// The Rust plugin's tests (plugins/speed-limit/src/lib.rs), ported. Run: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';

// The SDK: the folder in WEIR_JS_SDK when set, else this repository's guest-sdk/js. Its
// testing module must be imported before plugin.js (it makes `weir:sdk` resolve).
const sdk = process.env.WEIR_JS_SDK ? pathToFileURL(`${process.env.WEIR_JS_SDK}/`) : new URL('../../../guest-sdk/js/', import.meta.url);
const { Drop, Harness, Keep, MockHost, Record } = await import(new URL('testing.mjs', sdk));
const { SpeedLimit } = await import('./plugin.js');

const rec = (value) => Record.fromJson(value);

test('keeps only speeds above the default limit', () => {
  const h = new Harness(SpeedLimit, new MockHost());
  const out = h.filter([rec({ speed: '82' }), rec({ speed: '75' }), rec({ speed: 75.5 }), rec({ speed: '64' })]);
  assert.deepEqual(out, [Keep, Drop, Keep, Drop]);
});

test('limit and field are configurable', () => {
  const h = new Harness(SpeedLimit, new MockHost().withConfig('limit', '100').withConfig('field', 'v'));
  const out = h.filter([rec({ v: 101 }), rec({ v: '99', speed: 500 })]);
  assert.deepEqual(out, [Keep, Drop]);
});

test('unusable speed is a record error, not a crash', () => {
  const h = new Harness(SpeedLimit, new MockHost());
  const out = h.filter([rec({ speed: 'fast' }), rec({ plate: 'X' }), new Record('not json'), rec({ speed: '90' })]);
  assert.deepEqual(out.map((o) => (o.kind === 'failed' ? o.error.code : o.kind)), ['bad-value', 'missing-field', 'bad-json', 'keep']);
  assert.ok(out[0].error.message.includes('"fast"'), out[0].error.message);
});

test('bad limit fails the batch with the key named', () => {
  for (const limit of ['lots', 'inf', 'NaN']) {
    const h = new Harness(SpeedLimit, new MockHost().withConfig('limit', limit));
    const [out] = h.filter([rec({ speed: 1 })]);
    assert.equal(out.kind, 'failed');
    assert.equal(out.error.code, 'plugin-init');
    assert.ok(out.error.message.includes('limit'), out.error.message);
  }
});
