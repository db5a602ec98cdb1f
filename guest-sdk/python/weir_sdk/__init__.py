"""weir_sdk: write Weir pipeline plugins in Python.

A plugin is one WebAssembly component that implements one stage of a rule action's pipeline:

    import weir_sdk
    from weir_sdk import json

    class HotEnough(weir_sdk.Filter):
        def __init__(self, host):
            self.min = host.config_parse("min", 30.0)

        def keep(self, record, host):
            return json.number_field(record.json_object(), "temperature") > self.min

    weir_sdk.export_filter(HotEnough)

It mirrors the Rust SDK (`guest-sdk/`): the same record, errors, JSON rules and messages, and
the same batch semantics. See README.md next to this package.
"""

from . import json
from ._serde import WHITESPACE, quote
from .errors import (
    EmitError,
    InitError,
    LookupFailed,
    NotGranted,
    OutboxRefused,
    RecordError,
)
from .host import Host, Level, Row
from .record import Record
from .stage import (
    Drop,
    EmitFailure,
    Emitter,
    Failed,
    Filter,
    Keep,
    Records,
    Transformer,
    export_emitter,
    export_filter,
    export_transformer,
)

#: Version of the `weir:plugin` WIT package this SDK implements.
WIT_VERSION = "0.1.1"

__all__ = [
    "json",
    "WHITESPACE",
    "quote",
    "EmitError",
    "InitError",
    "LookupFailed",
    "NotGranted",
    "OutboxRefused",
    "RecordError",
    "Host",
    "Level",
    "Row",
    "Record",
    "Drop",
    "EmitFailure",
    "Emitter",
    "Failed",
    "Filter",
    "Keep",
    "Records",
    "Transformer",
    "export_emitter",
    "export_filter",
    "export_transformer",
    "WIT_VERSION",
]
