"""{{name}}: a Weir emitter. Publishes each record's payload on the MQTT topic of the `topic`
parameter (default `{{name}}/out`), QoS 1. A refused publish is retried by the host before the
record goes to the rule's error action."""

import weir_sdk
from weir_sdk import EmitError, OutboxRefused, RecordError


class Plugin(weir_sdk.Emitter):
    def __init__(self, host):
        self.topic = host.config_or("topic", "{{name}}/out")

    def emit(self, record, outbox):
        try:
            outbox.publish(self.topic, record.payload, 1)
        except OutboxRefused as refused:
            raise EmitError.retryable(RecordError("publish-refused", refused.message))


weir_sdk.export_emitter(Plugin)
