"""owner-enrich (Python): joins the vehicle owner's row onto each record, by licence plate.

The port of plugins/owner-enrich (Rust), with the same behaviour and messages. This is the seed's
Redshift join (`select first_name, last_name, licenseplate, myphone from driver_data where
licenseplate = ...`) done against a host lookup table. A plate that is not in the table is an
error for that record, naming the plate, so unknown vehicles reach the rule's error action
instead of vanishing.

Config:
- `table` (default `drivers`): the lookup table to join.
- `key_field` (default `licensePlate`): the payload field holding the key.
- `columns` (default `first_name,last_name,myphone`): the table columns to copy, or `*` for
  every column except the key.
- `prefix` (default empty): put before each copied column's name.

A copied column never silently overwrites a payload field: that is a `field-conflict` error
(set `prefix` to keep both).
"""

import weir_sdk
from weir_sdk import WHITESPACE, InitError, RecordError, json, quote


class OwnerEnrich(weir_sdk.Transformer):
    """The join's configuration, parsed once."""

    def __init__(self, host):
        raw = host.config_or("columns", "first_name,last_name,myphone")
        if raw.strip(WHITESPACE) == "*":
            self.columns = None  # every column except the key
        else:
            columns = [c.strip(WHITESPACE) for c in raw.split(",")]
            self.columns = [c for c in columns if c]
            if not self.columns:
                raise InitError.config("columns", "names no column")
        self.table = host.config_or("table", "drivers")
        self.key_field = host.config_or("key_field", "licensePlate")
        self.prefix = host.config_or("prefix", "")

    def transform(self, record, host):
        payload = record.json_object()
        key = json.string_field(payload, self.key_field)
        # A table the host does not have raises LookupFailed: the record fails with
        # `lookup-failed` and the host's reason.
        row = host.lookup(self.table, key)
        if row is None:
            raise RecordError(
                "unknown-key",
                "%s %s is not in table %s" % (self.key_field, quote(key), quote(self.table)),
            )
        for column, value in self.selected(row):
            name = self.prefix + column
            if name in payload:
                raise RecordError(
                    "field-conflict",
                    "joined column %s would overwrite payload field %s; set `prefix`"
                    % (quote(column), quote(name)),
                )
            payload[name] = value
        record.set_json(payload)
        return [record]

    def selected(self, row):
        """The (column, value) pairs to copy, in configured order."""
        if self.columns is None:
            return [(c, v) for c, v in row.columns() if c != self.key_field]
        pairs = []
        for wanted in self.columns:
            value = row.get(wanted)
            if value is None:
                raise RecordError(
                    "unknown-column",
                    "table %s has no column %s" % (quote(self.table), quote(wanted)),
                )
            pairs.append((wanted, value))
        return pairs


weir_sdk.export_transformer(OwnerEnrich)
