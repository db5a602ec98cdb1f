// JSON and UTF-8 for the Weir JavaScript SDK, with the answers of the Rust SDK.
//
// The Rust SDK reads payloads with serde_json (`preserve_order`, no `float_roundtrip`) and
// writes them back with it. A JavaScript plugin must accept and reject the same payloads and
// write the same bytes, so this module gives:
//
// - `parseValue` / `pickFields`: what `serde_json::from_slice::<Value>` and the Rust SDK's
//   `json_fields` picker accept, the same values, and serde_json's error messages (code, line
//   and column). A payload is first tried with the engine's JSON.parse when a cheap look at its
//   text shows nothing JSON.parse would read differently; anything else (numbers that are
//   integral floats, long or with an exponent, surrogate escapes, keys that look like array
//   indices, deep nesting, invalid JSON) goes through the exact reader below, which follows
//   serde_json's grammar byte by byte.
// - `stringify`: serde_json's output for the values `parseValue` makes, including numbers
//   (`82.0` stays `82.0`, integers beyond 2^53 keep their digits, floats use serde_json's
//   shortest form such as `1e+16`) and the payload order of keys that look like array indices.
//   What a number looked like is remembered per container in a WeakMap, so parsed values are
//   plain JavaScript objects, arrays, strings, numbers, booleans and null.
// - strict UTF-8 decoding and encoding that do not need TextDecoder / TextEncoder (QuickJS has
//   neither) and use only native string functions in the common case.

// ---------------------------------------------------------------------------------------------
// Bytes, latin1 strings and UTF-8

const hasTextDecoder = typeof TextDecoder === 'function';
const hasTextEncoder = typeof TextEncoder === 'function';
const hasBase64 = typeof Uint8Array.prototype.toBase64 === 'function'
  && typeof Uint8Array.prototype.setFromBase64 === 'function'
  && typeof atob === 'function' && typeof btoa === 'function';
const strictDecoder = hasTextDecoder ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }) : null;
const encoder = hasTextEncoder ? new TextEncoder() : null;

/** Matches a byte at or above 0x80 in a latin1 string (one char per byte). */
export const NON_ASCII_BYTE = /[\x80-\xff]/;
/** Matches a char that is not ASCII in a text string. */
const NON_ASCII_TEXT = /[^\x00-\x7f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

const EMPTY = new Uint8Array(0);

/** The bytes as a string of one char (0-255) per byte. */
export function latin1FromBytes(bytes) {
  const n = bytes.length;
  if (n === 0) return '';
  if (hasBase64) return atob(bytes.toBase64());
  let out = '';
  for (let at = 0; at < n; at += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(at, Math.min(n, at + 8192)));
  }
  return out;
}

/** True when every byte is below 0x80 (cheaper than a regular expression in QuickJS). */
export function allAscii(bytes) {
  const n = bytes.length;
  for (let at = 0; at < n; at += 8192) {
    if (Math.max.apply(null, bytes.subarray(at, Math.min(n, at + 8192))) >= 0x80) return false;
  }
  return true;
}

/** Writes a latin1 string's chars as bytes into `target` at `offset`. */
export function writeLatin1(latin, target, offset) {
  const n = latin.length;
  if (n === 0) return;
  if (hasBase64) {
    target.subarray(offset, offset + n).setFromBase64(btoa(latin));
    return;
  }
  for (let i = 0; i < n; i++) target[offset + i] = latin.charCodeAt(i);
}

/** The bytes of a latin1 string. */
export function bytesFromLatin1(latin) {
  const out = new Uint8Array(latin.length);
  writeLatin1(latin, out, 0);
  return out;
}

/**
 * Where the first invalid UTF-8 sequence of a latin1 string starts (Rust's
 * `Utf8Error::valid_up_to`), or -1 when it is all valid.
 */
export function utf8ValidUpTo(latin) {
  const n = latin.length;
  let i = 0;
  while (i < n) {
    const b = latin.charCodeAt(i);
    if (b < 0x80) { i++; continue; }
    let need, lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i;
    const c1 = latin.charCodeAt(i + 1);
    if (!(c1 >= lo && c1 <= hi)) return i;
    for (let k = 2; k <= need; k++) {
      const c = latin.charCodeAt(i + k);
      if (!(c >= 0x80 && c <= 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes a latin1 string holding UTF-8 bytes; null when they are not valid UTF-8 (as
 * Rust's `std::str::from_utf8` judges: no overlong forms, no surrogates, nothing past
 * U+10FFFF). A byte order mark is kept, as Rust keeps it.
 */
export function utf8FromLatin1(latin) {
  if (!NON_ASCII_BYTE.test(latin)) return latin;
  if (strictDecoder !== null) {
    try {
      return strictDecoder.decode(bytesFromLatin1(latin));
    } catch {
      return null;
    }
  }
  try {
    return decodeURIComponent(escape(latin));
  } catch {
    return null;
  }
}

/** Strictly decodes UTF-8 bytes; null when they are not valid UTF-8. */
export function utf8Decode(bytes) {
  if (strictDecoder !== null) {
    try {
      return strictDecoder.decode(bytes);
    } catch {
      return null;
    }
  }
  return utf8FromLatin1(latin1FromBytes(bytes));
}

/** A text's UTF-8 bytes as a latin1 string (lone surrogates become U+FFFD, as TextEncoder does). */
export function latin1FromText(text) {
  if (!NON_ASCII_TEXT.test(text)) return text;
  let t = text;
  if (LONE_SURROGATE.test(t)) t = wellFormed(t);
  return unescape(encodeURIComponent(t));
}

function wellFormed(text) {
  if (typeof text.toWellFormed === 'function') return text.toWellFormed();
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { out += text[i] + text[i + 1]; i++; continue; }
    }
    out += (c >= 0xd800 && c <= 0xdfff) ? '\ufffd' : text[i];
  }
  return out;
}

/** The UTF-8 length of a text (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text) {
  if (!NON_ASCII_TEXT.test(text)) return text.length;
  return latin1FromText(text).length;
}

/** Encodes a text as UTF-8 bytes. */
export function utf8Encode(text) {
  if (text.length === 0) return EMPTY;
  if (encoder !== null) return encoder.encode(text);
  return bytesFromLatin1(latin1FromText(text));
}

// ---------------------------------------------------------------------------------------------
// Rust's text rendering


// Rust's White_Space, by char code.
function isRustSpace(c) {
  return (c >= 9 && c <= 13) || c === 32 || c === 0x85 || c === 0xa0 || c === 0x1680
    || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Rust's `str::trim`: strips Unicode White_Space (not U+FEFF, which JavaScript's trim strips). */
export function rustTrim(text) {
  let start = 0;
  let end = text.length;
  while (start < end && isRustSpace(text.charCodeAt(start))) start++;
  while (end > start && isRustSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Rust's `str::trim_start`. */
export function rustTrimStart(text) {
  let start = 0;
  while (start < text.length && isRustSpace(text.charCodeAt(start))) start++;
  return start === 0 ? text : text.slice(start);
}

/** Rust's `str::trim_end`. */
export function rustTrimEnd(text) {
  let end = text.length;
  while (end > 0 && isRustSpace(text.charCodeAt(end - 1))) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** True when `text.trim().is_empty()` in Rust. */
export function rustIsBlank(text) {
  for (let i = 0; i < text.length; i++) if (!isRustSpace(text.charCodeAt(i))) return false;
  return true;
}

// Chars that Rust's `{:?}` writes as `\u{..}`: control and format chars, separators other
// than the ASCII space, unpaired surrogates, private use, noncharacters, and the common
// combining marks (Grapheme_Extend), which Rust escapes too. Rust's full tables also escape
// unassigned code points and rarer combining marks, which this list leaves as they are.
const DEBUG_ESCAPE = new RegExp('[' + [
  '\\x00-\\x1f', '\\x7f-\\xa0', '\\xad', '\\u0300-\\u036f', '\\u0483-\\u0489', '\\u0591-\\u05bd',
  '\\u0600-\\u0605', '\\u061c', '\\u06dd', '\\u070f', '\\u0890\\u0891', '\\u08e2', '\\u1680',
  '\\u180e', '\\u1ab0-\\u1aff', '\\u1dc0-\\u1dff', '\\u2000-\\u200f', '\\u2028-\\u202f',
  '\\u205f-\\u2064', '\\u2066-\\u206f', '\\u20d0-\\u20f0', '\\u3000', '\\u302a-\\u302f',
  '\\u3099\\u309a', '\\ud800-\\udfff', '\\ue000-\\uf8ff', '\\ufe00-\\ufe0f', '\\ufe20-\\ufe2f',
  '\\ufeff', '\\ufff0-\\ufffb', '\\ufffe\\uffff', '"', '\\\\',
].join('') + ']');

/** Rust's `{:?}` of a string: quoted, with Rust's escapes. */
export function debugStr(text) {
  if (!DEBUG_ESCAPE.test(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    let ch = text[i];
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
        ch = text[i] + text[i + 1];
        i++;
        out += (c >= 0xf0000 || (c >= 0xe0100 && c <= 0xe01ef) || (c >= 0xe0000 && c <= 0xe007f)
          || (c & 0xfffe) === 0xfffe) ? `\\u{${c.toString(16)}}` : ch;
        continue;
      }
    }
    switch (c) {
      case 0x00: out += '\\0'; continue;
      case 0x09: out += '\\t'; continue;
      case 0x0a: out += '\\n'; continue;
      case 0x0d: out += '\\r'; continue;
      case 0x22: out += '\\"'; continue;
      case 0x5c: out += '\\\\'; continue;
      default:
        out += DEBUG_ESCAPE.test(ch) ? `\\u{${c.toString(16)}}` : ch;
    }
  }
  return out + '"';
}

// ---------------------------------------------------------------------------------------------
// Numbers as serde_json writes them

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * An f64 as serde_json (zmij) writes it: the shortest digits that read back as the same
 * number, `82.0` for integral values, plain notation for decimal exponents -5 to 15
 * (`0.00001`, `1000000000000000.0`) and `d.ddde±x` outside it (`1e+16`, `1e-6`).
 */
export function renderFloat(v) {
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const s = String(v < 0 ? -v : v);
  let mant = s;
  let exp = 0;
  const e = s.indexOf('e');
  if (e >= 0) {
    mant = s.slice(0, e);
    exp = Number(s.slice(e + 1));
  }
  const dot = mant.indexOf('.');
  let digits = dot >= 0 ? mant.slice(0, dot) + mant.slice(dot + 1) : mant;
  let point = dot >= 0 ? dot : mant.length;
  let lead = 0;
  while (lead < digits.length - 1 && digits.charCodeAt(lead) === 48) lead++;
  digits = digits.slice(lead);
  point -= lead;
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 48) end--;
  digits = digits.slice(0, end);
  const x = point - 1 + exp;
  const n = digits.length;
  let out;
  if (x >= -5 && x <= 15) {
    if (n - 1 <= x) out = digits + '0'.repeat(x - n + 1) + '.0';
    else if (x >= 0) out = digits.slice(0, x + 1) + '.' + digits.slice(x + 1);
    else out = '0.' + '0'.repeat(-x - 1) + digits;
  } else {
    out = digits[0] + (n > 1 ? '.' + digits.slice(1) : '') + (x < 0 ? 'e-' : 'e+') + (x < 0 ? -x : x);
  }
  return v < 0 ? '-' + out : out;
}

/**
 * A JavaScript number as serde_json writes it: safe integers as integers, everything else as
 * an f64 (`renderFloat`), non-finite numbers as `null` (serde_json's choice too).
 */
export function renderNumber(v) {
  if (!Number.isFinite(v)) return 'null';
  if (Number.isInteger(v) && v <= MAX_SAFE && v >= -MAX_SAFE && !Object.is(v, -0)) return String(v);
  return renderFloat(v);
}

// Remembered spellings: container -> Map(key -> [value, text]).
const SPELLING = new WeakMap();
// Key order of objects whose keys JavaScript would reorder: object -> [keys in payload order].
const KEY_ORDER = new WeakMap();

// Whether any spelling or key order was ever remembered: until then `stringify` can leave the
// whole value to JSON.stringify.
let remembered = false;

function remember(container, key, value, text) {
  remembered = true;
  let m = SPELLING.get(container);
  if (m === undefined) {
    m = new Map();
    SPELLING.set(container, m);
  }
  m.set(key, [value, text]);
}

function forget(container, key) {
  const m = SPELLING.get(container);
  if (m !== undefined) m.delete(key);
}

/**
 * How serde_json would write the number at `container[key]`: the payload's spelling when the
 * value is the one parsed there (`82.0`, an integer beyond 2^53), else `renderNumber`.
 */
export function numberText(container, key, value) {
  if (container !== undefined) {
    const m = SPELLING.get(container);
    if (m !== undefined) {
      const s = m.get(key);
      if (s !== undefined && Object.is(s[0], value)) return s[1];
    }
  }
  return renderNumber(value);
}

const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;

// ---------------------------------------------------------------------------------------------
// Errors

/** A payload serde_json would refuse; `message` is serde_json's. */
export class JsonSyntaxError extends Error {
  constructor(message) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const E = {
  EOF_LIST: 'EOF while parsing a list',
  EOF_OBJECT: 'EOF while parsing an object',
  EOF_STRING: 'EOF while parsing a string',
  EOF_VALUE: 'EOF while parsing a value',
  COLON: 'expected `:`',
  LIST_COMMA_OR_END: 'expected `,` or `]`',
  OBJECT_COMMA_OR_END: 'expected `,` or `}`',
  IDENT: 'expected ident',
  VALUE: 'expected value',
  INVALID_ESCAPE: 'invalid escape',
  INVALID_NUMBER: 'invalid number',
  OUT_OF_RANGE: 'number out of range',
  INVALID_UNICODE: 'invalid unicode code point',
  CONTROL: 'control character (\\u0000-\\u001F) found while parsing a string',
  KEY_STRING: 'key must be a string',
  LONE_SURROGATE: 'lone leading surrogate in hex escape',
  TRAILING_COMMA: 'trailing comma',
  TRAILING: 'trailing characters',
  END_OF_HEX: 'unexpected end of hex escape',
  RECURSION: 'recursion limit exceeded',
};

// ---------------------------------------------------------------------------------------------
// The exact reader: serde_json's grammar over a latin1 string (one char per payload byte, so
// positions are byte offsets as in serde_json's messages).

const WS = /[ \t\n\r]*/y;
const PLAIN = /[^"\\\x00-\x1f]*/y;
const NUMBER = /(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const U64_MAX = 18446744073709551615n;
const I64_MIN_ABS = 9223372036854775808n;
const I32_MAX = 2147483647;
const POW10 = [];
for (let k = 0; k <= 308; k++) POW10.push(Number(`1e${k}`));
const FLOAT = {};

// Codes of the chars the reader looks at.
const QUOTE = 34, BACKSLASH = 92, MINUS = 45, PLUS = 43, DOT = 46, COMMA = 44, COLON = 58;
const OPEN_BRACKET = 91, CLOSE_BRACKET = 93, OPEN_BRACE = 123, CLOSE_BRACE = 125;
const LOWER_E = 101, UPPER_E = 69, LOWER_N = 110, LOWER_T = 116, LOWER_F = 102, LOWER_U = 117;
const isDigit = (c) => c >= 48 && c <= 57;

/** serde_json's value of a number that has overflowed `u64`, or not: see `Reader.numberValue`. */
function f64FromParts(neg, sig, exponent) {
  let f = typeof sig === 'bigint' ? Number(sig) : sig;
  for (;;) {
    const a = exponent < 0 ? -exponent : exponent;
    if (a <= 308) {
      if (exponent >= 0) {
        f *= POW10[a];
        if (!Number.isFinite(f)) return null;
      } else {
        f /= POW10[a];
      }
      break;
    }
    if (f === 0) break;
    if (exponent >= 0) return null;
    f /= 1e308;
    exponent += 308;
  }
  return neg ? -f : f;
}

// serde_json's reading of a number literal (its sign read into `neg`, `text` the rest):
// {value, spelling} where `spelling` is how serde_json writes it when that differs from
// `renderNumber`, or {errorAt} (an offset into `text`) for a number beyond f64.
function serdeNumber(neg, text) {
  let dot = -1;
  let e = -1;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === DOT) dot = k;
    else if (c === LOWER_E || c === UPPER_E) { e = k; break; }
  }
  const intEnd = dot >= 0 ? dot : (e >= 0 ? e : text.length);
  const intDigits = text.slice(0, intEnd);
  if (dot < 0 && e < 0) {
    // An integer: u64, i64 or, beyond them or for -0, an f64.
    if (intDigits.length <= 15) {
      const v = Number(intDigits);
      return { value: neg ? -v : v, spelling: null, errorAt: -1 };
    }
    const big = BigInt(intDigits);
    if (!neg && big <= U64_MAX) {
      const v = Number(big);
      return { value: v, spelling: v > MAX_SAFE ? intDigits : null, errorAt: -1 };
    }
    if (neg && big <= I64_MIN_ABS) {
      const v = -Number(big);
      return { value: v, spelling: v < -MAX_SAFE ? '-' + intDigits : null, errorAt: -1 };
    }
    if (neg && big <= U64_MAX) return { value: -Number(big), spelling: null, errorAt: -1 };
  }
  const fracDigits = dot >= 0 ? text.slice(dot + 1, e >= 0 ? e : text.length) : '';
  const long = intDigits.length + fracDigits.length > 15;
  // The significand serde_json builds: digits until the next one would overflow u64; the
  // integer digits past that point scale by ten, the fraction digits past it are dropped.
  let sig = long ? 0n : 0;
  let exponent = 0;
  let full = false;
  for (let k = 0; k < intDigits.length; k++) {
    if (full) { exponent++; continue; }
    const d = intDigits.charCodeAt(k) - 48;
    if (long) {
      const next = sig * 10n + BigInt(d);
      if (next > U64_MAX) { full = true; exponent++; continue; }
      sig = next;
    } else {
      sig = sig * 10 + d;
    }
  }
  for (let k = 0; k < fracDigits.length; k++) {
    const d = fracDigits.charCodeAt(k) - 48;
    if (long) {
      const next = sig * 10n + BigInt(d);
      if (next > U64_MAX) break;
      sig = next;
    } else {
      sig = sig * 10 + d;
    }
    exponent--;
  }
  let value;
  if (e >= 0) {
    const expNeg = text.charCodeAt(e + 1) === MINUS;
    const expStart = e + 1 + (expNeg || text.charCodeAt(e + 1) === PLUS ? 1 : 0);
    let x = 0;
    let overflowAt = -1;
    for (let k = expStart; k < text.length; k++) {
      const d = text.charCodeAt(k) - 48;
      if (x * 10 + d > I32_MAX) { overflowAt = k; break; }
      x = x * 10 + d;
    }
    if (overflowAt >= 0) {
      const zero = long ? sig === 0n : sig === 0;
      if (!zero && !expNeg) return { value: null, spelling: null, errorAt: overflowAt + 1 };
      value = neg ? -0 : 0;
    } else {
      let total = expNeg ? exponent - x : exponent + x;
      if (total > I32_MAX) total = I32_MAX;
      if (total < -I32_MAX - 1) total = -I32_MAX - 1;
      value = f64FromParts(neg, sig, total);
    }
  } else {
    value = f64FromParts(neg, sig, exponent);
  }
  if (value === null) return { value: null, spelling: null, errorAt: text.length };
  const spelling = Number.isInteger(value) && value <= MAX_SAFE && value >= -MAX_SAFE ? renderFloat(value) : null;
  return { value, spelling, errorAt: -1 };
}



class Reader {
  constructor(src) {
    this.s = src;
    this.i = 0;
    this.n = src.length;
    // The spelling of the number just read when it must be remembered (null otherwise).
    this.spelling = null;
  }

  // Position of byte `index` as serde_json reports it.
  fail(code, index) {
    const s = this.s;
    let lineStart = 0;
    let line = 1;
    if (index > 0) {
      const nl = s.lastIndexOf('\n', index - 1);
      lineStart = nl + 1;
      for (let at = s.indexOf('\n'); at !== -1 && at < lineStart; at = s.indexOf('\n', at + 1)) line++;
    }
    throw new JsonSyntaxError(`${code} at line ${line} column ${index - lineStart}`);
  }

  err(code) {
    this.fail(code, this.i);
  }

  peekErr(code) {
    this.fail(code, Math.min(this.n, this.i + 1));
  }

  // Skips whitespace; the next char's code, or -1 at the end.
  ws() {
    WS.lastIndex = this.i;
    WS.test(this.s);
    this.i = WS.lastIndex;
    return this.i < this.n ? this.s.charCodeAt(this.i) : -1;
  }

  peekOrNull() {
    return this.i < this.n ? this.s.charCodeAt(this.i) : 0;
  }

  ident(rest) {
    for (let k = 0; k < rest.length; k++) {
      if (this.i >= this.n) this.err(E.EOF_VALUE);
      const c = this.s.charCodeAt(this.i++);
      if (c !== rest.charCodeAt(k)) this.err(E.IDENT);
    }
  }

  // A whole value (serde_json's `Value`), with `depth` levels of nesting left.
  value(depth) {
    const c = this.ws();
    this.spelling = null;
    switch (c) {
      case -1: return this.peekErr(E.EOF_VALUE);
      case LOWER_N: this.i++; this.ident('ull'); return null;
      case LOWER_T: this.i++; this.ident('rue'); return true;
      case LOWER_F: this.i++; this.ident('alse'); return false;
      case MINUS: this.i++; return this.number(true);
      case QUOTE: this.i++; return this.string();
      case OPEN_BRACKET: return this.array(depth);
      case OPEN_BRACE: return this.object(depth);
      default:
        if (isDigit(c)) return this.number(false);
        return this.peekErr(E.VALUE);
    }
  }

  array(depth) {
    if (--depth === 0) this.peekErr(E.RECURSION);
    this.i++;
    const out = [];
    let first = true;
    for (;;) {
      let c = this.ws();
      if (c === -1) this.peekErr(E.EOF_LIST);
      if (c === CLOSE_BRACKET) break;
      if (first) {
        first = false;
      } else if (c === COMMA) {
        this.i++;
        c = this.ws();
        if (c === CLOSE_BRACKET) this.peekErr(E.TRAILING_COMMA);
        if (c === -1) this.peekErr(E.EOF_VALUE);
      } else {
        this.peekErr(E.LIST_COMMA_OR_END);
      }
      const v = this.value(depth);
      if (this.spelling !== null) remember(out, out.length, v, this.spelling);
      out.push(v);
    }
    this.i++;
    this.spelling = null;
    return out;
  }

  // The next key of an object, after `{` or a value: the key, or undefined at `}`.
  key(first) {
    let c = this.ws();
    if (c === -1) this.peekErr(E.EOF_OBJECT);
    if (c === CLOSE_BRACE) return undefined;
    if (first) {
      if (c !== QUOTE) this.peekErr(E.KEY_STRING);
    } else if (c === COMMA) {
      this.i++;
      c = this.ws();
      if (c === CLOSE_BRACE) this.peekErr(E.TRAILING_COMMA);
      if (c === -1) this.peekErr(E.EOF_VALUE);
      if (c !== QUOTE) this.peekErr(E.KEY_STRING);
    } else {
      this.peekErr(E.OBJECT_COMMA_OR_END);
    }
    this.i++;
    const key = this.string();
    c = this.ws();
    if (c === COLON) this.i++;
    else if (c === -1) this.peekErr(E.EOF_OBJECT);
    else this.peekErr(E.COLON);
    return key;
  }

  object(depth) {
    if (--depth === 0) this.peekErr(E.RECURSION);
    this.i++;
    const out = {};
    let order = null;
    for (let first = true; ; first = false) {
      const key = this.key(first);
      if (key === undefined) break;
      if (order === null && INDEX_KEY.test(key)) order = Object.keys(out);
      if (order !== null && !hasOwn.call(out, key)) order.push(key);
      const v = this.value(depth);
      setOwn(out, key, v);
      if (this.spelling !== null) remember(out, key, v, this.spelling);
      else forget(out, key);
    }
    this.i++;
    if (order !== null) {
      remembered = true;
      KEY_ORDER.set(out, order);
    }
    this.spelling = null;
    return out;
  }

  // A string's contents after its opening quote, checked as serde_json checks a string it
  // keeps: escapes, surrogate pairs, UTF-8.
  string() {
    const s = this.s;
    let start = this.i;
    let bytes = '';
    for (;;) {
      PLAIN.lastIndex = this.i;
      PLAIN.test(s);
      this.i = PLAIN.lastIndex;
      if (this.i >= this.n) this.err(E.EOF_STRING);
      const c = s.charCodeAt(this.i);
      if (c === QUOTE) {
        bytes += s.slice(start, this.i);
        this.i++;
        break;
      }
      if (c === BACKSLASH) {
        bytes += s.slice(start, this.i);
        this.i++;
        bytes += this.escape();
        start = this.i;
      } else {
        this.i++;
        this.err(E.CONTROL);
      }
    }
    if (!NON_ASCII_BYTE.test(bytes)) return bytes;
    const text = utf8FromLatin1(bytes);
    if (text !== null) return text;
    // serde_json points at the first invalid byte, counting back from the closing quote.
    const bad = bytes.length - utf8ValidUpTo(bytes);
    const end = this.i;
    let lineStart = 0;
    let line = 1;
    const nl = s.lastIndexOf('\n', end - 1);
    lineStart = nl + 1;
    for (let at = s.indexOf('\n'); at !== -1 && at < lineStart; at = s.indexOf('\n', at + 1)) line++;
    const column = Math.max(0, end - lineStart - bad);
    throw new JsonSyntaxError(`${E.INVALID_UNICODE} at line ${line} column ${column}`);
  }

  // One escape after its backslash, as UTF-8 bytes in a latin1 string.
  escape() {
    if (this.i >= this.n) this.err(E.EOF_STRING);
    const c = this.s.charCodeAt(this.i++);
    switch (c) {
      case QUOTE: return '"';
      case BACKSLASH: return '\\';
      case 47: return '/';
      case 98: return '\b';
      case LOWER_F: return '\f';
      case LOWER_N: return '\n';
      case 114: return '\r';
      case LOWER_T: return '\t';
      case LOWER_U: return this.unicodeEscape();
      default: return this.err(E.INVALID_ESCAPE);
    }
  }

  hex4() {
    if (this.n - this.i < 4) {
      this.i = this.n;
      this.err(E.EOF_STRING);
    }
    const digits = this.s.slice(this.i, this.i + 4);
    this.i += 4;
    if (!HEX4.test(digits)) this.err(E.INVALID_ESCAPE);
    return parseInt(digits, 16);
  }

  unicodeEscape() {
    const n1 = this.hex4();
    if (n1 >= 0xdc00 && n1 <= 0xdfff) this.err(E.LONE_SURROGATE);
    if (n1 < 0xd800 || n1 > 0xdbff) return latin1FromText(String.fromCharCode(n1));
    for (const want of [BACKSLASH, LOWER_U]) {
      if (this.i >= this.n) this.err(E.EOF_STRING);
      const c = this.s.charCodeAt(this.i++);
      if (c !== want) this.err(E.END_OF_HEX);
    }
    const n2 = this.hex4();
    if (n2 < 0xdc00 || n2 > 0xdfff) this.err(E.LONE_SURROGATE);
    return latin1FromText(String.fromCharCode(n1, n2));
  }

  // A number, its sign (if any) read. Sets `spelling` when serde_json would write it
  // differently from `renderNumber`.
  number(neg) {
    const s = this.s;
    const start = this.i;
    NUMBER.lastIndex = start;
    if (!NUMBER.test(s)) return this.numberError();
    const end = NUMBER.lastIndex;
    const text = s.slice(start, end);
    // serde_json reads on where the pattern stopped only into an error: a digit after a
    // leading 0, a `.` after the integer part, an `e` before any exponent.
    const next = end < this.n ? s.charCodeAt(end) : 0;
    if (next === DOT || next === LOWER_E || next === UPPER_E || isDigit(next)) {
      let frac = false;
      let exp = false;
      for (let k = 0; k < text.length; k++) {
        const c = text.charCodeAt(k);
        if (c === DOT) frac = true;
        else if (c === LOWER_E || c === UPPER_E) exp = true;
      }
      if (!exp && (next === LOWER_E || next === UPPER_E || (!frac && (next === DOT || isDigit(next))))) {
        return this.numberError();
      }
    }
    this.i = end;
    return this.numberValue(neg, text, start);
  }

  numberValue(neg, text, start) {
    const r = serdeNumber(neg, text);
    if (r.errorAt >= 0) this.fail(E.OUT_OF_RANGE, start + r.errorAt);
    this.spelling = r.spelling;
    return r.value;
  }

  // A malformed number: finds serde_json's error (the sign, if any, already read).
  numberError() {
    const s = this.s;
    if (this.i >= this.n) this.err(E.EOF_VALUE);
    const c = s.charCodeAt(this.i++);
    if (c === 48) {
      if (isDigit(this.peekOrNull())) this.peekErr(E.INVALID_NUMBER);
    } else if (c >= 49 && c <= 57) {
      while (isDigit(this.peekOrNull())) this.i++;
    } else {
      this.err(E.INVALID_NUMBER);
    }
    let p = this.peekOrNull();
    if (p === DOT) {
      this.i++;
      let digits = 0;
      while (isDigit(this.peekOrNull())) { this.i++; digits++; }
      if (digits === 0) {
        if (this.i < this.n) this.peekErr(E.INVALID_NUMBER);
        this.peekErr(E.EOF_VALUE);
      }
      p = this.peekOrNull();
    }
    if (p === LOWER_E || p === UPPER_E) {
      this.i++;
      const q = this.peekOrNull();
      if (q === PLUS || q === MINUS) this.i++;
      if (this.i >= this.n) this.err(E.EOF_VALUE);
      const d = s.charCodeAt(this.i++);
      if (!isDigit(d)) this.err(E.INVALID_NUMBER);
    }
    // Not reached: the NUMBER pattern accepts every number serde_json accepts.
    return this.err(E.INVALID_NUMBER);
  }

  // serde_json's `ignore_value`: syntax only, no depth limit, strings unchecked for UTF-8 and
  // surrogates, numbers unchecked for range.
  skipValue() {
    const stack = [];
    let enclosing = 0;
    for (;;) {
      const c = this.ws();
      let frame = 0;
      switch (c) {
        case -1: this.peekErr(E.EOF_VALUE); break;
        case LOWER_N: this.i++; this.ident('ull'); break;
        case LOWER_T: this.i++; this.ident('rue'); break;
        case LOWER_F: this.i++; this.ident('alse'); break;
        case MINUS: this.i++; this.skipNumber(); break;
        case QUOTE: this.i++; this.skipString(); break;
        case OPEN_BRACKET:
        case OPEN_BRACE:
          if (enclosing !== 0) stack.push(enclosing);
          enclosing = 0;
          this.i++;
          frame = c;
          break;
        default:
          if (isDigit(c)) this.skipNumber();
          else this.peekErr(E.VALUE);
      }
      let acceptComma;
      if (frame !== 0) {
        acceptComma = false;
      } else if (enclosing !== 0) {
        acceptComma = true;
        frame = enclosing;
        enclosing = 0;
      } else if (stack.length > 0) {
        acceptComma = true;
        frame = stack.pop();
      } else {
        return;
      }
      for (;;) {
        const d = this.ws();
        if (d === COMMA && acceptComma) {
          this.i++;
          break;
        }
        if ((d === CLOSE_BRACKET && frame === OPEN_BRACKET) || (d === CLOSE_BRACE && frame === OPEN_BRACE)) {
          this.i++;
          if (stack.length === 0) return;
          frame = stack.pop();
          acceptComma = true;
          continue;
        }
        if (d === -1) this.peekErr(frame === OPEN_BRACKET ? E.EOF_LIST : E.EOF_OBJECT);
        if (acceptComma) this.peekErr(frame === OPEN_BRACKET ? E.LIST_COMMA_OR_END : E.OBJECT_COMMA_OR_END);
        break;
      }
      if (frame === OPEN_BRACE) {
        const d = this.ws();
        if (d === QUOTE) this.i++;
        else if (d === -1) this.peekErr(E.EOF_OBJECT);
        else this.peekErr(E.KEY_STRING);
        this.skipString();
        const k = this.ws();
        if (k === COLON) this.i++;
        else if (k === -1) this.peekErr(E.EOF_OBJECT);
        else this.peekErr(E.COLON);
      }
      enclosing = frame;
    }
  }

  skipString() {
    const s = this.s;
    for (;;) {
      PLAIN.lastIndex = this.i;
      PLAIN.test(s);
      this.i = PLAIN.lastIndex;
      if (this.i >= this.n) this.err(E.EOF_STRING);
      const c = s.charCodeAt(this.i);
      if (c === QUOTE) {
        this.i++;
        return;
      }
      if (c !== BACKSLASH) this.err(E.CONTROL);
      this.i++;
      if (this.i >= this.n) this.err(E.EOF_STRING);
      const e = s.charCodeAt(this.i++);
      if (e === LOWER_U) this.hex4();
      else if (!(e === QUOTE || e === BACKSLASH || e === 47 || e === 98 || e === LOWER_F
        || e === LOWER_N || e === 114 || e === LOWER_T)) this.err(E.INVALID_ESCAPE);
    }
  }

  skipNumber() {
    const s = this.s;
    const c = this.i < this.n ? s.charCodeAt(this.i++) : 0;
    if (c === 48) {
      if (isDigit(this.peekOrNull())) this.peekErr(E.INVALID_NUMBER);
    } else if (c >= 49 && c <= 57) {
      while (isDigit(this.peekOrNull())) this.i++;
    } else {
      this.err(E.INVALID_NUMBER);
    }
    let p = this.peekOrNull();
    if (p === DOT) {
      this.i++;
      let digits = 0;
      while (isDigit(this.peekOrNull())) { this.i++; digits++; }
      if (digits === 0) this.peekErr(E.INVALID_NUMBER);
      p = this.peekOrNull();
    }
    if (p === LOWER_E || p === UPPER_E) {
      this.i++;
      const q = this.peekOrNull();
      if (q === PLUS || q === MINUS) this.i++;
      const d = this.i < this.n ? s.charCodeAt(this.i++) : 0;
      if (!isDigit(d)) this.err(E.INVALID_NUMBER);
      while (isDigit(this.peekOrNull())) this.i++;
    }
  }

  // The end of the payload: whitespace only.
  end() {
    if (this.ws() !== -1) this.peekErr(E.TRAILING);
  }

  // The Rust SDK's `json_fields` picker at the top level.
  pick(names) {
    const c = this.ws();
    this.spelling = null;
    switch (c) {
      case -1: return this.peekErr(E.EOF_VALUE);
      case LOWER_N: this.i++; this.ident('ull'); return { kind: 'null' };
      case LOWER_T: this.i++; this.ident('rue'); return { kind: 'a boolean' };
      case LOWER_F: this.i++; this.ident('alse'); return { kind: 'a boolean' };
      case MINUS: this.i++; this.number(true); return { kind: 'a number' };
      case QUOTE: this.i++; this.string(); return { kind: 'a string' };
      case OPEN_BRACKET: {
        this.i++;
        for (let first = true; ; first = false) {
          let d = this.ws();
          if (d === -1) this.peekErr(E.EOF_LIST);
          if (d === CLOSE_BRACKET) break;
          if (!first) {
            if (d !== COMMA) this.peekErr(E.LIST_COMMA_OR_END);
            this.i++;
            d = this.ws();
            if (d === CLOSE_BRACKET) this.peekErr(E.TRAILING_COMMA);
            if (d === -1) this.peekErr(E.EOF_VALUE);
          }
          this.skipValue();
        }
        this.i++;
        return { kind: 'an array' };
      }
      case OPEN_BRACE: {
        this.i++;
        const out = {};
        let order = null;
        for (let first = true; ; first = false) {
          const key = this.key(first);
          if (key === undefined) break;
          if (names.indexOf(key) < 0) {
            this.skipValue();
            continue;
          }
          if (order === null && INDEX_KEY.test(key)) order = Object.keys(out);
          if (order !== null && !hasOwn.call(out, key)) order.push(key);
          const v = this.value(127);
          setOwn(out, key, v);
          if (this.spelling !== null) remember(out, key, v, this.spelling);
          else forget(out, key);
        }
        this.i++;
        if (order !== null) {
          remembered = true;
          KEY_ORDER.set(out, order);
        }
        return { object: out };
      }
      default:
        if (isDigit(c)) {
          this.number(false);
          return { kind: 'a number' };
        }
        return this.peekErr(E.VALUE);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading payloads
//
// The engine's JSON.parse accepts exactly the texts serde_json accepts, with the same values,
// except for what `exactNeeded` and `literalOk` look for: numbers whose serde_json value or
// spelling differs (integral floats such as `82.0`, exponents, more than 15 digits, beyond
// f64), escaped surrogates (serde_json refuses unpaired ones), keys that look like array
// indices (JavaScript objects put them first), more than 127 levels of nesting (serde_json's
// limit). Payloads with any of these, and payloads JSON.parse refuses, go through the Reader.

const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;
const NUMBER_RISK = /[0-9][eE]|[0-9.]{16}|\.0+(?![0-9])/;
const SIMPLE_NUMBER = /^-?[0-9]+(?:\.[0-9]*[1-9][0-9]*)?$/;
const NEEDS_QUOTING = /["\\\x00-\x1f]/;

// True when both readers give `literal` the same value and serde_json writes that value as
// `renderNumber` does: no exponent, at most 15 digits, not a fraction of zeros.
function simpleLiteral(literal) {
  if (!SIMPLE_NUMBER.test(literal)) return false;
  let digits = literal.length;
  if (literal.charCodeAt(0) === MINUS) digits--;
  if (literal.indexOf('.') >= 0) digits--;
  return digits <= 15;
}

// The quoted key `literalOk` looks for, kept for the last name asked (a filter asks for the
// same one every record); null when the name would need escaping.
let lastName = null;
let lastKey = null;

function isJsonSpace(c) {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

// For a number JSON.parse found under key `name` of the top-level object: true when the
// payload's literal for it is simple (what `simpleLiteral` accepts). Needs the key once and no
// backslash in the payload, so every quote is structural. JSON.parse accepted the payload, so
// after the key come blanks, `:`, blanks and a JSON number; it is read by hand, which costs
// QuickJS a fraction of a regular expression's match.
function literalOk(text, name) {
  if (name !== lastName) {
    lastName = name;
    lastKey = NEEDS_QUOTING.test(name) ? null : `"${name}"`;
  }
  const key = lastKey;
  if (key === null || text.indexOf('\\') >= 0) return false;
  const at = text.indexOf(key);
  if (at < 0 || at !== text.lastIndexOf(key)) return false;
  let i = at + key.length;
  let c = text.charCodeAt(i);
  while (isJsonSpace(c)) c = text.charCodeAt(++i);
  if (c !== COLON) return false;
  c = text.charCodeAt(++i);
  while (isJsonSpace(c)) c = text.charCodeAt(++i);
  if (c === MINUS) c = text.charCodeAt(++i);
  let digits = 0;
  while (c >= 48 && c <= 57) {
    digits++;
    c = text.charCodeAt(++i);
  }
  if (digits === 0) return false;
  if (c === DOT) { // simple only with a digit other than 0 in the fraction
    let nonZero = false;
    c = text.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      if (c !== 48) nonZero = true;
      digits++;
      c = text.charCodeAt(++i);
    }
    if (!nonZero) return false;
  }
  if (c === 101 || c === 69) return false; // an exponent
  return digits <= 15;
}

const hasWellFormed = typeof String.prototype.isWellFormed === 'function';
const NUMBERS = 1;
const EXACT = 2;

// Walks a JSON.parse result: EXACT when something in it needs the exact reader (a string or
// key with an unpaired surrogate, which only an escape can make; a key that looks like an
// array index, which JavaScript would move first; nesting beyond serde_json's limit), NUMBERS
// when it holds numbers, whose literals need a look.
function scan(v, depth) {
  if (typeof v !== 'object' || v === null) {
    if (typeof v === 'number') return NUMBERS;
    if (typeof v === 'string' && hasWellFormed && !v.isWellFormed()) return EXACT;
    return 0;
  }
  if (depth === 0) return EXACT;
  let flags = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'string') {
        if (hasWellFormed && !x.isWellFormed()) return EXACT;
      } else if (typeof x === 'number') {
        flags = NUMBERS;
      } else if (typeof x === 'object' && x !== null) {
        const f = scan(x, depth - 1);
        if (f === EXACT) return EXACT;
        flags |= f;
      }
    }
    return flags;
  }
  const keys = Object.keys(v);
  if (keys.length > 0) {
    // JavaScript lists keys that look like array indices first.
    const c = keys[0].charCodeAt(0);
    if (c >= 48 && c <= 57 && INDEX_KEY.test(keys[0])) return EXACT;
  }
  const values = Object.values(v);
  for (let i = 0; i < keys.length; i++) {
    if (hasWellFormed && !keys[i].isWellFormed()) return EXACT;
    const x = values[i];
    if (typeof x === 'string') {
      if (hasWellFormed && !x.isWellFormed()) return EXACT;
    } else if (typeof x === 'number') {
      flags = NUMBERS;
    } else if (typeof x === 'object' && x !== null) {
      const f = scan(x, depth - 1);
      if (f === EXACT) return EXACT;
      flags |= f;
    }
  }
  return flags;
}

// Whether JSON.parse hands a reviver each number's source text (JSON.parse source text
// access; QuickJS has it): then numbers are read from their literals as serde_json reads them.
const SOURCE_ACCESS = (() => {
  let ok = false;
  try {
    JSON.parse('1.0', (k, v, context) => {
      ok = context !== undefined && context !== null && context.source === '1.0';
      return v;
    });
  } catch {
    ok = false;
  }
  return ok;
})();

const OUT_OF_RANGE = {};

// The reviver that reads numbers as serde_json does and remembers their spelling.
function serdeNumbers(key, value, context) {
  if (typeof value !== 'number') return value;
  const literal = context.source;
  if (simpleLiteral(literal)) return value;
  const neg = literal.charCodeAt(0) === MINUS;
  const r = serdeNumber(neg, neg ? literal.slice(1) : literal);
  if (r.errorAt >= 0) throw OUT_OF_RANGE;
  if (r.spelling !== null) remember(this, Array.isArray(this) ? Number(key) : key, r.value, r.spelling);
  return r.value;
}

function tryParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function fastValue(text) {
  if (text === null) return undefined;
  const v = tryParse(text);
  if (v === undefined) return undefined;
  if (!hasWellFormed && text.indexOf('\\u') >= 0 && ESCAPED_SURROGATE.test(text)) return undefined;
  const flags = scan(v, 127);
  if (flags === 0) return v;
  if (flags === EXACT) return undefined;
  // Numbers: read again with their literals, or leave risky ones to the exact reader.
  if (SOURCE_ACCESS) {
    try {
      return JSON.parse(text, serdeNumbers);
    } catch {
      return undefined;
    }
  }
  return NUMBER_RISK.test(text) ? undefined : v;
}

// Picks the named fields of a JSON.parse result (the top-level object): the picked object, or
// undefined when a named value needs the exact reader.
function pickParsed(v, text, names) {
  const out = {};
  if (names.length === 1) {
    const name = names[0];
    const x = v[name];
    // JSON values are never undefined or functions: anything else found is the payload's.
    if (x === undefined || ((typeof x === 'function' || name === '__proto__') && !hasOwn.call(v, name))) return out;
    return pickOne(out, x, text, name) ? out : undefined;
  }
  // Several names: in the payload's order, as serde_json meets them.
  for (const name in v) {
    if (names.indexOf(name) >= 0 && hasOwn.call(v, name) && !pickOne(out, v[name], text, name)) return undefined;
  }
  return out;
}

function pickOne(out, x, text, name) {
  switch (typeof x) {
    case 'string':
      if (hasWellFormed ? !x.isWellFormed() : text.indexOf('\\u') >= 0 && ESCAPED_SURROGATE.test(text)) return false;
      break;
    case 'number':
      if (!literalOk(text, name)) return false;
      break;
    case 'boolean':
      break;
    default:
      if (x !== null) return false;
  }
  const c = name.charCodeAt(0);
  if (c >= 48 && c <= 57 && INDEX_KEY.test(name)) return false;
  if (name === '__proto__') setOwn(out, name, x);
  else out[name] = x;
  return true;
}

// What a payload that is not an object is, for the error; undefined when the exact reader
// must judge it.
function fastKind(v, text) {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string' && (hasWellFormed ? !v.isWellFormed() : ESCAPED_SURROGATE.test(text))) return undefined;
  if (typeof v === 'number' && NUMBER_RISK.test(text)) return undefined;
  return kindOf(v);
}

let exactOnly = false;

/** For the SDK's tests: read every payload with the exact reader (no JSON.parse). */
export function useExactReaderOnly(on) {
  exactOnly = Boolean(on);
}

/**
 * serde_json's `from_slice::<Value>` of a payload: `latin` holds its bytes (one char per
 * byte), `text` the same decoded as UTF-8 (null when it is not UTF-8). Throws JsonSyntaxError.
 */
export function parseValue(latin, text) {
  const fast = exactOnly ? undefined : fastValue(text);
  if (fast !== undefined) return fast;
  const r = new Reader(latin);
  const v = r.value(128);
  r.end();
  return v;
}

/**
 * The Rust SDK's `json_fields`: `{object}` with only the named fields (the others checked as
 * syntax only), or `{kind}` naming what the payload is instead of an object.
 */
export function pickFields(latin, text, names) {
  if (text !== null && !exactOnly) {
    const v = tryParse(text);
    if (v !== undefined) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const picked = pickParsed(v, text, names);
        if (picked !== undefined) return { object: picked };
      } else {
        const kind = fastKind(v, text);
        if (kind !== undefined) return { kind };
      }
    }
  }
  const r = new Reader(latin);
  const picked = r.pick(names);
  r.end();
  return picked;
}

/** A short name for the JSON type of a value, for error messages ("an array", "null"). */
export function kindOf(v) {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'boolean': return 'a boolean';
    case 'number':
    case 'bigint': return 'a number';
    case 'string': return 'a string';
    default: return Array.isArray(v) ? 'an array' : 'an object';
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const hasOwn = Object.prototype.hasOwnProperty;

/** Sets an own enumerable property, `__proto__` included. */
export function setOwn(obj, key, value) {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function keysOf(obj) {
  const keys = Object.keys(obj);
  const order = KEY_ORDER.get(obj);
  if (order === undefined) return keys;
  const seen = new Set();
  const out = [];
  for (const k of order) {
    if (hasOwn.call(obj, k) && !seen.has(k)) {
      seen.add(k);
      out.push(k);
    }
  }
  for (const k of keys) if (!seen.has(k)) out.push(k);
  return out;
}

/**
 * A value as serde_json writes it (compact). Values this module parsed keep their numbers'
 * spelling and their keys' order; other values follow JSON.stringify's rules for what JSON
 * cannot hold (undefined and functions are left out of objects and become null in arrays,
 * `toJSON` is called), with numbers written as serde_json writes an integer or an f64.
 */
export function stringify(value) {
  if (nativeOk(value, 64)) {
    const s = JSON.stringify(value);
    if (s !== undefined) return s;
  }
  const parts = [];
  write(value, parts, undefined, undefined, new Set());
  return parts.join('');
}

// True when JSON.stringify writes `v` as serde_json would: no remembered spellings or key
// orders, no toJSON, no BigInt, no -0, and numbers that both write alike (safe integers, and
// fractions from 1e-5 up, where both use plain notation with the shortest digits).
function nativeOk(v, depth) {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      if (Number.isInteger(v)) return v <= MAX_SAFE && v >= -MAX_SAFE && !(v === 0 && 1 / v < 0);
      return !Number.isFinite(v) || v >= 1e-5 || v <= -1e-5;
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null) return true;
  if (depth === 0 || typeof v.toJSON === 'function' || (remembered && (SPELLING.has(v) || KEY_ORDER.has(v)))) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!nativeOk(v[i], depth - 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  // Object.values: no lookup by key (which costs a string hash each in QuickJS).
  const values = Object.values(v);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (typeof x === 'string' || typeof x === 'boolean') continue;
    if (!nativeOk(x, depth - 1)) return false;
  }
  return true;
}

function write(v, out, container, key, seen) {
  if (v !== null && typeof v === 'object' && typeof v.toJSON === 'function') v = v.toJSON(key === undefined ? '' : String(key));
  switch (typeof v) {
    case 'string': out.push(JSON.stringify(v)); return true;
    case 'number': out.push(numberText(container, key, v)); return true;
    case 'boolean': out.push(v ? 'true' : 'false'); return true;
    case 'bigint': out.push(v.toString()); return true;
    case 'undefined':
    case 'function':
    case 'symbol': return false;
    default: break;
  }
  if (v === null) {
    out.push('null');
    return true;
  }
  if (v instanceof Number || v instanceof String || v instanceof Boolean) return write(v.valueOf(), out, undefined, undefined, seen);
  if (seen.has(v)) throw new TypeError('cannot write a cyclic structure as JSON');
  seen.add(v);
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(',');
      if (!write(v[i], out, v, i, seen)) out.push('null');
    }
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const k of keysOf(v)) {
      const mark = out.length;
      out.push(first ? '' : ',', JSON.stringify(k), ':');
      if (write(v[k], out, v, k, seen)) first = false;
      else out.length = mark;
    }
    out.push('}');
  }
  seen.delete(v);
  return true;
}
