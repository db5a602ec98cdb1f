//! The packed record layout of the plugin boundary (`weir:plugin@0.1.1`, `packed-batch`).
//!
//! WIT 0.1.0 passed a batch as `list<record>`, each record with five strings, a byte list and a
//! list of attribute pairs: crossing the boundary cost one guest allocation per string and
//! wasmtime lowered every field of every record on its own. The packed layout passes the same
//! batch as four flat lists that wasmtime copies with one allocation each, whatever the batch
//! size (`host/benches/README.md` has the figures):
//!
//! - `data`: every record's bytes back to back. Per record, in this order: payload, partition
//!   key, source topic, client id, rule name, then each attribute's name and value.
//! - `lengths`: [`FIELDS_PER_RECORD`] entries per record: the byte lengths of payload,
//!   partition key, source topic, client id and rule name, then the record's attribute count.
//! - `attribute-lengths`: two entries per attribute, in record order: name length, value length.
//! - `arrival-timestamps-ms`: one entry per record; its length is the batch's record count.
//!
//! Everything but the payload is UTF-8. This crate is the layout's only encoder and reader,
//! used by the host (`weir-plugins`) and the guest SDK (`weir-sdk`) alike, so the two sides
//! cannot disagree about it. Reading checks the whole batch before any record is handed out:
//! a batch from the other side of the boundary is untrusted input.

use thiserror::Error;

/// Entries of `lengths` per record: five field lengths and the attribute count.
pub const FIELDS_PER_RECORD: usize = 6;

/// A filter's verdict on one record, one byte per record in `filter-output.verdicts`.
pub mod verdict {
    /// Pass the record on.
    pub const KEEP: u8 = 0;
    /// Drop it; not an error.
    pub const DROP: u8 = 1;
    /// It could not be judged; its error is in `filter-output.failures`.
    pub const FAILED: u8 = 2;
}

/// Names of the string fields in layout order, for error messages.
const FIELD_NAMES: [&str; 5] = [
    "payload",
    "partition-key",
    "source-topic",
    "client-id",
    "rule-name",
];

/// Why a packed batch cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LayoutError {
    /// `lengths` does not hold [`FIELDS_PER_RECORD`] entries per record.
    #[error("`lengths` holds {lengths} entries; {records} records need {expected}")]
    LengthsCount {
        /// Entries found.
        lengths: usize,
        /// Records in the batch (`arrival-timestamps-ms`).
        records: usize,
        /// Entries those records need.
        expected: usize,
    },
    /// A field is longer than what is left of `data`.
    #[error("record {record}: its {field} ({len} bytes) runs past the end of `data` ({left} bytes left)")]
    Overrun {
        /// Position of the record in the batch.
        record: usize,
        /// The field.
        field: &'static str,
        /// Its declared length.
        len: usize,
        /// Bytes of `data` left at that point.
        left: usize,
    },
    /// A text field is not UTF-8.
    #[error("record {record}: its {field} is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Position of the record in the batch.
        record: usize,
        /// The field.
        field: &'static str,
        /// Offset of the first invalid byte within the field.
        offset: usize,
    },
    /// A record claims more attributes than `attribute-lengths` describes.
    #[error("record {record}: its {count} attributes run past the end of `attribute-lengths`")]
    AttributesOverrun {
        /// Position of the record in the batch.
        record: usize,
        /// Attributes it claims.
        count: usize,
    },
    /// Bytes of `data` or entries of `attribute-lengths` follow the last record.
    #[error("{bytes} bytes of `data` and {attributes} entries of `attribute-lengths` follow the last record")]
    Trailing {
        /// Unread bytes of `data`.
        bytes: usize,
        /// Unread entries of `attribute-lengths`.
        attributes: usize,
    },
    /// A field or attribute count does not fit the layout's 32-bit lengths.
    #[error("record {record}: its {field} is {len} bytes or entries; the layout's limit is {max}", max = u32::MAX)]
    TooLarge {
        /// Position of the record in the batch.
        record: usize,
        /// The field.
        field: &'static str,
        /// Its size.
        len: usize,
    },
}

/// A batch in the packed layout: WIT's `packed-batch` as plain vectors, moved into and out of
/// the generated bindings of either side without a copy. Reused across calls (`clear` keeps
/// the capacity), so a steady stream of batches allocates nothing here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackedBatch {
    /// Every record's bytes back to back.
    pub data: Vec<u8>,
    /// [`FIELDS_PER_RECORD`] entries per record.
    pub lengths: Vec<u32>,
    /// Name and value length of every attribute, in record order.
    pub attribute_lengths: Vec<u32>,
    /// One per record.
    pub arrival_timestamps_ms: Vec<u64>,
}

/// A position in a [`PackedBatch`] being written (see [`PackedBatch::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark([usize; 4]);

/// One record's fields, borrowed: what [`PackedBatch::push`] appends (from either side's record type,
/// whose attributes are `(String, String)`), and, as [`RecordView`], what a checked batch hands
/// out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a, S = &'a str> {
    /// The message body.
    pub payload: &'a [u8],
    /// Ordering and shard key.
    pub partition_key: &'a str,
    /// MQTT topic of the original message.
    pub source_topic: &'a str,
    /// Publisher's client id.
    pub client_id: &'a str,
    /// The rule that matched.
    pub rule_name: &'a str,
    /// When Weir accepted the message, ms since the Unix epoch.
    pub arrival_timestamp_ms: u64,
    /// Attribute pairs (in a view, each already checked to be UTF-8).
    pub attributes: &'a [(S, S)],
}

/// One record of a checked batch, borrowing the batch's buffers.
pub type RecordView<'a> = Fields<'a, &'a str>;

/// A checked batch: the fields of every record, borrowing the batch's buffers.
#[derive(Debug, Default)]
pub struct Views<'a> {
    records: Vec<Spans<'a>>,
    attributes: Vec<(&'a str, &'a str)>,
}

/// One record's fields; its attributes are a range of [`Views::attributes`].
#[derive(Debug)]
struct Spans<'a> {
    payload: &'a [u8],
    text: [&'a str; 4],
    arrival_timestamp_ms: u64,
    attributes: std::ops::Range<usize>,
}

impl<'a> Views<'a> {
    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, in batch order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.records.iter().map(|s| RecordView {
            payload: s.payload,
            partition_key: s.text[0],
            source_topic: s.text[1],
            client_id: s.text[2],
            rule_name: s.text[3],
            arrival_timestamp_ms: s.arrival_timestamp_ms,
            attributes: &self.attributes[s.attributes.clone()],
        })
    }
}

fn len32(record: usize, field: &'static str, len: usize) -> Result<u32, LayoutError> {
    u32::try_from(len).map_err(|_| LayoutError::TooLarge { record, field, len })
}

impl PackedBatch {
    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.arrival_timestamps_ms.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.arrival_timestamps_ms.is_empty()
    }

    /// Empties the batch, keeping its buffers' capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.lengths.clear();
        self.attribute_lengths.clear();
        self.arrival_timestamps_ms.clear();
    }

    /// Where the batch ends now, to [`PackedBatch::truncate`] back to.
    pub fn mark(&self) -> Mark {
        Mark([
            self.data.len(),
            self.lengths.len(),
            self.attribute_lengths.len(),
            self.arrival_timestamps_ms.len(),
        ])
    }

    /// Drops every record pushed since `mark` was taken: a writer that gives up on a group of
    /// records half-way leaves the batch as it was.
    pub fn truncate(&mut self, mark: Mark) {
        let [data, lengths, attributes, records] = mark.0;
        self.data.truncate(data);
        self.lengths.truncate(lengths);
        self.attribute_lengths.truncate(attributes);
        self.arrival_timestamps_ms.truncate(records);
    }

    /// Appends one record. Fails (leaving the batch as it was) only for a field or attribute
    /// count above the layout's 32-bit limit.
    pub fn push<S: AsRef<str>>(&mut self, r: Fields<'_, S>) -> Result<(), LayoutError> {
        let record = self.len();
        let mut lengths = [0u32; FIELDS_PER_RECORD];
        let texts = [
            r.payload,
            r.partition_key.as_bytes(),
            r.source_topic.as_bytes(),
            r.client_id.as_bytes(),
            r.rule_name.as_bytes(),
        ];
        for (slot, (bytes, field)) in lengths.iter_mut().zip(texts.iter().zip(FIELD_NAMES)) {
            *slot = len32(record, field, bytes.len())?;
        }
        lengths[5] = len32(record, "attribute count", r.attributes.len())?;
        let mut attribute_lengths = Vec::with_capacity(r.attributes.len() * 2);
        for (name, value) in r.attributes {
            attribute_lengths.push(len32(record, "attribute name", name.as_ref().len())?);
            attribute_lengths.push(len32(record, "attribute value", value.as_ref().len())?);
        }
        for bytes in texts {
            self.data.extend_from_slice(bytes);
        }
        for (name, value) in r.attributes {
            self.data.extend_from_slice(name.as_ref().as_bytes());
            self.data.extend_from_slice(value.as_ref().as_bytes());
        }
        self.lengths.extend_from_slice(&lengths);
        self.attribute_lengths.extend_from_slice(&attribute_lengths);
        self.arrival_timestamps_ms.push(r.arrival_timestamp_ms);
        Ok(())
    }

    /// Checks the whole batch (bounds, UTF-8, nothing left over) and returns every record's
    /// fields, borrowed from it.
    pub fn views(&self) -> Result<Views<'_>, LayoutError> {
        let records = self.len();
        let expected = records.saturating_mul(FIELDS_PER_RECORD);
        if self.lengths.len() != expected {
            return Err(LayoutError::LengthsCount {
                lengths: self.lengths.len(),
                records,
                expected,
            });
        }
        let mut cursor = Cursor {
            data: &self.data,
            at: 0,
        };
        let mut attribute_at = 0usize;
        let mut views = Views {
            records: Vec::with_capacity(records),
            attributes: Vec::with_capacity(self.attribute_lengths.len() / 2),
        };
        let fields = self.lengths.chunks_exact(FIELDS_PER_RECORD);
        for (record, (fields, &arrival_timestamp_ms)) in
            fields.zip(&self.arrival_timestamps_ms).enumerate()
        {
            let payload = cursor.take(record, FIELD_NAMES[0], fields[0])?;
            let mut text = [""; 4];
            for (i, slot) in text.iter_mut().enumerate() {
                *slot = cursor.text(record, FIELD_NAMES[i + 1], fields[i + 1])?;
            }
            let count = fields[5] as usize;
            let pairs = self
                .attribute_lengths
                .get(attribute_at..)
                .and_then(|rest| rest.get(..count.checked_mul(2)?))
                .ok_or(LayoutError::AttributesOverrun { record, count })?;
            attribute_at += pairs.len();
            let first = views.attributes.len();
            for pair in pairs.chunks_exact(2) {
                let name = cursor.text(record, "attribute name", pair[0])?;
                let value = cursor.text(record, "attribute value", pair[1])?;
                views.attributes.push((name, value));
            }
            views.records.push(Spans {
                payload,
                text,
                arrival_timestamp_ms,
                attributes: first..views.attributes.len(),
            });
        }
        let trailing_bytes = self.data.len() - cursor.at;
        let trailing_attributes = self.attribute_lengths.len() - attribute_at;
        if trailing_bytes != 0 || trailing_attributes != 0 {
            return Err(LayoutError::Trailing {
                bytes: trailing_bytes,
                attributes: trailing_attributes,
            });
        }
        Ok(views)
    }
}

/// Reads fields off the front of `data`.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(
        &mut self,
        record: usize,
        field: &'static str,
        len: u32,
    ) -> Result<&'a [u8], LayoutError> {
        let len = len as usize;
        let left = self.data.len() - self.at;
        let bytes = self
            .data
            .get(self.at..)
            .and_then(|rest| rest.get(..len))
            .ok_or(LayoutError::Overrun {
                record,
                field,
                len,
                left,
            })?;
        self.at += len;
        Ok(bytes)
    }

    fn text(
        &mut self,
        record: usize,
        field: &'static str,
        len: u32,
    ) -> Result<&'a str, LayoutError> {
        let bytes = self.take(record, field, len)?;
        std::str::from_utf8(bytes).map_err(|e| LayoutError::NotUtf8 {
            record,
            field,
            offset: e.valid_up_to(),
        })
    }
}

#[cfg(test)]
mod tests;
