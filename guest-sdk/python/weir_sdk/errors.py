"""Errors a plugin reports for one record, and for itself.

Raise them from `keep`, `transform`, `emit` or the constructor; the batch driver turns them into
the per-record results the host routes. Any other exception is a bug in the plugin and fails the
whole batch, as a panic does in a Rust plugin (see `weir_sdk.stage`).
"""

__all__ = [
    "RecordError",
    "InitError",
    "EmitError",
    "NotGranted",
    "LookupFailed",
    "OutboxRefused",
]


class RecordError(Exception):
    """Why one record could not be processed.

    The host routes the record to the rule's error action with this code and message, adding the
    plugin's name and version. Codes are short kebab-case words (`missing-field`, `bad-value`)
    so error actions and metrics can group by them; messages name the offending field and value.
    """

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = str(code)
        self.message = str(message)

    @classmethod
    def missing_field(cls, field):
        """The payload lacks a field the plugin needs (a JSON null counts as missing)."""
        return cls("missing-field", "field `%s` is missing" % field)

    @classmethod
    def bad_value(cls, field, why):
        """A field is present but its value is unusable."""
        return cls("bad-value", "field `%s`: %s" % (field, why))

    def __str__(self):
        return "%s: %s" % (self.code, self.message)

    def __repr__(self):
        return "RecordError(%r, %r)" % (self.code, self.message)

    def __eq__(self, other):
        if not isinstance(other, RecordError):
            return NotImplemented
        return (self.code, self.message) == (other.code, other.message)

    def __hash__(self):
        return hash((self.code, self.message))

    def plain(self):
        """This error as a plain RecordError (a subclass such as LookupFailed loses its type)."""
        return self if type(self) is RecordError else RecordError(self.code, self.message)


class LookupFailed(RecordError):
    """The host refused a lookup (no such table, or a table not granted to this plugin).

    Raised by `host.lookup`; left uncaught, it fails the record with code `lookup-failed` and the
    host's reason, which is what the Rust plugins do with the same error."""

    def __init__(self, message):
        super().__init__("lookup-failed", message)


class OutboxRefused(RecordError):
    """The host refused an outbox request (unknown stream, channel not granted, message too
    large). Raised by `publish`, `put_record` and `notify`; left uncaught it fails the record
    permanently with code `outbox-refused`. Catch it to raise `EmitError.retryable(...)`
    instead when trying again later may help."""

    def __init__(self, message):
        super().__init__("outbox-refused", message)


class InitError(Exception):
    """A plugin could not start, typically because its configuration is wrong.

    Every record of the batch that triggered the start fails with code `plugin-init` and this
    message; the next batch tries again, so a plugin whose table or configuration appears later
    recovers by itself."""

    def __init__(self, message):
        super().__init__(message)
        self.message = str(message)

    @classmethod
    def config(cls, key, why):
        """A configuration value is unusable: `config `KEY`: WHY`."""
        return cls("config `%s`: %s" % (key, why))

    def record_error(self):
        """The error each record of the failed batch gets."""
        return RecordError("plugin-init", self.message)

    def __str__(self):
        return self.message

    def __repr__(self):
        return "InitError(%r)" % self.message

    def __eq__(self, other):
        if not isinstance(other, InitError):
            return NotImplemented
        return self.message == other.message

    def __hash__(self):
        return hash(self.message)


def _as_record_error(error, message):
    if isinstance(error, RecordError):
        if message is not None:
            raise TypeError("give either a RecordError or a code and a message")
        return error.plain()
    if message is None:
        raise TypeError("EmitError needs a RecordError, or a code and a message")
    return RecordError(error, message)


class EmitError(Exception):
    """Why an emitter could not deliver one record.

    Build it with `EmitError.permanent(error)` (a bad record: straight to the error action) or
    `EmitError.retryable(error)` (the destination may accept it later: the host retries with
    backoff first). Both take a RecordError or a code and a message. An emitter that raises a
    plain RecordError fails the record permanently.

    On an instance, `.error` is the RecordError and `.retryable` the flag.
    """

    def __init__(self, error, retryable=False):
        error = _as_record_error(error, None)
        super().__init__(error, bool(retryable))
        self.error = error
        # An instance attribute: it hides the `retryable` constructor on instances only.
        self.retryable = bool(retryable)

    @classmethod
    def permanent(cls, error, message=None):
        """A failure that will not go away by retrying."""
        return cls(_as_record_error(error, message), False)

    @classmethod
    def retryable(cls, error, message=None):  # noqa: F811 (the instance flag shares the name)
        """A failure that may succeed later (a refused or unavailable destination)."""
        return cls(_as_record_error(error, message), True)

    def __str__(self):
        return "%s%s" % (self.error, " (retryable)" if self.retryable else "")

    def __repr__(self):
        kind = "retryable" if self.retryable else "permanent"
        return "EmitError.%s(%r)" % (kind, self.error)

    def __eq__(self, other):
        if not isinstance(other, EmitError):
            return NotImplemented
        return (self.error, self.retryable) == (other.error, other.retryable)

    def __hash__(self):
        return hash((self.error, self.retryable))


class NotGranted(RuntimeError):
    """The plugin called a host function whose capability its manifest does not grant.

    This is a bug in the plugin (or its manifest), not a record error: it fails the batch."""

    def __init__(self, capability, what=None):
        self.capability = capability
        super().__init__(
            "%s needs the `%s` capability, which this plugin was not built with: add \"%s\" "
            "to `grants` in weir-plugin.toml" % (what or "host." + capability, capability,
                                                 capability)
        )
