// {{name}}: a Weir filter. Keeps records whose `value` field is above the `min` parameter
// (`[plugins.{{name}}] params = { min = 10 }`, default 0); a record without a usable `value`
// goes to the rule's error action with the reason.

import { exportFilter, json } from 'weir:sdk';

export class Plugin {
  constructor(host) {
    // Read once, before the first batch; a bad value fails that batch with the key named.
    this.min = host.configParse('min', 0);
  }

  keep(record) {
    const payload = record.jsonFields(['value']);
    return json.numberField(payload, 'value') > this.min;
  }
}

exportFilter(Plugin);
