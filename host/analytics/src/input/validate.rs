//! AWS-style request validation messages, so the API can answer exactly as the service does:
//! `1 validation error detected: Value '0' at 'inputSchema.recordColumns' failed to satisfy
//! constraint: Member must have length greater than or equal to 1`.

use std::fmt;

/// One violated constraint of the API model: the member path (camelCase, list members as
/// `recordColumns.1.member.name`, 1-based), the value as the service prints it, the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    /// The value, already quoted (`'abc'`) or `null`.
    pub value: String,
    pub constraint: String,
}

impl Violation {
    pub fn new(path: impl Into<String>, value: &str, constraint: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            value: format!("'{value}'"),
            constraint: constraint.into(),
        }
    }

    pub fn null(path: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            value: "null".into(),
            constraint: "Member must not be null".into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Value {} at '{}' failed to satisfy constraint: {}",
            self.value, self.path, self.constraint
        )
    }
}

/// The service's one-line summary: `N validation error(s) detected: a; b`.
pub fn summarize(violations: &[Violation]) -> String {
    let n = violations.len();
    let list = violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "{n} validation error{} detected: {list}",
        if n == 1 { "" } else { "s" }
    )
}

/// Length constraints on a string member (in characters, as the model counts them).
pub fn length(out: &mut Vec<Violation>, path: &str, value: &str, min: usize, max: Option<usize>) {
    let len = value.chars().count();
    if len < min {
        out.push(Violation::new(
            path,
            value,
            format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if let Some(max) = max {
        if len > max {
            out.push(Violation::new(
                path,
                value,
                format!("Member must have length less than or equal to {max}"),
            ));
        }
    }
}

/// Joins a parent path and a member name (`""` parent gives the member alone).
pub fn join(parent: &str, member: &str) -> String {
    if parent.is_empty() {
        member.to_string()
    } else {
        format!("{parent}.{member}")
    }
}

/// Whether `arn` matches the model's `arn:.*` pattern.
pub fn is_arn(arn: &str) -> bool {
    arn.starts_with("arn:")
}

/// The model's role pattern `arn:aws:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`.
pub fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let (account, rest) = rest.split_at(rest.len().min(12));
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(rest) = rest.strip_prefix(":role") else {
        return false;
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_the_service() {
        let v = vec![Violation::new(
            "inputSchema.recordColumns.1.member.sqlType",
            "",
            "Member must have length greater than or equal to 1",
        )];
        assert_eq!(
            summarize(&v),
            "1 validation error detected: Value '' at 'inputSchema.recordColumns.1.member.sqlType' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let two = [v[0].clone(), Violation::null("x")];
        assert!(summarize(&two).starts_with("2 validation errors detected: "));
    }

    #[test]
    fn role_pattern() {
        assert!(is_role_arn(
            "arn:aws:iam::123456789012:role/service-role/my-role"
        ));
        assert!(!is_role_arn("arn:aws:iam::1234:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
        assert!(is_arn("arn:aws:s3:::bucket") && !is_arn("s3://bucket"));
    }
}
