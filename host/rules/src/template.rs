//! Substitution templates: `${expr}` inside action parameters (topics,
//! partition keys, stream names, object keys), as in AWS IoT rule actions.
//!
//! * The expression is any AWS IoT SQL expression (`${topic(3)}`,
//!   `${newuuid()}`, `${a.b}`, `${get(arr, 0)}`) and is
//!   evaluated against the *incoming message*, not the SELECT output.
//! * A `$` not followed by `{` is literal. `$$` is an escaped `$`, so
//!   `$${literal}` renders as the text `${literal}` without evaluating it:
//!   the only way to put a `${` into a topic or key verbatim.
//! * A substitution that evaluates to Undefined makes rendering fail with
//!   [`TemplateError::Undefined`]; the runtime sends the message to the rule's
//!   error action with that error (AWS fails the action in this case instead of
//!   writing an empty string). Null renders as `null`, strings raw, other values
//!   as compact JSON.

use super::compile::compile_expr;
use super::diagnostic::Diagnostic;
use super::eval::{EvalContext, EvalError, Evaluator, Expr};
use super::value::{to_string_conv, Kind};

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Sub { text: String, expr: Expr },
}

/// A parsed template, ready to render many times.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// Why a template could not be rendered for one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error("substitution ${{{expr}}} is undefined for this message")]
    Undefined { expr: String },
    #[error(transparent)]
    Eval(#[from] EvalError),
}

impl Template {
    /// Parses `text`, compiling each `${...}`; returns every problem found.
    pub fn parse(text: &str) -> Result<Template, Vec<Diagnostic>> {
        let mut parts = Vec::new();
        let mut diags = Vec::new();
        let mut lit = String::new();
        let chars: Vec<char> = text.chars().collect();
        let (mut line, mut col) = (1u64, 1u64);
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '$' && chars.get(i + 1) == Some(&'$') {
                lit.push('$');
                advance('$', &mut line, &mut col);
                advance('$', &mut line, &mut col);
                i += 2;
                continue;
            }
            if c == '$' && chars.get(i + 1) == Some(&'{') {
                let (start_line, start_col) = (line, col + 2);
                let Some(end) = closing_brace(&chars, i + 2) else {
                    diags.push(Diagnostic::new("unclosed ${ in template", line, col));
                    break;
                };
                let inner: String = chars[i + 2..end].iter().collect();
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                if inner.trim().is_empty() {
                    diags.push(Diagnostic::new("empty ${} in template", line, col));
                } else {
                    match compile_expr(&inner) {
                        Ok(expr) => parts.push(Part::Sub {
                            text: inner.clone(),
                            expr,
                        }),
                        Err(ds) => diags.extend(ds.into_iter().map(|d| {
                            let (l, c) = if d.line == 1 {
                                (start_line, start_col + u64::from(d.column) - 1)
                            } else {
                                (start_line + u64::from(d.line) - 1, u64::from(d.column))
                            };
                            Diagnostic::new(d.message, l, c)
                        })),
                    }
                }
                for ch in &chars[i..=end] {
                    advance(*ch, &mut line, &mut col);
                }
                i = end + 1;
                continue;
            }
            lit.push(c);
            advance(c, &mut line, &mut col);
            i += 1;
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        if diags.is_empty() {
            Ok(Template {
                source: text.to_string(),
                parts,
            })
        } else {
            Err(diags)
        }
    }

    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template has no substitutions.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Renders against one message.
    pub fn render(&self, cx: &EvalContext<'_>) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut ev = Evaluator::new(cx);
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Sub { text, expr } => {
                    let v = ev.eval(expr, cx.json);
                    if let Some(e) = ev.error.take() {
                        return Err(TemplateError::Eval(e));
                    }
                    match v.kind() {
                        Kind::Undefined => {
                            return Err(TemplateError::Undefined { expr: text.clone() })
                        }
                        Kind::Null => out.push_str("null"),
                        k => match to_string_conv(k) {
                            Some(s) => out.push_str(&s),
                            None => return Err(TemplateError::Undefined { expr: text.clone() }),
                        },
                    }
                }
            }
        }
        Ok(out)
    }
}

fn advance(c: char, line: &mut u64, col: &mut u64) {
    if c == '\n' {
        *line += 1;
        *col = 1;
    } else {
        *col += 1;
    }
}

/// Index of the `}` closing a `${`, skipping braces inside quotes and
/// nested object literals.
fn closing_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in chars.iter().enumerate().skip(from) {
        match quote {
            Some(q) if *c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(*c),
                '{' => depth += 1,
                '}' if depth == 0 => return Some(i),
                '}' => depth -= 1,
                _ => {}
            },
        }
    }
    None
}
