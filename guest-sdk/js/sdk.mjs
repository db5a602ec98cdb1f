// The Weir JavaScript SDK (`import ... from "weir:sdk"`): write a Weir pipeline plugin (a
// filter, transformer or emitter) as a JavaScript class; `build.mjs` turns it into a
// WebAssembly component for `weir:plugin@0.1.1`.
//
// This mirrors the Rust SDK (`guest-sdk/src`): the same records, errors, JSON helpers and
// capabilities, and the same batch drivers. The drivers below are the only code between a
// packed batch arriving and the plugin's per-record method, and the test harness
// (`testing.mjs`) runs plugins through them too, packing its records into packed batches.

import {
  JsonSyntaxError, NON_ASCII_BYTE, allAscii, debugStr, kindOf, latin1FromBytes, latin1FromText,
  numberText, parseValue, pickFields, rustTrim, rustTrimStart, rustTrimEnd, rustIsBlank, setOwn, stringify, utf8Decode,
  utf8Encode, utf8FromLatin1, utf8Length, utf8ValidUpTo, writeLatin1,
} from './json.mjs';

/** Version of the `weir:plugin` WIT package this SDK implements. */
export const WIT_VERSION = '0.1.1';

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Why one record could not be processed. The host sends the record to the rule's error
 * action with this code and message.
 */
export class RecordError extends Error {
  constructor(code, message) {
    super(String(message));
    this.name = 'RecordError';
    this.code = String(code);
  }

  /** The payload lacks a field the plugin needs (code `missing-field`). */
  static missingField(field) {
    return new RecordError('missing-field', `field \`${field}\` is missing`);
  }

  /** A field is present but its value is unusable (code `bad-value`). */
  static badValue(field, why) {
    return new RecordError('bad-value', `field \`${field}\`: ${why}`);
  }

  toString() {
    return `${this.code}: ${this.message}`;
  }
}

/**
 * A plugin could not start, typically because its configuration is wrong: every record of
 * the batch fails with code `plugin-init` and this message, and the next batch tries again.
 */
export class InitError extends Error {
  constructor(message) {
    super(String(message));
    this.name = 'InitError';
  }

  /** A configuration value is unusable. */
  static config(key, why) {
    return new InitError(`config \`${key}\`: ${why}`);
  }

  toString() {
    return this.message;
  }
}

/**
 * Why an emitter could not deliver one record, and whether trying again later may help. Takes a
 * RecordError, or a code and a message (as the Python SDK's); anything else is a TypeError.
 */
export class EmitError extends Error {
  constructor(error, retryable, message) {
    const e = emitRecordError(error, message);
    super(e.message);
    this.name = 'EmitError';
    this.error = e;
    this.retryable = Boolean(retryable);
  }

  /** A failure that retrying will not fix: straight to the error action. */
  static permanent(error, message) {
    return new EmitError(error, false, message);
  }

  /** A failure that may go away (a refused or unavailable destination): retried with backoff. */
  static retryable(error, message) {
    return new EmitError(error, true, message);
  }
}

function emitRecordError(error, message) {
  if (error instanceof RecordError) {
    if (message !== undefined) throw new TypeError('give either a RecordError or a code and a message');
    return error;
  }
  if (typeof error === 'string' && typeof message === 'string') return new RecordError(error, message);
  throw new TypeError(`EmitError needs a RecordError, or a code and a message, not ${show(error)}`);
}

/** A host call that the host refused (a missing lookup table, a refused outbox request). */
export class HostError extends Error {
  constructor(message) {
    super(String(message));
    this.name = 'HostError';
  }
}

function asRecordError(e) {
  return e instanceof EmitError ? e.error : e;
}

/** How an exception that is not a RecordError is reported: `TypeError: x is undefined`. */
function describe(e) {
  if (e instanceof Error) {
    const name = e.name || 'Error';
    return e.message ? `${name}: ${e.message}` : name;
  }
  try {
    return String(e);
  } catch {
    return 'a value that cannot be shown was thrown';
  }
}

// ---------------------------------------------------------------------------------------------
// Records

const EMPTY = new Uint8Array(0);

function bytesOf(payload, what) {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  if (Array.isArray(payload)) return Uint8Array.from(payload);
  throw new TypeError(`${what} must be a Uint8Array or a string, not ${payload === null ? 'null' : typeof payload}`);
}

// A batch read from the host: its bytes and where each record's fields are. Records read from
// it decode their fields when first asked.
class BatchSource {
  constructor(data, latin, ascii, lengths, starts, stamps, attributes) {
    this.data = data;
    this.latin = latin;
    this.ascii = ascii;
    // The batch's `lengths` (FIELDS_PER_RECORD per record) and where each record starts.
    this.lengths = lengths;
    this.starts = starts;
    this.stamps = stamps;
    // Per record, its attributes as [name, value] pairs, or undefined when it has none.
    this.attributes = attributes;
  }

  payloadStart(i) {
    return this.starts[i];
  }

  payloadLength(i) {
    return this.lengths[i * FIELDS_PER_RECORD];
  }

  // Where record i's four text fields start (back to back) and their byte lengths.
  metaStart(i) {
    return this.starts[i] + this.lengths[i * FIELDS_PER_RECORD];
  }

  metaLengths(i) {
    const f = i * FIELDS_PER_RECORD;
    const l = this.lengths;
    return [l[f + 1], l[f + 2], l[f + 3], l[f + 4]];
  }

  meta(i) {
    let start = this.metaStart(i);
    const out = new Array(4);
    const f = i * FIELDS_PER_RECORD;
    for (let k = 0; k < 4; k++) {
      const len = this.lengths[f + 1 + k];
      const raw = this.latin.slice(start, start + len);
      out[k] = this.ascii ? raw : utf8FromLatin1(raw);
      start += len;
    }
    return out;
  }

  stamp(i) {
    const t = this.stamps[i];
    return typeof t === 'bigint' && t <= MAX_SAFE_BIG ? Number(t) : t;
  }
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
// The state a record of a batch starts from (see `Record`'s constructor). Never written: an
// assignment to a record's state lands on its own object. (Not frozen: an inherited read-only
// property would refuse that assignment.)
const BATCH_STATE = {
  bytes: null, text: undefined, latin: null, src: null, i: 0, fromSrc: true,
  meta: null, metaSrc: null, stamp: undefined, attrs: undefined,
};
const META_NAMES = ['partitionKey', 'sourceTopic', 'clientId', 'ruleName'];
const INTERNAL = Symbol('weir.record.internal');

/**
 * One message on its way through a rule action's pipeline: `payload` (a Uint8Array; assign a
 * Uint8Array or a string, which is stored as its UTF-8 bytes), `partitionKey`, `sourceTopic`,
 * `clientId`, `ruleName` (strings), `arrivalTimestampMs` (a number) and `attributes` (an array
 * of [name, value] string pairs).
 */
export class Record {
  // Everything in one object literal (cheap to make in QuickJS, unlike many class fields):
  // bytes: the payload as a Uint8Array, or null while it is only text;
  // text: the payload's text: a string, null when it is not UTF-8, undefined when not known;
  // latin: the payload's bytes as a latin1 string, or null;
  // src, i: the batch a record read from the host (or derived from one) reads its fields from;
  // fromSrc: true while the payload is still the batch's;
  // meta: [partitionKey, sourceTopic, clientId, ruleName], or null while still as in src;
  // metaSrc: the values meta started from when read from src (to tell a change);
  // stamp, attrs: undefined while still as in src.
  // A record read from a batch keeps the text its payload was decoded to, so `json()` does
  // not decode it again, until its bytes are handed out.
  #s;

  /**
   * @param payload Uint8Array or string (default empty)
   * @param fields optional partitionKey, sourceTopic, clientId, ruleName, arrivalTimestampMs,
   *   attributes (array of [name, value])
   */
  constructor(payload = EMPTY, fields = undefined, src = null, i = 0) {
    if (payload === INTERNAL) {
      // A record of a batch (`src`), or one to be filled in by `derive`. Its state reads the
      // defaults from a shared prototype and holds only what differs: a filter makes one of
      // these per record, and QuickJS builds a ten-property literal at a third of the speed.
      const s = Object.create(BATCH_STATE);
      s.src = src;
      s.i = i;
      if (src === null) s.fromSrc = false;
      this.#s = s;
      return;
    }
    this.#s = {
      bytes: null, text: undefined, latin: null, src: null, i: 0, fromSrc: false,
      meta: ['', '', '', ''], metaSrc: null, stamp: 0, attrs: [],
    };
    this.#setPayload(payload);
    if (fields !== undefined && fields !== null) {
      for (const k of [...META_NAMES, 'arrivalTimestampMs']) {
        if (fields[k] !== undefined) this[k] = fields[k];
      }
      if (fields.attributes !== undefined) this.attributes = fields.attributes.map(([k, v]) => [k, v]);
    }
  }

  /** A record whose payload is `value` written as JSON. */
  static fromJson(value, fields = undefined) {
    return new Record(stringify(value), fields);
  }

  // A record of a batch read from the host.
  static _at(src, i) {
    return new Record(INTERNAL, undefined, src, i);
  }

  #setPayload(payload) {
    this.#s.fromSrc = false;
    this.#s.latin = null;
    if (typeof payload === 'string') {
      this.#s.bytes = null;
      this.#s.text = payload;
    } else {
      this.#s.bytes = bytesOf(payload, 'payload');
      this.#s.text = undefined;
    }
  }

  // The payload's bytes as a latin1 string, taken from the batch while nobody holds the bytes.
  #srcLatin() {
    const s = this.#s;
    if (s.latin === null) {
      const start = s.src.starts[s.i];
      s.latin = s.src.latin.slice(start, start + s.src.lengths[s.i * FIELDS_PER_RECORD]);
    }
    return s.latin;
  }

  /** The message body. */
  get payload() {
    if (this.#s.fromSrc) {
      const start = this.#s.src.payloadStart(this.#s.i);
      this.#s.bytes = this.#s.src.data.subarray(start, start + this.#s.src.payloadLength(this.#s.i));
      this.#s.fromSrc = false;
    } else if (this.#s.bytes === null) {
      this.#s.bytes = utf8Encode(this.#s.text);
    }
    // The caller may change the bytes in place: forget the text they were decoded to.
    this.#s.text = undefined;
    this.#s.latin = null;
    return this.#s.bytes;
  }

  set payload(payload) {
    this.#setPayload(payload);
  }

  #loadMeta() {
    if (this.#s.meta === null) {
      this.#s.meta = this.#s.src.meta(this.#s.i);
      this.#s.metaSrc = this.#s.meta.slice();
    }
    return this.#s.meta;
  }

  /** Decides ordering and the destination shard. */
  get partitionKey() { return this.#loadMeta()[0]; }
  set partitionKey(v) { this.#loadMeta()[0] = v; }
  /** MQTT topic of the original message. */
  get sourceTopic() { return this.#loadMeta()[1]; }
  set sourceTopic(v) { this.#loadMeta()[1] = v; }
  /** MQTT client id of the publisher (empty when unknown). */
  get clientId() { return this.#loadMeta()[2]; }
  set clientId(v) { this.#loadMeta()[2] = v; }
  /** Name of the rule that matched. */
  get ruleName() { return this.#loadMeta()[3]; }
  set ruleName(v) { this.#loadMeta()[3] = v; }

  /** When Weir accepted the message, in milliseconds since the Unix epoch. */
  get arrivalTimestampMs() {
    if (this.#s.stamp === undefined) this.#s.stamp = this.#s.src.stamp(this.#s.i);
    return this.#s.stamp;
  }

  set arrivalTimestampMs(v) {
    this.#s.stamp = v;
  }

  /** Free-form string attributes: an array of [name, value] pairs. */
  get attributes() {
    if (this.#s.attrs === undefined) {
      const a = this.#s.src.attributes[this.#s.i];
      this.#s.attrs = a === undefined ? [] : a.map(([k, v]) => [k, v]);
    }
    return this.#s.attrs;
  }

  set attributes(v) {
    this.#s.attrs = v;
  }

  /** Sets the partition key (builder style). */
  withPartitionKey(key) {
    this.partitionKey = key;
    return this;
  }

  /** Sets the source topic (builder style). */
  withTopic(topic) {
    this.sourceTopic = topic;
    return this;
  }

  /** Adds or replaces an attribute (builder style). */
  withAttribute(name, value) {
    this.setAttribute(name, value);
    return this;
  }

  // The payload as a latin1 string (one char per byte).
  #latinPayload() {
    if (this.#s.fromSrc) return this.#srcLatin();
    if (this.#s.latin !== null) return this.#s.latin;
    if (this.#s.bytes === null) return latin1FromText(this.#s.text);
    return latin1FromBytes(this.#s.bytes);
  }

  // The payload as text, or null when it is not UTF-8.
  #textPayload() {
    const s = this.#s;
    if (s.text !== undefined) return s.text;
    if (s.fromSrc) {
      // Decoded text is kept while the bytes have not been handed out (see `payload`).
      const latin = this.#srcLatin();
      s.text = s.src.ascii || !NON_ASCII_BYTE.test(latin) ? latin : utf8FromLatin1(latin);
      return s.text;
    }
    if (s.bytes === null) return null;
    return utf8Decode(s.bytes);
  }

  #payloadSize() {
    if (this.#s.fromSrc) return this.#s.src.payloadLength(this.#s.i);
    return this.#s.bytes !== null ? this.#s.bytes.length : utf8Length(this.#s.text);
  }

  #badJson(e) {
    return new RecordError('bad-json', `payload is not valid JSON: ${e.message} (${this.#payloadSize()} bytes)`);
  }

  /**
   * The payload parsed as JSON: objects, arrays, strings, numbers, booleans and null. A
   * payload that is not JSON is a RecordError with code `bad-json`.
   */
  json() {
    try {
      return parseValue(this.#latinPayload(), this.#textPayload());
    } catch (e) {
      if (e instanceof JsonSyntaxError) throw this.#badJson(e);
      throw e;
    }
  }

  /** The payload parsed as a JSON object, the shape every rule's SELECT produces. */
  jsonObject() {
    const v = this.json();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new RecordError('bad-json', `payload is JSON but not an object: ${kindOf(v)}`);
    }
    return v;
  }

  /**
   * The payload parsed as a JSON object with only the fields named in `names`: the same as
   * `jsonObject()` with the other fields removed, and cheaper. The other fields are checked as
   * JSON syntax only (a number there beyond f64, or invalid UTF-8, is not an error), as in the
   * Rust SDK.
   */
  jsonFields(names) {
    let picked;
    try {
      picked = pickFields(this.#latinPayload(), this.#textPayload(), names);
    } catch (e) {
      if (e instanceof JsonSyntaxError) throw this.#badJson(e);
      throw e;
    }
    if (picked.object === undefined) {
      throw new RecordError('bad-json', `payload is JSON but not an object: ${picked.kind}`);
    }
    return picked.object;
  }

  /** Replaces the payload with `value` written as JSON. */
  setJson(value) {
    this.#setPayload(stringify(value));
  }

  /** The payload as UTF-8 text; a RecordError with code `bad-utf8` when it is not UTF-8. */
  text() {
    const t = this.#textPayload();
    if (t !== null) return t;
    const offset = utf8ValidUpTo(this.#latinPayload());
    throw new RecordError('bad-utf8', `payload is not UTF-8 text: invalid byte at offset ${offset}`);
  }

  /** Replaces the payload with `text` (stored as UTF-8). */
  setText(text) {
    this.#setPayload(String(text));
  }

  /** The value of attribute `name`, or undefined. */
  attribute(name) {
    const attrs = this.attributes;
    for (let i = 0; i < attrs.length; i++) if (attrs[i][0] === name) return attrs[i][1];
    return undefined;
  }

  /** Sets attribute `name`, replacing an earlier value in place. */
  setAttribute(name, value) {
    const attrs = this.attributes;
    for (const pair of attrs) {
      if (pair[0] === name) {
        pair[1] = value;
        return;
      }
    }
    attrs.push([name, value]);
  }

  /**
   * A copy of this record's metadata (key, topic, client, rule, time, attributes) around a
   * new payload: what a transformer usually returns.
   */
  derive(payload) {
    const s = this.#s;
    const r = new Record(INTERNAL, undefined, s.src, s.i);
    const t = r.#s;
    r.#setPayload(payload);
    if (s.meta !== null) {
      t.meta = s.meta.slice();
      t.metaSrc = s.metaSrc;
    }
    t.stamp = s.stamp;
    t.attrs = s.attrs === undefined ? undefined : s.attrs.map(([k, v]) => [k, v]);
    return r;
  }

  /** A copy of this record. */
  clone() {
    const r = this.derive(EMPTY);
    r.#s.fromSrc = this.#s.fromSrc;
    r.#s.bytes = this.#s.bytes === null ? null : this.#s.bytes.slice();
    r.#s.text = this.#s.text;
    r.#s.latin = this.#s.latin;
    return r;
  }

  // For the packer: appends this record to a batch being written (`out`: latin1 pieces of
  // `data`, and the other three lists), copying what is unchanged from the batch it came from.
  _append(out) {
    const s = this.#s;
    const src = s.src;
    let payload;
    if (s.fromSrc) payload = this.#srcLatin();
    else if (s.latin !== null) payload = s.latin;
    else if (s.bytes !== null) payload = latin1FromBytes(s.bytes);
    else payload = latin1FromText(s.text);
    const m = s.meta;
    const unchanged = src !== null && (m === null || (s.metaSrc !== null && m[0] === s.metaSrc[0]
      && m[1] === s.metaSrc[1] && m[2] === s.metaSrc[2] && m[3] === s.metaSrc[3]));
    let meta;
    let l1;
    let l2;
    let l3;
    let l4;
    if (unchanged) {
      const f = s.i * FIELDS_PER_RECORD;
      const lengths = src.lengths;
      l1 = lengths[f + 1];
      l2 = lengths[f + 2];
      l3 = lengths[f + 3];
      l4 = lengths[f + 4];
      const start = src.starts[s.i] + lengths[f];
      meta = src.latin.slice(start, start + l1 + l2 + l3 + l4);
    } else {
      const t = ['', '', '', ''];
      for (let k = 0; k < 4; k++) {
        const v = m[k];
        if (typeof v !== 'string') throw new TypeError(`an output record's ${META_NAMES[k]} must be a string, not ${show(v)}`);
        t[k] = latin1FromText(v);
      }
      l1 = t[0].length;
      l2 = t[1].length;
      l3 = t[2].length;
      l4 = t[3].length;
      meta = t[0] + t[1] + t[2] + t[3];
    }
    const attrs = s.attrs === undefined ? src.attributes[s.i] : s.attrs;
    let count = 0;
    let attrText = '';
    if (attrs !== undefined) {
      if (!Array.isArray(attrs)) throw new TypeError(`an output record's attributes must be an array of [name, value] pairs, not ${show(attrs)}`);
      count = attrs.length;
      for (let k = 0; k < count; k++) {
        const pair = attrs[k];
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
          throw new TypeError(`an output record's attributes must be [name, value] pairs of strings, found ${show(pair)}`);
        }
        const name = latin1FromText(pair[0]);
        const value = latin1FromText(pair[1]);
        out.attributeLengths.push(name.length, value.length);
        attrText += name + value;
      }
    }
    const stamp = s.stamp === undefined ? src.stamps[s.i] : stampOf(s.stamp, out.big);
    out.pieces.push(payload, meta, attrText);
    out.lengths.push(payload.length, l1, l2, l3, l4, count);
    out.stamps.push(stamp);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers (the Rust SDK's `weir_sdk::json`)

const hasOwn = Object.prototype.hasOwnProperty;
const DECIMAL = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** The value of `name` in `object`; a `missing-field` RecordError when absent or null. */
function field(object, name) {
  const v = hasOwn.call(object, name) ? object[name] : undefined;
  if (v === undefined || v === null) throw RecordError.missingField(name);
  return v;
}

/**
 * `name` as a string. Numbers and booleans are rendered as text (numbers as serde_json
 * writes them: `5`, `2.5`, `82.0` when the payload said `82.0`).
 */
function stringField(object, name) {
  const v = field(object, name);
  switch (typeof v) {
    case 'string': return v;
    case 'number': return numberText(object, name, v);
    case 'bigint': return v.toString();
    case 'boolean': return v ? 'true' : 'false';
    default:
      throw RecordError.badValue(name, `expected a string, found ${kindOf(v)}`);
  }
}

/**
 * `name` as a finite number: a JSON number or a string holding one (surrounding blanks are
 * allowed, as AWS IoT's own string-to-number conversion allows them).
 */
function numberField(object, name) {
  const v = field(object, name);
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw RecordError.badValue(name, `number ${v} is out of range`);
      return v;
    case 'bigint': return Number(v);
    case 'string': {
      const n = parseNumber(v);
      if (n === undefined) throw RecordError.badValue(name, `${debugStr(v)} is not a number`);
      return n;
    }
    default:
      throw RecordError.badValue(name, `expected a number, found ${kindOf(v)}`);
  }
}

/**
 * Parses a decimal number (surrounding blanks allowed); undefined for NaN, infinities,
 * hexadecimal and anything else no device means.
 */
function parseNumber(text) {
  const t = typeof text === 'string' ? text : String(text);
  // Most values are plain decimals: JavaScript's Number() reads them as Rust does. It reads
  // more (blanks Rust does not strip, "", "0x50", "Infinity"), so anything that does not start
  // with a sign, digit or point and end with a digit or point takes the exact way.
  const n = t.length;
  if (n > 0) {
    const first = t.charCodeAt(0);
    const last = t.charCodeAt(n - 1);
    if (((first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46)
      && ((last >= 48 && last <= 57) || last === 46)) {
      const second = n > 1 ? t.charCodeAt(1) | 0x20 : 0;
      if (!(first === 48 && (second === 120 || second === 111 || second === 98))) {
        const v = +t;
        if (v === v) return Number.isFinite(v) ? v : undefined;
      }
    }
  }
  let u = t;
  if (!DECIMAL.test(u)) {
    u = rustTrim(u);
    if (!DECIMAL.test(u)) return undefined;
  }
  const v = +u;
  return Number.isFinite(v) ? v : undefined;
}

/**
 * One output record per non-empty line of a text record, its payload made by `render(line)`
 * (a string or bytes), with the original record's metadata. A line `render` rejects (by
 * throwing; the exception's message says why) fails the whole record with code `bad-line`,
 * the line number and the line.
 */
function mapLines(record, render) {
  const text = record.text();
  const out = [];
  if (text.length === 0) return out;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    let end = line.length;
    while (end > 0 && line.charCodeAt(end - 1) === 13) end--;
    if (end !== line.length) line = line.slice(0, end);
    if (rustIsBlank(line)) continue;
    let payload;
    try {
      payload = render(line);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new RecordError('bad-line', `line ${i + 1}: ${why}: ${debugStr(line)}`);
    }
    out.push(record.derive(payload));
  }
  return out;
}

/** `mapLines` with `parse(line)` returning a value written as JSON. */
function linesToJson(record, parse) {
  return mapLines(record, (line) => stringify(parse(line)));
}

/** JSON helpers, as in the Rust SDK's `weir_sdk::json`. */
export const json = Object.freeze({
  field, stringField, numberField, parseNumber, mapLines, linesToJson, stringify, kindOf,
  debugStr, rustTrim, rustTrimStart, rustTrimEnd, setOwn,
});

// ---------------------------------------------------------------------------------------------
// The host

/** Log levels, as in the WIT's `log.level`. */
export const Level = Object.freeze({
  Trace: 'trace', Debug: 'debug', Info: 'info', Warn: 'warn', Error: 'error',
});
const LEVELS = new Set(Object.values(Level));

/** One row of a lookup table: (column, value) pairs in the table's column order. */
export class Row {
  constructor(pairs) {
    this.pairs = pairs;
  }

  /** The value of `column`, or undefined. */
  get(column) {
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i++) if (pairs[i][0] === column) return pairs[i][1];
    return undefined;
  }

  /** Every [column, value] pair, in column order. */
  columns() {
    return this.pairs;
  }
}

// Rust's `FromStr` for the types `configParse` knows by name.
const INT_RANGES = {
  i8: [-128n, 127n], i16: [-32768n, 32767n], i32: [-2147483648n, 2147483647n],
  i64: [-9223372036854775808n, 9223372036854775807n],
  u8: [0n, 255n], u16: [0n, 65535n], u32: [0n, 4294967295n], u64: [0n, 18446744073709551615n],
  usize: [0n, 4294967295n], isize: [-2147483648n, 2147483647n],
};
const RUST_FLOAT = /^[+-]?(?:inf|infinity|nan|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$/i;

/** Parses `text` as Rust's `str::parse::<T>()` does for `type`; throws an Error saying why. */
export function parseAs(type, text) {
  if (type === 'f64' || type === 'f32') {
    if (text.length === 0) throw new Error('cannot parse float from empty string');
    if (!RUST_FLOAT.test(text)) throw new Error('invalid float literal');
    const t = text.toLowerCase().replace(/^\+/, '');
    if (t.endsWith('inf') || t.endsWith('infinity')) return t.startsWith('-') ? -Infinity : Infinity;
    if (t.endsWith('nan')) return NaN;
    return type === 'f32' ? Math.fround(Number(t)) : Number(t);
  }
  if (type === 'bool') {
    if (text === 'true') return true;
    if (text === 'false') return false;
    throw new Error('provided string was not `true` or `false`');
  }
  if (type === 'string') return text;
  const range = INT_RANGES[type];
  if (range === undefined) throw new TypeError(`configParse: unknown type ${JSON.stringify(type)}`);
  if (text.length === 0) throw new Error('cannot parse integer from empty string');
  let digits = text;
  let neg = false;
  if (digits[0] === '+' || (digits[0] === '-' && range[0] < 0n)) {
    neg = digits[0] === '-';
    digits = digits.slice(1);
  }
  if (digits.length === 0 || !/^[0-9]+$/.test(digits)) throw new Error('invalid digit found in string');
  const v = neg ? -BigInt(digits) : BigInt(digits);
  if (v > range[1]) throw new Error('number too large to fit in target type');
  if (v < range[0]) throw new Error('number too small to fit in target type');
  return (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) ? Number(v) : v;
}

function notGranted(what, grant) {
  return new Error(`${what}: this plugin is not granted "${grant}" (add it to grants in weir-plugin.toml)`);
}

function hostError(e) {
  if (e instanceof HostError) return e;
  if (e !== null && typeof e === 'object' && typeof e.payload === 'string') return new HostError(e.payload);
  return new HostError(e instanceof Error ? e.message : String(e));
}

/**
 * What a plugin can ask of the host: `log`, `config`, `lookup` and, for emitters, the outbox.
 * A method whose capability the plugin is not granted throws an Error naming the grant.
 */
export class Host {
  #raw;

  /** `raw`: the WIT imports the component has, by name (see `build.mjs` and `testing.mjs`). */
  constructor(raw) {
    this.#raw = raw;
  }

  /** Writes a log line into the host's tracing (`log` grant). */
  log(level, message) {
    const log = this.#raw.log;
    if (log === undefined) throw notGranted('host.log', 'log');
    if (!LEVELS.has(level)) throw new TypeError(`host.log: level must be one of ${[...LEVELS].join(', ')}`);
    log(level, String(message));
  }

  trace(message) { this.log('trace', message); }
  debug(message) { this.log('debug', message); }
  info(message) { this.log('info', message); }
  warn(message) { this.log('warn', message); }
  error(message) { this.log('error', message); }

  /** The configured value for `key`, or undefined (`config` grant). */
  config(key) {
    const get = this.#raw.configGet;
    if (get === undefined) throw notGranted('host.config', 'config');
    const v = get(String(key));
    return v === null || v === undefined ? undefined : v;
  }

  /** Every configured key, sorted (`config` grant). */
  configKeys() {
    const keys = this.#raw.configKeys;
    if (keys === undefined) throw notGranted('host.configKeys', 'config');
    return Array.from(keys());
  }

  /** The value of `key`, or `fallback`. */
  configOr(key, fallback) {
    const v = this.config(key);
    return v === undefined ? fallback : v;
  }

  /**
   * Parses `key` (trimmed, as the Rust SDK's `config_parse`), or returns `fallback` when it is
   * not configured. `type` is a Rust type name ('f64', 'u32', 'bool', 'string', ...; by
   * default 'f64' for a number fallback, 'bool' for a boolean, 'string' otherwise) or a
   * function that parses the trimmed text and throws to reject it. A value that does not
   * parse is an InitError naming the key: config `limit`: cannot parse "lots": invalid float literal.
   */
  configParse(key, fallback, type = undefined) {
    const raw = this.config(key);
    if (raw === undefined) return fallback;
    let parse = type;
    if (parse === undefined) {
      parse = typeof fallback === 'number' ? 'f64' : typeof fallback === 'boolean' ? 'bool' : 'string';
    }
    try {
      const t = rustTrim(raw);
      return typeof parse === 'function' ? parse(t) : parseAs(parse, t);
    } catch (e) {
      if (e instanceof TypeError && typeof parse !== 'function') throw e;
      throw InitError.config(key, `cannot parse ${debugStr(raw)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * The row stored under `key` in `table`, or undefined when there is none (`lookup` grant).
   * Throws a HostError naming the table when the host has no such table.
   */
  lookup(table, key) {
    const lookup = this.#raw.lookup;
    if (lookup === undefined) throw notGranted('host.lookup', 'lookup');
    let row;
    try {
      row = lookup(String(table), String(key));
    } catch (e) {
      throw hostError(e);
    }
    return row === null || row === undefined ? undefined : new Row(row);
  }

  /** Publishes `payload` (bytes or text) on an MQTT topic with QoS 0 or 1 (`outbox` grant). */
  publish(topic, payload, qos = 0) {
    const publish = this.#raw.publish;
    if (publish === undefined) throw notGranted('outbox.publish', 'outbox');
    const bytes = typeof payload === 'string' ? utf8Encode(payload) : bytesOf(payload, 'payload');
    try {
      publish(String(topic), bytes, qos);
    } catch (e) {
      throw hostError(e);
    }
  }

  /** Appends a record to one of the host's streams (`outbox` grant). */
  putRecord(stream, partitionKey, data) {
    const put = this.#raw.putRecord;
    if (put === undefined) throw notGranted('outbox.putRecord', 'outbox');
    const bytes = typeof data === 'string' ? utf8Encode(data) : bytesOf(data, 'data');
    try {
      put(String(stream), String(partitionKey), bytes);
    } catch (e) {
      throw hostError(e);
    }
  }

  /** Sends `message` to `target` on a notification channel such as `sms` (`outbox` grant). */
  notify(channel, target, message) {
    const notify = this.#raw.notify;
    if (notify === undefined) throw notGranted('outbox.notify', 'outbox');
    try {
      notify(String(channel), String(target), String(message));
    } catch (e) {
      throw hostError(e);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// console: to the log import when it is granted, else nowhere

function show(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return describe(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  if (v instanceof Record) return `Record(${v.partitionKey})`;
  try {
    return stringify(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** The console a plugin sees: its lines go to `log(level, line)`, or nowhere without one. */
export function makeConsole(log) {
  const to = (level) => (...args) => {
    if (log === undefined || log === null) return;
    try {
      log(level, args.map(show).join(' '));
    } catch {
      // A log line must never fail the plugin.
    }
  };
  const info = to('info');
  return {
    log: info, info, debug: to('debug'), trace: to('trace'), warn: to('warn'), error: to('error'),
    dir: info, table: info, assert: (ok, ...args) => { if (!ok) to('error')('Assertion failed', ...args); },
    group() {}, groupCollapsed() {}, groupEnd() {}, time() {}, timeEnd() {}, timeLog() {},
    count() {}, countReset() {},
  };
}

// Until a component binds its imports (or where there is no console, as in QuickJS), a
// plugin's top-level console calls go nowhere rather than fail.
if (typeof globalThis.console === 'undefined') globalThis.console = makeConsole(undefined);

// ---------------------------------------------------------------------------------------------
// Registration

let registered = null;

function register(stage, method, Plugin) {
  if (typeof Plugin !== 'function' || typeof Plugin.prototype?.[method] !== 'function') {
    throw new TypeError(`export of a ${stage}: expected a class with a ${method}() method`);
  }
  if (registered !== null && registered.Plugin !== Plugin) {
    throw new Error(`a component exports one plugin: ${registered.Plugin.name} is already exported`);
  }
  registered = { stage, Plugin };
  return Plugin;
}

/** Exports a filter class (constructor(host), keep(record, host) -> boolean). */
export function exportFilter(Plugin) {
  return register('filter', 'keep', Plugin);
}

/** Exports a transformer class (constructor(host), transform(record, host) -> Record[]). */
export function exportTransformer(Plugin) {
  return register('transformer', 'transform', Plugin);
}

/** Exports an emitter class (constructor(host), emit(record, outbox)). */
export function exportEmitter(Plugin) {
  return register('emitter', 'emit', Plugin);
}

/** The exported plugin: {stage, Plugin}, or null. */
export function exported() {
  return registered;
}

// ---------------------------------------------------------------------------------------------
// The batch drivers

/**
 * Holds one plugin instance between batches, built before the first batch. A failed
 * construction is not kept: the batch fails with the error and the next batch tries again.
 */
export class StageCell {
  constructor(Plugin) {
    this.Plugin = Plugin;
    this.instance = null;
  }

  // The instance, or a RecordError with code `plugin-init` (an InitError or RecordError from
  // the constructor; the next batch tries again). Any other exception is a bug: it propagates.
  get(host) {
    if (this.instance !== null) return this.instance;
    try {
      this.instance = new this.Plugin(host);
      return this.instance;
    } catch (e) {
      if (e instanceof InitError || e instanceof RecordError) return new RecordError('plugin-init', e.message);
      throw e;
    }
  }

  // Forgets the instance after a crash: the host discards the whole component instance, and
  // under the test harness the next batch starts afresh too.
  reset() {
    this.instance = null;
  }
}

/**
 * Whether `e` is one of the SDK's per-record errors. Anything else thrown by a plugin method is
 * a bug in the plugin, like a panic in a Rust plugin or an exception in a Python one: it
 * propagates out of the batch driver, and in a component the whole batch traps (the host fails
 * it with a `panic` fault and starts the next batch on a fresh instance).
 */
function isRecordFailure(e) {
  return e instanceof RecordError || e instanceof EmitError;
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

/** Judges records: one of true (keep), false (drop) or a RecordError per record. */
export function filterRecords(cell, records, host) {
  const plugin = cell.get(host);
  if (plugin instanceof RecordError) return records.map(() => plugin);
  const out = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    try {
      const keep = plugin.keep(records[i], host);
      if (keep === true || keep === false) out[i] = keep;
      else if (isThenable(keep)) throw new TypeError('keep() returned a Promise: plugin methods must be synchronous');
      else throw new TypeError(`keep() must return true or false, not ${show(keep)}`);
    } catch (e) {
      if (!isRecordFailure(e)) throw e;
      out[i] = asRecordError(e);
    }
  }
  return out;
}

/** Transforms records: an array of Records or a RecordError per record. */
export function transformRecords(cell, records, host) {
  const plugin = cell.get(host);
  if (plugin instanceof RecordError) return records.map(() => plugin);
  const out = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    try {
      const made = plugin.transform(records[i], host);
      out[i] = checkOutput(made);
    } catch (e) {
      if (!isRecordFailure(e)) throw e;
      out[i] = asRecordError(e);
    }
  }
  return out;
}

/** The records a transform() returned, or a TypeError saying why they are not (a bug). */
function checkOutput(made) {
  if (isThenable(made)) {
    throw new TypeError('transform() returned a Promise: plugin methods must be synchronous');
  }
  if (made === null || made === undefined || typeof made[Symbol.iterator] !== 'function' || typeof made === 'string') {
    throw new TypeError(`transform() must return an array of Records, not ${show(made)}`);
  }
  const records = Array.isArray(made) ? made : Array.from(made);
  for (const r of records) {
    if (!(r instanceof Record)) {
      throw new TypeError(`transform() must return an array of Records, found ${show(r)} in it`);
    }
  }
  return records;
}

/** Delivers records: the failures only, as {index, error, retryable}. */
export function emitRecords(cell, records, host) {
  const plugin = cell.get(host);
  if (plugin instanceof RecordError) {
    return records.map((_, index) => ({ index, error: plugin, retryable: true }));
  }
  const failures = [];
  for (let i = 0; i < records.length; i++) {
    try {
      const r = plugin.emit(records[i], host);
      if (isThenable(r)) throw new TypeError('emit() returned a Promise: plugin methods must be synchronous');
    } catch (e) {
      if (e instanceof EmitError) failures.push({ index: i, error: e.error, retryable: e.retryable });
      else if (e instanceof RecordError) failures.push({ index: i, error: e, retryable: false });
      else throw e;
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// The packed batch (WIT `packed-batch`)

const FIELDS_PER_RECORD = 6;
const FIELD_NAMES = ['payload', 'partition-key', 'source-topic', 'client-id', 'rule-name'];
const U32_MAX = 4294967295;

class LayoutError extends Error {}

/**
 * Reads a packed batch into Records, checking it whole first as the Rust SDK does (lengths,
 * UTF-8 of every text field, nothing left over). Throws LayoutError with weir-abi's message.
 */
export function unpackBatch(batch) {
  const data = batch.data;
  const lengths = batch.lengths;
  const attributeLengths = batch.attributeLengths;
  const stamps = batch.arrivalTimestampsMs;
  const records = stamps.length;
  const expected = records * FIELDS_PER_RECORD;
  if (lengths.length !== expected) {
    throw new LayoutError(`\`lengths\` holds ${lengths.length} entries; ${records} records need ${expected}`);
  }
  const size = data.length;
  const nAttributeLengths = attributeLengths.length;
  // Where each record starts. Lengths are never negative, so when they add up to the size of
  // `data` no field runs past its end; otherwise `checkLayout` finds the first that does.
  const starts = new Array(records);
  let at = 0;
  let attributeAt = 0;
  let withAttributes = false;
  let short = false;
  for (let i = 0, f = 0; i < records; i++, f += FIELDS_PER_RECORD) {
    starts[i] = at;
    at += lengths[f] + lengths[f + 1] + lengths[f + 2] + lengths[f + 3] + lengths[f + 4];
    const count = lengths[f + 5];
    if (count > 0) {
      withAttributes = true;
      if (count * 2 > nAttributeLengths - attributeAt) {
        short = true;
        break;
      }
      for (let k = 0; k < count * 2; k++) at += attributeLengths[attributeAt++];
    }
  }
  const latin = latin1FromBytes(data);
  if (short || at !== size || attributeAt !== nAttributeLengths) checkLayout(batch, latin);
  const ascii = allAscii(data);
  const attributes = withAttributes || !ascii ? readTexts(batch, latin, ascii, starts) : [];
  const src = new BatchSource(data, latin, ascii, lengths, starts, stamps, attributes);
  const out = new Array(records);
  for (let i = 0; i < records; i++) out[i] = Record._at(src, i);
  return out;
}

// Reads the batch field by field as weir-abi does, and throws its error for the first field
// that runs past the end, the first missing attribute lengths, or what is left over.
function checkLayout(batch, latin) {
  const { data, lengths, attributeLengths } = batch;
  const records = batch.arrivalTimestampsMs.length;
  const size = data.length;
  let at = 0;
  let attributeAt = 0;
  for (let i = 0, f = 0; i < records; i++, f += FIELDS_PER_RECORD) {
    for (let k = 0; k < 5; k++) {
      const len = lengths[f + k];
      if (len > size - at) throw overrun(i, FIELD_NAMES[k], len, size - at);
      if (k > 0) checkText(latin, at, len, i, FIELD_NAMES[k]);
      at += len;
    }
    const count = lengths[f + 5];
    if (count * 2 > attributeLengths.length - attributeAt) {
      throw new LayoutError(`record ${i}: its ${count} attributes run past the end of \`attribute-lengths\``);
    }
    for (let k = 0; k < count * 2; k++) {
      const len = attributeLengths[attributeAt++];
      const field = k % 2 === 0 ? 'attribute name' : 'attribute value';
      if (len > size - at) throw overrun(i, field, len, size - at);
      checkText(latin, at, len, i, field);
      at += len;
    }
  }
  throw new LayoutError(`${size - at} bytes of \`data\` and ${attributeLengths.length - attributeAt} entries of \`attribute-lengths\` follow the last record`);
}

// The attributes of every record, checking (in a batch that is not all ASCII) that every text
// field is UTF-8.
function readTexts(batch, latin, ascii, starts) {
  const { lengths, attributeLengths } = batch;
  const records = starts.length;
  const attributes = new Array(records);
  let attributeAt = 0;
  for (let i = 0, f = 0; i < records; i++, f += FIELDS_PER_RECORD) {
    let at = starts[i] + lengths[f];
    for (let k = 1; k <= 4; k++) {
      const len = lengths[f + k];
      if (!ascii) checkText(latin, at, len, i, FIELD_NAMES[k]);
      at += len;
    }
    const count = lengths[f + 5];
    if (count === 0) continue;
    const pairs = new Array(count);
    for (let k = 0; k < count; k++) {
      const nameLength = attributeLengths[attributeAt++];
      const name = ascii ? latin.slice(at, at + nameLength) : checkText(latin, at, nameLength, i, 'attribute name');
      at += nameLength;
      const valueLength = attributeLengths[attributeAt++];
      const value = ascii ? latin.slice(at, at + valueLength) : checkText(latin, at, valueLength, i, 'attribute value');
      at += valueLength;
      pairs[k] = [name, value];
    }
    attributes[i] = pairs;
  }
  return attributes;
}

function overrun(record, field, len, left) {
  return new LayoutError(`record ${record}: its ${field} (${len} bytes) runs past the end of \`data\` (${left} bytes left)`);
}

// A text field of a batch that is not all ASCII: its text, or a LayoutError.
function checkText(latin, start, len, record, field) {
  const raw = latin.slice(start, start + len);
  if (!NON_ASCII_BYTE.test(raw)) return raw;
  const t = utf8FromLatin1(raw);
  if (t === null) {
    throw new LayoutError(`record ${record}: its ${field} is not UTF-8 (invalid byte at offset ${utf8ValidUpTo(raw)})`);
  }
  return t;
}

// A timestamp set by plugin code, checked, as the output list wants it.
function stampOf(v, big) {
  if (typeof v === 'bigint') {
    if (v < 0n || v > 18446744073709551615n) throw new RangeError(`an output record's arrivalTimestampMs is out of range: ${v}`);
    return big || v > MAX_SAFE_BIG ? v : Number(v);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 18446744073709551615) {
    throw new TypeError(`an output record's arrivalTimestampMs must be a whole number of milliseconds, not ${show(v)}`);
  }
  return big ? BigInt(v) : v;
}

/**
 * Packs each input record's output records into one packed batch, with a count per input
 * record. An output record with a field of the wrong type is a bug in the plugin: a TypeError
 * (or RangeError) that fails the whole batch, as the Python SDK's does. The batch's bytes are gathered as latin1 text (one char
 * per byte) and turned into bytes once.
 */
export function packOutput(groups, bigStamps = true) {
  const out = { pieces: [], lengths: [], attributeLengths: [], stamps: [], big: bigStamps };
  const counts = new Uint32Array(groups.length);
  const failures = [];
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    if (group instanceof RecordError) {
      failures.push({ index: g, error: group });
      continue;
    }
    const m0 = out.pieces.length;
    const m1 = out.lengths.length;
    const m2 = out.attributeLengths.length;
    const m3 = out.stamps.length;
    try {
      for (let k = 0; k < group.length; k++) {
        const r = group[k];
        if (!(r instanceof Record)) throw new TypeError(`transform() must return Records, found ${show(r)}`);
        r._append(out);
      }
      counts[g] = group.length;
    } catch (e) {
      out.pieces.length = m0;
      out.lengths.length = m1;
      out.attributeLengths.length = m2;
      out.stamps.length = m3;
      if (!(e instanceof RecordError)) throw e;
      failures.push({ index: g, error: e });
    }
  }
  const latin = out.pieces.join('');
  if (latin.length > U32_MAX) throw new RecordError('too-large', `the output batch is ${latin.length} bytes; the layout's limit is ${U32_MAX}`);
  const data = new Uint8Array(latin.length);
  writeLatin1(latin, data, 0);
  return {
    records: {
      data,
      lengths: Uint32Array.from(out.lengths),
      attributeLengths: Uint32Array.from(out.attributeLengths),
      // QuickJS takes (and gives) u64 lists as numbers; StarlingMonkey wants BigInts.
      arrivalTimestampsMs: bigStamps ? BigUint64Array.from(out.stamps) : out.stamps,
    },
    counts,
    failures,
  };
}

/** Packs input records into a packed batch (what the host sends; used by the test harness). */
export function packBatch(records) {
  const out = packOutput([records]);
  if (out.failures.length > 0) throw out.failures[0].error;
  return out.records;
}

function badBatch(e) {
  return new RecordError('bad-batch', `the host sent a malformed batch: ${e.message}`);
}

function readBatch(batch) {
  try {
    return { records: unpackBatch(batch) };
  } catch (e) {
    if (e instanceof LayoutError) return { error: badBatch(e), count: batch.arrivalTimestampsMs.length };
    throw e;
  }
}

/** The filter-batch export: a packed batch in, a filter-output out. */
export function runFilter(cell, batch, host) {
  const read = readBatch(batch);
  const results = read.error !== undefined ? new Array(read.count).fill(read.error) : filterRecords(cell, read.records, host);
  const verdicts = new Uint8Array(results.length);
  const failures = [];
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r === true) verdicts[i] = 0;
    else if (r === false) verdicts[i] = 1;
    else {
      verdicts[i] = 2;
      failures.push({ index: i, error: { code: r.code, message: r.message } });
    }
  }
  return { verdicts, failures };
}

/** The transform-batch export: a packed batch in, a transform-output out. */
export function runTransform(cell, batch, host) {
  const read = readBatch(batch);
  const results = read.error !== undefined ? new Array(read.count).fill(read.error) : transformRecords(cell, read.records, host);
  const out = packOutput(results, typeof batch.arrivalTimestampsMs[0] !== 'number' || !Array.isArray(batch.arrivalTimestampsMs));
  return {
    records: out.records,
    counts: out.counts,
    failures: out.failures.map((f) => ({ index: f.index, error: { code: f.error.code, message: f.error.message } })),
  };
}

/** The emit-batch export: a packed batch in, the emit failures out. */
export function runEmit(cell, batch, host) {
  const read = readBatch(batch);
  const failures = read.error !== undefined
    ? Array.from({ length: read.count }, (_, index) => ({ index, error: read.error, retryable: false }))
    : emitRecords(cell, read.records, host);
  return failures.map((f) => ({ index: f.index, error: { code: f.error.code, message: f.error.message }, retryable: f.retryable }));
}

/**
 * Used by the component's generated entry module: binds the plugin exported by plugin.js to
 * the component's imports and returns the functions of its export.
 */
export function bindComponent(stage, raw) {
  globalThis.console = makeConsole(raw.log);
  const host = new Host(raw);
  let cell = null;
  const theCell = () => {
    if (cell === null) {
      if (registered === null) throw new Error(`plugin.js exports no plugin: call export${stage[0].toUpperCase()}${stage.slice(1)}(YourClass)`);
      if (registered.stage !== stage) throw new Error(`plugin.js exports a ${registered.stage}, but weir-plugin.toml says stage = "${stage}"`);
      cell = new StageCell(registered.Plugin);
    }
    return cell;
  };
  // A plugin bug (see isRecordFailure): its stack goes to the log when `log` is granted, the
  // cell is reset, and the exception leaves the export, which traps the batch.
  const guarded = (run) => (batch) => {
    try {
      return run(theCell(), batch, host);
    } catch (e) {
      if (cell !== null) cell.reset();
      crashed(raw.log, e);
      throw e;
    }
  };
  return {
    filter: guarded(runFilter),
    transform: guarded(runTransform),
    emit: guarded(runEmit),
  };
}

/** Logs a plugin's crash, with its stack when it has one; never throws. */
function crashed(log, e) {
  if (log === undefined || log === null) return;
  try {
    const stack = e instanceof Error && typeof e.stack === 'string' && e.stack.trim().length > 0 ? `\n${e.stack.trimEnd()}` : '';
    log('error', `plugin threw ${describe(e)}; the batch fails as a panic would${stack}`);
  } catch {
    // Reporting must not hide the original.
  }
}
