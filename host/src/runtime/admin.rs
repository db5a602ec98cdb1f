//! The plugin registry behind the API's admin routes (`weir_api::admin`): the registry's state
//! shaped as plain JSON, and reloads as plain outcomes.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde_json::{json, Map, Value};
use weir_api::admin::{PluginAdmin, ReloadReply};

use weir_plugins::{PluginRegistry, PluginSlot, ReloadOutcome};

/// The registry as the admin routes want it: `weir_api::admin::router(plugin_admin(registry))`.
pub fn plugin_admin(registry: Arc<PluginRegistry>) -> Arc<dyn PluginAdmin> {
    Arc::new(RegistryAdmin(registry))
}

struct RegistryAdmin(Arc<PluginRegistry>);

impl PluginAdmin for RegistryAdmin {
    fn plugins(&self) -> Vec<Value> {
        self.0.slots().iter().map(|s| describe(s)).collect()
    }

    fn reload(&self, name: &str) -> Option<ReloadReply> {
        let slot = self.0.get(name)?;
        Some(match slot.reload() {
            Ok(ReloadOutcome::Swapped {
                from,
                to,
                load_time,
                tier,
            }) => ReloadReply::Swapped {
                from,
                to,
                load_ms: load_time.as_secs_f64() * 1e3,
                tier: tier.as_str(),
            },
            Ok(ReloadOutcome::Unchanged { version }) => ReloadReply::Unchanged { version },
            Err(e) => ReloadReply::Refused {
                error: e.to_string(),
                serving: slot.current().version().to_owned(),
            },
        })
    }
}

fn describe(slot: &PluginSlot) -> Value {
    let current = slot.current();
    let status = slot.status();
    let versions: Vec<Value> = slot
        .version_counters()
        .into_iter()
        .map(|(version, c)| {
            let faults: Map<String, Value> = c
                .faults
                .iter()
                .map(|(kind, n)| (kind.as_str().to_string(), json!(n)))
                .collect();
            json!({
                "version": version,
                "calls": c.calls,
                "records_in": c.records_in,
                "records_out": c.records_out,
                "record_errors": c.record_errors,
                "faults": faults,
                "time_in_guest_ms": c.time_in_guest.as_secs_f64() * 1e3,
            })
        })
        .collect();
    json!({
        "name": slot.name(),
        "kind": current.kind().as_str(),
        "path": slot.path().display().to_string(),
        "version": current.version(),
        "loaded_at_ms": current
            .loaded_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        "load_ms": current.load_time().as_secs_f64() * 1e3,
        "from_cache": current.from_cache(),
        "tier": current.tier().as_str(),
        "wit": current.abi().wit_version(),
        "swaps": status.swaps,
        "upgrades": status.upgrades,
        "last_error": status.last_error,
        "versions": versions,
    })
}
