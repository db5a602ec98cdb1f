//! The HTTP endpoint destination on the wire: `HttpEndpointDestinationConfiguration` (the
//! endpoint, its buffering, request, retry and backup settings, and its `S3Configuration`,
//! a plain S3 backup), `HttpEndpointDestinationDescription`, and the updates: its backup's
//! S3 settings through `ExtendedS3DestinationUpdate`; `HttpEndpointDestinationUpdate` is
//! refused.

use std::collections::BTreeMap;

use weir_firehose::{
    DeliveryDestination, DeliveryStreamSpec, FirehoseError, HttpDestination, S3Destination,
    DESTINATION_ID,
};
use weir_firehose_model::{BUFFER_INTERVAL_S, HTTP_BUFFERING, HTTP_BUFFER_SIZE_MIB};

use super::Created;
use crate::error::ApiError;
use crate::firehose::shapes::{s3_fields, S3Fields};
use crate::firehose::{bounded, structure};
use crate::firehose_config as cfg;
use crate::request::{label, Req};
use crate::value::{map, s, Val};

pub(super) const CONFIGURATION: &str = "HttpEndpointDestinationConfiguration";
const UPDATE: &str = "HttpEndpointDestinationUpdate";

/// `HttpEndpointDestinationConfiguration` `v`: the endpoint, and its `S3Configuration` (a
/// plain backup) carrying the endpoint's processing.
pub(super) fn created(req: &mut Req<'_>, v: &Val) -> Result<Created, ApiError> {
    let mut hr = structure(v, CONFIGURATION)?;
    let p = cfg::processing(&mut hr)?;
    if p.extraction_query.is_some() {
        return Err(ApiError::invalid(
            "Dynamic partitioning (MetadataExtraction) applies to S3 destinations only.",
        ));
    }
    let endpoint = endpoint(&mut hr)?;
    let f = match hr.raw("S3Configuration") {
        Some(s3v) => {
            let mut f = s3_fields(&mut hr, s3v, "S3Configuration", true)?;
            if f.extras() {
                return Err(ApiError::invalid(
                    "S3Configuration of an HTTP endpoint destination is a plain S3 backup: no processing, partitioning or format conversion.",
                ));
            }
            f.processing = Some(p);
            Some(f)
        }
        None => {
            hr.violation(None, "s3Configuration", "Member must not be null");
            None
        }
    };
    req.absorb(&mut hr, &label(CONFIGURATION));
    req.finish()?;
    let Some(mut f) = f else {
        return Err(ApiError::invalid("missing S3Configuration"));
    };
    let stages = f.created()?;
    let backup = super::s3::destination(f)?;
    Ok((
        DeliveryDestination::HttpEndpoint { endpoint, backup },
        stages,
    ))
}

/// `HttpEndpointDestinationConfiguration`'s endpoint settings, except its `S3Configuration`.
fn endpoint(r: &mut Req<'_>) -> Result<HttpDestination, ApiError> {
    let mut out = HttpDestination {
        url: String::new(),
        name: None,
        access_key: None,
        gzip: false,
        common_attributes: BTreeMap::new(),
        retry_s: 300,
        buffering: HTTP_BUFFERING.default,
        backup_all: false,
    };
    match r.raw("EndpointConfiguration") {
        Some(ev) => {
            let mut er = structure(ev, "EndpointConfiguration")?;
            out.url = er
                .string(
                    "Url",
                    true,
                    1,
                    1000,
                    Some(("https://.*", |v: &str| {
                        v.starts_with("https://") || v.starts_with("http://")
                    })),
                )?
                .unwrap_or_default()
                .to_owned();
            out.name = er.string("Name", false, 1, 256, None)?.map(str::to_owned);
            out.access_key = er
                .string("AccessKey", false, 0, 4096, None)?
                .map(str::to_owned);
            r.absorb(&mut er, "endpointConfiguration");
        }
        None => r.violation(None, "endpointConfiguration", "Member must not be null"),
    }
    if let Some(h) = r.raw("BufferingHints") {
        let mut hr = structure(h, "BufferingHints")?;
        let size = bounded(&mut hr, "SizeInMBs", HTTP_BUFFER_SIZE_MIB)?;
        let interval = bounded(&mut hr, "IntervalInSeconds", BUFFER_INTERVAL_S)?;
        r.absorb(&mut hr, "bufferingHints");
        // A hint out of bounds is a violation already, answered as AWS's ValidationException
        // when the request is finished; the default stands until then.
        out.buffering = HTTP_BUFFERING
            .hints(size, interval)
            .unwrap_or(HTTP_BUFFERING.default);
    }
    if let Some(rc) = r.raw("RequestConfiguration") {
        let mut rr = structure(rc, "RequestConfiguration")?;
        out.gzip = rr.enumeration("ContentEncoding", false, &["NONE", "GZIP"])? == Some("GZIP");
        if let Some(Val::Arr(attrs)) = rr.raw("CommonAttributes") {
            for a in attrs {
                let mut ar = structure(a, "CommonAttributes")?;
                let n = ar.string("AttributeName", true, 1, 256, None)?;
                let v = ar.string("AttributeValue", true, 0, 1024, None)?;
                rr.absorb(&mut ar, "commonAttributes.member");
                if let (Some(n), Some(v)) = (n, v) {
                    out.common_attributes.insert(n.to_owned(), v.to_owned());
                }
            }
        }
        r.absorb(&mut rr, "requestConfiguration");
    }
    if let Some(ro) = r.raw("RetryOptions") {
        let mut rr = structure(ro, "RetryOptions")?;
        out.retry_s = cfg::retry_duration(&mut rr)?;
        r.absorb(&mut rr, "retryOptions");
    }
    out.backup_all =
        r.enumeration("S3BackupMode", false, &["FailedDataOnly", "AllData"])? == Some("AllData");
    Ok(out)
}

/// `HttpEndpointDestinationDescription`, with its backup and the endpoint's processing.
pub(super) fn description(
    spec: &DeliveryStreamSpec,
    h: &HttpDestination,
    backup: &S3Destination,
) -> Val {
    let mut endpoint = vec![("Url", s(h.url.clone()))];
    if let Some(n) = &h.name {
        endpoint.push(("Name", s(n.clone())));
    }
    let attrs = h
        .common_attributes
        .iter()
        .map(|(k, v)| {
            map(vec![
                ("AttributeName", s(k.clone())),
                ("AttributeValue", s(v.clone())),
            ])
        })
        .collect();
    let mut d = vec![
        ("EndpointConfiguration", map(endpoint)),
        (
            "BufferingHints",
            map(vec![
                ("SizeInMBs", Val::Int(h.buffering.size_mib.into())),
                ("IntervalInSeconds", Val::Int(h.buffering.interval_s.into())),
            ]),
        ),
        (
            "RequestConfiguration",
            map(vec![
                ("ContentEncoding", s(if h.gzip { "GZIP" } else { "NONE" })),
                ("CommonAttributes", Val::Arr(attrs)),
            ]),
        ),
        (
            "RetryOptions",
            map(vec![("DurationInSeconds", Val::Int(h.retry_s.into()))]),
        ),
        (
            "S3BackupMode",
            s(if h.backup_all {
                "AllData"
            } else {
                "FailedDataOnly"
            }),
        ),
        (
            "S3DestinationDescription",
            map(super::s3::plain_description(backup)),
        ),
    ];
    if let Some(p) = cfg::processing_description(spec.processing.as_ref(), None) {
        d.push(("ProcessingConfiguration", p));
    }
    map(vec![
        ("DestinationId", s(DESTINATION_ID)),
        ("HttpEndpointDestinationDescription", map(d)),
    ])
}

/// Weir does not change an endpoint in place.
pub(super) fn refuse_update(req: &Req<'_>) -> Result<(), ApiError> {
    if req.raw(UPDATE).is_some() {
        return Err(ApiError::invalid(
            "Weir does not change an HTTP endpoint destination in UpdateDestination; create a new delivery stream.",
        ));
    }
    Ok(())
}

/// An S3 update changes the backup, which stays plain.
pub(super) fn merge(backup: &mut S3Destination, f: &S3Fields) -> Result<(), FirehoseError> {
    if f.extras() {
        return Err(FirehoseError::InvalidArgument(
            "This delivery stream delivers to an HTTP endpoint: its S3 configuration is a plain backup, with no processing, partitioning or format conversion.".into(),
        ));
    }
    super::s3::merge(backup, f)
}
