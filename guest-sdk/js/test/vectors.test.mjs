// The shared JSON-helper vectors (guest-sdk/test-vectors/json-fields.json, verified against
// the Rust SDK), through Record.jsonObject() and the json helpers: with the engine's JSON.parse
// where it applies, and with the exact reader alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Record, RecordError, json } from '../sdk.mjs';
import { useExactReaderOnly } from '../json.mjs';

const vectors = JSON.parse(readFileSync(new URL('../../test-vectors/json-fields.json', import.meta.url), 'utf8'));
const HELPERS = { number_field: json.numberField, string_field: json.stringField, field: json.field };

function run(c) {
  try {
    const object = new Record(c.payload).jsonObject();
    return { ok: HELPERS[c.helper](object, c.field) };
  } catch (e) {
    assert.ok(e instanceof RecordError, `not a RecordError: ${e}`);
    return { error: e.code, message: e.message };
  }
}

for (const exact of [false, true]) {
  test(`shared vectors (${exact ? 'exact reader' : 'JSON.parse where it applies'})`, () => {
    useExactReaderOnly(exact);
    try {
      assert.ok(vectors.cases.length > 50);
      for (const c of vectors.cases) {
        const got = run(c);
        const what = `${c.helper}(${c.payload}, ${c.field})`;
        if ('ok' in c) {
          assert.deepEqual(got, { ok: c.ok }, what);
        } else {
          assert.equal(got.error, c.error, what);
          if (c.message !== undefined) assert.equal(got.message, c.message, what);
          for (const part of c.message_contains ?? []) assert.ok(got.message.includes(part), `${what}: ${got.message}`);
        }
      }
    } finally {
      useExactReaderOnly(false);
    }
  });
}
