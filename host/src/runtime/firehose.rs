//! The Firehose service of `weir run`: its folder under `[storage] dir`, and where its
//! buckets live, from `[s3]`.

use weir_config::Config;
use weir_firehose::{Firehose, FirehoseConfig, FirehoseError, S3Settings, Storage};

/// Buckets go to S3 when `[s3]` is in the file or the environment names an endpoint
/// (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`); otherwise each bucket is a folder under
/// `STORAGE/s3/`.
pub(crate) fn storage_of(config: &Config) -> Storage {
    let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    match (&config.s3, env_endpoint) {
        (Some(s3), env) => Storage::S3(S3Settings {
            endpoint_url: s3.endpoint_url.clone().or(env),
            region: s3.region.clone(),
            access_key_id: s3.access_key_id.clone(),
            secret_access_key: s3.secret_access_key.clone(),
            session_token: None,
        }),
        (None, Some(env)) => Storage::S3(S3Settings {
            endpoint_url: Some(env),
            ..S3Settings::default()
        }),
        (None, None) => Storage::Folder(config.storage.dir.join("s3")),
    }
}

pub(crate) fn open(
    config: &Config,
    runtime: tokio::runtime::Handle,
) -> Result<Firehose, FirehoseError> {
    let mut fc = FirehoseConfig::new(config.storage.dir.join("firehose"), storage_of(config));
    fc.transition_delay = config.storage.transition;
    Firehose::open(fc, runtime)
}
