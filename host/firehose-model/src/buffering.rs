//! Buffering hints and the compression names of a destination.

use serde::{Deserialize, Serialize};

use crate::{
    Bounds, FirehoseModelError, Result, BUFFER_INTERVAL_S, BUFFER_SIZE_MIB, HTTP_BUFFER_SIZE_MIB,
};

/// `BufferingHints`: deliver when either is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffering {
    pub size_mib: u32,
    pub interval_s: u32,
}

/// What a destination's `BufferingHints` may be, and what it is when left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferingRule {
    pub size_mib: Bounds,
    pub interval_s: Bounds,
    pub default: Buffering,
}

/// An S3 destination's: 1..=128 MiB, 0..=900 s; 5 MiB and 300 s by default.
pub const BUFFERING: BufferingRule = BufferingRule {
    size_mib: BUFFER_SIZE_MIB,
    interval_s: BUFFER_INTERVAL_S,
    default: Buffering {
        size_mib: 5,
        interval_s: 300,
    },
};

/// An HTTP endpoint destination's: 1..=64 MiB, 0..=900 s; 5 MiB and 60 s by default.
pub const HTTP_BUFFERING: BufferingRule = BufferingRule {
    size_mib: HTTP_BUFFER_SIZE_MIB,
    interval_s: BUFFER_INTERVAL_S,
    default: Buffering {
        size_mib: 5,
        interval_s: 60,
    },
};

impl Default for Buffering {
    fn default() -> Self {
        BUFFERING.default
    }
}

impl BufferingRule {
    /// The hints given, each defaulted when left out and refused when out of range.
    pub fn hints(&self, size_mib: Option<i64>, interval_s: Option<i64>) -> Result<Buffering> {
        let size = size_mib.unwrap_or(i64::from(self.default.size_mib));
        let interval = interval_s.unwrap_or(i64::from(self.default.interval_s));
        let (s, i) = (self.size_mib, self.interval_s);
        if !s.contains(size) {
            return Err(FirehoseModelError::InvalidArgument(format!(
                "BufferingHints.SizeInMBs must be between {} and {}, got {size}.",
                s.min, s.max
            )));
        }
        if !i.contains(interval) {
            return Err(FirehoseModelError::InvalidArgument(format!(
                "BufferingHints.IntervalInSeconds must be between {} and {}, got {interval}.",
                i.min, i.max
            )));
        }
        // Both fit in u32: the bounds are u32.
        Ok(Buffering {
            size_mib: u32::try_from(size).unwrap_or(s.max),
            interval_s: u32::try_from(interval).unwrap_or(i.max),
        })
    }
}

impl Buffering {
    /// An S3 destination's hints (see [`BUFFERING`]).
    pub fn new(size_mib: Option<i64>, interval_s: Option<i64>) -> Result<Self> {
        BUFFERING.hints(size_mib, interval_s)
    }

    pub fn size_bytes(&self) -> usize {
        self.size_mib as usize * 1024 * 1024
    }
}

/// `CompressionFormat` of an S3 destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    Uncompressed,
    Gzip,
    /// One ZIP archive holding one deflated file.
    Zip,
    /// The Snappy framing format, as Firehose writes it.
    Snappy,
    /// Hadoop's Snappy block format (`SnappyCodec`), for Hadoop, Hive and Spark readers.
    HadoopSnappy,
}

impl Compression {
    /// Every value, as the API spells them.
    pub const NAMES: [&'static str; 5] = ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"];

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "UNCOMPRESSED" => Ok(Compression::Uncompressed),
            "GZIP" => Ok(Compression::Gzip),
            "ZIP" => Ok(Compression::Zip),
            "Snappy" => Ok(Compression::Snappy),
            "HADOOP_SNAPPY" => Ok(Compression::HadoopSnappy),
            other => Err(FirehoseModelError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'compressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                Compression::NAMES.join(", ")
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
            Compression::Zip => "ZIP",
            Compression::Snappy => "Snappy",
            Compression::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }

    /// The object name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
            Compression::Snappy | Compression::HadoopSnappy => ".snappy",
        }
    }
}

/// `ParquetSerDe.Compression` of record format conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCompression {
    Uncompressed,
    Gzip,
    Snappy,
}

impl ParquetCompression {
    /// Every value, as the API spells them (upper case only, as AWS's enum).
    pub const NAMES: [&'static str; 3] = ["UNCOMPRESSED", "GZIP", "SNAPPY"];
    /// What the ParquetSerDe uses when the configuration names none.
    pub const DEFAULT: &'static str = "SNAPPY";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "UNCOMPRESSED" => Some(ParquetCompression::Uncompressed),
            "GZIP" => Some(ParquetCompression::Gzip),
            "SNAPPY" => Some(ParquetCompression::Snappy),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffering_ranges_at_their_edges() {
        assert_eq!(Buffering::new(None, None), Ok(Buffering::default()));
        assert_eq!(
            Buffering::new(Some(1), Some(0)),
            Ok(Buffering {
                size_mib: 1,
                interval_s: 0
            })
        );
        assert!(Buffering::new(Some(128), Some(900)).is_ok());
        for (s, i) in [(0, 60), (129, 60), (5, -1), (5, 901)] {
            assert!(matches!(
                Buffering::new(Some(s), Some(i)),
                Err(FirehoseModelError::InvalidArgument(_))
            ));
        }
        assert_eq!(
            Buffering::new(Some(5), Some(901)).map_err(|e| e.to_string()),
            Err("BufferingHints.IntervalInSeconds must be between 0 and 900, got 901.".into())
        );
        assert_eq!(
            HTTP_BUFFERING.hints(None, None),
            Ok(Buffering {
                size_mib: 5,
                interval_s: 60
            })
        );
        assert!(HTTP_BUFFERING.hints(Some(64), Some(900)).is_ok());
        assert_eq!(
            HTTP_BUFFERING
                .hints(Some(65), None)
                .map_err(|e| e.to_string()),
            Err("BufferingHints.SizeInMBs must be between 1 and 64, got 65.".into())
        );
    }

    #[test]
    fn compression_names_round_trip() {
        for c in Compression::NAMES {
            assert_eq!(Compression::parse(c).map(Compression::as_str), Ok(c));
        }
        assert_eq!(Compression::HadoopSnappy.extension(), ".snappy");
        assert_eq!(Compression::Zip.extension(), ".zip");
        assert!(matches!(
            Compression::parse("gzip"),
            Err(FirehoseModelError::Validation(_))
        ));
        for c in ParquetCompression::NAMES {
            assert!(ParquetCompression::parse(c).is_some(), "{c}");
        }
        assert!(ParquetCompression::parse(ParquetCompression::DEFAULT).is_some());
        assert_eq!(ParquetCompression::parse("snappy"), None);
    }
}
