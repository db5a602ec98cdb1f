//! Enhanced fan-out consumers: register, describe, list, deregister. SubscribeToShard streams
//! its answer and lives in `fanout.rs`, next to the event-stream framing.

use super::*;

/// A consumer ARN's pattern in botocore's model.
pub(crate) const CONSUMER_ARN_PATTERN: &str =
    "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+";

pub(crate) fn consumer_arn_pattern(s: &str) -> bool {
    let Some((head, tail)) = s.split_once(":stream/") else {
        return false;
    };
    let Some((stream, rest)) = tail.split_once("/consumer/") else {
        return false;
    };
    let Some((name, ts)) = rest.rsplit_once(':') else {
        return false;
    };
    arn_pattern(&format!("{head}:stream/{stream}"))
        && name_pattern(stream)
        && name_pattern(name)
        && !ts.is_empty()
        && ts.bytes().all(|b| b.is_ascii_digit())
}

fn consumer_val(c: &ConsumerInfo, with_stream: bool) -> Val {
    let mut m = vec![
        ("ConsumerName", s(c.name.clone())),
        ("ConsumerARN", s(c.arn.clone())),
        ("ConsumerStatus", s(c.status.as_str())),
        ("ConsumerCreationTimestamp", Val::Time(c.created_ms)),
    ];
    if with_stream {
        m.push(("StreamARN", s(c.stream_arn.clone())));
    }
    map(m)
}

/// `StreamARN` (required and its pattern checked by the model).
fn stream_arn_required<'a>(req: &mut Req<'a>) -> Result<Option<&'a str>, ApiError> {
    req.text("StreamARN")
}

pub(super) fn register(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = stream_arn_required(req)?;
    let name = req.text("ConsumerName")?;
    let tags = tags_of(req, "Tags")?;
    req.finish()?;
    let stream = arn.and_then(parse_arn).unwrap_or_default();
    let c = state
        .streams
        .register_consumer(stream, name.unwrap_or_default(), tags)?;
    Ok(map(vec![("Consumer", consumer_val(&c, false))]))
}

/// A consumer named either by its ARN or by the stream's ARN and its name, as
/// DescribeStreamConsumer and DeregisterStreamConsumer take it.
fn consumer_ref(state: &ApiState, req: &mut Req<'_>) -> Result<(String, String), ApiError> {
    let stream_arn = req.text("StreamARN")?;
    let name = req.text("ConsumerName")?;
    let arn = req.text("ConsumerARN")?;
    req.finish()?;
    match (arn, stream_arn.and_then(parse_arn), name) {
        (Some(arn), _, _) => Ok(state.streams.resolve_consumer_arn(arn)?),
        (None, Some(stream), Some(name)) => Ok((stream.to_owned(), name.to_owned())),
        _ => Err(ApiError::invalid(
            "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
        )),
    }
}

pub(super) fn describe(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let (stream, name) = consumer_ref(state, req)?;
    let c = state.streams.describe_consumer(&stream, &name)?;
    Ok(map(vec![("ConsumerDescription", consumer_val(&c, true))]))
}

pub(super) fn deregister(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let (stream, name) = consumer_ref(state, req)?;
    state.streams.deregister_consumer(&stream, &name)?;
    Ok(empty())
}

/// A ListStreamConsumers page token: the stream, how many were already listed, issue time.
#[derive(serde::Serialize, serde::Deserialize)]
struct ConsumerToken {
    s: String,
    n: usize,
    t: i64,
}

const NEXT_TOKEN_TTL_MS: i64 = 300_000;

pub(super) fn list(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = stream_arn_required(req)?;
    let token = req.text("NextToken")?;
    let max = req.number("MaxResults")?.unwrap_or(100) as usize;
    let created = req.timestamp("StreamCreationTimestamp")?;
    req.finish()?;
    let stream = arn.and_then(parse_arn).unwrap_or_default().to_owned();
    let now = weir_support::now_ms();
    let skip = match token {
        None => 0,
        Some(t) => {
            let tok: ConsumerToken = read_token(t)
                .filter(|tok: &ConsumerToken| tok.s == stream)
                .ok_or_else(|| ApiError::invalid("Invalid NextToken."))?;
            if now - tok.t > NEXT_TOKEN_TTL_MS {
                return Err(ApiError::new(
                    ErrorKind::ExpiredNextToken,
                    format!("The NextToken {t} has expired."),
                ));
            }
            tok.n
        }
    };
    if let Some(ts) = created {
        let info = state.streams.describe_stream(&stream)?;
        if info.created_ms.div_euclid(1000) != ts.div_euclid(1000) {
            return Err(ApiError::new(
                ErrorKind::ResourceNotFound,
                format!("Stream {stream} with the given StreamCreationTimestamp not found."),
            ));
        }
    }
    let all = state.streams.list_consumers(&stream)?;
    let page: Vec<&ConsumerInfo> = all.iter().skip(skip).take(max).collect();
    let mut out = vec![(
        "Consumers",
        Val::Arr(page.iter().map(|c| consumer_val(c, false)).collect()),
    )];
    if skip + page.len() < all.len() {
        let tok = ConsumerToken {
            s: stream,
            n: skip + page.len(),
            t: now,
        };
        out.push(("NextToken", next_token(&tok)?));
    }
    Ok(map(out))
}
