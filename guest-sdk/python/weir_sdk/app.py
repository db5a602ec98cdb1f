"""The component's entry module: `componentize-py ... componentize weir_sdk.app`.

componentize-py imports this module at build time (and snapshots the result), so it:

1. imports the plugin's module, `plugin` (plugin.py), which registers its class with
   `weir_sdk.export_filter` / `export_transformer` / `export_emitter` (what it prints meanwhile
   shows in the build's output);
2. checks that the registered stage is the one the build world exports, so a mismatch fails the
   build with a message instead of the first batch;
3. routes `sys.stdout` / `sys.stderr` to the `log` import (levels info / warn; one log line per
   printed line), or discards them when the plugin has no `log` grant: with WASI stubbed out, a
   write to the real stdout would trap the batch;
4. exposes `FilterBatch`, `TransformBatch` and `EmitBatch`, the classes componentize-py binds to
   the world's export (only the one the world exports is ever called).

The imports of the world (`wit_world.imports.log`, `config`, `lookup`, `outbox`) are looked up
one by one: the build world imports only the granted ones, and a call to a missing one raises
NotGranted rather than failing here.
"""

import importlib
import sys

from . import stage
from .errors import LookupFailed, NotGranted, OutboxRefused
from .host import Host, Level

from wit_world.imports import types as _types  # noqa: E402 (only exists inside a build)
import wit_world.exports as _exports  # noqa: E402


def _optional_import(name):
    try:
        return importlib.import_module("wit_world.imports." + name)
    except ImportError:
        return None


_log = _optional_import("log")
_config = _optional_import("config")
_lookup = _optional_import("lookup")
_outbox = _optional_import("outbox")

try:
    from componentize_py_types import Err as _Err
except ImportError:  # pragma: no cover (older runtimes)
    _Err = Exception

_GRANTED = frozenset(
    name for name, module in (("log", _log), ("config", _config), ("lookup", _lookup),
                              ("outbox", _outbox)) if module is not None
)
_LEVELS = None
if _log is not None:
    _LEVELS = {
        Level.TRACE: _log.Level.TRACE,
        Level.DEBUG: _log.Level.DEBUG,
        Level.INFO: _log.Level.INFO,
        Level.WARN: _log.Level.WARN,
        Level.ERROR: _log.Level.ERROR,
    }

class WasmHost(Host):
    """The real host, reached through the build world's imports."""

    grants = _GRANTED

    def _log(self, level, message):
        _log.log(_LEVELS[level], message)

    def _config(self, key):
        return _config.get(key)

    def _config_keys(self):
        return _config.keys()

    def _lookup(self, table, key):
        try:
            row = _lookup.lookup(table, key)
        except _Err as e:
            raise LookupFailed(str(e.value)) from None
        return None if row is None else list(row)

    def _outbox(self, call, *args):
        try:
            getattr(_outbox, call)(*args)
        except _Err as e:
            raise OutboxRefused(str(e.value)) from None

    def _require(self, capability, what):
        if capability not in _GRANTED:
            raise NotGranted(capability, what)


_HOST = WasmHost()


class _LogStream:
    """A text stream that writes each line to the `log` import (or nowhere)."""

    def __init__(self, level, name):
        self.level = level
        self.name = name
        self._pending = ""

    def write(self, text):
        text = str(text)
        if _log is None:
            return len(text)
        if len(self._pending) < 65536:  # an endless line is cut there
            self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                _log.log(_LEVELS[self.level], line)
        return len(text)

    def flush(self):
        if _log is not None and self._pending:
            lines, self._pending = self._pending.split("\n"), ""
            for line in lines:
                if line:
                    _log.log(_LEVELS[self.level], line)

    def writable(self):
        return True

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    @property
    def closed(self):
        return False

    def fileno(self):
        raise OSError("%s is routed to the host's log" % self.name)


# -- the plugin ------------------------------------------------------------------------------

_WORLD_STAGE = [
    kind for kind, cls_name in (("filter", "FilterBatch"), ("transformer", "TransformBatch"),
                                ("emitter", "EmitBatch"))
    if hasattr(_exports, cls_name)
]

try:
    importlib.import_module("plugin")  # it registers its class
except ModuleNotFoundError as e:
    if e.name != "plugin":
        raise
    raise ImportError(
        "weir_sdk.app: no module named `plugin`: the plugin directory must hold plugin.py"
    ) from None

_exported = stage.registered()
if _exported is None:
    raise ImportError(
        "plugin.py exports no stage: end it with weir_sdk.export_%s(YourClass)"
        % (_WORLD_STAGE[0] if _WORLD_STAGE else "filter")
    )
_KIND, _CLASS = _exported
if _WORLD_STAGE and _KIND not in _WORLD_STAGE:
    raise ImportError(
        "plugin.py exports the %s %s, but the component is built as a %s "
        "(`stage` in weir-plugin.toml)" % (_KIND, _CLASS.__name__, _WORLD_STAGE[0])
    )
_CELL = stage.StageCell()

# From here on, output goes to the host's log. (While componentize-py imported the plugin
# above, at build time, it went to the build's own output.)
sys.stdout = _LogStream(Level.INFO, "stdout")
sys.stderr = _LogStream(Level.WARN, "stderr")
sys.__stdout__ = sys.stdout
sys.__stderr__ = sys.stderr


def _end():
    sys.stdout.flush()
    sys.stderr.flush()


def _describe(e):
    """A traceback without source lines: reading the sources would need a file system, and
    with WASI stubbed out that traps."""
    lines = ["Traceback (most recent call last):"]
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        lines.append('  File "%s", line %s, in %s' % (code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    text = str(e)
    lines.append("%s: %s" % (type(e).__qualname__, text) if text else type(e).__qualname__)
    return "\n".join(lines)


def _crashed(e):
    """An exception other than the SDK's errors: the plugin has a bug. Write the traceback to
    the log (when granted) and let the batch trap, as a Rust panic does."""
    if _log is not None:
        try:
            _end()
            _log.log(_log.Level.ERROR,
                     "plugin raised %s; the batch fails as a panic would:\n%s"
                     % (type(e).__name__, _describe(e)))
        except BaseException:  # noqa: BLE001 (reporting must not hide the original)
            pass
    _CELL.reset()


def _failures(failures):
    return [_types.RecordFailure(i, _types.RecordError(e.code, e.message)) for i, e in failures]


class FilterBatch:
    """`weir:plugin/filter-batch`."""

    def filter(self, batch):
        try:
            verdicts, failures = stage.run_filter(_CELL, _CLASS, batch, _HOST)
        except BaseException as e:
            _crashed(e)
            raise
        finally:
            _end()
        return _types.FilterOutput(verdicts, _failures(failures))


class TransformBatch:
    """`weir:plugin/transform-batch`."""

    def transform(self, batch):
        try:
            out, counts, failures = stage.run_transformer(_CELL, _CLASS, batch, _HOST)
        except BaseException as e:
            _crashed(e)
            raise
        finally:
            _end()
        packed = _types.PackedBatch(bytes(out.data), out.lengths, out.attribute_lengths,
                                    out.arrival_timestamps_ms)
        return _types.TransformOutput(packed, counts, _failures(failures))


class EmitBatch:
    """`weir:plugin/emit-batch`."""

    def emit(self, batch):
        try:
            failures = stage.run_emitter(_CELL, _CLASS, batch, _HOST)
        except BaseException as e:
            _crashed(e)
            raise
        finally:
            _end()
        return [_types.EmitFailure(f.index, _types.RecordError(f.error.code, f.error.message),
                                   f.retryable) for f in failures]
