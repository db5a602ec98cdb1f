//! The JSONPath subset KDA mapping takes (Developer Guide, "Working with JSONPath",
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/about-json-path.html):
//! `$`, `$.a.b`, `$['a b']`, `$.a[2]`, and `$.arr[0:]` (also `$.arr[*]`): at the end of a
//! path, the whole array as one value; followed by `.element`, one row per array element.

use super::json::Json;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
    /// `[0:]` or `[*]`: every element of an array.
    All,
}

/// A parsed path, `$` being the empty list of steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub steps: Vec<Step>,
}

impl Path {
    /// Parses a path; the message says what is wrong.
    pub fn parse(text: &str) -> Result<Path, String> {
        let t = text;
        let rest = t
            .strip_prefix('$')
            .ok_or_else(|| format!("JSONPath {text:?} must start with '$'"))?;
        let b = rest.as_bytes();
        let mut i = 0;
        let mut steps = Vec::new();
        while i < b.len() {
            match b[i] {
                b'.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                        j += 1;
                    }
                    if j == start {
                        return Err(format!("JSONPath {text:?} has an empty element name"));
                    }
                    steps.push(Step::Key(rest[start..j].to_string()));
                    i = j;
                }
                b'[' => {
                    let open = i + 1;
                    let lead = rest[open..].len() - rest[open..].trim_start().len();
                    let body = open + lead;
                    // A quoted name may hold any character, `]` included.
                    let quote = b.get(body).copied().filter(|q| *q == b'\'' || *q == b'"');
                    let (step, after) = if let Some(q) = quote {
                        let end = rest[body + 1..]
                            .find(q as char)
                            .map(|e| e + body + 1)
                            .ok_or_else(|| format!("JSONPath {text:?} has an unclosed quote"))?;
                        let close = rest[end + 1..]
                            .find(|c: char| c != ' ')
                            .map(|c| c + end + 1)
                            .filter(|c| b[*c] == b']')
                            .ok_or_else(|| {
                                format!("JSONPath {text:?}: expected ']' after the quoted name")
                            })?;
                        (Step::Key(rest[body + 1..end].to_string()), close + 1)
                    } else {
                        let close = rest[i..]
                            .find(']')
                            .map(|c| c + i)
                            .ok_or_else(|| format!("JSONPath {text:?} has an unclosed '['"))?;
                        let inner = rest[open..close].trim();
                        let step = if inner == "0:" || inner == "*" {
                            Step::All
                        } else if let Ok(n) = inner.parse::<usize>() {
                            Step::Index(n)
                        } else {
                            return Err(format!(
                                "JSONPath {text:?}: [{inner}] is not supported (use [0:], [n] or ['name'])"
                            ));
                        };
                        (step, close + 1)
                    };
                    steps.push(step);
                    i = after;
                }
                _ => {
                    return Err(format!(
                        "JSONPath {text:?}: expected '.' or '[' after {:?}",
                        &t[..i + 1]
                    ))
                }
            }
        }
        Ok(Path { steps })
    }

    /// Where the first `[0:]` not at the end is: the array this path flattens into rows.
    pub fn flatten_at(&self) -> Option<usize> {
        let n = self.steps.len();
        self.steps
            .iter()
            .position(|s| *s == Step::All)
            .filter(|p| *p + 1 < n)
    }

    /// The node `steps` leads to from `node`, `None` when any step finds nothing. A final
    /// `[0:]` keeps the array itself (the whole array in one column).
    pub fn walk<'a>(steps: &[Step], mut node: &'a Json) -> Option<&'a Json> {
        for step in steps {
            node = match (step, node) {
                (Step::Key(k), Json::Object(_)) => node.get(k)?,
                (Step::Index(i), Json::Array(items)) => items.get(*i)?,
                (Step::All, Json::Array(_)) => node,
                _ => return None,
            };
        }
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::super::json;
    use super::*;

    #[test]
    fn documented_paths_parse() {
        assert_eq!(Path::parse("$").expect("root").steps, vec![]);
        assert_eq!(
            Path::parse("$.address.city").expect("nested").steps,
            vec![Step::Key("address".into()), Step::Key("city".into())]
        );
        let p = Path::parse("$.orders[0:].orderId").expect("flatten");
        assert_eq!(p.flatten_at(), Some(1));
        assert_eq!(
            Path::parse("$.orders[0:]").expect("whole").flatten_at(),
            None
        );
        assert_eq!(
            Path::parse("$['a b'][2]").expect("brackets").steps,
            vec![Step::Key("a b".into()), Step::Index(2)]
        );
        assert_eq!(
            Path::parse("$[\"x']\"].y").expect("quoted bracket").steps,
            vec![Step::Key("x']".into()), Step::Key("y".into())]
        );
        assert_eq!(
            Path::parse("$. ").expect("blank name").steps,
            vec![Step::Key(" ".into())]
        );
        for bad in ["a.b", "$.", "$.a[", "$.a[1:2]", "$a"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn walking_is_case_sensitive_and_missing_is_none() {
        let doc = json::parse(r#"{"customerName":"John Doe","address":{"city":"Anytown"}}"#)
            .expect("json");
        let walk = |p: &str| Path::walk(&Path::parse(p).expect("path").steps, &doc).cloned();
        assert_eq!(
            walk("$.customerName"),
            Some(Json::String("John Doe".into()))
        );
        assert_eq!(walk("$.customername"), None);
        assert_eq!(walk("$.address.city"), Some(Json::String("Anytown".into())));
        assert_eq!(walk("$.customerId"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,24}", tail in "[$.\\[\\]'\"0-9:* a]{0,16}") {
            let _ = Path::parse(&text);
            let _ = Path::parse(&format!("${tail}"));
        }
    }
}
