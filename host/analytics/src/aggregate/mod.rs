//! The aggregate functions of the KDA SQL Reference ("Aggregate Functions", "Statistical
//! Variance and Deviation Functions"), as accumulators that tumbling, stagger and sliding
//! windows feed row by row.
//!
//! Semantics kept from the Reference:
//! - every aggregate but `COUNT(*)` skips NULL arguments; `COUNT(*)` counts rows;
//! - over no (non-NULL) values every aggregate gives NULL except COUNT, which gives 0
//!   (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-statistical-variance-deviation-functions.html>:
//!   "Applied to an empty set, it returns null"; VAR_SAMP and STDDEV_SAMP of one value are NULL);
//! - VAR_POP is `(SUM(x*x) - SUM(x)*SUM(x)/COUNT(x)) / COUNT(x)`, VAR_SAMP divides by
//!   `COUNT(x) - 1`, the standard deviations are their square roots (same page);
//! - `DISTINCT` aggregates each distinct value once (the pages of AVG, SUM, COUNT, ...);
//! - `STD_DEV` is an alias of STDDEV_SAMP
//!   (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-STDDEVSAMP.html>).
//!
//! Result types (the Reference gives none; SQLstream inherits them from Eigenbase, as Apache
//! Calcite does): COUNT is BIGINT; SUM, AVG, MIN, MAX, FIRST_VALUE and LAST_VALUE have their
//! argument's type, so AVG of an INTEGER column truncates toward zero and a SUM that leaves
//! its type's range is a `NumericOverflow` error (an `error_stream` row) rather than a
//! wrong number. Integer sums run in i128 and decimal sums in exact decimals, so only the
//! final result can overflow; REAL sums round to float32 at each step, as REAL arithmetic
//! does. The variances and deviations are REAL for a REAL argument and DOUBLE otherwise
//! (the Reference computes them with a division, which integers would truncate to nonsense).

pub mod key;

use std::collections::{BTreeMap, HashMap, VecDeque};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::SqlError;
use crate::types::SqlType;
use crate::value::Value;
use key::{key_eq, KeyValue, OrdValue};

/// One aggregate function of the dialect. `COUNT(*)` is its own kind because it counts rows,
/// NULLs included, while `COUNT(expr)` counts non-NULL values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AggKind {
    Count,
    CountStar,
    Sum,
    Avg,
    Min,
    Max,
    FirstValue,
    LastValue,
    StddevPop,
    StddevSamp,
    VarPop,
    VarSamp,
}

impl AggKind {
    /// The aggregate a function name denotes (case-insensitive), or `None` when the name is
    /// not an aggregate. `COUNT` gives [`AggKind::Count`]: the planner picks
    /// [`AggKind::CountStar`] itself when the argument is `*`.
    pub fn from_name(name: &str) -> Option<AggKind> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => AggKind::Count,
            "SUM" => AggKind::Sum,
            "AVG" => AggKind::Avg,
            "MIN" => AggKind::Min,
            "MAX" => AggKind::Max,
            "FIRST_VALUE" => AggKind::FirstValue,
            "LAST_VALUE" => AggKind::LastValue,
            "STDDEV_POP" => AggKind::StddevPop,
            "STDDEV_SAMP" | "STD_DEV" => AggKind::StddevSamp,
            "VAR_POP" => AggKind::VarPop,
            "VAR_SAMP" => AggKind::VarSamp,
            _ => return None,
        })
    }

    /// The SQL name, for messages and column names.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count | AggKind::CountStar => "COUNT",
            AggKind::Sum => "SUM",
            AggKind::Avg => "AVG",
            AggKind::Min => "MIN",
            AggKind::Max => "MAX",
            AggKind::FirstValue => "FIRST_VALUE",
            AggKind::LastValue => "LAST_VALUE",
            AggKind::StddevPop => "STDDEV_POP",
            AggKind::StddevSamp => "STDDEV_SAMP",
            AggKind::VarPop => "VAR_POP",
            AggKind::VarSamp => "VAR_SAMP",
        }
    }

    /// Whether the aggregate takes an argument of this type, so the planner can reject
    /// `SUM(ticker_symbol)` at compile time with a line and column instead of failing every row.
    pub fn accepts(self, arg: &SqlType) -> bool {
        match self {
            AggKind::Count | AggKind::CountStar | AggKind::FirstValue | AggKind::LastValue => true,
            AggKind::Min | AggKind::Max => !matches!(arg, SqlType::Boolean),
            AggKind::Sum | AggKind::Avg => {
                arg.is_numeric() || matches!(arg, SqlType::IntervalDayTime)
            }
            AggKind::StddevPop | AggKind::StddevSamp | AggKind::VarPop | AggKind::VarSamp => {
                arg.is_numeric()
            }
        }
    }

    /// The type of the aggregate's result for an argument of type `arg` (see the module doc
    /// for why). `COUNT(*)` ignores `arg`.
    pub fn result_type(self, arg: &SqlType) -> SqlType {
        match self {
            AggKind::Count | AggKind::CountStar => SqlType::BigInt,
            AggKind::Sum
            | AggKind::Avg
            | AggKind::Min
            | AggKind::Max
            | AggKind::FirstValue
            | AggKind::LastValue => arg.clone(),
            AggKind::StddevPop | AggKind::StddevSamp | AggKind::VarPop | AggKind::VarSamp => {
                if *arg == SqlType::Real {
                    SqlType::Real
                } else {
                    SqlType::Double
                }
            }
        }
    }
}

/// One aggregate call as the planner compiled it: `SUM(DISTINCT x)`,
/// `FIRST_VALUE(x) IGNORE NULLS`. Windows hold one per aggregate of the SELECT list and make
/// their accumulators from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggSpec {
    pub kind: AggKind,
    pub distinct: bool,
    /// `IGNORE NULLS` (FIRST_VALUE/LAST_VALUE; the others skip NULL anyway).
    pub ignore_nulls: bool,
}

impl AggSpec {
    /// A plain aggregate: no DISTINCT, NULLs respected where that matters.
    pub fn new(kind: AggKind) -> AggSpec {
        AggSpec {
            kind,
            distinct: false,
            ignore_nulls: false,
        }
    }

    /// An append-only accumulator for this call (tumbling and stagger windows).
    pub fn accumulator(&self) -> Accumulator {
        let a = Accumulator::new(self.kind, self.distinct);
        if self.ignore_nulls {
            a.ignoring_nulls()
        } else {
            a
        }
    }

    /// An accumulator rows can leave (sliding windows).
    pub fn removable(&self) -> Accumulator {
        let a = Accumulator::new_removable(self.kind, self.distinct);
        if self.ignore_nulls {
            a.ignoring_nulls()
        } else {
            a
        }
    }
}

/// Maps with non-string keys serialise as a list of pairs (JSON objects need string keys,
/// and checkpoints are JSON).
pub(crate) mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let pairs: Vec<(K, V)> = Vec::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}

/// The exact integer kinds, remembered so a SUM or AVG gives its argument's type back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum IntKind {
    TinyInt,
    SmallInt,
    Integer,
    BigInt,
}

impl IntKind {
    fn of(v: &Value) -> Option<IntKind> {
        Some(match v {
            Value::TinyInt(_) => IntKind::TinyInt,
            Value::SmallInt(_) => IntKind::SmallInt,
            Value::Integer(_) => IntKind::Integer,
            Value::BigInt(_) => IntKind::BigInt,
            _ => return None,
        })
    }

    /// The wider of two kinds (a SUM over mixed kinds gives the widest).
    fn max(self, other: IntKind) -> IntKind {
        let rank = |k: IntKind| k as u8;
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    fn value(self, n: i128, what: &str) -> Result<Value, SqlError> {
        let overflow = || SqlError::overflow(format!("{what} result {n} is out of range"));
        Ok(match self {
            IntKind::TinyInt => Value::TinyInt(i8::try_from(n).map_err(|_| overflow())?),
            IntKind::SmallInt => Value::SmallInt(i16::try_from(n).map_err(|_| overflow())?),
            IntKind::Integer => Value::Integer(i32::try_from(n).map_err(|_| overflow())?),
            IntKind::BigInt => Value::BigInt(i64::try_from(n).map_err(|_| overflow())?),
        })
    }
}

/// A running sum in its argument's arithmetic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Sum {
    Empty,
    Int { sum: Wide, kind: IntKind },
    Decimal { sum: Decimal, scale: u32 },
    Real(f32),
    Double(f64),
    Interval(Wide),
}

/// An i128 kept as two 64-bit halves: an i128 field would align every accumulator (and so
/// every group of a million-key window) to 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Wide {
    hi: i64,
    lo: u64,
}

impl Wide {
    fn of(v: i128) -> Wide {
        Wide {
            hi: (v >> 64) as i64,
            lo: v as u64,
        }
    }

    fn get(self) -> i128 {
        (i128::from(self.hi) << 64) | i128::from(self.lo)
    }
}

fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => Some(*d),
        other => other.as_i64().map(Decimal::from),
    }
}

impl Sum {
    /// Adds `v` (`sign` 1) or takes it away (`sign` -1).
    fn add(&mut self, v: &Value, sign: i8, what: &str) -> Result<(), SqlError> {
        let mismatch =
            || SqlError::type_mismatch(format!("{what} cannot add a value of type {}", v.kind()));
        let overflow = || SqlError::overflow(format!("{what} overflows"));
        let s = i128::from(sign);
        let next = match (&*self, v) {
            (
                Sum::Empty,
                Value::TinyInt(_) | Value::SmallInt(_) | Value::Integer(_) | Value::BigInt(_),
            ) => Sum::Int {
                sum: Wide::of(s * i128::from(v.as_i64().unwrap_or_default())),
                kind: IntKind::of(v).unwrap_or(IntKind::BigInt),
            },
            (Sum::Empty, Value::Decimal(d)) => Sum::Decimal {
                sum: if sign < 0 { -*d } else { *d },
                scale: d.scale(),
            },
            (Sum::Empty, Value::Real(f)) => Sum::Real(f32::from(sign) * f),
            (Sum::Empty, Value::Double(f)) => Sum::Double(f64::from(sign) * f),
            (Sum::Empty, Value::IntervalDayTime(ms)) => {
                Sum::Interval(Wide::of(s * i128::from(*ms)))
            }
            (Sum::Int { sum, kind }, _) if IntKind::of(v).is_some() => Sum::Int {
                sum: Wide::of(
                    sum.get()
                        .checked_add(s * i128::from(v.as_i64().unwrap_or_default()))
                        .ok_or_else(overflow)?,
                ),
                kind: kind.max(IntKind::of(v).unwrap_or(IntKind::BigInt)),
            },
            (Sum::Int { sum, .. }, Value::Decimal(d)) => {
                let base =
                    Decimal::try_from_i128_with_scale(sum.get(), 0).map_err(|_| overflow())?;
                let d = if sign < 0 { -*d } else { *d };
                Sum::Decimal {
                    sum: base.checked_add(d).ok_or_else(overflow)?,
                    scale: d.scale(),
                }
            }
            (Sum::Decimal { sum, scale }, _) if decimal_of(v).is_some() => {
                let d = decimal_of(v).unwrap_or_default();
                let d = if sign < 0 { -d } else { d };
                Sum::Decimal {
                    sum: sum.checked_add(d).ok_or_else(overflow)?,
                    scale: (*scale).max(d.scale()),
                }
            }
            (Sum::Real(acc), Value::Real(f)) => Sum::Real(acc + f32::from(sign) * f),
            (Sum::Interval(acc), Value::IntervalDayTime(ms)) => {
                Sum::Interval(Wide::of(acc.get() + s * i128::from(*ms)))
            }
            // Mixed exact and approximate kinds: the sum goes to DOUBLE.
            (acc, Value::Real(_) | Value::Double(_))
            | (acc @ (Sum::Real(_) | Sum::Double(_)), _)
                if v.as_f64().is_some() =>
            {
                let base = match acc {
                    Sum::Int { sum, .. } => sum.get() as f64,
                    Sum::Decimal { sum, .. } => sum.to_f64().unwrap_or(f64::NAN),
                    Sum::Real(f) => f64::from(*f),
                    Sum::Double(f) => *f,
                    Sum::Empty | Sum::Interval(_) => return Err(mismatch()),
                };
                Sum::Double(base + f64::from(sign) * v.as_f64().unwrap_or(f64::NAN))
            }
            _ => return Err(mismatch()),
        };
        *self = next;
        Ok(())
    }

    /// Whether [`add`](Self::add) would take `v`, without the arithmetic where only the
    /// kinds matter (an i128 sum of i64 values cannot overflow); decimals are added for real.
    fn check(&self, v: &Value, what: &str) -> Result<(), SqlError> {
        let int = IntKind::of(v).is_some();
        let float = matches!(v, Value::Real(_) | Value::Double(_));
        let ok = match self {
            _ if matches!(v, Value::Decimal(_)) => return self.clone().add(v, 1, what),
            Sum::Decimal { .. } => return self.clone().add(v, 1, what),
            Sum::Empty => int || float || matches!(v, Value::IntervalDayTime(_)),
            Sum::Int { .. } | Sum::Real(_) | Sum::Double(_) => int || float,
            Sum::Interval(_) => matches!(v, Value::IntervalDayTime(_)),
        };
        if ok {
            Ok(())
        } else {
            Err(SqlError::type_mismatch(format!(
                "{what} cannot add a value of type {}",
                v.kind()
            )))
        }
    }

    fn merge(&mut self, other: &Sum, what: &str) -> Result<(), SqlError> {
        let as_value = match other {
            Sum::Empty => return Ok(()),
            Sum::Int { sum, kind } => {
                // Merge through i128 directly: the other sum may not fit its own kind yet.
                if let Sum::Int { sum: mine, kind: k } = self {
                    *mine = Wide::of(
                        mine.get()
                            .checked_add(sum.get())
                            .ok_or_else(|| SqlError::overflow(format!("{what} overflows")))?,
                    );
                    *k = k.max(*kind);
                    return Ok(());
                }
                if let Sum::Empty = self {
                    *self = other.clone();
                    return Ok(());
                }
                Value::Decimal(
                    Decimal::try_from_i128_with_scale(sum.get(), 0)
                        .map_err(|_| SqlError::overflow(format!("{what} overflows")))?,
                )
            }
            Sum::Decimal { sum, .. } => Value::Decimal(*sum),
            Sum::Real(f) => Value::Real(*f),
            Sum::Double(f) => Value::Double(*f),
            Sum::Interval(i) => {
                if let Sum::Interval(mine) = self {
                    *mine = Wide::of(mine.get() + i.get());
                    return Ok(());
                }
                if let Sum::Empty = self {
                    *self = other.clone();
                    return Ok(());
                }
                return Err(SqlError::type_mismatch(format!(
                    "{what} cannot add an interval to a number"
                )));
            }
        };
        self.add(&as_value, 1, what)
    }

    /// The sum in its argument's type; `None` when nothing was added.
    fn total(&self, what: &str) -> Result<Value, SqlError> {
        Ok(match self {
            Sum::Empty => Value::Null,
            Sum::Int { sum, kind } => kind.value(sum.get(), what)?,
            Sum::Decimal { sum, .. } => Value::Decimal(*sum),
            Sum::Real(f) => Value::Real(*f),
            Sum::Double(f) => Value::Double(*f),
            Sum::Interval(i) => Value::IntervalDayTime(
                i64::try_from(i.get())
                    .map_err(|_| SqlError::overflow(format!("{what} interval overflows")))?,
            ),
        })
    }

    /// The average of `count` values in the argument's type (integers and decimals truncate
    /// toward zero at the argument's scale).
    fn average(&self, count: i64, what: &str) -> Result<Value, SqlError> {
        if count == 0 {
            return Ok(Value::Null);
        }
        Ok(match self {
            Sum::Empty => Value::Null,
            Sum::Int { sum, kind } => kind.value(sum.get() / i128::from(count), what)?,
            Sum::Decimal { sum, scale } => {
                let avg = sum
                    .checked_div(Decimal::from(count))
                    .ok_or_else(|| SqlError::overflow(format!("{what} overflows")))?;
                Value::Decimal(avg.round_dp_with_strategy(*scale, RoundingStrategy::ToZero))
            }
            Sum::Real(f) => Value::Real(f / count as f32),
            Sum::Double(f) => Value::Double(f / count as f64),
            Sum::Interval(i) => Value::IntervalDayTime(
                i64::try_from(i.get() / i128::from(count))
                    .map_err(|_| SqlError::overflow(format!("{what} interval overflows")))?,
            ),
        })
    }
}

/// The running state of one aggregate.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum State {
    Count(i64),
    /// SUM and AVG: the sum and the number of values in it.
    Sum {
        sum: Sum,
        count: i64,
    },
    /// MIN or MAX that is never removed from (tumbling and stagger windows).
    Extreme(Option<Value>),
    /// MIN or MAX with removal (sliding windows): every value in the window, counted.
    Multiset {
        #[serde(with = "pairs")]
        values: BTreeMap<OrdValue, u64>,
    },
    /// FIRST_VALUE never removed from: `Some` once a row was seen (the value may be NULL).
    First(Option<Value>),
    /// LAST_VALUE never removed from.
    Last(Option<Value>),
    /// FIRST_VALUE or LAST_VALUE with removal: the window's values in arrival order.
    Queue(VecDeque<Value>),
    /// The variances and deviations: count, sum and sum of squares, and whether every value
    /// was REAL (the result is then REAL).
    Moments {
        n: i64,
        sum: f64,
        sum_sq: f64,
        real: bool,
    },
}

/// One aggregate's running state over the rows of a group or window.
///
/// Serialisable because window state is checkpointed with the application. Tumbling and
/// stagger windows use [`Accumulator::new`] (MIN/MAX keep one value); sliding windows use
/// [`Accumulator::new_removable`], whose MIN/MAX/FIRST_VALUE/LAST_VALUE keep the window's
/// values so that a row leaving the window is taken away exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accumulator {
    kind: AggKind,
    /// FIRST_VALUE/LAST_VALUE with IGNORE NULLS (the other aggregates always skip NULL).
    ignore_nulls: bool,
    /// For DISTINCT: how many times each distinct non-NULL value was added; the inner state
    /// sees a value when its count goes 0 -> 1 and loses it when it goes 1 -> 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distinct: Option<Box<DistinctCounts>>,
    state: State,
}

/// DISTINCT's counts of each value, boxed in the accumulator so that the usual
/// non-DISTINCT accumulator stays small (groups are many).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct DistinctCounts(#[serde(with = "pairs")] HashMap<KeyValue, u64>);

fn internal(message: &str) -> SqlError {
    SqlError::new("InternalError", message)
}

impl Accumulator {
    /// An accumulator values are only added to (tumbling, stagger and GROUP BY windows).
    pub fn new(kind: AggKind, distinct: bool) -> Accumulator {
        Accumulator::build(kind, distinct, false)
    }

    /// An accumulator values can also be removed from, oldest first (sliding windows).
    pub fn new_removable(kind: AggKind, distinct: bool) -> Accumulator {
        Accumulator::build(kind, distinct, true)
    }

    fn build(kind: AggKind, distinct: bool, removable: bool) -> Accumulator {
        let state = match kind {
            AggKind::Count | AggKind::CountStar => State::Count(0),
            AggKind::Sum | AggKind::Avg => State::Sum {
                sum: Sum::Empty,
                count: 0,
            },
            AggKind::Min | AggKind::Max if removable => State::Multiset {
                values: BTreeMap::new(),
            },
            AggKind::Min | AggKind::Max => State::Extreme(None),
            AggKind::FirstValue | AggKind::LastValue if removable => State::Queue(VecDeque::new()),
            AggKind::FirstValue => State::First(None),
            AggKind::LastValue => State::Last(None),
            AggKind::StddevPop | AggKind::StddevSamp | AggKind::VarPop | AggKind::VarSamp => {
                State::Moments {
                    n: 0,
                    sum: 0.0,
                    sum_sq: 0.0,
                    real: true,
                }
            }
        };
        Accumulator {
            kind,
            ignore_nulls: false,
            distinct: (distinct && kind != AggKind::CountStar).then(Default::default),
            state,
        }
    }

    /// FIRST_VALUE/LAST_VALUE `IGNORE NULLS`: NULL arguments are skipped; by default they
    /// count, as `RESPECT NULLS` ("Returns first value, including null",
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-first-value.html>).
    /// Other aggregates skip NULL anyway.
    pub fn ignoring_nulls(mut self) -> Accumulator {
        self.ignore_nulls = true;
        self
    }

    pub fn kind(&self) -> AggKind {
        self.kind
    }

    /// Whether this aggregate skips a NULL argument.
    fn skips(&self, v: &Value) -> bool {
        v.is_null()
            && match self.kind {
                AggKind::CountStar => false,
                AggKind::FirstValue | AggKind::LastValue => {
                    self.ignore_nulls || self.distinct.is_some()
                }
                _ => true,
            }
    }

    /// Adds one row's argument (`COUNT(*)` ignores the value: pass anything).
    pub fn add(&mut self, v: &Value) -> Result<(), SqlError> {
        if self.skips(v) {
            return Ok(());
        }
        if let Some(seen) = self.distinct.as_mut() {
            let n = seen.0.entry(KeyValue(v.clone())).or_insert(0);
            *n += 1;
            if *n > 1 {
                return Ok(());
            }
        }
        self.add_inner(v)
    }

    /// Whether [`add`](Self::add) would take `v` without an error, without changing
    /// anything: a group checks every aggregate before adding a row to any, so a row that
    /// fails leaves no trace in the group.
    pub fn check(&self, v: &Value) -> Result<(), SqlError> {
        if self.skips(v) {
            return Ok(());
        }
        if let Some(seen) = self.distinct.as_ref() {
            if seen.0.contains_key(&KeyValue(v.clone())) {
                return Ok(());
            }
        }
        let what = self.kind.name();
        match &self.state {
            State::Sum { sum, .. } => sum.check(v, what),
            State::Extreme(Some(best)) if v.sql_cmp(best).is_none() => {
                Err(SqlError::type_mismatch(format!(
                    "{what} cannot compare {} with {}",
                    v.kind(),
                    best.kind()
                )))
            }
            State::Moments { .. } if v.as_f64().is_none() => Err(SqlError::type_mismatch(format!(
                "{what} takes a number, not {}",
                v.kind()
            ))),
            _ => Ok(()),
        }
    }

    /// Takes away one row's argument that an earlier [`add`](Self::add) put in (a row leaving
    /// a sliding window). Rows leave in arrival order.
    pub fn remove(&mut self, v: &Value) -> Result<(), SqlError> {
        if self.skips(v) {
            return Ok(());
        }
        if let Some(seen) = self.distinct.as_mut() {
            let k = KeyValue(v.clone());
            match seen.0.get_mut(&k) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    return Ok(());
                }
                Some(_) => {
                    seen.0.remove(&k);
                }
                None => return Err(internal("DISTINCT value removed that was never added")),
            }
        }
        self.remove_inner(v)
    }

    fn add_inner(&mut self, v: &Value) -> Result<(), SqlError> {
        let what = self.kind.name();
        let is_max = self.kind == AggKind::Max;
        match &mut self.state {
            State::Count(n) => *n += 1,
            State::Sum { sum, count } => {
                sum.add(v, 1, what)?;
                *count += 1;
            }
            State::Extreme(best) => {
                let better = match best {
                    None => true,
                    Some(b) => match v.sql_cmp(b) {
                        Some(o) => (o == std::cmp::Ordering::Greater) == is_max && o.is_ne(),
                        None => {
                            return Err(SqlError::type_mismatch(format!(
                                "{what} cannot compare {} with {}",
                                v.kind(),
                                b.kind()
                            )));
                        }
                    },
                };
                if better {
                    *best = Some(v.clone());
                }
            }
            State::Multiset { values } => {
                *values.entry(OrdValue(v.clone())).or_insert(0) += 1;
            }
            State::First(first) => {
                if first.is_none() {
                    *first = Some(v.clone());
                }
            }
            State::Last(last) => *last = Some(v.clone()),
            State::Queue(q) => q.push_back(v.clone()),
            State::Moments {
                n,
                sum,
                sum_sq,
                real,
            } => {
                let x = v.as_f64().ok_or_else(|| {
                    SqlError::type_mismatch(format!("{what} takes a number, not {}", v.kind()))
                })?;
                *n += 1;
                *sum += x;
                *sum_sq += x * x;
                *real &= matches!(v, Value::Real(_));
            }
        }
        Ok(())
    }

    fn remove_inner(&mut self, v: &Value) -> Result<(), SqlError> {
        let what = self.kind.name();
        match &mut self.state {
            State::Count(n) => *n -= 1,
            State::Sum { sum, count } => {
                *count -= 1;
                if *count == 0 {
                    *sum = Sum::Empty;
                } else {
                    sum.add(v, -1, what)?;
                }
            }
            State::Multiset { values } => {
                let k = OrdValue(v.clone());
                match values.get_mut(&k) {
                    Some(c) if *c > 1 => *c -= 1,
                    Some(_) => {
                        values.remove(&k);
                    }
                    None => return Err(internal("MIN/MAX value removed that was never added")),
                }
            }
            State::Queue(q) => {
                let at = q
                    .iter()
                    .position(|x| key_eq(x, v) && x.is_null() == v.is_null());
                match at {
                    Some(i) => {
                        q.remove(i);
                    }
                    None => {
                        return Err(internal(
                            "FIRST_VALUE/LAST_VALUE value removed that was never added",
                        ));
                    }
                }
            }
            State::Moments { n, sum, sum_sq, .. } => {
                let x = v.as_f64().unwrap_or(f64::NAN);
                *n -= 1;
                if *n == 0 {
                    *sum = 0.0;
                    *sum_sq = 0.0;
                } else {
                    *sum -= x;
                    *sum_sq -= x * x;
                }
            }
            State::Extreme(_) | State::First(_) | State::Last(_) => {
                return Err(internal(
                    "remove on an append-only accumulator: use Accumulator::new_removable",
                ));
            }
        }
        Ok(())
    }

    /// Folds another accumulator of the same aggregate into this one (partial aggregates
    /// computed apart, such as per-shard or restored groups).
    pub fn merge(&mut self, other: &Accumulator) -> Result<(), SqlError> {
        if other.kind != self.kind {
            return Err(internal("merge of accumulators of different aggregates"));
        }
        // FIRST_VALUE/LAST_VALUE depend on order, not on the set: their states merge below.
        let order_matters = matches!(self.kind, AggKind::FirstValue | AggKind::LastValue);
        if let (Some(_), Some(theirs)) = (self.distinct.as_ref(), other.distinct.as_ref()) {
            for (k, n) in theirs.0.iter() {
                let first = {
                    let mine = self
                        .distinct
                        .as_mut()
                        .map(|m| m.0.entry(k.clone()).or_insert(0));
                    match mine {
                        Some(c) => {
                            *c += n;
                            *c == *n
                        }
                        None => false,
                    }
                };
                if first && !order_matters {
                    self.add_inner(&k.0)?;
                }
            }
            if !order_matters {
                return Ok(());
            }
        }
        let what = self.kind.name();
        let is_max = self.kind == AggKind::Max;
        match (&mut self.state, &other.state) {
            (State::Count(a), State::Count(b)) => *a += b,
            (State::Sum { sum, count }, State::Sum { sum: s2, count: c2 }) => {
                sum.merge(s2, what)?;
                *count += c2;
            }
            (State::Extreme(a), State::Extreme(b)) => {
                if let Some(b) = b {
                    let better = match a {
                        None => true,
                        Some(x) => match b.sql_cmp(x) {
                            Some(o) => (o == std::cmp::Ordering::Greater) == is_max && o.is_ne(),
                            None => false,
                        },
                    };
                    if better {
                        *a = Some(b.clone());
                    }
                }
            }
            (State::Multiset { values }, State::Multiset { values: v2 }) => {
                for (k, n) in v2 {
                    *values.entry(k.clone()).or_insert(0) += n;
                }
            }
            (State::First(a), State::First(b)) => {
                if a.is_none() {
                    a.clone_from(b);
                }
            }
            (State::Last(a), State::Last(b)) => {
                if b.is_some() {
                    a.clone_from(b);
                }
            }
            (State::Queue(a), State::Queue(b)) => a.extend(b.iter().cloned()),
            (
                State::Moments {
                    n,
                    sum,
                    sum_sq,
                    real,
                },
                State::Moments {
                    n: n2,
                    sum: s2,
                    sum_sq: q2,
                    real: r2,
                },
            ) => {
                *n += n2;
                *sum += s2;
                *sum_sq += q2;
                *real &= *r2;
            }
            _ => {
                return Err(internal(
                    "merge of a removable and an append-only accumulator",
                ));
            }
        }
        Ok(())
    }

    /// The aggregate's value over what was added and not removed. An error when an exact
    /// result leaves its type (SUM of INTEGER past 2^31 - 1).
    pub fn result(&self) -> Result<Value, SqlError> {
        let what = self.kind.name();
        Ok(match &self.state {
            State::Count(n) => Value::BigInt(*n),
            State::Sum { sum, count } => match self.kind {
                AggKind::Avg => sum.average(*count, what)?,
                _ => sum.total(what)?,
            },
            State::Extreme(best) => best.clone().unwrap_or(Value::Null),
            State::Multiset { values } => {
                let entry = if self.kind == AggKind::Max {
                    values.keys().next_back()
                } else {
                    values.keys().next()
                };
                entry.map(|k| k.0.clone()).unwrap_or(Value::Null)
            }
            State::First(v) | State::Last(v) => v.clone().unwrap_or(Value::Null),
            State::Queue(q) => {
                let v = if self.kind == AggKind::FirstValue {
                    q.front()
                } else {
                    q.back()
                };
                v.cloned().unwrap_or(Value::Null)
            }
            State::Moments {
                n,
                sum,
                sum_sq,
                real,
            } => {
                let n = *n;
                let divisor = match self.kind {
                    AggKind::VarPop | AggKind::StddevPop => n,
                    _ => n - 1,
                };
                if n == 0 || divisor == 0 {
                    return Ok(Value::Null);
                }
                let nf = n as f64;
                // The Reference's formula; rounding can leave a tiny negative for equal
                // values, which is a variance of 0.
                let var = ((sum_sq - sum * sum / nf) / divisor as f64).max(0.0);
                let r = match self.kind {
                    AggKind::StddevPop | AggKind::StddevSamp => var.sqrt(),
                    _ => var,
                };
                if *real {
                    Value::Real(r as f32)
                } else {
                    Value::Double(r)
                }
            }
        })
    }

    /// Whether nothing is held (a sliding partition whose accumulators are all empty can be
    /// dropped).
    pub fn is_empty(&self) -> bool {
        match &self.state {
            State::Count(n) => *n == 0,
            State::Sum { count, .. } => *count == 0,
            State::Extreme(v) | State::First(v) | State::Last(v) => v.is_none(),
            State::Multiset { values } => values.is_empty(),
            State::Queue(q) => q.is_empty(),
            State::Moments { n, .. } => *n == 0,
        }
    }
}

#[cfg(test)]
mod tests;
