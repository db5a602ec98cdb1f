//! The seed device's JSON message, byte for byte where it matters.
//!
//! The Pi in the speeding-car scenario sends
//! `{"iottimestamp": "...", "licensePlate": "...", "longitude": "...", "latitude": "...",
//! "city": "...", "state": "...", "speed": "..."}`: every value a string, keys in that order,
//! Python's `json.dumps` separators (`", "` and `": "`). Rules downstream (`speed > 75`) rely on
//! AWS IoT's string-to-number coercion, so sending numbers instead would test a different path;
//! we keep the strings.
//!
//! One deliberate difference: Python escapes non-ASCII (`95B\u2022140`), we send UTF-8
//! (`95B•140`). Both decode to the same JSON string, and UTF-8 keeps captured traffic readable.

use std::io;

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

/// One validated row of the speeding CSV. Values keep the CSV's exact text: the device forwards
/// what it read, it does not reformat numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeedingRow {
    pub license_plate: String,
    pub longitude: String,
    pub latitude: String,
    pub city: String,
    pub state: String,
    pub speed: String,
}

/// Field order here is the wire key order; serde serialises struct fields in declaration order.
#[derive(Serialize)]
struct Wire<'a> {
    iottimestamp: &'a str,
    #[serde(rename = "licensePlate")]
    license_plate: &'a str,
    longitude: &'a str,
    latitude: &'a str,
    city: &'a str,
    state: &'a str,
    speed: &'a str,
}

/// Formats a time the way Python's `str(datetime.utcnow())` does: `2026-11-24 06:00:12.123456`,
/// and without the fraction when the microseconds are exactly zero (Python drops it too).
pub fn python_utc_timestamp(t: DateTime<Utc>) -> String {
    let micros = t.nanosecond() / 1_000 % 1_000_000;
    if micros == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", t.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// Builds the seed payload for `row`, stamped with `now`.
pub fn seed_payload(row: &SpeedingRow, now: DateTime<Utc>) -> Vec<u8> {
    let ts = python_utc_timestamp(now);
    let wire = Wire {
        iottimestamp: &ts,
        license_plate: &row.license_plate,
        longitude: &row.longitude,
        latitude: &row.latitude,
        city: &row.city,
        state: &row.state,
        speed: &row.speed,
    };
    to_python_json(&wire)
}

/// Serialises any value with Python's default `json.dumps` separators.
pub fn to_python_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Serialising plain strings and numbers into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// `json.dumps` without `indent`: `", "` between members, `": "` after keys.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row() -> SpeedingRow {
        SpeedingRow {
            license_plate: "95B•140".into(),
            longitude: "101.766855".into(),
            latitude: "-79.694526".into(),
            city: "West Kristopher".into(),
            state: "Iowa".into(),
            speed: "68".into(),
        }
    }

    #[test]
    fn timestamp_matches_python_str_of_utcnow() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 24, 6, 0, 12)
            .single()
            .expect("valid date");
        assert_eq!(python_utc_timestamp(t), "2026-11-24 06:00:12");
        let t = t + chrono::Duration::microseconds(123_456);
        assert_eq!(python_utc_timestamp(t), "2026-11-24 06:00:12.123456");
        let t = t + chrono::Duration::nanoseconds(999);
        assert_eq!(python_utc_timestamp(t), "2026-11-24 06:00:12.123456");
        let t = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid date")
            + chrono::Duration::microseconds(7);
        assert_eq!(python_utc_timestamp(t), "2026-01-02 03:04:05.000007");
    }

    #[test]
    fn payload_has_seed_shape_and_key_order() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 24, 6, 0, 12)
            .single()
            .expect("valid date")
            + chrono::Duration::microseconds(5);
        let bytes = seed_payload(&row(), t);
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text,
            r#"{"iottimestamp": "2026-11-24 06:00:12.000005", "licensePlate": "95B•140", "longitude": "101.766855", "latitude": "-79.694526", "city": "West Kristopher", "state": "Iowa", "speed": "68"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "iottimestamp",
                "licensePlate",
                "longitude",
                "latitude",
                "city",
                "state",
                "speed"
            ]
        );
        assert!(v
            .as_object()
            .expect("object")
            .values()
            .all(|v| v.is_string()));
    }

    #[test]
    fn payload_escapes_quotes_and_control_characters() {
        let mut r = row();
        r.city = "Say \"hi\"\n".into();
        let text = String::from_utf8(seed_payload(&r, Utc::now())).expect("utf-8");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
        assert_eq!(v["city"], "Say \"hi\"\n");
    }
}
