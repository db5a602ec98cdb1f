//! Where objects go: an S3-compatible endpoint (AWS S3, MinIO, Ceph, moto) through
//! `object_store`, or, with no S3 configured, a folder per bucket on this machine.
//!
//! A put returns only once the object is stored: S3 answers after it has the object, and the
//! folder store syncs the file and its folder, so a checkpoint written afterwards never points
//! past an object a power cut could take away.
//!
//! **Keys are written as Firehose writes them.** A partition key value may hold `.`, `..`,
//! `//`, a leading `/` or control characters, and S3 stores such keys as they are.
//! `object_store`'s `Path` cannot represent them (it refuses empty, `.` and `..` segments and
//! control characters, strips a leading `/`, and what it can represent is sent as the key
//! unchanged), and `reqwest`'s URL parsing would drop `.` / `..` segments even if it could.
//! So a key `Path::parse` keeps byte for byte goes through `object_store`; any other key is
//! sent as one SigV4-signed `PutObject` by `weir_aws_client::put_object_exact` (hyper, the
//! client under reqwest, whose request line is the path as given), with the credentials
//! `object_store` resolved, so S3 receives the exact key.
//! The folder store maps keys with `crate::folder::folder_key` (reversible percent-escapes;
//! nothing leaves the bucket folder). A key longer than S3's 1,024 bytes, or one the folder
//! store cannot map (NUL, a name over 255 bytes), cannot be written: [`Stores::check_key`]
//! says why before anything is sent, and the delivery puts its records in the error output.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};
use weir_aws_client::{put_object_exact, ExactPut, ExactPutClient};

use crate::error::{FirehoseError, Result};

/// S3's longest object key, in UTF-8 bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

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

/// An S3 bucket: the `object_store` client, and what a raw `PutObject` needs.
struct S3Bucket {
    store: AmazonS3,
    /// `scheme://host[:port]` with no trailing `/`; requests are path-style.
    endpoint: String,
    region: String,
}

/// One store per bucket, built on first use and kept.
pub struct Stores {
    storage: Storage,
    s3: Mutex<HashMap<String, Arc<S3Bucket>>>,
    /// The exact-key PutObject client, built on the first key that needs it (it loads the
    /// system's TLS roots).
    exact: OnceLock<ExactPutClient>,
}

impl Stores {
    pub fn new(storage: Storage) -> Self {
        Stores {
            storage,
            s3: Mutex::new(HashMap::new()),
            exact: OnceLock::new(),
        }
    }

    /// The exact-key PutObject client, or why there is none.
    fn exact_client(&self) -> std::result::Result<&ExactPutClient, String> {
        if let Some(c) = self.exact.get() {
            return Ok(c);
        }
        let c = ExactPutClient::new().map_err(|e| e.to_string())?;
        Ok(self.exact.get_or_init(|| c))
    }

    /// Why `key` cannot be stored, if it cannot: longer than S3 allows, or (folder store)
    /// not mappable to a path under the bucket folder. Everything else is writable.
    pub(crate) fn check_key(&self, key: &str) -> std::result::Result<(), String> {
        if key.is_empty() {
            return Err("the object key is empty".into());
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(format!(
                "the object key is {} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes",
                key.len()
            ));
        }
        if let Storage::Folder(_) = &self.storage {
            crate::folder::folder_key(key)
                .map_err(|e| format!("the folder store cannot hold this key: {e}"))?;
        }
        Ok(())
    }

    fn s3_bucket(&self, settings: &S3Settings, bucket: &str) -> Result<Arc<S3Bucket>> {
        let mut built = weir_support::lock(&self.s3);
        if let Some(s) = built.get(bucket) {
            return Ok(s.clone());
        }
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
        if let Some(e) = &settings.endpoint_url {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        } else if let Ok(e) = std::env::var("AWS_ENDPOINT_URL_S3") {
            b = b
                .with_endpoint(&e)
                .with_allow_http(e.starts_with("http://"));
        }
        if let Some(r) = &settings.region {
            b = b.with_region(r);
        }
        if let Some(k) = &settings.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &settings.secret_access_key {
            b = b.with_secret_access_key(k);
        }
        if let Some(t) = &settings.session_token {
            b = b.with_token(t);
        }
        // object_store's own default region, and AWS's regional endpoint without one given.
        let region = b
            .get_config_value(&AmazonS3ConfigKey::Region)
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = b
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"))
            .trim_end_matches('/')
            .to_owned();
        let store = b.build().map_err(|source| store_error(bucket, source))?;
        let s = Arc::new(S3Bucket {
            store,
            endpoint,
            region,
        });
        built.insert(bucket.to_owned(), s.clone());
        Ok(s)
    }

    /// The object `key` of `bucket`: a file under the bucket folder, or an S3 GET (the
    /// analytics runtime's reference data sources read their objects with it).
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let fail = |reason: String| FirehoseError::Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            reason,
        };
        match &self.storage {
            Storage::Folder(root) => {
                let rel = crate::folder::folder_key(key).map_err(|e| fail(e.to_string()))?;
                std::fs::read(root.join(bucket).join(rel)).map_err(|e| fail(e.to_string()))
            }
            Storage::S3(settings) => {
                let b = self.s3_bucket(settings, bucket)?;
                let path = object_path(key)
                    .ok_or_else(|| fail("the key cannot be read through object_store".into()))?;
                let got = b
                    .store
                    .get(&path)
                    .await
                    .map_err(|source| store_error(bucket, source))?;
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|source| store_error(bucket, source))?;
                Ok(bytes.to_vec())
            }
        }
    }

    /// Stores `body` as `key` in `bucket`, durably.
    pub async fn put(&self, bucket: &str, key: &str, body: PutPayload) -> Result<()> {
        match &self.storage {
            Storage::Folder(root) => put_folder(&root.join(bucket), bucket, key, &body),
            Storage::S3(settings) => {
                let b = self.s3_bucket(settings, bucket)?;
                match object_path(key) {
                    Some(path) => {
                        b.store
                            .put(&path, body)
                            .await
                            .map_err(|source| store_error(bucket, source))?;
                        Ok(())
                    }
                    None => {
                        let credential = b
                            .store
                            .credentials()
                            .get_credential()
                            .await
                            .map_err(|source| store_error(bucket, source))?;
                        let fail = |reason: String| FirehoseError::Object {
                            bucket: bucket.to_owned(),
                            key: key.to_owned(),
                            reason,
                        };
                        let client = self.exact_client().map_err(fail)?;
                        let request = ExactPut {
                            endpoint: b.endpoint.clone(),
                            region: b.region.clone(),
                            bucket: bucket.to_owned(),
                            key: key.to_owned(),
                            key_id: credential.key_id.clone(),
                            secret: credential.secret_key.clone(),
                            token: credential.token.clone(),
                        };
                        let body: Vec<u8> = body.iter().flat_map(|c| c.iter().copied()).collect();
                        put_object_exact(client, &request, body)
                            .await
                            .map_err(|e| fail(e.to_string()))
                    }
                }
            }
        }
    }
}

/// Writes an object into the bucket folder `dir`: the key mapped by `folder_key`, resolved
/// by `prepare_object_path` (which refuses anything leading out of the folder, symlinks
/// included), written atomically and synced with its folders.
fn put_folder(dir: &std::path::Path, bucket: &str, key: &str, body: &PutPayload) -> Result<()> {
    let fail = |reason: String| FirehoseError::Object {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        reason,
    };
    // Synced as it is made: an object stored in it must not vanish with its folder's name.
    weir_support::create_dir_all_synced(dir).map_err(|source| FirehoseError::Io {
        what: format!("cannot create the bucket folder {}", dir.display()),
        source,
    })?;
    let root = std::fs::canonicalize(dir).map_err(|source| FirehoseError::Io {
        what: format!("cannot resolve the bucket folder {}", dir.display()),
        source,
    })?;
    let rel = crate::folder::folder_key(key).map_err(|e| fail(e.to_string()))?;
    let path = crate::folder::prepare_object_path(&root, &rel).map_err(|e| fail(e.to_string()))?;
    let chunks: Vec<&[u8]> = body.iter().map(|c| c.as_ref()).collect();
    crate::folder::write_atomic(&path, &chunks).map_err(|e| fail(e.to_string()))
}

fn store_error(bucket: &str, source: object_store::Error) -> FirehoseError {
    FirehoseError::Store {
        bucket: bucket.to_owned(),
        source,
    }
}

/// `key` as an `object_store` path, when its `Path` holds exactly `key` (what S3 then
/// receives); `None` for keys it would refuse or change (empty, `.` or `..` segments, control
/// characters, a leading or trailing `/`).
/// Refuses a key with empty, `.` or `..` segments or control characters. Used at create and
/// update on the keys a stream's own prefixes make (with a sample partition key value): such
/// a prefix is a configuration mistake. Partition key values, which come from records, are
/// written whatever they hold.
pub(crate) fn plain_key(key: &str) -> Result<()> {
    match object_path(key) {
        Some(_) => Ok(()),
        None => Err(FirehoseError::InvalidArgument(format!(
            "the object key {key:?} is not usable: a prefix may not make empty, `.` or `..` segments or hold control characters"
        ))),
    }
}

fn object_path(key: &str) -> Option<ObjectPath> {
    ObjectPath::parse(key).ok().filter(|p| p.as_ref() == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_object_store_would_change_take_the_raw_path() {
        assert_eq!(
            object_path("a/b c/%2F/é-1").map(|p| p.to_string()),
            Some("a/b c/%2F/é-1".to_owned())
        );
        for raw in ["a//b", "/lead", "a/./b", "a/../b", "..", "a/\u{1}/b", "a/"] {
            assert!(object_path(raw).is_none(), "{raw:?}");
        }
    }

    /// Accepts one HTTP request and returns its request line; answers 200.
    fn request_line_of_one(listener: std::net::TcpListener) -> String {
        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        weir_testkit::serve_one_request(listener, answer).0
    }

    #[test]
    fn an_s3_key_object_store_cannot_carry_reaches_s3_exactly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || request_line_of_one(listener));
        let stores = Stores::new(Storage::S3(S3Settings {
            endpoint_url: Some(format!("http://127.0.0.1:{port}")),
            region: Some("us-east-1".into()),
            access_key_id: Some("AKIDTEST".into()),
            secret_access_key: Some("secret".into()),
            session_token: None,
        }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(stores.put("bkt", "p/../a//./b", b"x".to_vec().into()))
            .expect("put");
        assert_eq!(
            server.join().expect("server"),
            "PUT /bkt/p/../a//./b HTTP/1.1"
        );
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
        // Keys S3 takes but a file system cannot are mapped inside the bucket folder.
        rt.block_on(stores.put("bkt", "../../x", b"up".to_vec().into()))
            .expect("put");
        let got = std::fs::read(dir.path().join("bkt/%2E%2E/%2E%2E/x")).expect("read");
        assert_eq!(got, b"up");
        assert!(!dir.path().join("x").exists());
        assert!(stores.check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(stores.check_key(&format!("a/{}", "n".repeat(256))).is_err());
        assert!(stores.check_key("a//b/./c").is_ok());
    }
}
