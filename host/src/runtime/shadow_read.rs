//! `get_thing_shadow` in IoT SQL over the host's Device Shadow service: `weir-rules` asks
//! through its `ShadowLookup` trait (it knows nothing of `weir-shadow`, the crate map keeps
//! them apart), and this reads the shadow as GetThingShadow does.

use serde_json::Value;
use weir_rules::LookupError;
use weir_shadow::ShadowService;

/// The shadows a rule reads (`Resources::shadows`), as `weir_rules::ShadowLookup`.
pub(super) struct ShadowRead<'a>(pub(super) &'a ShadowService);

impl weir_rules::ShadowLookup for ShadowRead<'_> {
    /// The document GetThingShadow would answer (with its `delta`, without a `clientToken`);
    /// none for a shadow that does not exist (404). Any other refusal (a name outside AWS's
    /// pattern, a damaged file) is the rule's error, as AWS fails a rule whose shadow read
    /// fails.
    fn shadow(&self, thing: &str, shadow_name: Option<&str>) -> Result<Option<Value>, LookupError> {
        match self.0.get(thing, shadow_name, None, weir_support::now_ms()) {
            Ok(doc) => Ok(Some(doc)),
            Err(e) if e.code() == 404 => Ok(None),
            Err(e) => Err(LookupError::Other(e.to_string())),
        }
    }
}
