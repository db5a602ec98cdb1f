//! Values as hash keys: GROUP BY keys, PARTITION BY keys, DISTINCT sets and join keys.
//!
//! `Value` derives `PartialEq` structurally (`Integer(3) != BigInt(3)`, `'ab ' != 'ab'`,
//! `NaN != NaN`), which is not SQL's grouping equality. [`KeyValue`] and [`GroupKey`] hash and
//! compare through one canonical form that agrees with [`Value::sql_cmp`]: numbers by value
//! across kinds (an integral float or decimal equals the integer), character strings with
//! trailing blanks ignored (PAD SPACE), every NaN in one group, `-0.0` equal to `0`, and every
//! NULL in one group (SQL's GROUP BY puts NULLs together even though `NULL = NULL` is unknown).
//! A non-integral DECIMAL is the same key as a float when the float reads back as that
//! decimal (DECIMAL 0.1 and DOUBLE 0.1); a decimal with more digits than a double keeps is
//! only equal to decimals (sql_cmp would round it to the nearest double).

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::value::Value;

/// The canonical form two values share exactly when they are the same key.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Canon<'a> {
    Null,
    Bool(bool),
    /// Every integral number that fits an i64, whatever its kind.
    Int(i64),
    /// A decimal that is not an integral i64, normalised (1.50 and 1.5 are one key).
    Dec(Decimal),
    /// A float that is not an integral i64 (its bits; -0.0 never gets here).
    Float(u64),
    NaN,
    Str(&'a str),
    Bytes(&'a [u8]),
    Date(i32),
    Time(u32),
    Timestamp(i64),
    IntervalDayTime(i64),
    IntervalYearMonth(i32),
    Row(Vec<Canon<'a>>),
}

/// Floats in this range convert to i64 exactly when integral.
const I64_FLOAT_BOUND: f64 = 9_223_372_036_854_775_808.0;

fn canon_float(f: f64) -> Canon<'static> {
    if f.is_nan() {
        Canon::NaN
    } else if f.fract() == 0.0 && f.abs() < I64_FLOAT_BOUND {
        Canon::Int(f as i64)
    } else {
        Canon::Float(f.to_bits())
    }
}

fn canon(v: &Value) -> Canon<'_> {
    match v {
        Value::Null => Canon::Null,
        Value::Boolean(b) => Canon::Bool(*b),
        Value::TinyInt(_) | Value::SmallInt(_) | Value::Integer(_) | Value::BigInt(_) => {
            Canon::Int(v.as_i64().unwrap_or_default())
        }
        Value::Decimal(d) => {
            if d.fract().is_zero() {
                if let Some(i) = d.to_i64() {
                    return Canon::Int(i);
                }
            }
            // A decimal a double holds exactly enough to read back (0.1, 2.75) is that
            // double's key, as sql_cmp compares decimals with floats through f64.
            if let Some(f) = d.to_f64() {
                if Decimal::from_f64(f).is_some_and(|back| back == *d) {
                    return canon_float(f);
                }
            }
            Canon::Dec(d.normalize())
        }
        Value::Real(f) => canon_float(f64::from(*f)),
        Value::Double(f) => canon_float(*f),
        Value::Char(s) | Value::Varchar(s) => Canon::Str(s.trim_end_matches(' ')),
        Value::Binary(b) => Canon::Bytes(b),
        Value::Date(d) => Canon::Date(*d),
        Value::Time(t) => Canon::Time(*t),
        Value::Timestamp(t) => Canon::Timestamp(*t),
        Value::IntervalDayTime(i) => Canon::IntervalDayTime(*i),
        Value::IntervalYearMonth(i) => Canon::IntervalYearMonth(*i),
        Value::Row(cols) => Canon::Row(cols.iter().map(|(_, v)| canon(v)).collect()),
    }
}

/// Hashes a value the way [`key_eq`] compares it.
pub fn hash_value<H: Hasher>(v: &Value, state: &mut H) {
    canon(v).hash(state);
}

/// Whether two values are the same GROUP BY / PARTITION BY / DISTINCT key.
pub fn key_eq(a: &Value, b: &Value) -> bool {
    canon(a) == canon(b)
}

/// Whether two key tuples are the same key, column by column.
pub fn keys_eq(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key_eq(x, y))
}

/// Hashes a key tuple the way [`keys_eq`] compares it.
pub fn hash_values<H: Hasher>(vs: &[Value], state: &mut H) {
    state.write_usize(vs.len());
    for v in vs {
        hash_value(v, state);
    }
}

/// One value usable as a `HashMap`/`HashSet` key with SQL grouping equality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyValue(pub Value);

impl PartialEq for KeyValue {
    fn eq(&self, other: &Self) -> bool {
        key_eq(&self.0, &other.0)
    }
}

impl Eq for KeyValue {}

impl Hash for KeyValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_value(&self.0, state);
    }
}

/// A tuple of values (GROUP BY columns, PARTITION BY columns, a join's key columns) usable
/// as a `HashMap` key with SQL grouping equality.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupKey(pub Vec<Value>);

impl PartialEq for GroupKey {
    fn eq(&self, other: &Self) -> bool {
        keys_eq(&self.0, &other.0)
    }
}

impl Eq for GroupKey {}

impl Hash for GroupKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_values(&self.0, state);
    }
}

/// A total order over values for MIN/MAX multisets: SQL order where `sql_cmp` gives one,
/// then by kind (so a NaN sorts above every number and equals every other NaN). Values that
/// are the same key compare `Equal`.
pub fn total_cmp(a: &Value, b: &Value) -> Ordering {
    if let Some(o) = a.sql_cmp(b) {
        return o;
    }
    let rank = |v: &Value| -> u8 {
        match v {
            Value::Null => 0,
            Value::Boolean(_) => 1,
            Value::Real(f) if f.is_nan() => 3,
            Value::Double(f) if f.is_nan() => 3,
            Value::TinyInt(_)
            | Value::SmallInt(_)
            | Value::Integer(_)
            | Value::BigInt(_)
            | Value::Decimal(_)
            | Value::Real(_)
            | Value::Double(_) => 2,
            Value::Char(_) | Value::Varchar(_) => 4,
            Value::Binary(_) => 5,
            Value::Date(_) => 6,
            Value::Time(_) => 7,
            Value::Timestamp(_) => 8,
            Value::IntervalDayTime(_) => 9,
            Value::IntervalYearMonth(_) => 10,
            Value::Row(_) => 11,
        }
    };
    if key_eq(a, b) {
        return Ordering::Equal;
    }
    rank(a)
        .cmp(&rank(b))
        .then_with(|| format!("{a:?}").cmp(&format!("{b:?}")))
}

/// A value ordered by [`total_cmp`], for `BTreeMap` multisets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrdValue(pub Value);

impl PartialEq for OrdValue {
    fn eq(&self, other: &Self) -> bool {
        total_cmp(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for OrdValue {}

impl PartialOrd for OrdValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdValue {
    fn cmp(&self, other: &Self) -> Ordering {
        total_cmp(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn h(v: &Value) -> u64 {
        let mut s = std::collections::hash_map::DefaultHasher::new();
        hash_value(v, &mut s);
        s.finish()
    }

    #[test]
    fn numbers_group_by_value_across_kinds() {
        let same = [
            Value::Integer(3),
            Value::BigInt(3),
            Value::TinyInt(3),
            Value::Double(3.0),
            Value::Real(3.0),
            Value::Decimal(Decimal::new(300, 2)),
        ];
        for a in &same {
            for b in &same {
                assert!(key_eq(a, b), "{a:?} {b:?}");
                assert_eq!(h(a), h(b), "{a:?} {b:?}");
                assert_eq!(a.sql_cmp(b), Some(Ordering::Equal));
            }
        }
        assert!(!key_eq(&Value::Integer(3), &Value::Double(3.5)));
        assert!(key_eq(&Value::Double(-0.0), &Value::Integer(0)));
        for (d, f) in [(Decimal::new(1, 1), 0.1), (Decimal::new(275, 2), 2.75)] {
            let (d, f) = (Value::Decimal(d), Value::Double(f));
            assert!(key_eq(&d, &f), "{d:?} {f:?}");
            assert_eq!(h(&d), h(&f));
        }
        assert!(!key_eq(
            &Value::Decimal(Decimal::new(1, 1)),
            &Value::Real(0.1)
        ));
        assert!(key_eq(
            &Value::Decimal(Decimal::new(150, 2)),
            &Value::Decimal(Decimal::new(15, 1))
        ));
    }

    #[test]
    fn nan_is_one_group_and_blanks_are_padding() {
        assert!(key_eq(&Value::Double(f64::NAN), &Value::Double(-f64::NAN)));
        assert!(key_eq(&Value::Real(f32::NAN), &Value::Double(f64::NAN)));
        assert!(key_eq(
            &Value::Char("AB  ".into()),
            &Value::Varchar("AB".into())
        ));
        assert!(!key_eq(
            &Value::Varchar(" AB".into()),
            &Value::Varchar("AB".into())
        ));
        assert!(key_eq(&Value::Null, &Value::Null));
        assert!(!key_eq(&Value::Null, &Value::Integer(0)));
        let set: HashSet<GroupKey> = [
            GroupKey(vec![Value::Varchar("A".into()), Value::Integer(1)]),
            GroupKey(vec![Value::Char("A ".into()), Value::BigInt(1)]),
            GroupKey(vec![Value::Varchar("A".into()), Value::Integer(2)]),
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn total_order_sorts_nan_last_and_agrees_with_keys() {
        let mut vs = [
            OrdValue(Value::Double(f64::NAN)),
            OrdValue(Value::Double(2.5)),
            OrdValue(Value::Integer(-1)),
        ];
        vs.sort();
        assert_eq!(vs[0].0, Value::Integer(-1));
        assert_eq!(vs[1].0, Value::Double(2.5));
        assert_eq!(
            OrdValue(Value::Char("x ".into())),
            OrdValue(Value::Varchar("x".into()))
        );
    }

    mod agrees_with_sql_cmp {
        use proptest::prelude::*;

        use super::*;

        fn numbers() -> impl Strategy<Value = Value> {
            (-40i64..40, 0u32..3, 0u8..6).prop_map(|(n, scale, kind)| {
                let d = Decimal::new(n, scale);
                let f = d.to_f64().unwrap_or_default();
                match kind {
                    0 if scale == 0 => Value::Integer(n as i32),
                    1 if scale == 0 => Value::BigInt(n),
                    2 => Value::Double(f),
                    3 => Value::Real(f as f32),
                    _ => Value::Decimal(d),
                }
            })
        }

        proptest! {
            #[test]
            fn same_key_iff_sql_equal_and_same_key_same_hash(a in numbers(), b in numbers()) {
                let equal = a.sql_cmp(&b) == Some(Ordering::Equal);
                prop_assert_eq!(key_eq(&a, &b), equal, "{:?} {:?}", a, b);
                if equal {
                    prop_assert_eq!(h(&a), h(&b));
                }
            }
        }
    }
}
