"""{{name}}: a Weir filter. Keeps records whose `value` field is above the `min` parameter
(`[plugins.{{name}}] params = { min = 10 }`, default 0); a record without a usable `value`
goes to the rule's error action with the reason."""

import weir_sdk
from weir_sdk import json


class Plugin(weir_sdk.Filter):
    def __init__(self, host):
        # Read once, before the first batch; a bad value fails that batch with the key named.
        self.min = host.config_parse("min", 0.0)

    def keep(self, record, host):
        payload = record.json_fields(["value"])
        return json.number_field(payload, "value") > self.min


weir_sdk.export_filter(Plugin)
