// {{name}}: a Weir emitter. Publishes each record's payload on the MQTT topic of the `topic`
// parameter (default `{{name}}/out`), QoS 1. A refused publish is retried by the host before
// the record goes to the rule's error action.

import { EmitError, HostError, RecordError, exportEmitter } from 'weir:sdk';

export class Plugin {
  constructor(host) {
    this.topic = host.configOr('topic', '{{name}}/out');
  }

  emit(record, outbox) {
    try {
      outbox.publish(this.topic, record.payload, 1);
    } catch (e) {
      if (e instanceof HostError) throw EmitError.retryable(new RecordError('publish-refused', e.message));
      throw e;
    }
  }
}

exportEmitter(Plugin);
