use rust_decimal::Decimal;

use super::*;

fn run(kind: AggKind, distinct: bool, values: &[Value]) -> Result<Value, SqlError> {
    let mut a = Accumulator::new(kind, distinct);
    for v in values {
        a.add(v)?;
    }
    a.result()
}

fn ints(vs: &[i32]) -> Vec<Value> {
    vs.iter().map(|v| Value::Integer(*v)).collect()
}

#[test]
fn names_resolve_case_insensitively() {
    assert_eq!(AggKind::from_name("count"), Some(AggKind::Count));
    assert_eq!(AggKind::from_name("Std_Dev"), Some(AggKind::StddevSamp));
    assert_eq!(AggKind::from_name("first_value"), Some(AggKind::FirstValue));
    assert_eq!(AggKind::from_name("UPPER"), None);
}

#[test]
fn result_types_follow_the_argument() {
    assert_eq!(
        AggKind::Count.result_type(&SqlType::Varchar(4)),
        SqlType::BigInt
    );
    assert_eq!(
        AggKind::CountStar.result_type(&SqlType::Real),
        SqlType::BigInt
    );
    assert_eq!(
        AggKind::Avg.result_type(&SqlType::Integer),
        SqlType::Integer
    );
    assert_eq!(AggKind::Sum.result_type(&SqlType::Real), SqlType::Real);
    let dec = SqlType::Decimal {
        precision: 8,
        scale: 2,
    };
    assert_eq!(AggKind::Sum.result_type(&dec), dec);
    assert_eq!(
        AggKind::VarPop.result_type(&SqlType::Integer),
        SqlType::Double
    );
    assert_eq!(
        AggKind::StddevSamp.result_type(&SqlType::Real),
        SqlType::Real
    );
    assert_eq!(
        AggKind::Max.result_type(&SqlType::Varchar(9)),
        SqlType::Varchar(9)
    );
    assert!(!AggKind::Sum.accepts(&SqlType::Varchar(4)));
    assert!(AggKind::Sum.accepts(&SqlType::IntervalDayTime));
    assert!(AggKind::Min.accepts(&SqlType::Timestamp));
}

#[test]
fn nulls_are_skipped_and_empty_sets_give_null_except_count() {
    let with_null = vec![Value::Integer(4), Value::Null, Value::Integer(6)];
    assert_eq!(run(AggKind::Count, false, &with_null), Ok(Value::BigInt(2)));
    assert_eq!(
        run(AggKind::CountStar, false, &with_null),
        Ok(Value::BigInt(3))
    );
    assert_eq!(run(AggKind::Sum, false, &with_null), Ok(Value::Integer(10)));
    assert_eq!(run(AggKind::Avg, false, &with_null), Ok(Value::Integer(5)));
    assert_eq!(run(AggKind::Min, false, &with_null), Ok(Value::Integer(4)));
    for kind in [
        AggKind::Sum,
        AggKind::Avg,
        AggKind::Min,
        AggKind::Max,
        AggKind::FirstValue,
        AggKind::LastValue,
        AggKind::VarPop,
        AggKind::StddevSamp,
    ] {
        assert_eq!(run(kind, false, &[]), Ok(Value::Null), "{kind:?}");
        assert_eq!(
            run(kind, false, &[Value::Null])
                .map(|v| v.is_null() || kind == AggKind::FirstValue || kind == AggKind::LastValue),
            Ok(true),
            "{kind:?}"
        );
    }
    assert_eq!(run(AggKind::Count, false, &[]), Ok(Value::BigInt(0)));
    assert_eq!(
        run(AggKind::Count, false, &[Value::Null]),
        Ok(Value::BigInt(0))
    );
}

#[test]
fn integer_avg_truncates_and_sum_overflow_is_an_error() {
    assert_eq!(
        run(AggKind::Avg, false, &ints(&[1, 2])),
        Ok(Value::Integer(1))
    );
    assert_eq!(
        run(AggKind::Avg, false, &ints(&[-1, -2])),
        Ok(Value::Integer(-1))
    );
    let big = ints(&[i32::MAX, 1]);
    let e = run(AggKind::Sum, false, &big).expect_err("overflow");
    assert_eq!(e.name, "NumericOverflow");
    // The average of the same values fits: the running sum is wider than the type.
    assert_eq!(
        run(AggKind::Avg, false, &big),
        Ok(Value::Integer(1_073_741_824))
    );
    // A transient overflow that a later value brings back is no error.
    assert_eq!(
        run(AggKind::Sum, false, &ints(&[i32::MAX, 1, -1])),
        Ok(Value::Integer(i32::MAX))
    );
    let bigs = [Value::BigInt(i64::MAX), Value::BigInt(1)];
    assert!(run(AggKind::Sum, false, &bigs).is_err());
}

#[test]
fn decimals_sum_exactly_and_real_sums_in_float32() {
    let d = |n: i64, s: u32| Value::Decimal(Decimal::new(n, s));
    assert_eq!(
        run(AggKind::Sum, false, &[d(10, 1), d(20, 1), d(1, 2)]),
        Ok(d(301, 2))
    );
    assert_eq!(
        run(AggKind::Avg, false, &[d(100, 2), d(200, 2), d(200, 2)]),
        Ok(d(166, 2))
    );
    let reals: Vec<Value> = (0..10).map(|_| Value::Real(0.1)).collect();
    let mut expected = 0f32;
    for _ in 0..10 {
        expected += 0.1f32;
    }
    assert_eq!(run(AggKind::Sum, false, &reals), Ok(Value::Real(expected)));
    assert_eq!(
        run(AggKind::Avg, false, &reals),
        Ok(Value::Real(expected / 10.0))
    );
    assert_eq!(
        run(
            AggKind::Sum,
            false,
            &[Value::Double(0.5), Value::Double(0.25)]
        ),
        Ok(Value::Double(0.75))
    );
}

/// The formulas of
/// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-statistical-variance-deviation-functions.html>:
/// VAR_POP = (SUM(x*x) - SUM(x)^2/COUNT) / COUNT, VAR_SAMP over COUNT - 1, NULL for one value.
#[test]
fn variances_follow_the_reference_formulas() {
    let xs = ints(&[2, 4, 4, 4, 5, 5, 7, 9]);
    assert_eq!(run(AggKind::VarPop, false, &xs), Ok(Value::Double(4.0)));
    assert_eq!(run(AggKind::StddevPop, false, &xs), Ok(Value::Double(2.0)));
    assert_eq!(
        run(AggKind::VarSamp, false, &xs),
        Ok(Value::Double(32.0 / 7.0))
    );
    assert_eq!(
        run(AggKind::StddevSamp, false, &xs),
        Ok(Value::Double((32.0f64 / 7.0).sqrt()))
    );
    assert_eq!(run(AggKind::VarSamp, false, &ints(&[3])), Ok(Value::Null));
    assert_eq!(
        run(AggKind::StddevSamp, false, &ints(&[3])),
        Ok(Value::Null)
    );
    assert_eq!(
        run(AggKind::VarPop, false, &ints(&[3])),
        Ok(Value::Double(0.0))
    );
    let reals = [Value::Real(1.0), Value::Real(3.0)];
    assert_eq!(run(AggKind::StddevPop, false, &reals), Ok(Value::Real(1.0)));
}

#[test]
fn distinct_counts_each_value_once() {
    let xs = vec![
        Value::Varchar("A".into()),
        Value::Char("A  ".into()),
        Value::Varchar("B".into()),
        Value::Null,
    ];
    assert_eq!(run(AggKind::Count, true, &xs), Ok(Value::BigInt(2)));
    assert_eq!(
        run(AggKind::Sum, true, &ints(&[5, 5, 7])),
        Ok(Value::Integer(12))
    );
    assert_eq!(
        run(AggKind::Avg, true, &ints(&[5, 5, 7])),
        Ok(Value::Integer(6))
    );
    let mut a = Accumulator::new_removable(AggKind::Sum, true);
    for v in ints(&[5, 5, 7]) {
        a.add(&v).expect("add");
    }
    a.remove(&Value::Integer(5)).expect("remove");
    assert_eq!(a.result(), Ok(Value::Integer(12)), "one 5 is still in");
    a.remove(&Value::Integer(5)).expect("remove");
    assert_eq!(a.result(), Ok(Value::Integer(7)));
}

#[test]
fn removal_is_exact_for_extremes_and_first_last() {
    let vals = ints(&[5, 1, 9, 1, 3]);
    let mut accs: Vec<Accumulator> = [
        AggKind::Min,
        AggKind::Max,
        AggKind::FirstValue,
        AggKind::LastValue,
        AggKind::Sum,
        AggKind::Count,
        AggKind::VarPop,
    ]
    .into_iter()
    .map(|k| Accumulator::new_removable(k, false))
    .collect();
    for v in &vals {
        for a in &mut accs {
            a.add(v).expect("add");
        }
    }
    let results = |accs: &[Accumulator]| -> Vec<Value> {
        accs.iter().map(|a| a.result().expect("result")).collect()
    };
    assert_eq!(
        results(&accs)[..6],
        [
            Value::Integer(1),
            Value::Integer(9),
            Value::Integer(5),
            Value::Integer(3),
            Value::Integer(19),
            Value::BigInt(5)
        ]
    );
    // The two oldest (5, 1) leave: a 1 remains, 9 remains.
    for v in &vals[..2] {
        for a in &mut accs {
            a.remove(v).expect("remove");
        }
    }
    assert_eq!(
        results(&accs)[..6],
        [
            Value::Integer(1),
            Value::Integer(9),
            Value::Integer(9),
            Value::Integer(3),
            Value::Integer(13),
            Value::BigInt(3)
        ]
    );
    for v in &vals[2..4] {
        for a in &mut accs {
            a.remove(v).expect("remove");
        }
    }
    assert_eq!(
        results(&accs),
        [
            Value::Integer(3),
            Value::Integer(3),
            Value::Integer(3),
            Value::Integer(3),
            Value::Integer(3),
            Value::BigInt(1),
            Value::Double(0.0)
        ]
    );
    for a in &mut accs {
        a.remove(&vals[4]).expect("remove");
        assert!(a.is_empty());
    }
    assert_eq!(results(&accs)[0], Value::Null);
    assert_eq!(results(&accs)[5], Value::BigInt(0));
}

#[test]
fn first_and_last_respect_nulls_unless_told() {
    let xs = [Value::Null, Value::Integer(2), Value::Null];
    assert_eq!(run(AggKind::FirstValue, false, &xs), Ok(Value::Null));
    assert_eq!(run(AggKind::LastValue, false, &xs), Ok(Value::Null));
    let mut a = Accumulator::new(AggKind::FirstValue, false).ignoring_nulls();
    let mut b = Accumulator::new(AggKind::LastValue, false).ignoring_nulls();
    for v in &xs {
        a.add(v).expect("add");
        b.add(v).expect("add");
    }
    assert_eq!(a.result(), Ok(Value::Integer(2)));
    assert_eq!(b.result(), Ok(Value::Integer(2)));
}

#[test]
fn min_max_compare_strings_and_timestamps() {
    let xs = [
        Value::Varchar("MSFT".into()),
        Value::Varchar("AMZN".into()),
        Value::Varchar("TBV".into()),
    ];
    assert_eq!(
        run(AggKind::Min, false, &xs),
        Ok(Value::Varchar("AMZN".into()))
    );
    assert_eq!(
        run(AggKind::Max, false, &xs),
        Ok(Value::Varchar("TBV".into()))
    );
    let ts = [Value::Timestamp(5), Value::Timestamp(2)];
    assert_eq!(run(AggKind::Max, false, &ts), Ok(Value::Timestamp(5)));
    let mixed = [Value::Integer(1), Value::Varchar("x".into())];
    assert!(run(AggKind::Max, false, &mixed).is_err());
    assert!(run(AggKind::Sum, false, &[Value::Varchar("x".into())]).is_err());
}

#[test]
fn merge_equals_adding_everything() {
    for kind in [
        AggKind::Count,
        AggKind::Sum,
        AggKind::Avg,
        AggKind::Min,
        AggKind::Max,
        AggKind::FirstValue,
        AggKind::LastValue,
        AggKind::VarSamp,
    ] {
        for distinct in [false, true] {
            let (left, right) = (ints(&[3, 8, 3]), ints(&[8, -2, 4]));
            let mut a = Accumulator::new(kind, distinct);
            let mut b = Accumulator::new(kind, distinct);
            let mut all = Accumulator::new(kind, distinct);
            for v in &left {
                a.add(v).expect("add");
                all.add(v).expect("add");
            }
            for v in &right {
                b.add(v).expect("add");
                all.add(v).expect("add");
            }
            a.merge(&b).expect("merge");
            assert_eq!(a.result(), all.result(), "{kind:?} distinct={distinct}");
        }
    }
}

#[test]
fn state_round_trips_through_json() {
    let mut accs = vec![
        Accumulator::new(AggKind::Sum, true),
        Accumulator::new_removable(AggKind::Max, false),
        Accumulator::new(AggKind::Avg, false),
        Accumulator::new_removable(AggKind::FirstValue, false),
    ];
    for v in [
        Value::Decimal(Decimal::new(125, 2)),
        Value::Decimal(Decimal::new(5, 1)),
    ] {
        for a in &mut accs {
            a.add(&v).expect("add");
        }
    }
    let json = serde_json::to_value(&accs).expect("serialise");
    let back: Vec<Accumulator> = serde_json::from_value(json).expect("deserialise");
    for (a, b) in accs.iter().zip(&back) {
        assert_eq!(a.result(), b.result());
    }
    let mut max = back[1].clone();
    max.remove(&Value::Decimal(Decimal::new(125, 2)))
        .expect("remove");
    assert_eq!(max.result(), Ok(Value::Decimal(Decimal::new(5, 1))));
}

#[test]
fn bigint_sums_run_wider_than_bigint() {
    let mut a = Accumulator::new_removable(AggKind::Sum, false);
    for _ in 0..4 {
        a.add(&Value::BigInt(i64::MAX)).expect("add");
    }
    a.add(&Value::BigInt(i64::MIN)).expect("add");
    assert_eq!(
        a.result().map_err(|e| e.name),
        Err("NumericOverflow".to_string())
    );
    for _ in 0..3 {
        a.remove(&Value::BigInt(i64::MAX)).expect("remove");
    }
    assert_eq!(a.result(), Ok(Value::BigInt(-1)));
    let json = serde_json::to_string(&a).expect("serialise");
    let back: Accumulator = serde_json::from_str(&json).expect("restore");
    assert_eq!(back.result(), Ok(Value::BigInt(-1)));
    let mut avg = Accumulator::new(AggKind::Avg, false);
    for v in [i64::MIN, i64::MIN, -2] {
        avg.add(&Value::BigInt(v)).expect("add");
    }
    assert_eq!(
        avg.result(),
        Ok(Value::BigInt(((2 * i128::from(i64::MIN) - 2) / 3) as i64))
    );
}

#[test]
fn check_agrees_with_add() {
    let values = [
        Value::Integer(1),
        Value::BigInt(i64::MAX),
        Value::Real(0.5),
        Value::Double(2.0),
        Value::Decimal(Decimal::MAX),
        Value::Decimal(Decimal::new(5, 1)),
        Value::IntervalDayTime(1_000),
        Value::Varchar("x".into()),
        Value::Timestamp(0),
        Value::Null,
    ];
    for kind in [AggKind::Sum, AggKind::Min, AggKind::VarPop] {
        for first in &values {
            for second in &values {
                let mut a = Accumulator::new(kind, false);
                if a.add(first).is_err() {
                    continue;
                }
                let checked = a.check(second).is_ok();
                let added = a.add(second).is_ok();
                assert_eq!(checked, added, "{kind:?} {first:?} then {second:?}");
            }
        }
    }
}
