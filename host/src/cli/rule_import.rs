//! `weir rule import FILE.json [--name NAME]`: an AWS IoT rule document turned into the
//! `[rules.NAME]` entry of a configuration file, printed on stdout.
//!
//! The file may hold a `TopicRulePayload`, a CreateTopicRule body (`{"topicRulePayload":
//! ...}`, the form of AWS's examples) or what `aws iot get-topic-rule` prints. The rule is
//! named `--name`, else the document's `ruleName`, else the file's stem. The entry is checked
//! by the configuration loader before it is printed, so it pastes into a file as is (with
//! the `[streams.NAME]` its kinesis actions need, named in a comment).
//!
//! Exit status: 0 with the TOML on stdout; 2 with one `error: FILE: JSON.PATH: message
//! (AwsErrorCode)` line on stderr when the document is refused; 1 when the file cannot be
//! read.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read the file: {e}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| weir_config::check_rule_name(s).is_ok());
    match weir_config::import_topic_rule(&text, name, stem) {
        Ok(rule) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(rule.toml().as_bytes())?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {e} ({})", file.display(), e.code);
            Ok(ExitCode::from(2))
        }
    }
}
