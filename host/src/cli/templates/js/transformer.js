// {{name}}: a Weir transformer. Adds the field named by the `field` parameter (default
// `processed_by`) with the value of `value` (default `{{name}}`) to each JSON record.

import { exportTransformer } from 'weir:sdk';

export class Plugin {
  constructor(host) {
    this.field = host.configOr('field', 'processed_by');
    this.value = host.configOr('value', '{{name}}');
  }

  transform(record) {
    const payload = record.jsonObject();
    payload[this.field] = this.value;
    record.setJson(payload);
    return [record];
  }
}

exportTransformer(Plugin);
