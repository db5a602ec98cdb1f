//! Where a rule action's service is and who signs its requests, resolved the way the AWS CLI
//! and SDKs resolve them: the operator's `[sqs]` / `[sns]` / `[dynamodb]` setting, else the
//! service's own `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else AWS's regional
//! endpoint; the region from the setting, else `AWS_REGION` / `AWS_DEFAULT_REGION`; the keys
//! from the `AWS_*` environment (anonymous without them, for a local counterpart).

use crate::credentials::Credentials;

/// A service's endpoint, region and credentials, ready for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// `http(s)://host[:port]`.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// Who signs them.
    pub credentials: Credentials,
}

impl ServiceTarget {
    /// Resolves `service` (its SigV4 name and AWS host prefix, e.g. `sqs`) from the operator's
    /// `endpoint_url` and `region`, when set, and the process environment.
    pub fn resolve(service: &str, endpoint_url: Option<&str>, region: Option<&str>) -> Self {
        Self::resolve_with(service, endpoint_url, region, |name| {
            std::env::var(name).ok()
        })
    }

    /// [`Self::resolve`] with the environment read through `var` (tests).
    pub fn resolve_with(
        service: &str,
        endpoint_url: Option<&str>,
        region: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let service_var = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
        let (env_region, credentials) = Credentials::from_lookup(service, var);
        let region = region.map(str::to_owned).unwrap_or(env_region);
        let endpoint = endpoint_url
            .map(str::to_owned)
            .or_else(|| var(&service_var))
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://{service}.{region}.amazonaws.com"));
        ServiceTarget {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            credentials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_then_service_variable_then_generic_then_aws() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let t = ServiceTarget::resolve_with("sqs", None, None, env(&[]));
        assert_eq!(t.endpoint, "https://sqs.us-east-1.amazonaws.com");
        assert_eq!(t.credentials, Credentials::anonymous());
        let t = ServiceTarget::resolve_with(
            "sqs",
            None,
            None,
            env(&[
                ("AWS_ENDPOINT_URL", "http://generic:1/"),
                ("AWS_ENDPOINT_URL_SQS", "http://sqs:2"),
                ("AWS_REGION", "eu-west-1"),
            ]),
        );
        assert_eq!(
            (t.endpoint.as_str(), t.region.as_str()),
            ("http://sqs:2", "eu-west-1")
        );
        let t = ServiceTarget::resolve_with(
            "dynamodb",
            Some("http://alternator:8000"),
            Some("ap-south-1"),
            env(&[("AWS_ENDPOINT_URL", "http://generic:1")]),
        );
        assert_eq!(
            (t.endpoint.as_str(), t.region.as_str()),
            ("http://alternator:8000", "ap-south-1")
        );
        let t = ServiceTarget::resolve_with("sns", None, Some("eu-north-1"), env(&[]));
        assert_eq!(t.endpoint, "https://sns.eu-north-1.amazonaws.com");
    }
}
