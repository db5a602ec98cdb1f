//! Who a request is signed as, and for which region: given, or read from the environment the
//! way the AWS CLI and SDKs read it.

use std::fmt;

/// The region used when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The access key id and secret used by [`Credentials::from_lookup`] when the environment has
/// no keys: a Weir without `verify_keys` accepts any signature, AWS refuses these.
pub const ANONYMOUS_KEY: &str = "weir";

/// AWS credentials. `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// For temporary credentials (STS); sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// The anonymous keys `weir` / `weir` ([`ANONYMOUS_KEY`]), no session token.
    pub fn anonymous() -> Self {
        Credentials {
            access_key_id: ANONYMOUS_KEY.to_owned(),
            secret_access_key: ANONYMOUS_KEY.to_owned(),
            session_token: None,
        }
    }

    /// The region and credentials in the environment read through `var` (empty values count
    /// as unset): keys from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optionally)
    /// `AWS_SESSION_TOKEN`; the region from `AWS_REGION`, else `AWS_DEFAULT_REGION`, else
    /// `us-east-1`.
    ///
    /// Without both keys: the anonymous keys, which suit a local Weir that does not verify
    /// signatures (no `verify_keys`); AWS, or a Weir that verifies, refuses such calls with
    /// `UnrecognizedClientException`. `endpoint` only names the client in the warning logged
    /// when just one of the two keys is set.
    pub fn from_lookup(
        endpoint: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> (String, Credentials) {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Credentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            },
            (id, secret) => {
                if id.is_some() || secret.is_some() {
                    tracing::warn!(
                        endpoint,
                        "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; signing with the anonymous keys"
                    );
                }
                Credentials::anonymous()
            }
        };
        (region, credentials)
    }

    /// Why these credentials cannot sign a request, if they cannot.
    pub(crate) fn check(&self) -> Result<(), String> {
        let key_ok = |k: &str| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',')
        };
        if !key_ok(&self.access_key_id) {
            return Err(
                "the access key id must be non-empty printable ASCII without '/' or ','".into(),
            );
        }
        if self.secret_access_key.is_empty() {
            return Err("the secret access key is empty".into());
        }
        if let Some(token) = &self.session_token {
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err("the session token must be non-empty printable ASCII".into());
            }
        }
        Ok(())
    }
}

/// Why `region` is not a region name, if it is not.
pub(crate) fn check_region(region: &str) -> Result<(), String> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "region {region:?} is not a region name (like us-east-1)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn environment_gives_keys_region_or_anonymous() {
        let (region, c) = Credentials::from_lookup("e", env(&[]));
        assert_eq!(region, DEFAULT_REGION);
        assert_eq!(c, Credentials::anonymous());
        let (region, c) = Credentials::from_lookup(
            "e",
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKID1"),
                ("AWS_SECRET_ACCESS_KEY", "s3cret"),
                ("AWS_SESSION_TOKEN", "tok"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
            ]),
        );
        assert_eq!(region, "eu-west-1");
        assert_eq!(
            c,
            Credentials {
                access_key_id: "AKID1".into(),
                secret_access_key: "s3cret".into(),
                session_token: Some("tok".into()),
            }
        );
        // Half the keys: anonymous, and no token either.
        let (region, c) = Credentials::from_lookup(
            "e",
            env(&[
                ("AWS_REGION", "ap-south-1"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKID1"),
                ("AWS_SESSION_TOKEN", "tok"),
            ]),
        );
        assert_eq!(region, "ap-south-1");
        assert_eq!(c, Credentials::anonymous());
        let (_, c) = Credentials::from_lookup(
            "e",
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKID1"),
                ("AWS_SECRET_ACCESS_KEY", "s3cret"),
            ]),
        );
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
    }

    #[test]
    fn unusable_keys_and_regions_are_named() {
        assert!(check_region("us-east-1").is_ok());
        assert!(check_region("us/east").is_err());
        assert!(check_region("").is_err());
        let mut c = Credentials::anonymous();
        c.secret_access_key.clear();
        assert!(c.check().is_err());
        let mut c = Credentials::anonymous();
        c.access_key_id = "a/b".into();
        assert!(c.check().is_err());
        let mut c = Credentials::anonymous();
        c.session_token = Some("a b".into());
        assert!(c.check().is_err());
    }
}
