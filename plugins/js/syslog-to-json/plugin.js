// syslog-to-json-js: syslog lines to JSON, like Firehose's syslog blueprint.
//
// The JavaScript port of plugins/syslog-to-json (its parser is plugins/lib/log-formats'
// syslog module). Understands both formats in use:
// - RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, the `<PRI>` being optional as in
//   files written by syslog daemons. Output: `timestamp`, `hostname`, `program`, `processId`
//   (null when absent), `message`, plus `facility` and `severity` first when `<PRI>` is present.
// - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`. Output: `facility`, `severity`,
//   `version`, `timestamp`, `hostname`, `appName`, `processId`, `messageId`, `structuredData`
//   (raw text), `message`; the nil value `-` becomes null.
//
// A payload with several lines becomes several records; a malformed line fails its record with
// the line named. Try it on the sample input (each input line is one record, so `--raw`):
//
//   weir plugin test syslog-to-json-js.wasm --raw --input plugins/syslog-to-json/examples/records.log

import { exportTransformer, json } from 'weir:sdk';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// A well-formed RFC 3164 timestamp at the start of a line: the common case, checked at once.
// The day is two digits or one after ASCII White_Space (Rust's `trim_start` strips it).
const STAMP = /^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [\t-\r 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}/;
const CLOCK = /^[0-9]{2}:[0-9]{2}:[0-9]{2}$/;
const DIGITS = /^[0-9]*$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** Stateless. */
export class SyslogToJson {
  transform(record) {
    return json.linesToJson(record, parseLine);
  }
}

/**
 * Parses one syslog line in either format: the fields as an object, or an Error saying what
 * is wrong.
 */
export function parseLine(line) {
  const [pri, rest] = splitPri(line);
  const out = {};
  if (pri !== null) {
    out.facility = Math.floor(pri / 8);
    out.severity = pri % 8;
  }
  if (pri !== null && rest.charCodeAt(0) === 49 && rest.charCodeAt(1) === 32) parse5424(rest.slice(2), out);
  else parse3164(rest, out);
  return out;
}

// `<PRI>` is 1 to 3 digits, at most 191 (facility 23, severity 7).
function splitPri(line) {
  if (line.charCodeAt(0) !== 60) return [null, line];
  const end = line.indexOf('>', 1);
  if (end < 0) throw new Error('`<PRI>` has no closing `>`');
  const digits = line.slice(1, end);
  let pri = digits.length >= 1 && digits.length <= 3 ? 0 : -1;
  for (let k = 0; pri >= 0 && k < digits.length; k++) {
    const c = digits.charCodeAt(k);
    pri = c >= 48 && c <= 57 ? pri * 10 + (c - 48) : -1;
  }
  if (pri < 0 || pri > 191) throw new Error(`priority ${json.debugStr(digits)} is not a number from 0 to 191`);
  return [pri, line.slice(end + 1)];
}

// The first `bytes` bytes of `text` (UTF-8), or null when it is shorter or a character
// straddles that point (Rust's `str::get(..bytes)`).
function bytePrefix(text, bytes) {
  let size = 0;
  for (let i = 0; i < text.length; i++) {
    if (size === bytes) return text.slice(0, i);
    const c = text.charCodeAt(i);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xd800 && c <= 0xdbff) { size += 4; i++; }
    else size += 3;
    if (size > bytes) return null;
  }
  return size === bytes ? text : null;
}

function parse3164(rest, out) {
  // "Mmm dd hh:mm:ss" is 15 bytes, the day padded with a space.
  let stamp;
  if (STAMP.test(rest)) {
    stamp = rest.slice(0, 15);
  } else {
    stamp = bytePrefix(rest, 15);
    if (stamp === null) throw new Error('line is too short for an RFC 3164 timestamp');
    // What STAMP checks, as the Rust parser words it; a timestamp with anything but ASCII in
    // it is never well-formed.
    const day = stamp.slice(4, 6);
    const ok = !NON_ASCII.test(stamp)
      && MONTHS.includes(stamp.slice(0, 3))
      && stamp[3] === ' '
      && DIGITS.test(json.rustTrimStart(day))
      && json.rustTrim(day) !== ''
      && stamp[6] === ' '
      && CLOCK.test(stamp.slice(7, 15));
    if (!ok) throw new Error(`timestamp ${json.debugStr(stamp)} is not \`Mmm dd hh:mm:ss\``);
  }
  let after = rest.slice(stamp.length);
  if (after.charCodeAt(0) !== 32) throw new Error('no hostname after the timestamp');
  after = after.slice(1);
  const space = after.indexOf(' ');
  if (space < 0) throw new Error('no tag after the hostname');
  const host = after.slice(0, space);
  const tail = after.slice(space + 1);
  if (host === '') throw new Error('hostname is empty');
  const colon = tail.indexOf(':');
  const tag = colon < 0 ? '' : tail.slice(0, colon);
  if (colon < 0 || tag.includes(' ') || tag === '') throw new Error('no `TAG:` before the message');
  const message = json.rustTrimStart(tail.slice(colon + 1));
  let program = tag;
  let pid = null;
  const open = tag.indexOf('[');
  if (open >= 0) {
    program = tag.slice(0, open);
    const p = tag.slice(open + 1);
    if (!p.endsWith(']')) throw new Error('process id has no closing `]`');
    pid = p.slice(0, -1);
  }
  out.timestamp = stamp;
  out.hostname = host;
  out.program = program;
  out.processId = pid;
  out.message = message;
}

function parse5424(rest, out) {
  // Rust's `splitn(6, ' ')`: five fields, then the remainder.
  const fields = [];
  let from = 0;
  while (fields.length < 5) {
    const space = rest.indexOf(' ', from);
    if (space < 0) break;
    fields.push(rest.slice(from, space));
    from = space + 1;
  }
  fields.push(rest.slice(from));
  let at = 0;
  const next = (what) => {
    const v = fields[at++];
    if (v === undefined || v === '') throw new Error(`${what} is missing`);
    return v === '-' ? null : v;
  };
  const timestamp = next('timestamp');
  const hostname = next('hostname');
  const app = next('app-name');
  const procid = next('procid');
  const msgid = next('msgid');
  const tail = fields[at];
  if (tail === undefined) throw new Error('structured data is missing');
  const [sd, msg] = splitStructuredData(tail);
  out.version = 1;
  out.timestamp = timestamp;
  out.hostname = hostname;
  out.appName = app;
  out.processId = procid;
  out.messageId = msgid;
  out.structuredData = sd;
  const message = msg.startsWith('\ufeff') ? msg.slice(1) : msg;
  out.message = message === '' ? null : message;
}

// Splits `-` or a run of `[...]` elements (quoted values may hold `\]` and `\"`) from the
// message that follows.
function splitStructuredData(tail) {
  if (tail.startsWith('-')) {
    const msg = tail.slice(1);
    return [null, msg.startsWith(' ') ? msg.slice(1) : msg];
  }
  if (!tail.startsWith('[')) throw new Error('structured data must be `-` or start with `[`');
  let inElem = false;
  let inQuotes = false;
  for (let i = 0; i < tail.length; i++) {
    const c = tail[i];
    if (!inElem) {
      if (c === '[') inElem = true;
      else throw new Error('text between structured data elements');
    } else if (c === '\\' && inQuotes) {
      i++;
    } else if (c === '"') {
      inQuotes = !inQuotes;
    } else if (c === ']' && !inQuotes) {
      inElem = false;
      if (tail[i + 1] !== '[') {
        const msg = tail.slice(i + 1);
        return [tail.slice(0, i + 1), msg.startsWith(' ') ? msg.slice(1) : msg];
      }
    }
  }
  throw new Error('structured data element has no closing `]`');
}

exportTransformer(SyslogToJson);
