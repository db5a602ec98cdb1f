//! SigV4's `Authorization` header for a request of this client, written once for every
//! protocol (`json` and `s3`): the date and scope of the moment it is signed at, the
//! canonical request of its (all signed) headers, the signature.

use chrono::{DateTime, Utc};
use weir_sigv4::CanonicalRequest;

/// One request's signing: the key, and the date and scope of `now` for a service in a region.
pub(crate) struct Signer<'a> {
    key_id: &'a str,
    secret: &'a str,
    /// `x-amz-date`'s value; the request must send it (and sign it).
    pub(crate) amz_date: String,
    scope: String,
}

impl<'a> Signer<'a> {
    pub(crate) fn new(
        key_id: &'a str,
        secret: &'a str,
        now: DateTime<Utc>,
        region: &str,
        service: &str,
    ) -> Signer<'a> {
        Signer {
            key_id,
            secret,
            amz_date: now.format("%Y%m%dT%H%M%SZ").to_string(),
            scope: format!("{}/{region}/{service}/aws4_request", now.format("%Y%m%d")),
        }
    }

    /// The `Authorization` value of a `method` on `path` (no query) whose `headers`, sorted by
    /// name, are all signed, with the body's SHA-256 `payload_hash`.
    pub(crate) fn authorization(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        payload_hash: &str,
    ) -> String {
        let (canonical_headers, signed_headers) = weir_sigv4::header_lists(headers);
        let signature = weir_sigv4::sign(
            &CanonicalRequest {
                method,
                path,
                query: "",
                headers: &canonical_headers,
                signed_headers: &signed_headers,
                payload_hash,
            },
            &self.amz_date,
            &self.scope,
            self.secret,
        );
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.key_id, self.scope
        )
    }
}
