// speed-limit-js: keeps records whose `speed` exceeds a configured limit.
//
// The JavaScript port of plugins/speed-limit. The seed's Spark job kept `speed > 75`. Devices
// send speed as a number or, like the seed's Raspberry Pi, as a numeric string; both are
// accepted. A record without a usable speed is an error for that record (it reaches the
// rule's error action), never a silent drop.
//
// Config: `limit` (default 75), `field` (default `speed`).

import { InitError, exportFilter, json } from 'weir:sdk';

export class SpeedLimit {
  constructor(host) {
    const limit = host.configParse('limit', 75);
    if (!Number.isFinite(limit)) throw InitError.config('limit', 'must be a finite number');
    this.limit = limit;
    this.field = host.configOr('field', 'speed');
    this.names = [this.field];
  }

  keep(record) {
    // Only the one field is built; the rest of the payload is checked, not allocated.
    const payload = record.jsonFields(this.names);
    return json.numberField(payload, this.field) > this.limit;
  }
}

exportFilter(SpeedLimit);
