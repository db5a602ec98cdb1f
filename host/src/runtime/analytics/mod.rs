//! Kinesis Data Analytics applications in the host: the catalog behind the application API
//! (`weir_api::Analytics`, `STORAGE/analytics/applications.json`), opened at start and
//! served on `[api] listen`.

use weir_config::Config;

use super::host::HostError;

/// Opens the applications' catalog in `STORAGE/analytics`.
pub(super) fn open(config: &Config) -> Result<weir_api::Analytics, HostError> {
    let dir = config.storage.dir.join("analytics");
    weir_api::Analytics::open(&dir)
        .map_err(|e| HostError::storage(&dir, "opening the analytics applications", e))
}
