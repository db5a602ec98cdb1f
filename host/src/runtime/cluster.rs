//! `[cluster]`: the host's stores on a NATS JetStream cluster. One connection serves two
//! layouts: the Kinesis streams under the configured prefix, and the Firehose delivery-stream
//! buffers under `<prefix>.fh` (their own catalog, so buffer names never meet stream names),
//! with the delivery streams' catalogs and checkpoints in the `FIREHOSE` bucket and AWS IoT's
//! documents (Device Shadows, the rules API's rules) in the `IOT` bucket, and the dead letters
//! in the stream `DEAD_LETTERS`. Every host
//! configured with the same servers and prefix shares all of it.

use std::sync::Arc;

use weir_cluster::{Bridge, ClusterConfig, ClusterError, ClusterTls, JetStreamStores, JsJournal};
use weir_config::ClusterSection;
use weir_support::docstore::DocStore;

use super::dead_letter::SharedLog;

/// What a host opens on the cluster.
#[derive(Clone)]
pub(crate) struct ClusterStores {
    /// The Kinesis streams (the engine's shards and catalog).
    pub(crate) streams: Arc<JetStreamStores>,
    /// The delivery-stream buffers.
    pub(crate) firehose_buffers: Arc<JetStreamStores>,
    /// The delivery streams' catalogs and checkpoints.
    pub(crate) firehose_docs: Arc<dyn DocStore>,
    /// AWS IoT's documents: the Device Shadows and the rules made through the rules API.
    pub(crate) iot_docs: Arc<dyn DocStore>,
    /// The dead letters of every host.
    pub(crate) dead_letters: Arc<DeadLetterStream>,
}

/// The cluster's dead-letter stream as the dead-letter writer's [`SharedLog`].
#[derive(Debug)]
pub(crate) struct DeadLetterStream(JsJournal);

impl SharedLog for DeadLetterStream {
    fn append(&self, day: &str, lines: &[&[u8]]) -> std::io::Result<()> {
        self.0.append(day, lines).map_err(std::io::Error::other)
    }

    fn bytes(&self) -> std::io::Result<u64> {
        self.0.bytes().map_err(std::io::Error::other)
    }

    fn describe(&self) -> String {
        format!(
            "NATS stream {} (subjects {})",
            self.0.name(),
            self.0.subjects()
        )
    }
}

impl std::fmt::Debug for ClusterStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStores")
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

/// The library's config from the file's section (already checked by `weir-config`; the
/// library checks it again).
pub(crate) fn cluster_config(section: &ClusterSection) -> ClusterConfig {
    ClusterConfig {
        nats: section.nats.clone(),
        replicas: section.replicas,
        creds: section.creds.clone(),
        tls: section.tls.then(|| ClusterTls {
            ca_file: section.tls_ca_file.clone(),
            cert_file: section.tls_client.as_ref().map(|(c, _)| c.clone()),
            key_file: section.tls_client.as_ref().map(|(_, k)| k.clone()),
        }),
        prefix: section.prefix.clone(),
    }
}

/// Connects and opens (creating when absent) the buckets of both layouts.
pub(crate) fn connect(section: &ClusterSection) -> Result<ClusterStores, ClusterError> {
    let bridge = Arc::new(Bridge::connect(&cluster_config(section))?);
    bridge.report_sync_setting();
    let fh_bridge = bridge.under_prefix(&format!(
        "{}.{}",
        section.prefix,
        weir_support::nats_names::FIREHOSE_TOKEN
    ))?;
    let streams = JetStreamStores::open(bridge)?;
    let firehose_buffers = JetStreamStores::open(Arc::new(fh_bridge))?;
    let firehose_docs = streams.docs("FIREHOSE")?;
    let iot_docs = streams.docs("IOT")?;
    let dead_letters = Arc::new(DeadLetterStream(JsJournal::open(
        streams.bridge().clone(),
        "dead_letters",
    )?));
    tracing::info!(
        servers = %weir_support::nats_names::redacted_list(&section.nats),
        replicas = section.replicas,
        prefix = %section.prefix,
        "streams and delivery streams on the NATS cluster"
    );
    Ok(ClusterStores {
        streams,
        firehose_buffers,
        firehose_docs,
        iot_docs,
        dead_letters,
    })
}
