//! Each Firehose destination's wire shapes, one module per `weir_firehose::DeliveryDestination`
//! variant: its create configuration (read into the variant and the stages), its
//! `DestinationDescription`, and its part of an UpdateDestination. `s3.rs`:
//! `ExtendedS3DestinationConfiguration` (and the plain `S3DestinationConfiguration`);
//! `http_endpoint.rs`: `HttpEndpointDestinationConfiguration`.
//!
//! A create finds its reader in [`SERVED`]; describe and update `match` on the variant with
//! no catch-all, so a new variant does not compile until it has its description and merge.

mod http_endpoint;
mod s3;

use weir_firehose::{DeliveryDestination, DeliveryStreamSpec, FirehoseError};

use super::shapes::{S3Fields, Stages};
use crate::error::ApiError;
use crate::request::Req;
use crate::value::Val;

/// What a destination's create configuration becomes.
type Created = (DeliveryDestination, Stages);

/// A destination's create configuration: the request (for its violations) and the value.
type Read = fn(&mut Req<'_>, &Val) -> Result<Created, ApiError>;

/// The destination configurations Weir serves in CreateDeliveryStream: the member, what it
/// is called in a refusal (`None` for an alias of another row), and its reader.
const SERVED: [(&str, Option<&str>, Read); 3] = [
    (s3::EXTENDED, Some("S3"), s3::created_extended),
    (s3::PLAIN, None, s3::created_plain),
    (
        http_endpoint::CONFIGURATION,
        Some("HTTP endpoints"),
        http_endpoint::created,
    ),
];

/// The destination configurations CreateDeliveryStream takes that Weir does not serve,
/// refused by name.
const UNSERVED: [&str; 7] = [
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
];

/// The one destination configuration of a create, read: the destination and its stages.
pub(super) fn created(req: &mut Req<'_>) -> Result<Created, ApiError> {
    let (field, read) = chosen(req)?;
    let Some(v) = req.raw(field) else {
        return Err(ApiError::invalid("missing destination"));
    };
    read(req, v)
}

/// The one destination configuration given, if Weir serves it.
fn chosen(req: &Req<'_>) -> Result<(&'static str, Read), ApiError> {
    let served: Vec<(&'static str, Read)> = SERVED
        .iter()
        .filter(|(d, _, _)| req.raw(d).is_some())
        .map(|&(d, _, read)| (d, read))
        .collect();
    let unserved: Vec<&'static str> = UNSERVED
        .into_iter()
        .filter(|d| req.raw(d).is_some())
        .collect();
    let named = || {
        SERVED
            .iter()
            .filter_map(|(d, what, _)| what.map(|w| (*d, w)))
            .collect::<Vec<_>>()
    };
    match (served.as_slice(), unserved.as_slice()) {
        ([one], []) => Ok(*one),
        ([], []) => {
            let list: Vec<String> = named()
                .into_iter()
                .map(|(d, w)| format!("{w} ({d})"))
                .collect();
            Err(ApiError::invalid(format!(
                "Exactly one destination configuration must be given; Weir delivers to {}.",
                list.join(" and ")
            )))
        }
        ([], [one]) => {
            let list: Vec<&str> = named().into_iter().map(|(d, _)| d).collect();
            Err(ApiError::invalid(format!(
                "{one} is not supported by Weir; use {}.",
                list.join(" or ")
            )))
        }
        _ => {
            let given: Vec<&str> = SERVED
                .iter()
                .map(|(d, _, _)| *d)
                .chain(UNSERVED)
                .filter(|d| req.raw(d).is_some())
                .collect();
            Err(ApiError::invalid(format!(
                "Only one destination configuration may be given, got {}.",
                given.join(", ")
            )))
        }
    }
}

/// The one `DestinationDescription` of `spec`.
pub(super) fn description(spec: &DeliveryStreamSpec) -> Val {
    match &spec.destination {
        DeliveryDestination::ExtendedS3(d) => s3::description(spec, d),
        DeliveryDestination::HttpEndpoint { endpoint, backup } => {
            http_endpoint::description(spec, endpoint, backup)
        }
    }
}

/// The destination updates of UpdateDestination: what is given of the S3 settings (of the
/// S3 destination, or of another destination's S3 backup). `HttpEndpointDestinationUpdate`
/// is refused.
pub(super) fn update_fields(req: &mut Req<'_>) -> Result<Option<S3Fields>, ApiError> {
    let f = s3::update_fields(req)?;
    http_endpoint::refuse_update(req)?;
    Ok(f)
}

/// Merges the given S3 settings into the destination of `spec` (the stages are merged by
/// the caller).
pub(super) fn merge(spec: &mut DeliveryStreamSpec, f: &S3Fields) -> Result<(), FirehoseError> {
    match &mut spec.destination {
        DeliveryDestination::ExtendedS3(d) => s3::merge(d, f),
        DeliveryDestination::HttpEndpoint { backup, .. } => http_endpoint::merge(backup, f),
    }
}
