// The Rust plugin's tests (plugins/owner-enrich/src/lib.rs), ported. Run: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';

// The SDK: the folder in WEIR_JS_SDK when set, else this repository's guest-sdk/js. Its
// testing module must be imported before plugin.js (it makes `weir:sdk` resolve).
const sdk = process.env.WEIR_JS_SDK ? pathToFileURL(`${process.env.WEIR_JS_SDK}/`) : new URL('../../../guest-sdk/js/', import.meta.url);
const { Harness, MockHost, Record, json } = await import(new URL('testing.mjs', sdk));
const { OwnerEnrich } = await import('./plugin.js');

const DRIVERS = 'first_name,last_name,licensePlate,city,myphone\n'
  + 'Laurie,Mullins,4-2288B,West Kristopher,8324498188\n'
  + 'Ana,Núñez,95B•140,Springfield,5551234567\n';

const harness = (host) => new Harness(OwnerEnrich, host.withCsvTable('drivers', 'licensePlate', DRIVERS));

// The one output record's payload (as text), or the error.
function one(out) {
  assert.equal(out.length, 1);
  if (out[0].kind === 'failed') return { error: out[0].error };
  assert.equal(out[0].records.length, 1);
  return { text: out[0].records[0].text(), value: out[0].records[0].json() };
}

test('joins owner columns in order, keeping the payload', () => {
  const h = harness(new MockHost());
  const r = Record.fromJson({ licensePlate: '95B•140', city: 'X', speed: '82' }).withPartitionKey('95B•140');
  const out = h.transform([r]);
  assert.equal(one(out).text, json.stringify({
    licensePlate: '95B•140', city: 'X', speed: '82', first_name: 'Ana', last_name: 'Núñez', myphone: '5551234567',
  }));
  assert.equal(out[0].records[0].partitionKey, '95B•140');
});

test('unknown plate is an error naming it', () => {
  const { error } = one(harness(new MockHost()).transform([Record.fromJson({ licensePlate: 'NOPE-1' })]));
  assert.equal(error.code, 'unknown-key');
  assert.equal(error.message, 'licensePlate "NOPE-1" is not in table "drivers"');
});

test('missing plate, missing table and conflicts are errors', () => {
  let { error } = one(harness(new MockHost()).transform([Record.fromJson({ speed: 1 })]));
  assert.equal(error.code, 'missing-field');

  ({ error } = one(harness(new MockHost().withConfig('table', 'cars')).transform([Record.fromJson({ licensePlate: '4-2288B' })])));
  assert.equal(error.code, 'lookup-failed');
  assert.ok(error.message.includes('cars'), error.message);

  ({ error } = one(harness(new MockHost().withConfig('columns', '*')).transform([Record.fromJson({ licensePlate: '4-2288B', city: 'Elsewhere' })])));
  assert.equal(error.code, 'field-conflict');
  assert.equal(error.message, 'joined column "city" would overwrite payload field "city"; set `prefix`');
});

test('prefix and star copy every other column', () => {
  const h = harness(new MockHost().withConfig('columns', '*').withConfig('prefix', 'owner_'));
  const { value } = one(h.transform([Record.fromJson({ licensePlate: '4-2288B', city: 'Elsewhere' })]));
  assert.equal(value.owner_city, 'West Kristopher');
  assert.equal(value.city, 'Elsewhere');
  assert.equal(value.owner_licensePlate, undefined);
});

test('unknown configured column is named', () => {
  const h = harness(new MockHost().withConfig('columns', 'first_name,shoe_size'));
  const { error } = one(h.transform([Record.fromJson({ licensePlate: '4-2288B' })]));
  assert.equal(error.code, 'unknown-column');
  assert.ok(error.message.includes('shoe_size'));
});

test('columns naming nothing fail the start', () => {
  const h = harness(new MockHost().withConfig('columns', ' , '));
  const { error } = one(h.transform([Record.fromJson({ licensePlate: '4-2288B' })]));
  assert.equal(error.code, 'plugin-init');
  assert.equal(error.message, 'config `columns`: names no column');
});
