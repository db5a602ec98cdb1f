from weir_sdk import Record
from weir_sdk.testing import Harness, MockHost, Publish

from plugin import Plugin


def test_publishes_each_record():
    h = Harness(Plugin, MockHost().with_config("topic", "t"))
    assert h.emit([Record(b"a")]) == []
    assert h.host.outbox() == [Publish("t", b"a", 1)]
