"""Test a plugin's logic with pytest, no WebAssembly toolchain needed.

`MockHost` stands in for the Weir host: configuration values, in-memory lookup tables (rows or
CSV), captured log lines and a captured outbox. `Harness` holds one plugin instance across
batches, as the host holds one component instance, and runs every batch through the same
drivers the component uses: the records are packed into a packed batch, the driver unpacks them,
calls the plugin, and packs its answer, which the harness reads back.

    from weir_sdk import Keep, Drop, Record
    from weir_sdk.testing import Harness, MockHost

    h = Harness(HotEnough, MockHost().with_config("min", "25"))
    assert h.filter([Record.from_json({"temperature": "31.5"}),
                     Record.from_json({"temperature": 20})]) == [Keep, Drop]

The harness also enforces the plugin's grants: when the plugin class comes from a module that
has a weir-plugin.toml next to it, a call to a host function the manifest does not grant raises
NotGranted, as it would in the component.
"""

import csv
import io
import os
import sys
from dataclasses import dataclass

from . import abi, stage
from ._serde import quote
from .errors import LookupFailed, OutboxRefused
from .host import CAPABILITIES, Host, Level, Row
from .stage import Drop, Failed, Keep, Records, StageCell

__all__ = [
    "MockHost",
    "Harness",
    "Publish",
    "PutRecord",
    "Notify",
    "Level",
    "Row",
    "read_manifest",
]


@dataclass(frozen=True)
class Publish:
    """`outbox.publish`."""

    topic: str
    payload: bytes
    qos: int


@dataclass(frozen=True)
class PutRecord:
    """`outbox.put-record`."""

    stream: str
    partition_key: str
    data: bytes


@dataclass(frozen=True)
class Notify:
    """`outbox.notify`."""

    channel: str
    target: str
    message: str


def _csv_rows(text, key_column):
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        headers = next(reader)
    except StopIteration:
        raise ValueError("CSV header: the text is empty") from None
    except csv.Error as e:
        raise ValueError("CSV header: %s" % e) from None
    if key_column not in headers:
        raise ValueError("CSV has no column %s" % quote(key_column))
    rows = []
    line = 1
    try:
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(headers):
                raise ValueError(
                    "CSV row %d: found record with %d fields, but the previous record has %d "
                    "fields" % (line, len(fields), len(headers))
                )
            rows.append(Row(zip(headers, fields)))
    except csv.Error as e:
        raise ValueError("CSV row %d: %s" % (line + 1, e)) from None
    return rows


class MockHost(Host):
    """An in-memory stand-in for the Weir host. The `with_*` methods change it and return it."""

    def __init__(self, grants=None):
        self._configuration = {}
        self._tables = {}
        self._logs = []
        self._calls = []
        self._refusal = None
        self.grants = None if grants is None else frozenset(grants)

    # -- set-up ------------------------------------------------------------------------

    def with_config(self, key, value):
        """Adds a configuration value."""
        self._configuration[str(key)] = str(value)
        return self

    def with_grants(self, grants):
        """Allows only these capabilities (a subset of log, config, lookup, outbox); a call
        to any other raises NotGranted. Without it every capability is allowed, unless the
        Harness finds the plugin's manifest."""
        unknown = set(grants) - set(CAPABILITIES)
        if unknown:
            raise ValueError("unknown capabilities %s; known: %s"
                             % (sorted(unknown), ", ".join(CAPABILITIES)))
        self.grants = frozenset(grants)
        return self

    def with_table(self, name, key_column, rows):
        """Adds a lookup table keyed by `key_column`, from rows (Rows, dicts or lists of
        (column, value) pairs) or from CSV text with a header line. As in the host, the first
        row with a given key wins."""
        if isinstance(rows, str):
            rows = _csv_rows(rows, key_column)
        table = {}
        for row in rows:
            row = row if isinstance(row, Row) else Row(row)
            key = row.get(key_column)
            if key is not None and key not in table:
                table[key] = row
        self._tables[str(name)] = table
        return self

    def with_csv_table(self, name, key_column, csv_text):
        """Adds a table from CSV text with a header line; ValueError when it is not CSV or has
        no `key_column`."""
        return self.with_table(name, key_column, _csv_rows(csv_text, key_column))

    def with_csv_file(self, name, key_column, path):
        """Adds a table from a CSV file."""
        try:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
        except OSError as e:
            raise ValueError("cannot read %s: %s" % (path, e)) from None
        return self.with_csv_table(name, key_column, text)

    def refusing_outbox(self, reason):
        """Makes every outbox call fail with `reason` (OutboxRefused), to test an emitter's
        failure path."""
        self._refusal = str(reason)
        return self

    # -- what the plugin did -----------------------------------------------------------

    def logs(self):
        """Every (Level, message) logged so far."""
        return list(self._logs)

    def outbox(self):
        """Every outbox call so far (Publish, PutRecord, Notify), in call order."""
        return list(self._calls)

    def notifications(self):
        """(channel, target, message) of every notify call so far."""
        return [(c.channel, c.target, c.message) for c in self._calls if isinstance(c, Notify)]

    def clear(self):
        """Forgets captured logs and outbox calls."""
        self._logs.clear()
        self._calls.clear()

    # -- the primitives ----------------------------------------------------------------

    def _log(self, level, message):
        self._logs.append((level, message))

    def _config(self, key):
        return self._configuration.get(key)

    def _config_keys(self):
        return sorted(self._configuration)

    def _lookup(self, table, key):
        rows = self._tables.get(table)
        if rows is None:
            raise LookupFailed("no lookup table named %s" % quote(table))
        row = rows.get(key)
        return None if row is None else [(c, v) for c, v in row.pairs]

    def _outbox(self, call, *args):
        if self._refusal is not None:
            raise OutboxRefused(self._refusal)
        if call == "publish":
            topic, payload, qos = args
            if qos > 1:
                raise OutboxRefused("qos %d is not supported (0 or 1)" % qos)
            self._calls.append(Publish(topic, payload, qos))
        elif call == "put_record":
            self._calls.append(PutRecord(*args))
        else:
            self._calls.append(Notify(*args))


def _parse_toml(text):
    try:
        import tomllib
    except ImportError:  # Python before 3.11
        return None
    return tomllib.loads(text)


def read_manifest(directory):
    """The weir-plugin.toml in `directory` as a dict, or None when there is none."""
    path = os.path.join(directory, "weir-plugin.toml")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return _parse_toml(f.read())


class Harness:
    """One plugin instance and a MockHost, kept across batches like a component instance.

    `filter(records)` returns Keep / Drop / Failed(error) per record; `transform(records)`
    returns Records([...]) / Failed(error) per record; `emit(records)` returns the
    EmitFailures. Exceptions other than the SDK's errors propagate, as a panic does in a Rust
    plugin's tests."""

    def __init__(self, plugin_class, host=None, manifest=True):
        self.plugin_class = plugin_class
        self.host = host if host is not None else MockHost()
        self.cell = StageCell()
        self.stage = None
        if manifest:
            self._apply_manifest()

    def _apply_manifest(self):
        module = sys.modules.get(self.plugin_class.__module__)
        path = getattr(module, "__file__", None)
        if not path:
            return
        manifest = read_manifest(os.path.dirname(os.path.abspath(path)))
        if manifest is None:
            return
        grants = manifest.get("grants", [])
        if self.host.grants is None:
            self.host.grants = frozenset(grants)
        self.stage = manifest.get("stage")

    @property
    def plugin(self):
        """The plugin instance (None before the first batch, or after a failed start)."""
        return self.cell.plugin

    def _check(self, kind):
        declared = self.stage
        if declared is not None and declared != kind:
            raise TypeError("weir-plugin.toml says stage = %r, but the harness was asked to run "
                            "a %s batch" % (declared, kind))

    def filter(self, records):
        """Runs one filter batch."""
        self._check("filter")
        verdicts, failures = stage.run_filter(self.cell, self.plugin_class, abi.pack(records),
                                              self.host)
        errors = dict(failures)
        out = []
        for i, v in enumerate(verdicts):
            if v == abi.KEEP:
                out.append(Keep)
            elif v == abi.DROP:
                out.append(Drop)
            else:
                out.append(Failed(errors[i]))
        return out

    def transform(self, records):
        """Runs one transformer batch."""
        self._check("transformer")
        packer, counts, failures = stage.run_transformer(
            self.cell, self.plugin_class, abi.pack(records), self.host
        )
        made = abi.unpack(packer.batch())
        errors = dict(failures)
        out = []
        at = 0
        for i, count in enumerate(counts):
            if i in errors:
                out.append(Failed(errors[i]))
            else:
                out.append(Records(made[at:at + count]))
            at += count
        return out

    def emit(self, records):
        """Runs one emitter batch; the outbox calls are in `self.host`."""
        self._check("emitter")
        return stage.run_emitter(self.cell, self.plugin_class, abi.pack(records), self.host)

