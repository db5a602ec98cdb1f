//! Mutual TLS as AWS IoT requires it, against a loopback TLS endpoint with a test CA: the
//! right CA, certificate and key connect; a wrong CA or an unknown client certificate fail
//! with an error that names the broker and says TLS failed.
//!
//! The endpoint is a minimal stand-in for a broker (TLS with required client certificates,
//! then one CONNACK), because the TLS layer is what is under test, and it keeps rumqttd's
//! own TLS stack out of the dev-dependencies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use weir_device::connection::{BrokerUrl, ConnectError, Connection, ConnectionOptions};

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params, key)
}

fn leaf(dir: &Path, name: &str, sans: &[&str], ca_params: &CertificateParams, ca_key: &KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    let issuer = Issuer::from_params(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("sign");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write cert");
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("write key");
}

/// Two CAs: `ca` signs the broker and the device; `other` signs an impostor device and is
/// the wrong CA for a device to trust.
fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca_params, ca_key) = ca("Weir test CA");
    let (other_params, other_key) = ca("Other CA");
    std::fs::write(
        dir.path().join("ca.pem"),
        ca_params.self_signed(&ca_key).expect("ca").pem(),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("other-ca.pem"),
        other_params.self_signed(&other_key).expect("ca").pem(),
    )
    .expect("write");
    leaf(
        dir.path(),
        "broker",
        &["localhost", "127.0.0.1"],
        &ca_params,
        &ca_key,
    );
    leaf(dir.path(), "device", &[], &ca_params, &ca_key);
    leaf(dir.path(), "impostor", &[], &other_params, &other_key);
    Pki { dir }
}

/// Accepts TLS connections that present a certificate from `ca.pem`, answers the MQTT
/// CONNECT with a CONNACK, then holds the connection open.
async fn tls_endpoint(pki: &Pki) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.path("ca.pem")).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let chain: Vec<_> = CertificateDer::pem_file_iter(pki.path("broker.pem"))
        .expect("chain")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(pki.path("broker.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                // CONNECT arrives first; any bytes will do for this stand-in.
                if !matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                    return;
                }
                // CONNACK: session not present, return code 0 (accepted)
                if tls.write_all(&[0x20, 0x02, 0x00, 0x00]).await.is_err() {
                    return;
                }
                let _ = tls.flush().await;
                while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    port
}

fn options(pki: &Pki, port: u16, ca: &str, identity: Option<&str>) -> ConnectionOptions {
    let url = BrokerUrl::parse(&format!("mqtts://127.0.0.1:{port}")).expect("url");
    let mut o = ConnectionOptions::new(url, "tls-device");
    o.ca = Some(pki.path(ca));
    if let Some(name) = identity {
        o.cert = Some(pki.path(&format!("{name}.pem")));
        o.key = Some(pki.path(&format!("{name}.key")));
    }
    o
}

#[tokio::test]
async fn mutual_tls_connects_with_the_right_ca_cert_and_key() {
    let pki = pki();
    let port = tls_endpoint(&pki).await;
    let p = Connection::connect(&options(&pki, port, "ca.pem", Some("device")))
        .await
        .expect("mutual TLS connects");
    drop(p);
}

#[tokio::test]
async fn wrong_ca_names_the_broker_and_the_certificate_problem() {
    let pki = pki();
    let port = tls_endpoint(&pki).await;
    let err = Connection::connect(&options(&pki, port, "other-ca.pem", Some("device")))
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, ConnectError::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "TLS with broker 127.0.0.1:{port} failed: invalid peer certificate"
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_rejected() {
    let pki = pki();
    let port = tls_endpoint(&pki).await;
    for identity in [Some("impostor"), None] {
        let err = Connection::connect(&options(&pki, port, "ca.pem", identity))
            .await
            .err()
            .expect("must fail");
        let msg = err.to_string();
        assert!(
            matches!(err, ConnectError::Tls { .. })
                && msg.starts_with(&format!("TLS with broker 127.0.0.1:{port} failed")),
            "{identity:?}: {msg}"
        );
    }
}
