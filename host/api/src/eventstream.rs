//! AWS's event-stream framing (`application/vnd.amazon.eventstream`), the binary envelope
//! of SubscribeToShard's answer. One message is:
//!
//! ```text
//! total length u32 | headers length u32 | CRC32 of the 8 bytes before | headers | payload
//! | CRC32 of everything before
//! ```
//!
//! each header being `name length u8, name, type u8, value`; Weir sends only string headers
//! (type 7: `length u16, bytes`). Integers are big-endian; the CRC is the IEEE one (zlib's).

/// Header value type 7: a UTF-8 string with a 16-bit length.
const STRING_HEADER: u8 = 7;

/// Encodes one message with string headers.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut hdr = Vec::new();
    for (name, value) in headers {
        // Names are ours and short; values too (event and exception type names).
        let name = &name.as_bytes()[..name.len().min(u8::MAX as usize)];
        let value = &value.as_bytes()[..value.len().min(u16::MAX as usize)];
        hdr.push(name.len() as u8);
        hdr.extend_from_slice(name);
        hdr.push(STRING_HEADER);
        hdr.extend_from_slice(&(value.len() as u16).to_be_bytes());
        hdr.extend_from_slice(value);
    }
    let total = 12 + hdr.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(hdr.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An event: `:message-type event` with its `:event-type`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    message(
        &[
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// An error inside the stream: `:message-type exception` with its `:exception-type`.
pub fn exception(exception_type: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    message(
        &[
            (":exception-type", exception_type),
            (":content-type", content_type),
            (":message-type", "exception"),
        ],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one message, checking both CRCs: the inverse the tests need.
    fn decode(b: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        let total = u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize;
        let hlen = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, b.len());
        assert_eq!(
            u32::from_be_bytes(b[8..12].try_into().unwrap()),
            crc32fast::hash(&b[..8])
        );
        assert_eq!(
            u32::from_be_bytes(b[total - 4..].try_into().unwrap()),
            crc32fast::hash(&b[..total - 4])
        );
        let mut headers = Vec::new();
        let mut at = 12;
        while at < 12 + hlen {
            let n = b[at] as usize;
            let name = String::from_utf8(b[at + 1..at + 1 + n].to_vec()).unwrap();
            at += 1 + n;
            assert_eq!(b[at], STRING_HEADER);
            let vlen = u16::from_be_bytes([b[at + 1], b[at + 2]]) as usize;
            let value = String::from_utf8(b[at + 3..at + 3 + vlen].to_vec()).unwrap();
            at += 3 + vlen;
            headers.push((name, value));
        }
        (headers, b[12 + hlen..total - 4].to_vec())
    }

    #[test]
    fn an_event_round_trips_with_both_crcs() {
        let m = event("initial-response", "application/json", b"{}");
        let (headers, payload) = decode(&m);
        assert_eq!(payload, b"{}");
        assert_eq!(
            headers,
            vec![
                (":event-type".to_owned(), "initial-response".to_owned()),
                (":content-type".to_owned(), "application/json".to_owned()),
                (":message-type".to_owned(), "event".to_owned()),
            ]
        );
    }

    /// The empty message of the event-stream specification's test suite: 16 bytes, no
    /// headers, with its known prelude CRC.
    #[test]
    fn the_empty_message_matches_the_reference_bytes() {
        let m = message(&[], b"");
        assert_eq!(
            m,
            [
                0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98,
                0xc8, 0xff
            ]
        );
    }

    #[test]
    fn an_exception_names_its_type() {
        let m = exception(
            "ResourceNotFoundException",
            "application/json",
            b"{\"message\":\"x\"}",
        );
        let (headers, _) = decode(&m);
        assert!(headers.contains(&(
            ":exception-type".to_owned(),
            "ResourceNotFoundException".to_owned()
        )));
        assert!(headers.contains(&(":message-type".to_owned(), "exception".to_owned())));
    }
}
