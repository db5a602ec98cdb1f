//! An object's bytes: the records concatenated as they came (Firehose adds no separator),
//! then compressed as the destination asks.

use std::io::Write;

use crate::model::Compression;

/// The object body for `records` under `compression`.
pub fn object_body<'a>(
    records: impl IntoIterator<Item = &'a [u8]>,
    compression: Compression,
) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    for r in records {
        raw.extend_from_slice(r);
    }
    match compression {
        Compression::Uncompressed => Ok(raw),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&raw)?;
            enc.finish()
        }
        Compression::Snappy => {
            let mut enc = snap::write::FrameEncoder::new(Vec::new());
            enc.write_all(&raw)?;
            enc.into_inner().map_err(|e| e.into_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    const RECORDS: [&[u8]; 3] = [b"{\"a\":1}\n", b"{\"b\":2}\n", b"tail"];

    #[test]
    fn plain_is_the_concatenation() {
        let body = object_body(RECORDS, Compression::Uncompressed).expect("body");
        assert_eq!(body, b"{\"a\":1}\n{\"b\":2}\ntail");
    }

    #[test]
    fn gzip_and_snappy_read_back() {
        let gz = object_body(RECORDS, Compression::Gzip).expect("gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\ntail");
        let sn = object_body(RECORDS, Compression::Snappy).expect("snappy");
        // The framing format starts with its stream identifier chunk.
        assert_eq!(&sn[..10], b"\xff\x06\x00\x00sNaPpY");
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&sn[..])
            .read_to_end(&mut out)
            .expect("unsnappy");
        assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\ntail");
    }
}
