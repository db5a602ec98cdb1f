//! The transport under the MQTT link: plain TCP, or TLS with rustls and ring (the CA or the
//! system roots, and the client certificate and key AWS IoT asks for).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::link::io_reason;
use super::{ConnectError, ConnectionOptions};

pub(super) fn transport(opts: &ConnectionOptions) -> Result<rumqttc::Transport, ConnectError> {
    if !opts.broker.tls {
        if opts.ca.is_some() || opts.cert.is_some() || opts.key.is_some() {
            return Err(ConnectError::Url {
                url: format!("mqtt://{}", opts.broker.endpoint()),
                reason: "--ca/--cert/--key need an mqtts:// broker URL".into(),
            });
        }
        return Ok(rumqttc::Transport::Tcp);
    }
    let config = tls_config(
        opts.ca.as_deref(),
        opts.cert.as_deref(),
        opts.key.as_deref(),
        opts.broker.port,
    )?;
    Ok(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
    ))
}

/// Builds the rustls client config: the CA (or the system roots), and the client certificate
/// and key for mutual TLS as AWS IoT requires. Uses the ring provider explicitly, so the
/// result does not depend on which rustls providers other crates compiled in.
pub fn tls_config(
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
    port: u16,
) -> Result<rustls::ClientConfig, ConnectError> {
    let roots = root_store(ca)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Protocol {
            endpoint: String::new(),
            reason: format!("TLS setup: {e}"),
        })?
        .with_root_certificates(roots);
    let mut config = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain =
                read_certs(cert).map_err(|r| credentials_error("certificate file", cert, r))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                credentials_error("key file", key, format!("no usable private key: {e}"))
            })?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                credentials_error(
                    "certificate file",
                    cert,
                    format!("does not go with the key: {e}"),
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(p), None) | (None, Some(p)) => {
            return Err(credentials_error(
                "client credentials",
                p,
                "--cert and --key must be given together".into(),
            ))
        }
    };
    if port == 443 {
        // AWS IoT serves MQTT on 443 only to clients that ask for this ALPN protocol.
        config.alpn_protocols = vec![b"x-amzn-mqtt-ca".to_vec()];
    }
    Ok(config)
}

/// The certificates a broker's chain must lead to: those of the `--ca` file, or else the
/// system's (unusable ones skipped, as browsers do); none at all is an error, since no
/// broker could then be trusted.
fn root_store(ca: Option<&Path>) -> Result<rustls::RootCertStore, ConnectError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = read_certs(path).map_err(|r| credentials_error("CA file", path, r))?;
            for c in certs {
                roots.add(c).map_err(|e| {
                    credentials_error("CA file", path, format!("not a usable CA certificate: {e}"))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for c in native.certs {
                // Individual unusable system certificates are skipped, as browsers do.
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(ConnectError::Credentials {
                    what: "CA",
                    path: "(system store)".into(),
                    reason: "no system CA certificates found; pass --ca".into(),
                });
            }
        }
    }
    Ok(roots)
}

/// A credential file that cannot be used, named with its role and path.
fn credentials_error(what: &'static str, path: &Path, reason: String) -> ConnectError {
    ConnectError::Credentials {
        what,
        path: path.display().to_string(),
        reason,
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    std::fs::metadata(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("contains no PEM certificate".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::connection::BrokerUrl;

    #[test]
    fn credential_files_are_named_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").expect("write");
        let err = |ca: &Path, cert: Option<&Path>, key: Option<&Path>| {
            tls_config(Some(ca), cert, key, 8883)
                .expect_err("must fail")
                .to_string()
        };
        let e = err(&missing, None, None);
        assert!(
            e.starts_with(&format!(
                "CA file {}: cannot read: no such file",
                missing.display()
            )),
            "{e}"
        );
        let e = err(&junk, None, None);
        assert_eq!(
            e,
            format!("CA file {}: contains no PEM certificate", junk.display())
        );
        let e = tls_config(None, Some(&junk), None, 8883)
            .expect_err("fails")
            .to_string();
        assert!(e.contains("--cert and --key must be given together"), "{e}");
    }

    #[test]
    fn tls_options_need_an_mqtts_url() {
        let mut o = ConnectionOptions::new(BrokerUrl::parse("mqtt://h:1").expect("url"), "id");
        o.ca = Some(PathBuf::from("/ca.pem"));
        let e = transport(&o).err().expect("rejected").to_string();
        assert!(e.contains("need an mqtts:// broker URL"), "{e}");
    }
}
