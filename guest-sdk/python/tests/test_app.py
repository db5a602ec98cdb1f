"""weir_sdk.app, the component's entry module, against stand-in bindings.

componentize-py generates `wit_world` for the build world; these tests write a small stand-in
(the same module and class names, imports that record their calls) and import `weir_sdk.app` in
a fresh interpreter, as componentize-py does, with a plugin module next to it."""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap


SDK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TYPES = '''
from dataclasses import dataclass
from typing import List, Tuple

@dataclass
class RecordError:
    code: str
    message: str

@dataclass
class PackedBatch:
    data: bytes
    lengths: List[int]
    attribute_lengths: List[int]
    arrival_timestamps_ms: List[int]

@dataclass
class RecordFailure:
    index: int
    error: RecordError

@dataclass
class FilterOutput:
    verdicts: bytes
    failures: List[RecordFailure]

@dataclass
class TransformOutput:
    records: PackedBatch
    counts: List[int]
    failures: List[RecordFailure]

@dataclass
class EmitFailure:
    index: int
    error: RecordError
    retryable: bool
'''

IMPORTS = {
    "log": '''
from enum import Enum
CALLS = []
class Level(Enum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4
def log(level, message):
    CALLS.append((level.name, message))
''',
    "config": '''
VALUES = {"limit": "10"}
def get(key):
    return VALUES.get(key)
def keys():
    return sorted(VALUES)
''',
    "lookup": '''
from componentize_py_types import Err
def lookup(table, key):
    if table != "t":
        raise Err("no table %s" % table)
    return [("k", key), ("v", "V")] if key == "a" else None
''',
    "outbox": '''
from componentize_py_types import Err
CALLS = []
def publish(topic, payload, qos):
    if topic == "refuse":
        raise Err("refused " + topic)
    CALLS.append(("publish", topic, payload, qos))
def put_record(stream, key, data):
    CALLS.append(("put_record", stream, key, data))
def notify(channel, target, message):
    CALLS.append(("notify", channel, target, message))
''',
}

EXPORTS = {"filter": "FilterBatch", "transformer": "TransformBatch", "emitter": "EmitBatch"}

RUNNER = '''
import json, sys
sys.path[:0] = [%(fake)r, %(plugin)r, %(sdk)r]
from weir_sdk import abi, Record
result = {}
try:
    import weir_sdk.app as app
except ImportError as e:
    print(json.dumps({"import_error": str(e)}), file=open(%(out)r, "w"))
    sys.exit(0)
records = [Record(p, partition_key="k%%d" %% i) for i, p in enumerate(%(payloads)r)]
batch = abi.pack(records)
try:
    if %(kind)r == "filter":
        out = app.FilterBatch().filter(batch)
        result["verdicts"] = list(out.verdicts)
        result["failures"] = [(f.index, f.error.code, f.error.message) for f in out.failures]
    elif %(kind)r == "transformer":
        out = app.TransformBatch().transform(batch)
        result["payloads"] = [r.payload.decode() for r in abi.unpack(out.records)]
        result["counts"] = out.counts
        result["failures"] = [(f.index, f.error.code, f.error.message) for f in out.failures]
    else:
        out = app.EmitBatch().emit(batch)
        result["failures"] = [(f.index, f.error.code, f.error.message, f.retryable) for f in out]
except BaseException as e:
    result["raised"] = type(e).__name__ + ": " + str(e)
try:
    from wit_world.imports import log
    result["logs"] = log.CALLS
except ImportError:
    pass
try:
    from wit_world.imports import outbox
    result["outbox"] = [list(map(str, c)) for c in outbox.CALLS]
except ImportError:
    pass
print(json.dumps(result), file=open(%(out)r, "w"))
'''


def run(tmp_path, kind, grants, plugin, payloads):
    """Imports weir_sdk.app over a stand-in world and runs one batch; the answer as a dict
    (`stdout`: what the interpreter printed outside the log)."""
    tmp_path = pathlib.Path(tempfile.mkdtemp(dir=tmp_path))
    fake = tmp_path / "fake"
    (fake / "wit_world" / "imports").mkdir(parents=True)
    (fake / "wit_world" / "exports").mkdir(parents=True)
    (fake / "wit_world" / "__init__.py").write_text("")
    (fake / "wit_world" / "imports" / "__init__.py").write_text("")
    (fake / "wit_world" / "imports" / "types.py").write_text(TYPES)
    for name in grants:
        (fake / "wit_world" / "imports" / (name + ".py")).write_text(IMPORTS[name])
    (fake / "wit_world" / "exports" / "__init__.py").write_text(
        "class %s:\n    pass\n" % EXPORTS[kind])
    (fake / "componentize_py_types.py").write_text(
        "class Err(Exception):\n    def __init__(self, value):\n"
        "        super().__init__(value)\n        self.value = value\n")
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "plugin.py").write_text(textwrap.dedent(plugin))
    out = tmp_path / "out.json"
    script = RUNNER % dict(fake=str(fake), plugin=str(plugin_dir), sdk=SDK, payloads=payloads,
                           kind=kind, out=str(out))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(out.read_text())
    answer["stdout"] = proc.stdout
    return answer


FILTER = """
    import sys
    import weir_sdk
    from weir_sdk import json

    print("printed at import")

    class Limit(weir_sdk.Filter):
        def __init__(self, host):
            self.limit = host.config_float("limit", 75)

        def keep(self, record, host):
            print("judging", record.partition_key)
            sys.stderr.write("to stderr\\n")
            v = record.json_object()["v"]
            if v == "crash":
                raise KeyError("boom")
            return json.number_field({"v": v}, "v") > self.limit

    weir_sdk.export_filter(Limit)
"""


def test_a_filter_with_stdout_routed_to_the_log(tmp_path):
    out = run(tmp_path, "filter", ["log", "config"], FILTER,
              [b'{"v": 11}', b'{"v": 9}', b'{"v": "x"}', b"nope"])
    assert out["verdicts"] == [0, 1, 2, 2]
    assert out["failures"][0] == [2, "bad-value", 'field `v`: "x" is not a number']
    assert out["failures"][1][1] == "bad-json"
    assert ["INFO", "judging k0"] in out["logs"]
    assert ["WARN", "to stderr"] in out["logs"]
    # What the module printed at import went to the build's output, not to the log.
    assert not any("printed at import" in m for _, m in out["logs"])
    assert out["stdout"] == "printed at import\n"


def test_a_crash_is_logged_without_source_lines_and_reraised(tmp_path):
    out = run(tmp_path, "filter", ["log", "config"], FILTER, [b'{"v": 11}', b'{"v": "crash"}'])
    assert out["raised"] == "KeyError: 'boom'"
    errors = [m for level, m in out["logs"] if level == "ERROR"]
    assert len(errors) == 1
    assert errors[0].startswith("plugin raised KeyError; the batch fails as a panic would:\n"
                                "Traceback (most recent call last):\n")
    assert 'plugin.py", line 17, in keep' in errors[0]
    assert errors[0].endswith("KeyError: 'boom'")


def test_without_the_log_grant_output_is_dropped_and_log_calls_are_refused(tmp_path):
    plugin = """
        import weir_sdk

        class Quiet(weir_sdk.Filter):
            def keep(self, record, host):
                print("nobody hears this")
                if record.payload == b"log":
                    host.warn("needs the grant")
                return True

        weir_sdk.export_filter(Quiet)
    """
    out = run(tmp_path, "filter", [], plugin, [b"a"])
    assert out["verdicts"] == [0] and "logs" not in out
    out = run(tmp_path, "filter", [], plugin, [b"a", b"log"])
    assert out["raised"].startswith("NotGranted: host.log needs the `log` capability")
    assert out["stdout"] == ""


def test_a_transformer_and_the_lookup_import(tmp_path):
    plugin = """
        import weir_sdk

        class Join(weir_sdk.Transformer):
            def transform(self, record, host):
                row = host.lookup(record.text(), "a")
                return [record.derive(row.get("v")), record.derive(str(host.lookup("t", "b")))]

        weir_sdk.export_transformer(Join)
    """
    out = run(tmp_path, "transformer", ["lookup"], plugin, [b"t", b"other"])
    assert out["payloads"] == ["V", "None"]
    assert out["counts"] == [2, 0]
    assert out["failures"] == [[1, "lookup-failed", "no table other"]]


def test_an_emitter_and_the_outbox_import(tmp_path):
    plugin = """
        import weir_sdk
        from weir_sdk import EmitError, OutboxRefused

        class Send(weir_sdk.Emitter):
            def emit(self, record, host):
                topic = record.text()
                if topic == "retry":
                    try:
                        host.publish("refuse", b"x")
                    except OutboxRefused as e:
                        raise EmitError.retryable("refused", e.message)
                host.publish(topic, record.payload, 1)

        weir_sdk.export_emitter(Send)
    """
    out = run(tmp_path, "emitter", ["outbox"], plugin, [b"a/b", b"refuse", b"retry"])
    assert out["failures"] == [[1, "outbox-refused", "refused refuse", False],
                               [2, "refused", "refused refuse", True]]
    assert out["outbox"] == [["publish", "a/b", "b'a/b'", "1"]]


def test_the_build_fails_on_a_plugin_for_another_stage_or_none(tmp_path):
    out = run(tmp_path, "filter", [], """
        import weir_sdk

        class T(weir_sdk.Transformer):
            def transform(self, record, host):
                return [record]

        weir_sdk.export_transformer(T)
    """, [])
    assert out["import_error"] == ("plugin.py exports the transformer T, but the component is "
                                   "built as a filter (`stage` in weir-plugin.toml)")
    out = run(tmp_path, "emitter", [], "import weir_sdk\n", [])
    assert out["import_error"] == (
        "plugin.py exports no stage: end it with weir_sdk.export_emitter(YourClass)")
