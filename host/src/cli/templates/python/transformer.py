"""{{name}}: a Weir transformer. Adds the field named by the `field` parameter (default
`processed_by`) with the value of `value` (default `{{name}}`) to each JSON record."""

import weir_sdk


class Plugin(weir_sdk.Transformer):
    def __init__(self, host):
        self.field = host.config_or("field", "processed_by")
        self.value = host.config_or("value", "{{name}}")

    def transform(self, record, host):
        payload = record.json_object()
        payload[self.field] = self.value
        record.set_json(payload)
        return [record]


weir_sdk.export_transformer(Plugin)
