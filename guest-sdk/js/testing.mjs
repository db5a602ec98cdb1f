// Test a Weir JavaScript plugin with `node --test`, without WebAssembly.
//
// MockHost stands in for the Weir host: configuration values, in-memory lookup tables,
// captured log lines and a captured outbox. Harness keeps one plugin instance across batches,
// as the host keeps one component instance, and runs it through the SDK's batch drivers: each
// batch is packed as the host packs it and the plugin's output is read back from the packed
// form, so a passing test exercises the code that runs in the component.
//
// Importing this module also lets `import ... from "weir:sdk"` in plugin.js resolve (see
// hooks.mjs), so a test imports it first and the plugin after:
//
//   const { Harness, MockHost, Record, Keep, Drop } = await import('<sdk>/testing.mjs');
//   const { SpeedLimit } = await import('./plugin.js');

import './hooks.mjs';
import { readFileSync } from 'node:fs';
import {
  Host, RecordError, Row, StageCell, exported, makeConsole, packBatch, runEmit, runFilter,
  runTransform, unpackBatch,
} from './sdk.mjs';

export * from './sdk.mjs';

/** A filter's verdicts, as the Harness returns them. */
export const Keep = Object.freeze({ kind: 'keep' });
export const Drop = Object.freeze({ kind: 'drop' });

/** A failed record's result: `{kind: 'failed', error}` (error: a RecordError). */
export function Failed(error) {
  return { kind: 'failed', error };
}

/** A transformer's result for one record: `{kind: 'records', records}`. */
export function Records(records) {
  return { kind: 'records', records };
}

/** One side effect an emitter asked for. */
export const OutboxCall = Object.freeze({
  publish: (topic, payload, qos) => ({ kind: 'publish', topic, payload, qos }),
  putRecord: (stream, partitionKey, data) => ({ kind: 'put-record', stream, partitionKey, data }),
  notify: (channel, target, message) => ({ kind: 'notify', channel, target, message }),
});

const GRANTS = ['log', 'config', 'lookup', 'outbox'];

function refusal(message) {
  // What the component bindings throw for a `result` error: the error's payload is the string.
  const e = new Error(message);
  e.payload = message;
  return e;
}

/** Parses CSV text (RFC 4180: quotes, doubled quotes, CRLF) into rows of fields. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let fieldText = '';
  let quoted = false;
  let inQuotes = false;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          fieldText += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        fieldText += c;
      }
      continue;
    }
    if (c === '"' && fieldText === '' && !quoted) {
      inQuotes = true;
      quoted = true;
      any = true;
    } else if (c === ',') {
      row.push(fieldText);
      fieldText = '';
      quoted = false;
      any = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (any || fieldText !== '' || row.length > 0) {
        row.push(fieldText);
        rows.push(row);
      }
      row = [];
      fieldText = '';
      quoted = false;
      any = false;
    } else {
      fieldText += c;
      any = true;
    }
  }
  if (inQuotes) throw new Error('CSV: a quoted field is not closed');
  if (any || fieldText !== '' || row.length > 0) {
    row.push(fieldText);
    rows.push(row);
  }
  return rows;
}

/** An in-memory stand-in for the Weir host. Every `with...` method returns the host. */
export class MockHost {
  #config = new Map();
  #tables = new Map();
  #logs = [];
  #outbox = [];
  #refuse = null;
  #grants;

  /** `options.grants`: the capabilities the plugin gets (default: all four). */
  constructor(options = {}) {
    this.#grants = new Set(options.grants ?? GRANTS);
    for (const g of this.#grants) {
      if (!GRANTS.includes(g)) throw new Error(`unknown grant ${JSON.stringify(g)} (expected one of: ${GRANTS.join(', ')})`);
    }
  }

  /** Adds a configuration value. */
  withConfig(key, value) {
    this.#config.set(String(key), String(value));
    return this;
  }

  /**
   * Adds a table keyed by `keyColumn`. Rows are Row objects, arrays of [column, value] pairs
   * or plain objects; as in the host, the first row with a given key wins.
   */
  withTable(name, keyColumn, rows) {
    const table = new Map();
    for (const row of rows) {
      let pairs;
      if (row instanceof Row) pairs = row.pairs;
      else if (Array.isArray(row)) pairs = row.map(([c, v]) => [String(c), String(v)]);
      else pairs = Object.entries(row).map(([c, v]) => [c, String(v)]);
      const key = new Row(pairs).get(keyColumn);
      if (key !== undefined && !table.has(key)) table.set(key, pairs);
    }
    this.#tables.set(String(name), table);
    return this;
  }

  /** Adds a table from CSV text with a header line, keyed by `keyColumn`. Throws on bad CSV. */
  withCsvTable(name, keyColumn, csvText) {
    const [headers, ...records] = parseCsv(csvText);
    if (headers === undefined) throw new Error('CSV header: the text is empty');
    if (!headers.includes(keyColumn)) throw new Error(`CSV has no column ${JSON.stringify(keyColumn)}`);
    const rows = records.map((fields, i) => {
      if (fields.length !== headers.length) {
        throw new Error(`CSV row ${i + 2}: found record with ${fields.length} fields, but the previous record has ${headers.length} fields`);
      }
      return headers.map((h, k) => [h, fields[k]]);
    });
    return this.withTable(name, keyColumn, rows);
  }

  /** Adds a table from a CSV file, keyed by `keyColumn`. */
  withCsvFile(name, keyColumn, path) {
    let text;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${path}: ${e.message}`);
    }
    return this.withCsvTable(name, keyColumn, text);
  }

  /** Makes every outbox call fail with `reason`, to test an emitter's failure path. */
  refusingOutbox(reason) {
    this.#refuse = String(reason);
    return this;
  }

  /** Every log line written so far: [level, message] pairs. */
  logs() {
    return this.#logs.slice();
  }

  /** Every outbox call made so far, in call order (see OutboxCall). */
  outbox() {
    return this.#outbox.slice();
  }

  /** The [channel, target, message] of every notify call so far. */
  notifications() {
    return this.#outbox.filter((c) => c.kind === 'notify').map((c) => [c.channel, c.target, c.message]);
  }

  /** Forgets captured logs and outbox calls. */
  clear() {
    this.#logs.length = 0;
    this.#outbox.length = 0;
  }

  #record(call) {
    if (this.#refuse !== null) throw refusal(this.#refuse);
    this.#outbox.push(call);
  }

  /**
   * The host's imports as the component sees them (what the SDK's Host wraps): only the
   * granted ones are there.
   */
  imports() {
    const raw = {};
    const g = this.#grants;
    if (g.has('log')) {
      raw.log = (level, message) => {
        this.#logs.push([level, message]);
      };
    }
    if (g.has('config')) {
      raw.configGet = (key) => this.#config.get(key);
      raw.configKeys = () => [...this.#config.keys()].sort();
    }
    if (g.has('lookup')) {
      raw.lookup = (table, key) => {
        const t = this.#tables.get(table);
        if (t === undefined) throw refusal(`no lookup table named ${JSON.stringify(table)}`);
        const row = t.get(key);
        return row === undefined ? undefined : row.map(([c, v]) => [c, v]);
      };
    }
    if (g.has('outbox')) {
      raw.publish = (topic, payload, qos) => {
        if (qos > 1) throw refusal(`qos ${qos} is not supported (0 or 1)`);
        this.#record(OutboxCall.publish(topic, Uint8Array.from(payload), qos));
      };
      raw.putRecord = (stream, partitionKey, data) => {
        this.#record(OutboxCall.putRecord(stream, partitionKey, Uint8Array.from(data)));
      };
      raw.notify = (channel, target, message) => {
        this.#record(OutboxCall.notify(channel, target, message));
      };
    }
    return raw;
  }
}

// The shape of the lists the component bindings hand over: QuickJS gives plain arrays and
// numbers, StarlingMonkey typed arrays and BigInts.
function shapeBatch(batch, shape) {
  if (shape === 'starlingmonkey') return batch;
  return {
    data: batch.data,
    lengths: Array.from(batch.lengths),
    attributeLengths: Array.from(batch.attributeLengths),
    arrivalTimestampsMs: Array.from(batch.arrivalTimestampsMs, (t) => Number(t)),
  };
}

function check(ok, what) {
  if (!ok) throw new Error(`the SDK produced a malformed output: ${what}`);
}

/**
 * One plugin instance plus a MockHost, kept across batches like a component instance.
 *
 * `new Harness(PluginClass, host)`, or `new Harness(host)` for the class plugin.js exported.
 * `options.shape`: 'quickjs' (default) or 'starlingmonkey', the backend whose batch shape to
 * hand to the SDK.
 */
export class Harness {
  constructor(Plugin, host = new MockHost(), options = {}) {
    if (Plugin instanceof MockHost) {
      options = host instanceof MockHost ? {} : host;
      host = Plugin;
      Plugin = undefined;
    }
    if (Plugin === undefined) {
      const e = exported();
      if (e === null) throw new Error('no plugin is exported: import plugin.js first, or pass the class');
      Plugin = e.Plugin;
    }
    this.host = host;
    this.shape = options.shape ?? 'quickjs';
    this.cell = new StageCell(Plugin);
  }

  #run(fn, records) {
    const raw = this.host.imports();
    const batch = shapeBatch(packBatch(records), this.shape);
    const saved = globalThis.console;
    globalThis.console = makeConsole(raw.log);
    try {
      return fn(this.cell, batch, new Host(raw));
    } catch (e) {
      // A plugin bug reaches the test; as in a component, the next batch builds the plugin
      // afresh.
      this.cell.reset();
      throw e;
    } finally {
      globalThis.console = saved;
    }
  }

  /** Runs one filter batch: Keep, Drop or Failed(error) per record. */
  filter(records) {
    const out = this.#run(runFilter, records);
    check(out.verdicts.length === records.length, 'one verdict per record');
    const errors = new Map(out.failures.map((f) => [f.index, f.error]));
    check(errors.size === out.failures.length, 'each failure index once');
    return Array.from(out.verdicts, (v, i) => {
      if (v === 0) return Keep;
      if (v === 1) return Drop;
      check(v === 2 && errors.has(i), `verdict ${v} of record ${i}`);
      const e = errors.get(i);
      return Failed(new RecordError(e.code, e.message));
    });
  }

  /** Runs one transformer batch: Records(records) or Failed(error) per input record. */
  transform(records) {
    const out = this.#run(runTransform, records);
    check(out.counts.length === records.length, 'one count per record');
    const made = unpackBatch(out.records);
    const total = Array.from(out.counts).reduce((a, b) => a + b, 0);
    check(total === made.length, 'counts add up to the records');
    const errors = new Map(out.failures.map((f) => [f.index, f.error]));
    let at = 0;
    return Array.from(out.counts, (n, i) => {
      if (errors.has(i)) {
        check(n === 0, `failed record ${i} has no output`);
        const e = errors.get(i);
        return Failed(new RecordError(e.code, e.message));
      }
      const rs = made.slice(at, at + n).map((r) => r.clone());
      at += n;
      return Records(rs);
    });
  }

  /** Runs one emitter batch: the failures, as {index, error, retryable}. */
  emit(records) {
    const out = this.#run(runEmit, records);
    return out.map((f) => ({ index: f.index, error: new RecordError(f.error.code, f.error.message), retryable: f.retryable }));
  }
}

