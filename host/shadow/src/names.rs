//! Which shadow a request is about: a thing name and, for a named shadow, a shadow name, each
//! checked against AWS's constraints before it becomes part of a file path.
//!
//! The constraints are the IoT data-plane API's (GetThingShadow, UpdateThingShadow,
//! DeleteThingShadow, ListNamedShadowsForThing): `thingName` 1 to 128 characters of
//! `[a-zA-Z0-9:_-]`, `shadowName` 1 to 64 characters of `[$a-zA-Z0-9:_-]`. Neither alphabet
//! holds `/`, `.` or NUL, so a name is always one plain path component.

use crate::error::ShadowError;

/// AWS's limit on a thing name, in characters (all ASCII, so bytes).
pub const MAX_THING_NAME: usize = 128;
/// AWS's limit on a shadow name.
pub const MAX_SHADOW_NAME: usize = 64;

/// A shadow's identity: the thing and `None` for its classic (unnamed) shadow, or the name of
/// one of its named shadows. Only [`ShadowKey::new`] makes one, so every key is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShadowKey {
    thing: String,
    name: Option<String>,
}

impl ShadowKey {
    /// Checks both names; a bad one is a 400.
    pub fn new(thing: &str, shadow_name: Option<&str>) -> Result<ShadowKey, ShadowError> {
        check_thing_name(thing)?;
        if let Some(n) = shadow_name {
            check_shadow_name(n)?;
        }
        Ok(ShadowKey {
            thing: thing.to_string(),
            name: shadow_name.map(str::to_string),
        })
    }

    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// `None` for the classic shadow.
    pub fn shadow_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The name a 404 quotes: the shadow's, or the thing's for the classic shadow.
    pub(crate) fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.thing)
    }
}

fn valid(name: &str, max: usize, dollar: bool) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-') || (dollar && b == b'$')
        })
}

pub(crate) fn check_thing_name(thing: &str) -> Result<(), ShadowError> {
    if valid(thing, MAX_THING_NAME, false) {
        Ok(())
    } else {
        Err(ShadowError::bad_request("Invalid thing name"))
    }
}

pub(crate) fn check_shadow_name(name: &str) -> Result<(), ShadowError> {
    if is_shadow_name(name) {
        Ok(())
    } else {
        Err(ShadowError::bad_request("Invalid shadow name"))
    }
}

pub(crate) fn is_shadow_name(name: &str) -> bool {
    valid(name, MAX_SHADOW_NAME, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GetThingShadow's URI parameters: thingName 1..128 of `[a-zA-Z0-9:_-]+`, shadowName
    /// 1..64 of `[$a-zA-Z0-9:_-]+`
    /// (<https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetThingShadow.html>).
    #[test]
    fn names_follow_the_data_plane_constraints() {
        assert!(ShadowKey::new(&"t".repeat(128), None).is_ok());
        assert_eq!(
            ShadowKey::new(&"t".repeat(129), None).map_err(|e| e.code()),
            Err(400)
        );
        assert!(ShadowKey::new("my:Thing_1-a", Some("$sim:Shadow_1-b")).is_ok());
        assert!(
            ShadowKey::new("my$thing", None).is_err(),
            "$ only in shadow names"
        );
        for bad in ["", "a/b", "..", "a.b", "a b", "é"] {
            assert!(ShadowKey::new(bad, None).is_err(), "{bad:?}");
            assert!(ShadowKey::new("t", Some(bad)).is_err(), "{bad:?}");
        }
        assert!(ShadowKey::new("t", Some(&"s".repeat(64))).is_ok());
        let e = ShadowKey::new("t", Some(&"s".repeat(65))).expect_err("65");
        assert_eq!(e.message(), "Invalid shadow name");
    }
}
