//! An object's bytes: the records concatenated as they came (Firehose adds no separator),
//! then compressed as the destination asks.

use std::io::Write;

use crate::model::Compression;

/// Hadoop's default block size for its Snappy codec (`io.compression.codec.snappy.buffersize`).
const HADOOP_SNAPPY_BLOCK: usize = 256 * 1024;

/// The object body for `records` under `compression`. `entry` names the one file of a ZIP
/// archive (the object's own name, without `.zip`).
pub fn object_body<'a>(
    records: impl IntoIterator<Item = &'a [u8]>,
    compression: Compression,
    entry: &str,
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
        Compression::Zip => {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(raw.len() >= u32::MAX as usize);
            zip.start_file(entry, options)
                .map_err(std::io::Error::other)?;
            zip.write_all(&raw)?;
            Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
        }
        Compression::Snappy => {
            let mut enc = snap::write::FrameEncoder::new(Vec::new());
            enc.write_all(&raw)?;
            enc.into_inner().map_err(|e| e.into_error())
        }
        Compression::HadoopSnappy => hadoop_snappy(&raw),
    }
}

/// Hadoop's block format for its Snappy codec (what `hadoop fs -text`, Hive and Spark read as
/// `.snappy` with `SnappyCodec`): for each block of at most 256 KiB, its length as a
/// big-endian `u32`, then the compressed chunk's length as a big-endian `u32` and the raw
/// Snappy bytes.
fn hadoop_snappy(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = snap::raw::Encoder::new();
    let mut out = Vec::with_capacity(raw.len() / 2 + 16);
    for block in raw.chunks(HADOOP_SNAPPY_BLOCK) {
        let chunk = enc.compress_vec(block).map_err(std::io::Error::other)?;
        // A block is at most 256 KiB, and its compressed form at most a little more.
        out.extend_from_slice(&(block.len() as u32).to_be_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    const RECORDS: [&[u8]; 3] = [b"{\"a\":1}\n", b"{\"b\":2}\n", b"tail"];

    #[test]
    fn plain_is_the_concatenation() {
        let body = object_body(RECORDS, Compression::Uncompressed, "x").expect("body");
        assert_eq!(body, b"{\"a\":1}\n{\"b\":2}\ntail");
    }

    #[test]
    fn gzip_and_snappy_read_back() {
        let gz = object_body(RECORDS, Compression::Gzip, "x").expect("gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\ntail");
        let sn = object_body(RECORDS, Compression::Snappy, "x").expect("snappy");
        // The framing format starts with its stream identifier chunk.
        assert_eq!(&sn[..10], b"\xff\x06\x00\x00sNaPpY");
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&sn[..])
            .read_to_end(&mut out)
            .expect("unsnappy");
        assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\ntail");
    }

    #[test]
    fn zip_holds_one_entry_named_after_the_object() {
        let body =
            object_body(RECORDS, Compression::Zip, "s-1-2024-01-01-00-00-00-u").expect("zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(body)).expect("archive");
        assert_eq!(archive.len(), 1);
        let mut f = archive.by_index(0).expect("entry");
        assert_eq!(f.name().expect("name"), "s-1-2024-01-01-00-00-00-u");
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        let mut out = Vec::new();
        f.read_to_end(&mut out).expect("inflate");
        assert_eq!(out, b"{\"a\":1}\n{\"b\":2}\ntail");
    }

    /// Reads Hadoop's Snappy block format back, block by block.
    fn unhadoop(mut body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        while !body.is_empty() {
            let (block_len, chunk_len) = (be(&body[..4]), be(&body[4..8]));
            let chunk = &body[8..8 + chunk_len];
            let plain = snap::raw::Decoder::new()
                .decompress_vec(chunk)
                .expect("chunk");
            assert_eq!(plain.len(), block_len);
            out.extend_from_slice(&plain);
            body = &body[8 + chunk_len..];
        }
        out
    }

    #[test]
    fn hadoop_snappy_blocks_read_back() {
        let body = object_body(RECORDS, Compression::HadoopSnappy, "x").expect("hadoop");
        assert_eq!(&body[..4], &20u32.to_be_bytes());
        assert_eq!(unhadoop(&body), b"{\"a\":1}\n{\"b\":2}\ntail");
        // Past one block: 600 KiB makes three blocks of at most 256 KiB.
        let big: Vec<u8> = (0..600 * 1024).map(|i| (i % 251) as u8).collect();
        let body = object_body([big.as_slice()], Compression::HadoopSnappy, "x").expect("big");
        assert_eq!(&body[..4], &(256u32 * 1024).to_be_bytes());
        assert_eq!(unhadoop(&body), big);
    }
}
