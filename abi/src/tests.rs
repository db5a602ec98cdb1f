use proptest::prelude::*;

use super::*;

/// An owned record, as either side keeps one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    payload: Vec<u8>,
    text: [String; 4],
    at: u64,
    attributes: Vec<(String, String)>,
}

impl Owned {
    fn fields(&self) -> Fields<'_, String> {
        Fields {
            payload: &self.payload,
            partition_key: &self.text[0],
            source_topic: &self.text[1],
            client_id: &self.text[2],
            rule_name: &self.text[3],
            arrival_timestamp_ms: self.at,
            attributes: &self.attributes,
        }
    }

    fn from_view(v: RecordView<'_>) -> Owned {
        Owned {
            payload: v.payload.to_vec(),
            text: [
                v.partition_key.into(),
                v.source_topic.into(),
                v.client_id.into(),
                v.rule_name.into(),
            ],
            at: v.arrival_timestamp_ms,
            attributes: v
                .attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

fn pack(records: &[Owned]) -> PackedBatch {
    let mut batch = PackedBatch::default();
    for r in records {
        batch.push(r.fields()).expect("push");
    }
    batch
}

fn unpack(batch: &PackedBatch) -> Result<Vec<Owned>, LayoutError> {
    Ok(batch.views()?.iter().map(Owned::from_view).collect())
}

fn sample() -> Vec<Owned> {
    vec![
        Owned {
            payload: br#"{"speed":"82"}"#.to_vec(),
            text: [
                "ABC123".into(),
                "car/1".into(),
                "pi".into(),
                "speeding".into(),
            ],
            at: 1_700_000_000_000,
            attributes: vec![("a".into(), "1".into()), ("é".into(), "".into())],
        },
        Owned {
            payload: vec![0xff, 0, 1],
            text: Default::default(),
            at: 0,
            attributes: vec![],
        },
    ]
}

#[test]
fn the_documented_layout() {
    let batch = pack(&sample()[..1]);
    assert_eq!(batch.lengths, [14, 6, 5, 2, 8, 2]);
    assert_eq!(batch.attribute_lengths, [1, 1, 2, 0]);
    assert_eq!(batch.arrival_timestamps_ms, [1_700_000_000_000]);
    let mut data = br#"{"speed":"82"}ABC123car/1pispeedinga1"#.to_vec();
    data.extend_from_slice("é".as_bytes());
    assert_eq!(batch.data, data);
}

#[test]
fn records_round_trip_and_clear_keeps_nothing() {
    let records = sample();
    let mut batch = pack(&records);
    assert_eq!(unpack(&batch).unwrap(), records);
    batch.clear();
    assert!(batch.is_empty());
    assert_eq!(unpack(&batch).unwrap(), []);
}

#[test]
fn truncate_drops_what_was_pushed_after_the_mark() {
    let records = sample();
    let mut batch = pack(&records[..1]);
    let mark = batch.mark();
    batch.push(records[1].fields()).unwrap();
    batch.push(records[0].fields()).unwrap();
    batch.truncate(mark);
    assert_eq!(batch, pack(&records[..1]));
}

#[test]
fn a_short_or_long_lengths_list_is_refused() {
    let mut batch = pack(&sample());
    batch.lengths.pop();
    assert_eq!(
        batch.views().unwrap_err(),
        LayoutError::LengthsCount {
            lengths: 11,
            records: 2,
            expected: 12
        }
    );
}

#[test]
fn a_field_past_the_end_names_the_record_and_field() {
    let mut batch = pack(&sample());
    batch.lengths[FIELDS_PER_RECORD + 2] = u32::MAX;
    let err = batch.views().unwrap_err();
    assert!(
        matches!(
            err,
            LayoutError::Overrun {
                record: 1,
                field: "source-topic",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("record 1: its source-topic"),
        "{err}"
    );
}

#[test]
fn text_that_is_not_utf8_is_refused_but_a_binary_payload_is_not() {
    let mut batch = PackedBatch::default();
    batch
        .push(Fields::<&str> {
            payload: &[0xff],
            partition_key: "k",
            source_topic: "",
            client_id: "",
            rule_name: "",
            arrival_timestamp_ms: 1,
            attributes: &[],
        })
        .unwrap();
    assert!(batch.views().is_ok());
    batch.data[1] = 0xc3; // a lone lead byte as the partition key
    assert_eq!(
        batch.views().unwrap_err(),
        LayoutError::NotUtf8 {
            record: 0,
            field: "partition-key",
            offset: 0
        }
    );
}

#[test]
fn attribute_counts_and_leftovers_are_checked() {
    let mut batch = pack(&sample());
    batch.lengths[5] = 3;
    assert_eq!(
        batch.views().unwrap_err(),
        LayoutError::AttributesOverrun {
            record: 0,
            count: 3
        }
    );
    batch.lengths[5] = u32::MAX;
    assert!(matches!(
        batch.views().unwrap_err(),
        LayoutError::AttributesOverrun { .. }
    ));
    let mut batch = pack(&sample());
    batch.data.push(b'x');
    batch.attribute_lengths.push(0);
    assert_eq!(
        batch.views().unwrap_err(),
        LayoutError::Trailing {
            bytes: 1,
            attributes: 1
        }
    );
}

fn owned() -> impl Strategy<Value = Owned> {
    (
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::array::uniform4(".{0,12}"),
        any::<u64>(),
        proptest::collection::vec((".{0,6}", ".{0,6}"), 0..4),
    )
        .prop_map(|(payload, text, at, attributes)| Owned {
            payload,
            text,
            at,
            attributes,
        })
}

proptest! {
    #[test]
    fn any_batch_round_trips(records in proptest::collection::vec(owned(), 0..20)) {
        prop_assert_eq!(unpack(&pack(&records)).unwrap(), records);
    }

    /// Whatever the other side sends, reading answers a batch or an error, never a panic.
    #[test]
    fn any_bytes_read_without_panicking(
        data in proptest::collection::vec(any::<u8>(), 0..64),
        lengths in proptest::collection::vec(0u32..20, 0..24),
        attribute_lengths in proptest::collection::vec(0u32..8, 0..8),
        records in 0usize..4,
    ) {
        let batch = PackedBatch {
            data,
            lengths,
            attribute_lengths,
            arrival_timestamps_ms: vec![0; records],
        };
        let _ = unpack(&batch);
    }
}
