"""The batch drivers through the test harness: the Rust SDK's testing.rs tests, ported, and the
rules for errors, results and crashes."""

import sys
import textwrap

import pytest

from weir_sdk import (
    Drop,
    EmitError,
    EmitFailure,
    Emitter,
    Failed,
    Filter,
    InitError,
    Keep,
    Level,
    NotGranted,
    OutboxRefused,
    Record,
    RecordError,
    Records,
    Transformer,
    abi,
    stage,
)
from weir_sdk.testing import Harness, MockHost


class Echo(Transformer):
    def __init__(self, host):
        if host.config("fail") is not None:
            raise InitError.config("fail", "asked to fail")

    def transform(self, record, host):
        host.log(Level.INFO, "echo")
        return [record.copy(), record]


class Shout(Emitter):
    def emit(self, record, host):
        try:
            host.notify("sms", "+1", record.text())
        except OutboxRefused as e:
            raise EmitError.retryable(RecordError("refused", e.message))


def test_transformer_fans_out_and_logs():
    h = Harness(Echo, MockHost())
    out = h.transform([Record("a")])
    assert out == [Records([Record("a"), Record("a")])]
    assert h.host.logs() == [(Level.INFO, "echo")]


def test_init_failure_fails_every_record_and_is_retried():
    host = MockHost().with_config("fail", "1")
    h = Harness(Echo, host)
    out = h.transform([Record("a"), Record("b")])
    assert out == [Failed(RecordError("plugin-init", "config `fail`: asked to fail"))] * 2
    assert h.plugin is None
    host._configuration.clear()
    assert h.transform([Record("c")]) == [Records([Record("c"), Record("c")])]
    assert isinstance(h.plugin, Echo)


def test_emitter_failures_carry_index_and_retryability():
    h = Harness(Shout, MockHost())
    out = h.emit([Record("hi"), Record(b"\xff")])
    assert out == [EmitFailure(1, RecordError(
        "bad-utf8", "payload is not UTF-8 text: invalid byte at offset 0"), False)]
    assert len(h.host.notifications()) == 1

    refused = Harness(Shout, MockHost().refusing_outbox("down"))
    out = refused.emit([Record("hi")])
    assert out == [EmitFailure(0, RecordError("refused", "down"), True)]
    assert refused.host.outbox() == []


def test_emitter_init_failure_is_retryable():
    class Broken(Emitter):
        def __init__(self, host):
            raise InitError("no")

    out = Harness(Broken).emit([Record("a"), Record("b")])
    assert out == [EmitFailure(i, RecordError("plugin-init", "no"), True) for i in (0, 1)]


def test_emit_error_constructors():
    e = EmitError.permanent("code", "message")
    assert (e.error, e.retryable) == (RecordError("code", "message"), False)
    e = EmitError.retryable(RecordError("c", "m"))
    assert e.retryable is True and e.error.code == "c"
    with pytest.raises(TypeError):
        EmitError.retryable("only a code")


class Positive(Filter):
    def keep(self, record, host):
        v = record.json_object().get("v")
        if v == "crash":
            raise ValueError("a bug")
        if v == "none":
            return None
        if v == "lookup":
            host.lookup("missing", "k")
        return v > 0


def test_filter_results():
    h = Harness(Positive)
    out = h.filter([Record(b'{"v": 1}'), Record(b'{"v": -1}'), Record(b"[]"),
                    Record(b'{"v": "lookup"}')])
    assert out == [Keep, Drop, Failed(RecordError("bad-json", "payload is JSON but not an object: an array")),
                   Failed(RecordError("lookup-failed", 'no lookup table named "missing"'))]
    assert repr(out[:2]) == "[Keep, Drop]"


def test_other_exceptions_are_bugs_and_reach_the_test():
    h = Harness(Positive)
    with pytest.raises(ValueError):
        h.filter([Record(b'{"v": 1}'), Record(b'{"v": "crash"}')])
    with pytest.raises(TypeError) as e:
        h.filter([Record(b'{"v": "none"}')])
    assert "Positive.keep returned None" in str(e.value)

    class Forgetful(Transformer):
        def transform(self, record, host):
            record.set_json({})

    with pytest.raises(TypeError) as e:
        Harness(Forgetful).transform([Record("x")])
    assert "Forgetful.transform returned None" in str(e.value)


def test_a_transformer_may_consume_or_make_many_and_its_output_is_checked():
    class Split(Transformer):
        def transform(self, record, host):
            if record.payload == b"bad":
                return [record.derive("ok"), "not a record"]
            return [record.derive(part) for part in record.text().split(",") if part]

    h = Harness(Split)
    out = h.transform([Record("a,b,c", partition_key="k"), Record(""), Record("d")])
    assert [[r.payload for r in o.records] for o in out] == [[b"a", b"b", b"c"], [], [b"d"]]
    assert out[0].records[2].partition_key == "k"
    with pytest.raises(TypeError):
        h.transform([Record("bad")])


def test_too_large_output_fails_only_its_record(monkeypatch):
    monkeypatch.setattr(abi, "_U32_MAX", 10)

    class Grow(Transformer):
        def transform(self, record, host):
            return [record, record.derive(record.payload * 20)] if record.payload == b"x" else [record]

    out = Harness(Grow).transform([Record("a"), Record("x"), Record("b")])
    assert out[0] == Records([Record("a")]) and out[2] == Records([Record("b")])
    assert out[1].error.code == "too-large"
    assert out[1].error.message == (
        "record 2: its payload is 20 bytes or entries; the layout's limit is 10"
    )


def test_a_malformed_batch_fails_every_record_with_bad_batch():
    batch = abi.pack([Record("a"), Record("b")])
    batch.lengths = batch.lengths[:-1]
    verdicts, failures = stage.run_filter(stage.StageCell(), Positive, batch, MockHost())
    assert verdicts == bytes([2, 2])
    message = "the host sent a malformed batch: `lengths` holds 11 entries; 2 records need 12"
    assert failures == [(0, RecordError("bad-batch", message)), (1, RecordError("bad-batch", message))]
    out, counts, failures = stage.run_transformer(stage.StageCell(), Echo, batch, MockHost())
    assert (len(out), counts, len(failures)) == (0, [0, 0], 2)
    failures = stage.run_emitter(stage.StageCell(), Shout, batch, MockHost())
    assert [(f.index, f.error.code, f.retryable) for f in failures] == [
        (0, "bad-batch", False), (1, "bad-batch", False)]


def test_an_empty_batch_builds_the_plugin_and_answers_nothing():
    h = Harness(Echo)
    assert h.transform([]) == []
    assert isinstance(h.plugin, Echo)


def test_export_registers_one_stage(monkeypatch):
    monkeypatch.setattr(stage, "_registered", None)
    assert stage.export_filter(Positive) is Positive
    assert stage.registered() == ("filter", Positive)
    stage.export_filter(Positive)
    with pytest.raises(RuntimeError):
        stage.export_transformer(Echo)
    with pytest.raises(TypeError):
        stage.export_emitter(Positive)


def test_the_harness_enforces_the_manifest_next_to_the_plugin(tmp_path, monkeypatch):
    (tmp_path / "weir-plugin.toml").write_text(
        'name = "x"\nlang = "python"\nstage = "filter"\ngrants = ["config"]\n'
    )
    (tmp_path / "granted_plugin.py").write_text(textwrap.dedent("""
        import weir_sdk

        class Chatty(weir_sdk.Filter):
            def keep(self, record, host):
                host.config("x")
                host.info("hello")
                return True
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import granted_plugin

    h = Harness(granted_plugin.Chatty, MockHost())
    assert h.stage == "filter"
    with pytest.raises(NotGranted) as e:
        h.filter([Record("x")])
    assert "`log`" in str(e.value)
    with pytest.raises(TypeError):
        h.transform([Record("x")])
    # A host with its own grants keeps them.
    assert Harness(granted_plugin.Chatty, MockHost(grants=["config", "log"])).filter(
        [Record("x")]) == [Keep]
    del sys.modules["granted_plugin"]
