//! Name rules: delivery streams, buckets, file extensions, tags, and the config section that
//! declares conversion tables.

use std::collections::BTreeMap;

use crate::{FirehoseModelError, Result};

/// `DeliveryStreamName`'s pattern; its length is 1 to 64.
pub const DELIVERY_STREAM_NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
/// The same rule in words, for the config's messages.
pub const DELIVERY_STREAM_NAME_RULE: &str = "1-64 characters of a-z, A-Z, 0-9, `_`, `.`, `-`";

/// Firehose's rule for delivery stream names: 1 to 64 of `[a-zA-Z0-9_.-]`.
pub fn is_delivery_stream_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// [`is_delivery_stream_name`] with AWS's ValidationException message.
pub fn check_delivery_stream_name(name: &str) -> Result<()> {
    if is_delivery_stream_name(name) {
        Ok(())
    } else {
        Err(FirehoseModelError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: {DELIVERY_STREAM_NAME_PATTERN} and have length between 1 and 64"
        )))
    }
}

/// S3's rule for bucket names, in words.
pub const BUCKET_NAME_RULE: &str =
    "3-63 characters of a-z, 0-9, `.`, `-`, starting and ending with a letter or digit, no `..`";

/// S3's rule for bucket names (the DNS-compatible subset Firehose accepts).
pub fn is_bucket_name(name: &str) -> bool {
    let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge(name.bytes().next())
        && edge(name.bytes().last())
        && !name.contains("..")
}

/// The bucket of an S3 bucket ARN, `arn:PARTITION:s3:::BUCKET`, checked against S3's rule.
pub fn bucket_of(arn: &str) -> Result<&str> {
    // Any partition (`aws`, `aws-cn`, `aws-us-gov`), as BucketARN's pattern `arn:.*:s3:::...`.
    let bucket = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":s3:::"))
        .filter(|(partition, _)| !partition.is_empty() && !partition.contains(':'))
        .map(|(_, bucket)| bucket);
    let Some(bucket) = bucket else {
        return Err(FirehoseModelError::InvalidArgument(format!(
            "BucketARN {arn:?} is not an S3 bucket ARN (arn:aws:s3:::BUCKET)."
        )));
    };
    if !is_bucket_name(bucket) {
        return Err(FirehoseModelError::InvalidArgument(format!(
            "BucketARN {arn:?}: {bucket:?} is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)."
        )));
    }
    Ok(bucket)
}

/// `FileExtension`'s pattern; at most 128 characters.
pub const FILE_EXTENSION_PATTERN: &str = "^$|\\.[0-9a-z!\\-_.*'()]+";

/// Whether `ext` fits [`FILE_EXTENSION_PATTERN`] and its 128 characters.
pub fn file_extension_ok(ext: &str) -> bool {
    ext.len() <= 128
        && (ext.is_empty()
            || ext.strip_prefix('.').is_some_and(|rest| {
                !rest.is_empty()
                    && rest.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"!-_.*'()".contains(&b)
                    })
            }))
}

/// Tags as Firehose checks them: keys 1..=128, values 0..=256 characters, no `aws:` keys.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in tags {
        if !(1..=128).contains(&k.chars().count()) {
            return Err(FirehoseModelError::InvalidArgument(format!(
                "Tag key {k:?} must be 1 to 128 characters."
            )));
        }
        if k.starts_with("aws:") {
            return Err(FirehoseModelError::InvalidArgument(format!(
                "Tag key {k:?}: the aws: prefix is reserved."
            )));
        }
        if v.chars().count() > 256 {
            return Err(FirehoseModelError::InvalidArgument(format!(
                "The value of tag {k:?} is longer than 256 characters."
            )));
        }
    }
    Ok(())
}

/// The `weir run` config section that declares the tables format conversion names.
pub const TABLES_SECTION: &str = "[[firehose.tables]]";

/// Why a conversion naming `table` (`DATABASE.TABLE`) is refused when the config does not
/// declare it: the message names the section to add it to.
pub fn undeclared_table(table: &str) -> String {
    format!(
        "DataFormatConversionConfiguration names table {table}, which is not declared in this host's config ({TABLES_SECTION} with database, table and columns)."
    )
}

/// The function name of a Lambda ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`)
/// or a bare name: 1 to 64 of `[A-Za-z0-9_-]`, as Lambda names are. Firehose's transformation
/// and the IoT `lambda` rule action both map a function to the plugin of that name.
pub fn lambda_function_name(arn: &str) -> Option<&str> {
    let name = match arn.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.split(':').collect();
            match parts.as_slice() {
                [_, "lambda", _, _, "function", name]
                | [_, "lambda", _, _, "function", name, _] => *name,
                _ => return None,
            }
        }
        None => arn,
    };
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_stream_names() {
        assert!(check_delivery_stream_name("ok_name-1.2").is_ok());
        assert!(check_delivery_stream_name(&"x".repeat(64)).is_ok());
        for bad in ["bad name", "", "ü", &"x".repeat(65)] {
            assert!(
                matches!(
                    check_delivery_stream_name(bad),
                    Err(FirehoseModelError::Validation(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bucket_arns() {
        assert_eq!(bucket_of("arn:aws:s3:::my-bucket.1"), Ok("my-bucket.1"));
        assert_eq!(bucket_of("arn:aws-cn:s3:::abc"), Ok("abc"));
        for bad in [
            "my-bucket",
            "arn:aws:s3:::",
            "arn:aws:s3:::ab",
            "arn:aws:s3:::Upper",
            "arn:aws:s3:::a..b",
            "arn:aws:s3:::-abc",
            "arn:aws:s3:::abc-",
            "arn:aws:s3:::abc/../x",
            "arn::s3:::abc",
        ] {
            assert!(
                matches!(bucket_of(bad), Err(FirehoseModelError::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert!(is_bucket_name(&"a".repeat(63)) && !is_bucket_name(&"a".repeat(64)));
    }

    #[test]
    fn file_extensions() {
        for ok in ["", ".json", ".a.b", ".x!-_.*'()"] {
            assert!(file_extension_ok(ok), "{ok}");
        }
        for bad in [
            "json",
            ".",
            ".JSON",
            ".a b",
            &format!(".{}", "a".repeat(128)),
        ] {
            assert!(!file_extension_ok(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        let tags = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(check_tags(&tags("k", &"v".repeat(256))).is_ok());
        assert!(check_tags(&tags(&"k".repeat(128), "")).is_ok());
        for (k, v) in [("", "v"), ("aws:x", "v"), ("k", &"v".repeat(257))] {
            assert!(check_tags(&tags(k, v)).is_err(), "{k}");
        }
        assert!(check_tags(&tags(&"k".repeat(129), "")).is_err());
    }

    #[test]
    fn the_undeclared_table_message_names_the_tables_section() {
        let m = undeclared_table("db.t");
        assert!(m.contains("db.t"), "{m}");
        assert!(m.contains("[[firehose.tables]]"), "{m}");
        assert!(!m.contains("schemas"), "{m}");
    }

    #[test]
    fn function_names_from_arns() {
        assert_eq!(
            lambda_function_name(
                "arn:aws:lambda:us-east-1:123456789012:function:apache-log-to-json"
            ),
            Some("apache-log-to-json")
        );
        assert_eq!(
            lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            Some("f")
        );
        assert_eq!(lambda_function_name("speed_limit"), Some("speed_limit"));
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:r:a:layer:x",
            "",
            "a/b",
        ] {
            assert_eq!(lambda_function_name(bad), None, "{bad}");
        }
    }
}
