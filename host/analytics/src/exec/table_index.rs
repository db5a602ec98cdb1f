//! A hash index over a reference table's join columns, so a stream row meets only the table
//! rows its `ON a = b` can hold for instead of every row.
//!
//! The index only narrows: the join still evaluates the whole ON condition on each candidate,
//! so the result is the scan's whenever the index answers. It answers only when SQL equality
//! and the index's grouping equality ([`GroupKey`]) agree: every key value of one column has
//! the same family (numbers, characters, timestamps, ...), and the stream row's key value is
//! of that family too. Anything else (a DATE against a TIMESTAMP column, a VARCHAR against a
//! number, which is a type error the scan reports) falls back to the scan. A NULL key never
//! equals anything, so such a row has no candidates and table rows with a NULL key are not
//! indexed.

use std::collections::HashMap;

use crate::aggregate::key::GroupKey;
use crate::exec::eval::{eval, EvalInput};
use crate::functions::BinOp;
use crate::plan::expr::PExpr;
use crate::value::Value;

/// Tables smaller than this are scanned: hashing costs more than a few comparisons.
const MIN_ROWS: usize = 16;

/// Which values SQL's `=` compares exactly as [`GroupKey`] groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Number,
    Character,
    Boolean,
    Binary,
    Date,
    Time,
    Timestamp,
    DayTime,
    YearMonth,
}

fn family(v: &Value) -> Option<Family> {
    Some(match v {
        Value::TinyInt(_)
        | Value::SmallInt(_)
        | Value::Integer(_)
        | Value::BigInt(_)
        | Value::Decimal(_)
        | Value::Real(_)
        | Value::Double(_) => Family::Number,
        Value::Char(_) | Value::Varchar(_) => Family::Character,
        Value::Boolean(_) => Family::Boolean,
        Value::Binary(_) => Family::Binary,
        Value::Date(_) => Family::Date,
        Value::Time(_) => Family::Time,
        Value::Timestamp(_) => Family::Timestamp,
        Value::IntervalDayTime(_) => Family::DayTime,
        Value::IntervalYearMonth(_) => Family::YearMonth,
        Value::Null | Value::Row(_) => return None,
    })
}

/// The index of one reference join.
#[derive(Debug, Clone)]
pub struct TableIndex {
    /// The stream side of each equality, evaluated on the joined row with the table's half
    /// empty (it reads only the stream's columns).
    probes: Vec<PExpr>,
    /// Each key column's family.
    families: Vec<Family>,
    rows: HashMap<GroupKey, Vec<usize>>,
}

/// What the index says for one stream row.
pub enum Candidates<'a> {
    /// Only these table rows can match (by position).
    Rows(&'a [usize]),
    /// No table row can match.
    None,
    /// The index cannot tell: scan.
    Scan,
}

impl TableIndex {
    /// Builds the index for `ON` over a table whose columns start at `table_start` in the
    /// joined row and whose stream side ends before `stream_width`; `None` when ON has no
    /// usable equality or the table is small or mixed.
    pub fn build(
        on: &PExpr,
        stream_width: usize,
        table_start: usize,
        table: &[Vec<Value>],
    ) -> Option<TableIndex> {
        if table.len() < MIN_ROWS {
            return None;
        }
        let mut probes = Vec::new();
        let mut columns = Vec::new();
        for conjunct in conjuncts(on) {
            if let Some((probe, column)) = equality(conjunct, stream_width, table_start) {
                probes.push(probe.clone());
                columns.push(column);
            }
        }
        if probes.is_empty() {
            return None;
        }
        let mut families: Vec<Option<Family>> = vec![None; columns.len()];
        let mut rows: HashMap<GroupKey, Vec<usize>> = HashMap::new();
        'rows: for (at, row) in table.iter().enumerate() {
            let mut key = Vec::with_capacity(columns.len());
            for (c, &column) in columns.iter().enumerate() {
                let value = row.get(column).cloned().unwrap_or(Value::Null);
                let Some(f) = family(&value) else {
                    // A NULL key equals nothing: the row can never match.
                    continue 'rows;
                };
                match families[c] {
                    None => families[c] = Some(f),
                    Some(seen) if seen != f => return None,
                    Some(_) => {}
                }
                key.push(value);
            }
            rows.entry(GroupKey(key)).or_default().push(at);
        }
        let families = families
            .into_iter()
            .map(|f| f.unwrap_or(Family::Number))
            .collect();
        Some(TableIndex {
            probes,
            families,
            rows,
        })
    }

    /// The table rows a joined row (its stream half filled) can match.
    pub fn candidates(&self, joined: &[Value], rowtime: i64) -> Candidates<'_> {
        let input = EvalInput::row(joined, rowtime);
        let mut key = Vec::with_capacity(self.probes.len());
        for (probe, want) in self.probes.iter().zip(&self.families) {
            let Ok(value) = eval(probe, &input) else {
                // Let the scan report the error as it always has.
                return Candidates::Scan;
            };
            match family(&value) {
                None if value.is_null() => return Candidates::None,
                Some(f) if f == *want => key.push(value),
                _ => return Candidates::Scan,
            }
        }
        match self.rows.get(&GroupKey(key)) {
            Some(rows) => Candidates::Rows(rows),
            None => Candidates::None,
        }
    }
}

/// The top-level AND terms of a condition.
fn conjuncts(e: &PExpr) -> Vec<&PExpr> {
    match e {
        PExpr::Binary(BinOp::And, a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        other => vec![other],
    }
}

/// `stream_expr = table_column` (either way round): the stream side and the table column.
fn equality(e: &PExpr, stream_width: usize, table_start: usize) -> Option<(&PExpr, usize)> {
    let PExpr::Binary(BinOp::Eq, a, b) = e else {
        return None;
    };
    let table_column = |x: &PExpr| match x {
        PExpr::Column(i) if *i >= table_start => Some(*i - table_start),
        _ => None,
    };
    match (table_column(a), table_column(b)) {
        (Some(c), None) if reads_stream_only(b, stream_width) => Some((b, c)),
        (None, Some(c)) if reads_stream_only(a, stream_width) => Some((a, c)),
        _ => None,
    }
}

/// Whether an expression reads stream columns only (no table column), so it can be
/// evaluated before a table row is chosen. Anything unrecognised counts as not.
fn reads_stream_only(e: &PExpr, stream_width: usize) -> bool {
    match e {
        PExpr::Column(i) => *i < stream_width,
        PExpr::Literal(_) => true,
        PExpr::Binary(_, a, b) => {
            reads_stream_only(a, stream_width) && reads_stream_only(b, stream_width)
        }
        PExpr::Unary(_, a) => reads_stream_only(a, stream_width),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::Application;
    use crate::row::{StreamColumn, StreamRow};
    use crate::types::SqlType;

    fn table() -> Vec<Vec<Value>> {
        let mut rows: Vec<Vec<Value>> = (0..40)
            .map(|i| vec![Value::Integer(i % 20), Value::Varchar(format!("name-{i}"))])
            .collect();
        rows.push(vec![Value::Null, Value::Varchar("null-key".into())]);
        rows
    }

    /// Runs `on` as a JOIN and a LEFT JOIN over the table and returns every emitted row.
    fn run(on: &str) -> Vec<(String, StreamRow)> {
        let code = format!(
            r#"
CREATE STREAM "J" (K INTEGER, D DOUBLE, NAME VARCHAR(16));
CREATE STREAM "L" (K INTEGER, D DOUBLE, NAME VARCHAR(16));
CREATE PUMP "PJ" AS INSERT INTO "J"
  SELECT STREAM s.K, s.D, c.NAME FROM "SOURCE_SQL_STREAM_001" AS s JOIN "T" AS c ON {on};
CREATE PUMP "PL" AS INSERT INTO "L"
  SELECT STREAM s.K, s.D, c.NAME FROM "SOURCE_SQL_STREAM_001" AS s LEFT JOIN "T" AS c ON {on};"#
        );
        let source: crate::row::StreamSchema = Arc::from(vec![
            StreamColumn::new("K", SqlType::Integer),
            StreamColumn::new("D", SqlType::Double),
        ]);
        let table_schema: crate::row::StreamSchema = Arc::from(vec![
            StreamColumn::new("K", SqlType::Integer),
            StreamColumn::new("NAME", SqlType::Varchar(16)),
        ]);
        let mut app = Application::compile(
            &code,
            &[("SOURCE_SQL_STREAM_001".into(), source)],
            &[("T".into(), table_schema, table())],
        )
        .unwrap_or_else(|e| panic!("{code}: {e}"));
        let inputs = [
            (Value::Integer(3), Value::Double(3.0)),
            (Value::Integer(25), Value::Double(3.5)),
            (Value::Null, Value::Double(19.0)),
            (Value::Integer(19), Value::Null),
            (Value::Integer(0), Value::Double(f64::NAN)),
        ];
        let mut out = Vec::new();
        for (i, (k, d)) in inputs.into_iter().enumerate() {
            let rowtime = 1_546_336_800_000 + i as i64;
            for e in app.push("SOURCE_SQL_STREAM_001", StreamRow::new(rowtime, vec![k, d])) {
                out.push((e.stream, e.row));
            }
        }
        out
    }

    #[test]
    fn the_index_finds_what_the_scan_finds() {
        // `(...) = TRUE` is the same condition, but no column equality: always a scan.
        for (indexed, scanned) in [
            ("s.K = c.K", "(s.K = c.K) = TRUE"),
            (
                "c.K = s.K AND c.NAME <> 'name-3'",
                "(c.K = s.K) = TRUE AND c.NAME <> 'name-3'",
            ),
            ("s.D = c.K", "(s.D = c.K) = TRUE"),
            ("s.K + 1 = c.K", "(s.K + 1 = c.K) = TRUE"),
        ] {
            let a = run(indexed);
            assert!(!a.is_empty(), "{indexed}");
            // Compared as text: NaN is not equal to itself.
            assert_eq!(format!("{a:?}"), format!("{:?}", run(scanned)), "{indexed}");
        }
        // The matches themselves: key 3 meets rows 3 and 23, D = 3.0 meets them too.
        let j: Vec<_> = run("s.K = c.K")
            .into_iter()
            .filter(|(s, _)| s == "J")
            .collect();
        assert_eq!(j.len(), 2 + 2 + 2, "{j:?}");
    }

    #[test]
    fn only_usable_equalities_build_an_index() {
        let table = table();
        let key_eq = PExpr::Binary(
            BinOp::Eq,
            Box::new(PExpr::Column(0)),
            Box::new(PExpr::Column(3)),
        );
        let index = TableIndex::build(&key_eq, 2, 3, &table).expect("an equality on a column");
        match index.candidates(&[Value::BigInt(7), Value::Null], 0) {
            Candidates::Rows(rows) => assert_eq!(rows, &[7, 27]),
            _ => panic!("key 7 has two rows"),
        }
        assert!(matches!(
            index.candidates(&[Value::Null, Value::Null], 0),
            Candidates::None
        ));
        assert!(matches!(
            index.candidates(&[Value::Varchar("7".into()), Value::Null], 0),
            Candidates::Scan
        ));
        // Table column against table column, or a small table: no index.
        let both_table = PExpr::Binary(
            BinOp::Eq,
            Box::new(PExpr::Column(3)),
            Box::new(PExpr::Column(4)),
        );
        assert!(TableIndex::build(&both_table, 2, 3, &table).is_none());
        assert!(TableIndex::build(&key_eq, 2, 3, &table[..4]).is_none());
        // A key column holding numbers and strings cannot be hashed as SQL compares it.
        let mut mixed = table.clone();
        mixed[5][0] = Value::Varchar("5".into());
        assert!(TableIndex::build(&key_eq, 2, 3, &mixed).is_none());
    }
}
