//! Where objects go: an S3-compatible endpoint (AWS S3, MinIO, Ceph, moto) through
//! `object_store`, or, with no S3 configured, a folder per bucket on this machine.
//!
//! A put returns only once the object is stored: S3 answers after it has the object, and the
//! folder store syncs the file and its folder, so a checkpoint written afterwards never points
//! past an object a power cut could take away.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};

use crate::error::{FirehoseError, Result};

/// `[s3]`: an S3-compatible endpoint. Unset fields fall back to the usual `AWS_*`
/// environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Settings")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .finish()
    }
}

/// Where a delivery stream's bucket lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Bucket `B` is the folder `ROOT/B`.
    Folder(PathBuf),
    S3(S3Settings),
}

/// One store per bucket, built on first use and kept.
pub struct Stores {
    storage: Storage,
    built: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl Stores {
    pub fn new(storage: Storage) -> Self {
        Stores {
            storage,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The store for `bucket`.
    pub fn bucket(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        let mut built = weir_support::lock(&self.built);
        if let Some(s) = built.get(bucket) {
            return Ok(s.clone());
        }
        let store: Arc<dyn ObjectStore> = match &self.storage {
            Storage::Folder(root) => {
                let dir = root.join(bucket);
                std::fs::create_dir_all(&dir).map_err(|source| FirehoseError::Io {
                    what: format!("cannot create the bucket folder {}", dir.display()),
                    source,
                })?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|source| store_error(bucket, source))?,
                )
            }
            Storage::S3(s) => {
                let mut b = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_virtual_hosted_style_request(false)
                    .with_retry(RetryConfig {
                        max_retries: 2,
                        retry_timeout: Duration::from_secs(20),
                        ..RetryConfig::default()
                    })
                    .with_client_options(
                        ClientOptions::new()
                            .with_connect_timeout(Duration::from_secs(5))
                            .with_timeout(Duration::from_secs(60)),
                    );
                if let Some(e) = &s.endpoint_url {
                    b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
                } else if let Ok(e) = std::env::var("AWS_ENDPOINT_URL_S3") {
                    b = b
                        .with_endpoint(&e)
                        .with_allow_http(e.starts_with("http://"));
                }
                if let Some(r) = &s.region {
                    b = b.with_region(r);
                }
                if let Some(k) = &s.access_key_id {
                    b = b.with_access_key_id(k);
                }
                if let Some(k) = &s.secret_access_key {
                    b = b.with_secret_access_key(k);
                }
                if let Some(t) = &s.session_token {
                    b = b.with_token(t);
                }
                Arc::new(b.build().map_err(|source| store_error(bucket, source))?)
            }
        };
        built.insert(bucket.to_owned(), store.clone());
        Ok(store)
    }

    /// Stores `body` as `key` in `bucket`, durably.
    pub async fn put(&self, bucket: &str, key: &str, body: PutPayload) -> Result<()> {
        let store = self.bucket(bucket)?;
        let path = object_path(key)?;
        store
            .put(&path, body)
            .await
            .map_err(|source| store_error(bucket, source))?;
        if let Storage::Folder(root) = &self.storage {
            sync_object(&root.join(bucket), key)?;
        }
        Ok(())
    }
}

fn store_error(bucket: &str, source: object_store::Error) -> FirehoseError {
    FirehoseError::Store {
        bucket: bucket.to_owned(),
        source,
    }
}

/// An object key as `object_store` takes it; keys with empty, `.` or `..` segments are
/// refused (they could not be listed back, and a folder store must stay inside its root).
pub fn object_path(key: &str) -> Result<ObjectPath> {
    ObjectPath::parse(key).map_err(|e| {
        FirehoseError::InvalidArgument(format!("the object key {key:?} is not usable: {e}"))
    })
}

/// fsync of a folder-stored object and of every folder from it up to the bucket folder, so
/// the object and its name survive a power cut.
fn sync_object(bucket_dir: &std::path::Path, key: &str) -> Result<()> {
    let file = bucket_dir.join(key);
    let io = |what: String| move |source| FirehoseError::Io { what, source };
    std::fs::File::open(&file)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("cannot sync {}", file.display())))?;
    let mut dir = file.parent();
    while let Some(d) = dir {
        weir_support::sync_dir(d).map_err(io(format!("cannot sync {}", d.display())))?;
        if d == bucket_dir {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_dot_segments_are_refused() {
        assert!(object_path("a/b/c-1-2026").is_ok());
        for bad in ["a//b", "../x", "a/./b", "a/../b"] {
            assert!(object_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn folder_store_writes_under_the_bucket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stores = Stores::new(Storage::Folder(dir.path().to_path_buf()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(stores.put("bkt", "2026/01/02/03/x-1", b"hello".to_vec().into()))
            .expect("put");
        let got = std::fs::read(dir.path().join("bkt/2026/01/02/03/x-1")).expect("read");
        assert_eq!(got, b"hello");
    }
}
