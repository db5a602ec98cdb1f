"""The three plugin kinds, their results, and the batch drivers that run them.

The drivers here (`run_filter`, `run_transformer`, `run_emitter`) are the only code between a
packed batch arriving and the plugin's per-record methods, and they are shared by the component
(`weir_sdk.app`) and the test harness (`weir_sdk.testing.Harness`). What a plugin's pytest
exercises is therefore what runs inside the host.

Errors, per record:

- RecordError (or a subclass such as LookupFailed) fails that record; its neighbours carry on.
- EmitError, from an emitter, fails that record permanently or retryably.
- InitError from the constructor fails every record of the batch with code `plugin-init`; the
  next batch builds the plugin again (as the Rust SDK's StageCell does).
- Any other exception is a bug in the plugin, like a panic in a Rust plugin: it propagates out
  of the driver. In a component the whole batch then traps (after the traceback is written to the
  `log` import, when granted); the host fails the batch with a `panic` fault and discards the
  instance, so the next batch starts from a fresh one, and an emitter's outbox calls from the
  failed batch are never performed. Under the test harness the exception reaches the test.
"""

from dataclasses import dataclass, field
from typing import List

from . import abi
from .errors import EmitError, InitError, RecordError
from .record import Record

__all__ = [
    "Filter",
    "Transformer",
    "Emitter",
    "Keep",
    "Drop",
    "Failed",
    "Records",
    "EmitFailure",
    "StageCell",
    "export_filter",
    "export_transformer",
    "export_emitter",
    "registered",
]


class Filter:
    """Keeps or drops records (the connector library's IFilter).

    `__init__(self, host)` builds the instance before its first batch: read configuration there
    and raise InitError when it is unusable. `keep(record, host)` returns True to keep the
    record, False to drop it (not an error), or raises RecordError."""

    def __init__(self, host):
        pass

    def keep(self, record, host):
        raise NotImplementedError("%s.keep" % type(self).__name__)


class Transformer:
    """Turns a record into zero, one or many records (ITransformer / ICollectionTransformer).

    `transform(record, host)` returns a list of Records (empty consumes the record) or raises
    RecordError. The record is the transformer's own: change it and return it, or `derive` new
    ones from it."""

    def __init__(self, host):
        pass

    def transform(self, record, host):
        raise NotImplementedError("%s.transform" % type(self).__name__)


class Emitter:
    """Delivers buffered records (IEmitter).

    `emit(record, outbox)` delivers one record through the host's outbox (`publish`,
    `put_record`, `notify`) and returns nothing, or raises EmitError (or RecordError, which is
    permanent). The host performs the outbox calls after the batch returns, in call order."""

    def __init__(self, host):
        pass

    def emit(self, record, outbox):
        raise NotImplementedError("%s.emit" % type(self).__name__)


# -- results -----------------------------------------------------------------------------------

class _Verdict:
    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name

    def __reduce__(self):
        return self._name


#: A filter kept the record.
Keep = _Verdict("Keep")
#: A filter dropped the record (not an error).
Drop = _Verdict("Drop")


@dataclass(frozen=True)
class Failed:
    """The record could not be judged or transformed."""

    error: RecordError


@dataclass
class Records:
    """What a transformer made of one record."""

    records: List[Record] = field(default_factory=list)


@dataclass(frozen=True)
class EmitFailure:
    """One record of an emitted batch that was not delivered."""

    index: int
    error: RecordError
    retryable: bool


# -- the plugin instance ----------------------------------------------------------------------

class StageCell:
    """Holds a plugin instance between batches, built lazily on the first batch. A failed
    constructor is not cached: the batch fails with the InitError and the next batch tries
    again."""

    __slots__ = ("plugin",)

    def __init__(self):
        self.plugin = None

    def get(self, cls, host):
        if self.plugin is None:
            self.plugin = cls(host)
        return self.plugin

    def reset(self):
        self.plugin = None


def _bad_batch(e):
    return RecordError("bad-batch", "the host sent a malformed batch: %s" % e)


def _name(plugin, method):
    return "%s.%s" % (type(plugin).__name__, method)


def run_filter(cell, cls, batch, host):
    """One packed filter batch: (verdicts as bytes, one per record: 0 keep, 1 drop, 2 failed;
    [(index, RecordError)] for every failed record)."""
    try:
        records = abi.unpack(batch)
    except abi.LayoutError as e:
        n = len(batch.arrival_timestamps_ms)
        error = _bad_batch(e)
        return bytes([abi.FAILED]) * n, [(i, error) for i in range(n)]
    n = len(records)
    try:
        plugin = cell.get(cls, host)
    except InitError as e:
        error = e.record_error()
        return bytes([abi.FAILED]) * n, [(i, error) for i in range(n)]
    verdicts = bytearray(n)
    failures = []
    keep = plugin.keep
    for i, record in enumerate(records):
        try:
            verdict = keep(record, host)
        except RecordError as e:
            verdicts[i] = abi.FAILED
            failures.append((i, e.plain()))
            continue
        if verdict is True:
            continue
        if verdict is False:
            verdicts[i] = abi.DROP
            continue
        raise TypeError(
            "%s returned %r; it returns True (keep) or False (drop), or raises RecordError"
            % (_name(plugin, "keep"), verdict)
        )
    return bytes(verdicts), failures


def run_transformer(cell, cls, batch, host):
    """One packed transformer batch: (output Packer, counts: records made per input record,
    [(index, RecordError)] for every failed input record)."""
    out = abi.Packer()
    try:
        records = abi.unpack(batch)
    except abi.LayoutError as e:
        n = len(batch.arrival_timestamps_ms)
        error = _bad_batch(e)
        return out, [0] * n, [(i, error) for i in range(n)]
    n = len(records)
    try:
        plugin = cell.get(cls, host)
    except InitError as e:
        error = e.record_error()
        return out, [0] * n, [(i, error) for i in range(n)]
    counts = []
    failures = []
    transform = plugin.transform
    for i, record in enumerate(records):
        try:
            made = transform(record, host)
        except RecordError as e:
            counts.append(0)
            failures.append((i, e.plain()))
            continue
        if not isinstance(made, (list, tuple)):
            raise TypeError(
                "%s returned %r; it returns a list of Records (empty consumes the record), or "
                "raises RecordError" % (_name(plugin, "transform"), made)
            )
        mark = out.mark()
        try:
            for r in made:
                out.push(r)
        except abi.TooLarge as e:
            out.truncate(mark)
            counts.append(0)
            failures.append((i, RecordError("too-large", str(e))))
            continue
        counts.append(len(made))
    return out, counts, failures


def run_emitter(cell, cls, batch, host):
    """One packed emitter batch: [EmitFailure] for the records not delivered."""
    try:
        records = abi.unpack(batch)
    except abi.LayoutError as e:
        error = _bad_batch(e)
        return [EmitFailure(i, error, False) for i in range(len(batch.arrival_timestamps_ms))]
    try:
        plugin = cell.get(cls, host)
    except InitError as e:
        error = e.record_error()
        return [EmitFailure(i, error, True) for i in range(len(records))]
    failures = []
    emit = plugin.emit
    for i, record in enumerate(records):
        try:
            emit(record, host)
        except EmitError as e:
            failures.append(EmitFailure(i, e.error.plain(), e.retryable))
        except RecordError as e:
            failures.append(EmitFailure(i, e.plain(), False))
    return failures


# -- registration -----------------------------------------------------------------------------

_KINDS = {
    "filter": ("keep", Filter),
    "transformer": ("transform", Transformer),
    "emitter": ("emit", Emitter),
}
_registered = None


def _export(kind, cls):
    global _registered
    method, _ = _KINDS[kind]
    if not isinstance(cls, type) or not callable(getattr(cls, method, None)):
        raise TypeError("export_%s takes a class with a `%s` method, not %r" % (kind, method, cls))
    if _registered is not None and _registered[1] is not cls:
        raise RuntimeError(
            "a plugin exports one stage: %s is already exported, so %s cannot be"
            % (_registered[1].__name__, cls.__name__)
        )
    _registered = (kind, cls)
    return cls


def export_filter(cls):
    """Exports a Filter class as this component's `filter-batch` (call it at the bottom of
    plugin.py, or use it as a class decorator)."""
    return _export("filter", cls)


def export_transformer(cls):
    """Exports a Transformer class as this component's `transform-batch`."""
    return _export("transformer", cls)


def export_emitter(cls):
    """Exports an Emitter class as this component's `emit-batch`."""
    return _export("emitter", cls)


def registered():
    """(kind, class) exported by the plugin module, or None."""
    return _registered
