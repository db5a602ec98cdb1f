//! `sms-alert`: tells a speeding vehicle's owner by SMS, the seed's Lambda + SNS step.
//!
//! Each record is the joined record (`owner-enrich` output). The message text is the seed's:
//!
//! ```text
//! To FIRST LAST, \n Your vehicle with licenseplate PLATE was clocked with speed above the
//! permissible limit at CITY,STATE\n Clocked speed SPEED \n Geo location LON, LAT \n Time TS.
//! ```
//!
//! It goes through the host's `notify` outbox on the `sms` channel to the owner's E.164 number,
//! `+1` followed by `myphone` as in the seed. A record that lacks a field or has an unusable
//! phone number fails permanently; a refused notification is retryable.
//!
//! Config: `channel` (default `sms`), `country_code` (default `1`).

use weir_sdk::serde_json::{Map, Value};
use weir_sdk::{
    json, ConfigExt, EmitError, Emitter, Host, InitError, Level, Outbox, Record, RecordError,
};

/// The emitter's configuration.
#[derive(Debug)]
pub struct SmsAlert {
    channel: String,
    country_code: String,
}

impl Emitter for SmsAlert {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        let country_code = host.config_or("country_code", "1");
        if country_code.is_empty()
            || country_code.len() > 3
            || !country_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(InitError::config(
                "country_code",
                format!("{country_code:?} is not 1 to 3 digits"),
            ));
        }
        Ok(SmsAlert {
            channel: host.config_or("channel", "sms"),
            country_code,
        })
    }

    fn emit(&mut self, record: &Record, host: &impl Outbox) -> Result<(), EmitError> {
        let payload = record.json_object()?;
        let target = self.e164(&json::string_field(&payload, "myphone")?)?;
        let message = alert_text(&payload)?;
        host.notify(&self.channel, &target, &message).map_err(|e| {
            EmitError::retryable(RecordError::new(
                "notify-refused",
                format!("{} to {target}: {e}", self.channel),
            ))
        })?;
        host.log(Level::Info, &format!("speeding alert sent to {target}"));
        Ok(())
    }
}

impl SmsAlert {
    /// `+` country code and the national number, as SNS wants it. Common separators are
    /// removed; anything else that is not a digit is refused, as is a number E.164 cannot hold.
    fn e164(&self, phone: &str) -> Result<String, RecordError> {
        let digits: String = phone
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let valid = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && self.country_code.len() + digits.len() <= 15;
        if !valid {
            return Err(RecordError::bad_value(
                "myphone",
                format!("{phone:?} is not a phone number"),
            ));
        }
        Ok(format!("+{}{digits}", self.country_code))
    }
}

/// The seed's alert text, field for field.
pub fn alert_text(p: &Map<String, Value>) -> Result<String, RecordError> {
    let f = |name: &str| json::string_field(p, name);
    Ok(format!(
        "To {} {}, \n Your vehicle with licenseplate {} was clocked with speed above the permissible limit at {},{}\n Clocked speed {} \n Geo location {}, {} \n Time {}.",
        f("first_name")?,
        f("last_name")?,
        f("licensePlate")?,
        f("city")?,
        f("state")?,
        f("speed")?,
        f("longitude")?,
        f("latitude")?,
        f("iottimestamp")?,
    ))
}

weir_sdk::export_emitter!(SmsAlert);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;
    use weir_sdk::testing::{Harness, MockHost, OutboxCall};

    fn joined(phone: &str) -> Record {
        Record::from_json(&json!({
            "iottimestamp": "2026-11-24 06:00:12.123456", "licensePlate": "95B•140",
            "longitude": "-84.5", "latitude": "30.1", "city": "Johnfort", "state": "Wisconsin",
            "speed": "94", "first_name": "Joseph", "last_name": "Roberts", "myphone": phone,
        }))
    }

    #[test]
    fn sends_the_seed_text_to_the_e164_number() {
        let mut h = Harness::<SmsAlert>::new(MockHost::new());
        assert!(h.emit(&[joined("8324498188")]).is_empty());
        assert_eq!(
            h.host.outbox(),
            vec![OutboxCall::Notify {
                channel: "sms".into(),
                target: "+18324498188".into(),
                message: "To Joseph Roberts, \n Your vehicle with licenseplate 95B•140 was clocked with speed above the permissible limit at Johnfort,Wisconsin\n Clocked speed 94 \n Geo location -84.5, 30.1 \n Time 2026-11-24 06:00:12.123456.".into(),
            }]
        );
        assert_eq!(h.host.logs().len(), 1);
    }

    #[test]
    fn bad_records_fail_permanently_with_their_index() {
        let mut h = Harness::<SmsAlert>::new(MockHost::new());
        let mut no_city = joined("8324498188");
        let mut v = no_city.json_object().unwrap();
        v.remove("city");
        no_city.set_json(&Value::Object(v));
        let out = h.emit(&[joined("832-449-8188"), joined("call me"), no_city]);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].index, out[0].retryable), (1, false));
        assert!(out[0].error.message.contains("call me"));
        assert_eq!(
            (out[1].index, out[1].error.code.as_str()),
            (2, "missing-field")
        );
        assert_eq!(h.host.notifications()[0].1, "+18324498188");
    }

    #[test]
    fn refused_notifications_are_retryable() {
        let mut h = Harness::<SmsAlert>::new(MockHost::new().refusing_outbox("channel down"));
        let out = h.emit(&[joined("8324498188")]);
        assert_eq!(out.len(), 1);
        assert!(out[0].retryable);
        assert!(out[0].error.message.contains("channel down"));
    }

    #[test]
    fn channel_and_country_code_are_configurable() {
        let host = MockHost::new()
            .with_config("channel", "pager")
            .with_config("country_code", "44");
        let mut h = Harness::<SmsAlert>::new(host);
        assert!(h.emit(&[joined("7700900123")]).is_empty());
        let n = h.host.notifications();
        assert_eq!(
            (n[0].0.as_str(), n[0].1.as_str()),
            ("pager", "+447700900123")
        );

        let mut bad = Harness::<SmsAlert>::new(MockHost::new().with_config("country_code", "+1"));
        assert_eq!(bad.emit(&[joined("1")])[0].error.code, "plugin-init");
    }
}
