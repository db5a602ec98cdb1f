// owner-enrich-js: joins the vehicle owner's row onto each record, by licence plate.
//
// The JavaScript port of plugins/owner-enrich. This is the seed's Redshift join (`select
// first_name, last_name, licenseplate, myphone from driver_data where licenseplate = ...`)
// done against a host lookup table. A plate that is not in the table is an error for that
// record, naming the plate, so unknown vehicles reach the rule's error action instead of
// vanishing.
//
// Config:
// - `table` (default `drivers`): the lookup table to join.
// - `key_field` (default `licensePlate`): the payload field holding the key.
// - `columns` (default `first_name,last_name,myphone`): the table columns to copy, or `*` for
//   every column except the key.
// - `prefix` (default empty): put before each copied column's name.
//
// A copied column never silently overwrites a payload field: that is a `field-conflict` error
// (set `prefix` to keep both).

import { HostError, InitError, RecordError, exportTransformer, json } from 'weir:sdk';

const { debugStr } = json;
const hasOwn = Object.prototype.hasOwnProperty;

export class OwnerEnrich {
  constructor(host) {
    const raw = host.configOr('columns', 'first_name,last_name,myphone');
    if (json.rustTrim(raw) === '*') {
      // Every column except the key.
      this.columns = null;
    } else {
      const columns = raw.split(',').map((c) => json.rustTrim(c)).filter((c) => c !== '');
      if (columns.length === 0) throw InitError.config('columns', 'names no column');
      this.columns = columns;
    }
    this.table = host.configOr('table', 'drivers');
    this.keyField = host.configOr('key_field', 'licensePlate');
    this.prefix = host.configOr('prefix', '');
  }

  transform(record, host) {
    const payload = record.jsonObject();
    const key = json.stringField(payload, this.keyField);
    let row;
    try {
      row = host.lookup(this.table, key);
    } catch (e) {
      if (e instanceof HostError) throw new RecordError('lookup-failed', e.message);
      throw e;
    }
    if (row === undefined) {
      throw new RecordError('unknown-key', `${this.keyField} ${debugStr(key)} is not in table ${debugStr(this.table)}`);
    }
    for (const [column, value] of this.selected(row)) {
      const name = `${this.prefix}${column}`;
      if (hasOwn.call(payload, name)) {
        throw new RecordError(
          'field-conflict',
          `joined column ${debugStr(column)} would overwrite payload field ${debugStr(name)}; set \`prefix\``,
        );
      }
      json.setOwn(payload, name, value);
    }
    record.setJson(payload);
    return [record];
  }

  // The [column, value] pairs to copy, in configured order.
  selected(row) {
    if (this.columns === null) return row.columns().filter(([c]) => c !== this.keyField);
    return this.columns.map((c) => {
      const value = row.get(c);
      if (value === undefined) {
        throw new RecordError('unknown-column', `table ${debugStr(this.table)} has no column ${debugStr(c)}`);
      }
      return [c, value];
    });
  }
}

exportTransformer(OwnerEnrich);
