//! Statements to runnable plans: streams with their columns, pumps with their compiled
//! queries and how each output value lands in the target stream's columns.

pub mod expr;
pub mod query;

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::CompileError;
use crate::parse::{Program, Statement};
use crate::row::StreamSchema;
use crate::types::SqlType;
use crate::value::Value;
use query::{plan_query, Catalog, QueryPlan};

/// A pump: a continuous `INSERT INTO target SELECT STREAM ...`.
#[derive(Debug, Clone)]
pub struct PumpPlan {
    pub name: String,
    pub target: String,
    pub stopped: bool,
    pub query: QueryPlan,
    /// For each target column, the query output that fills it (None: NULL).
    pub assign: Vec<Option<usize>>,
    /// `INSERT INTO s (ROWTIME, ...)`: the query output that sets each row's ROWTIME.
    pub rowtime_from: Option<usize>,
    /// The streams the pump reads.
    pub reads: Vec<String>,
    /// Where the pump was created.
    pub pos: crate::parse::Pos,
}

/// A compiled application.
#[derive(Debug, Clone)]
pub struct AppPlan {
    /// Every stream with its columns: inputs first, then in-application streams in
    /// declaration order.
    pub streams: Vec<(String, StreamSchema)>,
    pub inputs: Vec<String>,
    /// Per in-application stream, which columns are `NOT NULL`.
    pub not_null: HashMap<String, Vec<bool>>,
    /// Pumps in an order where a pump comes after every pump feeding a stream it reads.
    pub pumps: Vec<Arc<PumpPlan>>,
}

/// The reference tables an application may join: name, columns, rows.
pub type Tables = HashMap<String, (StreamSchema, Arc<Vec<Vec<Value>>>)>;

pub fn plan_app(
    program: &Program,
    inputs: &[(String, StreamSchema)],
    tables: &Tables,
) -> Result<AppPlan, CompileError> {
    let mut streams: HashMap<String, StreamSchema> = inputs.iter().cloned().collect();
    let mut order: Vec<(String, StreamSchema)> = inputs.to_vec();
    let mut pumps = Vec::new();
    let mut not_null = HashMap::new();
    let input_names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    for statement in &program.statements {
        match statement {
            Statement::CreateStream(s) => {
                if inputs.iter().any(|(n, _)| *n == s.name) || tables.contains_key(&s.name) {
                    return Err(s.pos.error(format!(
                        "{} is an input stream or a reference table",
                        s.name
                    )));
                }
                let schema: StreamSchema = s.columns.clone().into();
                if streams.insert(s.name.clone(), schema.clone()).is_some() {
                    // CREATE OR REPLACE: the later definition wins.
                    order.retain(|(n, _)| *n != s.name);
                }
                order.push((s.name.clone(), schema));
                not_null.insert(s.name.clone(), s.not_null.clone());
            }
            Statement::CreatePump(p) => {
                let target = streams.get(&p.target).cloned().ok_or_else(|| {
                    p.target_pos.error(format!(
                        "pump {} inserts into undeclared stream {}",
                        p.name, p.target
                    ))
                })?;
                if inputs.iter().any(|(n, _)| *n == p.target) {
                    return Err(p.target_pos.error(format!(
                        "{} is an input stream: pumps cannot insert into it",
                        p.target
                    )));
                }
                // `SELECT` without STREAM is accepted in a pump: the Reference's identifier
                // examples write `INSERT INTO s SELECT * FROM ...`, and a pump's query is
                // continuous whatever its spelling.
                let cat = Catalog {
                    streams: &streams,
                    tables,
                    program,
                    inputs: &input_names,
                };
                let query = plan_query(&p.query, &cat)?;
                let assign = assignment(p, &target, &query)?;
                let rowtime_from = rowtime_source(p, &query)?;
                let mut reads = Vec::new();
                query.source.streams(&mut reads);
                pumps.retain(|q: &PumpPlan| q.name != p.name);
                pumps.push(PumpPlan {
                    name: p.name.clone(),
                    target: p.target.clone(),
                    stopped: p.stopped,
                    query,
                    assign,
                    rowtime_from,
                    reads,
                    pos: p.pos,
                });
            }
        }
    }
    Ok(AppPlan {
        streams: order,
        inputs: inputs.iter().map(|(n, _)| n.clone()).collect(),
        not_null,
        pumps: topological(pumps)?.into_iter().map(Arc::new).collect(),
    })
}

/// Which query output fills each target column: by the INSERT's column list, else by
/// position; the counts must match.
fn assignment(
    p: &crate::parse::CreatePump,
    target: &StreamSchema,
    query: &QueryPlan,
) -> Result<Vec<Option<usize>>, CompileError> {
    let n = query.columns.len();
    match &p.columns {
        None => {
            // `SELECT STREAM ROWTIME, a, b` into a stream of (a, b): the leading ROWTIME is the
            // row's ROWTIME, as the tumbling-window page's query writes it.
            if n == target.len() + 1 && query.rowtime_columns.first() == Some(&true) {
                let assign: Vec<Option<usize>> = (1..n).map(Some).collect();
                check_types(p, target, query, &assign)?;
                return Ok(assign);
            }
            if n != target.len() {
                return Err(p.target_pos.error(format!(
                    "the query gives {n} columns but {} has {}",
                    p.target,
                    target.len()
                )));
            }
            let assign: Vec<Option<usize>> = (0..n).map(Some).collect();
            check_types(p, target, query, &assign)?;
            Ok(assign)
        }
        Some(cols) => {
            if cols.len() != n {
                return Err(p.target_pos.error(format!(
                    "the INSERT names {} columns but the query gives {n}",
                    cols.len()
                )));
            }
            let mut assign = vec![None; target.len()];
            for (i, (name, pos)) in cols.iter().enumerate() {
                if name == "ROWTIME" {
                    // `INSERT INTO s (ROWTIME, ...)`: that value is the row's ROWTIME.
                    continue;
                }
                let at = target
                    .iter()
                    .position(|c| c.name == *name)
                    .ok_or_else(|| pos.error(format!("{} has no column {name}", p.target)))?;
                assign[at] = Some(i);
            }
            check_types(p, target, query, &assign)?;
            Ok(assign)
        }
    }
}

/// `INSERT INTO s (ROWTIME, ...)`: which query output sets the rows' ROWTIME (a TIMESTAMP;
/// a row it would send back in time is an error_stream row).
fn rowtime_source(
    p: &crate::parse::CreatePump,
    query: &QueryPlan,
) -> Result<Option<usize>, CompileError> {
    let Some(cols) = &p.columns else {
        return Ok(None);
    };
    let Some((i, (_, pos))) = cols.iter().enumerate().find(|(_, (n, _))| n == "ROWTIME") else {
        return Ok(None);
    };
    match query.known_types.get(i) {
        Some(Some(SqlType::Timestamp)) | Some(None) => Ok(Some(i)),
        Some(Some(ty)) => Err(pos.error(format!("ROWTIME takes a TIMESTAMP, not {ty}"))),
        None => Ok(None),
    }
}

/// Each value the pump assigns must be castable to its column's type (the CAST page's
/// table): a TIMESTAMP into an INTEGER column is a compile error, not an error per row.
fn check_types(
    p: &crate::parse::CreatePump,
    target: &StreamSchema,
    query: &QueryPlan,
    assign: &[Option<usize>],
) -> Result<(), CompileError> {
    for (col, from) in target.iter().zip(assign) {
        let Some(i) = from else { continue };
        if let Some(Some(ty)) = query.known_types.get(*i) {
            if !castable(ty, &col.ty) {
                let pos = query.column_pos.get(*i).copied().unwrap_or(p.target_pos);
                return Err(pos.error(format!(
                    "column {} of {} is {}: a {} cannot be assigned to it",
                    col.name, p.target, col.ty, ty
                )));
            }
        }
    }
    Ok(())
}

/// The CAST page's table of valid conversions
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-cast.html).
pub fn castable(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    let text = to.is_character();
    match from {
        _ if from.is_numeric() => text || to.is_numeric(),
        Char(_) | Varchar(_) => !matches!(to, Binary(_) | Varbinary(_)),
        Date => text || matches!(to, Date | Timestamp),
        Time => text || matches!(to, Time | Timestamp),
        Timestamp => text || matches!(to, Time | Timestamp | Date),
        IntervalDayTime => text || matches!(to, IntervalDayTime | BigInt | Decimal { .. }),
        IntervalYearMonth => text || matches!(to, IntervalYearMonth),
        Boolean => text || matches!(to, Boolean),
        Binary(_) | Varbinary(_) => matches!(to, Binary(_) | Varbinary(_)),
        _ => true,
    }
}

/// Orders pumps so each runs after the pumps feeding what it reads (declaration order
/// otherwise). Pumps feeding each other in a cycle would run forever on one row: an error.
fn topological(pumps: Vec<PumpPlan>) -> Result<Vec<PumpPlan>, CompileError> {
    let mut left = pumps;
    let mut out: Vec<PumpPlan> = Vec::new();
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|p| !left.iter().any(|q| p.reads.contains(&q.target)));
        match ready {
            Some(i) => out.push(left.remove(i)),
            None => {
                let p = &left[0];
                return Err(p.pos.error(format!(
                    "pump {} is part of a cycle: the stream it inserts into flows back into it",
                    p.name
                )));
            }
        }
    }
    Ok(out)
}
