// JSON as the Rust SDK reads and writes it: serde_json's answers (serde-golden.json, taken
// from the Rust components) for whole objects written back and for picked fields, through
// both readers; number rendering; UTF-8; Rust's string escapes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Record, RecordError, json } from '../sdk.mjs';
import { debugStr, renderFloat, renderNumber, useExactReaderOnly, utf8Decode, utf8Encode, utf8ValidUpTo } from '../json.mjs';

const golden = JSON.parse(readFileSync(new URL('./serde-golden.json', import.meta.url), 'utf8'));

function outcome(fn) {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    return `failed: ${e.code}: ${e.message}`;
  }
}

for (const exact of [false, true]) {
  const how = exact ? 'exact reader' : 'JSON.parse where it applies';

  test(`objects are read and written back as serde_json does (${how})`, () => {
    useExactReaderOnly(exact);
    try {
      for (const [payload, want] of golden.object) {
        const got = outcome(() => {
          const object = new Record(payload).jsonObject();
          json.stringField(object, 'licensePlate');
          return `-> ${json.stringify(object)}`;
        });
        assert.equal(got, want, payload.slice(0, 200));
      }
    } finally {
      useExactReaderOnly(false);
    }
  });

  test(`picked fields are judged as the Rust SDK's json_fields does (${how})`, () => {
    useExactReaderOnly(exact);
    try {
      for (const [payload, want] of golden.fields) {
        const got = outcome(() => (json.numberField(new Record(payload).jsonFields(['speed']), 'speed') > 75 ? 'kept' : 'dropped'));
        assert.equal(got, want, payload.slice(0, 200));
      }
    } finally {
      useExactReaderOnly(false);
    }
  });
}

test('jsonFields agrees with jsonObject on what it keeps', () => {
  const payloads = [
    '{"speed": "82", "plate": "X", "n": {"deep": [1, 2]}}', '{"speed": 1, "speed": 2}', '{"plate": "X"}',
    '{"sp\\u0065ed": 5, "a\\"b": 1}', '{}', '[1, {"speed": 3}]', '"speed"', '12.5', 'true', 'null',
    '{"speed": 1} trailing', '{"speed": 1', '[1, 2',
  ];
  // Number literals the fast path reads by hand after the key, simple and not: it must give
  // what the exact reader gives, spelling included (1.0 stays 1.0 when written back).
  const literals = [
    '{"speed": 1.0}', '{"speed" : 1.50}', '{"speed":\t-0}', '{"speed": -0.0}', '{"speed": 1e5}',
    '{"speed": 1E-7}', '{"speed": 123456789012345}', '{"speed": 1234567890123456}',
    '{"speed": 0.1000000000000001}', '{"speed": -12.000}', '{"speed": 12.0001}',
    '{"x": "speed", "speed": 2.5}', '{"speed": 68, "a\\"b": 1.0}', '{"speed"\n:\n-7.25 }',
    '{"speed": 18446744073709551616}', '{"speed": 9007199254740993}', '{"speed": 0}',
  ];
  for (const p of literals) {
    for (const names of [['speed'], ['speed', 'a"b']]) {
      const read = () => outcome(() => json.stringify(new Record(p).jsonFields(names)));
      useExactReaderOnly(true);
      let want;
      try {
        want = read();
      } finally {
        useExactReaderOnly(false);
      }
      assert.equal(read(), want, `${p} ${names}`);
    }
  }
  for (const p of payloads) {
    const r = new Record(p);
    const want = outcome(() => {
      const o = r.jsonObject();
      return json.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => k === 'speed' || k === 'a"b')));
    });
    assert.equal(outcome(() => json.stringify(r.jsonFields(['speed', 'a"b']))), want, p);
  }
  const bad = new Record(new Uint8Array([0xff]));
  assert.equal(outcome(() => bad.jsonFields(['speed'])), outcome(() => bad.jsonObject()));
});

test('jsonFields checks only the syntax of the fields it skips', () => {
  const r = new Record('{"huge": 1e999, "speed": 80}');
  assert.equal(outcome(() => r.jsonObject()).split(':')[1].trim(), 'bad-json');
  assert.equal(r.jsonFields(['speed']).speed, 80);
  assert.match(outcome(() => r.jsonFields(['huge'])), /^failed: bad-json/);
  assert.match(outcome(() => new Record('{"a": 1,, "speed": 80}').jsonFields(['speed'])), /^failed: bad-json/);
  // Invalid UTF-8 in a skipped string is not an error either.
  const bytes = new Uint8Array([...utf8Encode('{"x": "'), 0xff, ...utf8Encode('", "speed": 90}')]);
  assert.equal(new Record(bytes).jsonFields(['speed']).speed, 90);
  assert.match(outcome(() => new Record(bytes).jsonObject()), /^failed: bad-json: payload is not valid JSON: invalid unicode code point/);
});

test('numbers are written as serde_json writes them', () => {
  const cases = [
    [0, '0'], [-0, '-0.0'], [82, '82'], [82.5, '82.5'], [1e15, '1000000000000000'], [2 ** 53, '9007199254740992.0'],
    [1e16, '1e+16'], [1e21, '1e+21'], [1.5e-7, '1.5e-7'], [0.00001, '0.00001'], [0.000001, '1e-6'], [1.2345678901234567e20, '1.2345678901234567e+20'],
    [NaN, 'null'], [Infinity, 'null'], [-2.5e-8, '-2.5e-8'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
  ];
  for (const [v, want] of cases) assert.equal(renderNumber(v), want, String(v));
  assert.equal(renderFloat(82), '82.0');
  assert.equal(renderFloat(1e15), '1000000000000000.0');
  // Written back as parsed: spelling and key order kept; changed values written afresh.
  const o = new Record('{"b": 82.0, "2": 1, "1": 2, "big": 18446744073709551615}').jsonObject();
  assert.equal(json.stringify(o), '{"b":82.0,"2":1,"1":2,"big":18446744073709551615}');
  o.b = 83;
  o.c = 0.5;
  assert.equal(json.stringify(o), '{"b":83,"2":1,"1":2,"big":18446744073709551615,"c":0.5}');
  assert.equal(json.stringField(new Record('{"p": 82.0}').jsonObject(), 'p'), '82.0');
  assert.equal(json.stringify({ a: undefined, b: [undefined, () => 1], c: 10n, d: { toJSON: () => 'x' } }), '{"b":[null,null],"c":10,"d":"x"}');
});

test('UTF-8 is checked as Rust checks it', () => {
  assert.equal(utf8Decode(utf8Encode('café ☕ 😀')), 'café ☕ 😀');
  for (const [bytes, validUpTo] of [[[0x6f, 0x6b, 0xff], 2], [[0xc0, 0xaf], 0], [[0xed, 0xa0, 0x80], 0], [[0xf4, 0x90, 0x80, 0x80], 0],
    [[0x61, 0xe2, 0x82], 1], [[0xef, 0xbb, 0xbf, 0x61], -1]]) {
    const latin = String.fromCharCode(...bytes);
    assert.equal(utf8ValidUpTo(latin), validUpTo, JSON.stringify(bytes));
    assert.equal(utf8Decode(Uint8Array.from(bytes)) === null, validUpTo >= 0);
  }
  // A byte order mark is kept (Rust keeps it), and then the payload is not JSON.
  const bom = new Record(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]));
  assert.equal(bom.text(), '\ufeff{}');
  assert.equal(outcome(() => bom.jsonObject()), 'failed: bad-json: payload is not valid JSON: expected value at line 1 column 1 (5 bytes)');
});

test("strings are quoted as Rust's {:?} quotes them", () => {
  assert.equal(debugStr('fast'), '"fast"');
  assert.equal(debugStr('a"b\\c\t\r\n\0'), '"a\\"b\\\\c\\t\\r\\n\\0"');
  assert.equal(debugStr('\u0001\u007f\u00a0\u00ad\u200b\ufeff'), '"\\u{1}\\u{7f}\\u{a0}\\u{ad}\\u{200b}\\u{feff}"');
  assert.equal(debugStr('café ☕ 😀 95B•140'), '"café ☕ 😀 95B•140"');
  assert.equal(debugStr('e\u0301'), '"e\\u{301}"');
});

test('rustTrim strips what Rust strips', () => {
  assert.equal(json.rustTrim(' \t\n x \u0085\u00a0\u3000'), 'x');
  assert.equal(json.rustTrim('\ufeffx'), '\ufeffx');
});
