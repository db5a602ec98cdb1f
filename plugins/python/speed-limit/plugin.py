"""speed-limit (Python): keeps records whose `speed` exceeds a configured limit.

The port of plugins/speed-limit (Rust), with the same outcomes and error codes. The seed's Spark
job kept `speed > 75`. Devices send speed as a number or, like the seed's Raspberry Pi, as a
numeric string; both are accepted. A record without a usable speed is an error for that record
(it reaches the rule's error action), never a silent drop.

Config: `limit` (default 75), `field` (default `speed`).
"""

import math

import weir_sdk
from weir_sdk import InitError, json


class SpeedLimit(weir_sdk.Filter):
    """The filter's state: its configuration, parsed once."""

    def __init__(self, host):
        limit = host.config_parse("limit", 75.0)
        if not math.isfinite(limit):
            raise InitError.config("limit", "must be a finite number")
        self.limit = limit
        self.field = host.config_or("field", "speed")

    def keep(self, record, host):
        # Only the one field is built; the rest of the payload is checked, not converted.
        payload = record.json_fields([self.field])
        return json.number_field(payload, self.field) > self.limit


weir_sdk.export_filter(SpeedLimit)
