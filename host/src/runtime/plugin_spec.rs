//! A configured plugin (`weir_config::PluginSpec`, plain values) as the plugin runtime's spec.
//! The two are kept apart so the configuration crate never reaches wasmtime; this is the one
//! place that knows both.

use weir_plugins::{Grant, Limits, PluginSpec};

/// The runtime's spec for a plugin of the configuration file.
pub fn plugin_spec(c: &weir_config::PluginSpec) -> PluginSpec {
    PluginSpec {
        name: c.name.clone(),
        grants: c.grants.iter().map(|g| grant(*g)).collect(),
        params: c.params.clone(),
        limits: Limits {
            memory_bytes: c.memory_bytes,
            call_timeout: c.call_timeout,
            ..Limits::default()
        },
        tables: c.tables.clone(),
        channels: c.channels.clone(),
    }
}

fn grant(g: weir_config::Grant) -> Grant {
    use weir_config::Grant as C;
    match g {
        C::Log => Grant::Log,
        C::Config => Grant::Config,
        C::Lookup => Grant::Lookup,
        C::Outbox => Grant::Outbox,
        C::WasiClocks => Grant::WasiClocks,
        C::WasiFilesystem => Grant::WasiFilesystem,
        C::WasiSockets => Grant::WasiSockets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_grant_is_the_runtime_grant_of_the_same_name() {
        let runtime: Vec<&str> = Grant::ALL.iter().map(|g| g.name()).collect();
        let config: Vec<&str> = weir_config::Grant::ALL.iter().map(|g| g.name()).collect();
        assert_eq!(runtime, config);
        for g in weir_config::Grant::ALL {
            assert_eq!(grant(g).name(), g.name());
        }
    }

    #[test]
    fn the_configuration_defaults_are_the_runtime_defaults() {
        let d = Limits::default();
        assert_eq!(weir_config::DEFAULT_MEMORY_BYTES, d.memory_bytes);
        assert_eq!(weir_config::DEFAULT_CALL_TIMEOUT, d.call_timeout);
    }
}
