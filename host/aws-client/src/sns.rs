//! SNS, the call the `sns` rule action needs: `Publish`, on SNS's query protocol (a
//! form-encoded `POST /` with `Action=Publish&Version=2010-03-31`, SigV4 for service `sns`,
//! XML answers), which AWS and moto speak. A topic ARN goes as `TopicArn`, any other target
//! (a mobile endpoint, `...:endpoint/...`) as `TargetArn`; `MessageStructure=json` for the
//! action's `JSON` format.
//!
//! Same HTTP rules as the JSON protocol's client: 5 s to connect, 30 s per call, answers up
//! to 1 MiB, no redirects, no proxy.

use std::sync::Arc;

use chrono::Utc;
use reqwest::Url;

use crate::error::AwsError;
use crate::json::{block_on, CALL_TIMEOUT, CONNECT_TIMEOUT, MAX_RESPONSE_BYTES};
use crate::service::ServiceTarget;
use crate::signing::Signer;
use crate::EgressResolver;

/// A client for one SNS-compatible endpoint. Cheap to clone and share across threads.
#[derive(Clone)]
pub struct SnsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: Url,
    host: String,
    target: ServiceTarget,
}

impl std::fmt::Debug for SnsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsClient")
            .field("url", &self.inner.url.as_str())
            .field("region", &self.inner.target.region)
            .finish_non_exhaustive()
    }
}

impl SnsClient {
    /// A client for `target`, every address allowed (the endpoint is the operator's).
    pub fn new(target: &ServiceTarget) -> Result<Self, AwsError> {
        let bad = |reason: String| AwsError::BadEndpoint {
            endpoint: target.endpoint.clone(),
            reason,
        };
        let url = Url::parse(&target.endpoint).map_err(|e| bad(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("expected http(s)://host[:port]".into()));
        }
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => String::new(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(EgressResolver::allow_all()))
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        Ok(SnsClient {
            inner: Arc::new(Inner {
                http,
                url,
                host,
                target: target.clone(),
            }),
        })
    }

    /// `Publish` of `message` to `target_arn`, blocking (a pipeline thread calls it); the
    /// message's id. `json_structure`: the message is SNS's JSON message structure.
    pub fn publish(
        &self,
        target_arn: &str,
        message: &str,
        json_structure: bool,
    ) -> Result<String, AwsError> {
        let this = self.clone();
        let (arn, message) = (target_arn.to_owned(), message.to_owned());
        let label = format!("Publish to {target_arn}");
        let endpoint = self.inner.url.as_str().to_owned();
        block_on(async move { this.publish_async(&arn, &message, json_structure).await })
            .unwrap_or_else(|reason| {
                Err(AwsError::Runtime {
                    endpoint,
                    operation: label,
                    reason,
                })
            })
    }

    async fn publish_async(
        &self,
        target_arn: &str,
        message: &str,
        json_structure: bool,
    ) -> Result<String, AwsError> {
        let inner = &self.inner;
        let label = format!("Publish to {target_arn}");
        let endpoint = || inner.url.as_str().to_owned();
        let mut form = Url::parse("http://form/").map_err(|e| AwsError::InvalidRequest {
            endpoint: endpoint(),
            operation: label.clone(),
            reason: e.to_string(),
        })?;
        {
            let mut q = form.query_pairs_mut();
            q.append_pair("Action", "Publish");
            q.append_pair("Version", "2010-03-31");
            let member = if is_topic_arn(target_arn) {
                "TopicArn"
            } else {
                "TargetArn"
            };
            q.append_pair(member, target_arn);
            q.append_pair("Message", message);
            if json_structure {
                q.append_pair("MessageStructure", "json");
            }
        }
        let body = form.query().unwrap_or_default().as_bytes().to_vec();
        let t = &inner.target;
        let signer = Signer::new(
            &t.credentials.access_key_id,
            &t.credentials.secret_access_key,
            Utc::now(),
            &t.region,
            "sns",
        );
        let payload_hash = weir_sigv4::sha256_hex(&body);
        let mut headers: Vec<(&str, String)> = vec![
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
            ("host", inner.host.clone()),
            ("x-amz-content-sha256", payload_hash.clone()),
            ("x-amz-date", signer.amz_date.clone()),
        ];
        if let Some(token) = &t.credentials.session_token {
            headers.push(("x-amz-security-token", token.clone()));
        }
        let authorization = signer.authorization("POST", "/", &headers, &payload_hash);
        let mut request = inner.http.post(inner.url.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let failed = |e: reqwest::Error| AwsError::Connection {
            endpoint: endpoint(),
            operation: label.clone(),
            source: e,
        };
        let mut response = request
            .header("authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(AwsError::MalformedResponse {
                    endpoint: endpoint(),
                    operation: label.clone(),
                    reason: format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes);
        if !(200..300).contains(&status) {
            return Err(AwsError::Service {
                endpoint: endpoint(),
                operation: label,
                status,
                error_type: xml_text(&text, "Code").unwrap_or_else(|| format!("HTTP {status}")),
                message: xml_text(&text, "Message").unwrap_or_default(),
            });
        }
        xml_text(&text, "MessageId").ok_or_else(|| AwsError::MalformedResponse {
            endpoint: endpoint(),
            operation: label,
            reason: "no MessageId in the answer".into(),
        })
    }
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME` with no `/` in the name: a topic.
fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "sns", _, _, name] if !name.contains('/'))
}

/// The text of the first `<tag>...</tag>` of an XML answer, its five entities decoded.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_endpoints_and_xml_fields() {
        assert!(is_topic_arn("arn:aws:sns:us-east-1:123456789012:alerts"));
        assert!(!is_topic_arn(
            "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/1"
        ));
        assert!(!is_topic_arn("arn:aws:sqs:us-east-1:1:q"));
        let err = "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist &amp; never did</Message></Error></ErrorResponse>";
        assert_eq!(xml_text(err, "Code").as_deref(), Some("NotFound"));
        assert_eq!(
            xml_text(err, "Message").as_deref(),
            Some("Topic does not exist & never did")
        );
        assert_eq!(xml_text(err, "MessageId"), None);
    }
}
