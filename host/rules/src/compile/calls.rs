//! Function calls: the arguments, what the name resolves to, the arity, and the literal
//! arguments (encodings, patterns, time zones) checked once at compile time.

use super::*;

impl Compiler<'_> {
    /// A function call: its arguments, then what the name resolves to (a function Weir
    /// has, one that calls an AWS service, one not supported, or a typo with a suggestion).
    pub(super) fn function(&mut self, f: &ast::Function) -> Expr {
        let span = f.name.span();
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i.value.clone(),
            _ => {
                self.err(format!("unknown function {}", f.name), span);
                return placeholder();
            }
        };
        let args = self.function_args(f, &name, span);
        let resolved = functions::resolve(&name);
        if let Resolved::Known {
            func: Func::Decode, ..
        } = resolved
        {
            if let Some(Expr::Lit(Value::String(scheme))) = args.get(1) {
                if scheme.eq_ignore_ascii_case("proto") {
                    self.err(
                        "decode(..., 'proto', ...) reads Protobuf descriptors from Amazon S3 and is not available in Weir",
                        span,
                    );
                    return placeholder();
                }
            }
        }
        match resolved {
            Resolved::Known { func, min, max } => {
                self.known_function(func, (min, max), &name, args, span)
            }
            Resolved::Service => {
                self.err(
                    format!("function {name} calls an AWS service and is not available in Weir"),
                    span,
                );
                placeholder()
            }
            Resolved::Unsupported(why) => {
                self.err(format!("function {name} is not supported: {why}"), span);
                placeholder()
            }
            Resolved::Unknown => {
                let hint = functions::suggest(&name)
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                self.err(format!("unknown function {name}{hint}"), span);
                placeholder()
            }
        }
    }

    /// The arguments of a call, each compiled (`*` is the payload); the clauses sqlparser
    /// reads but AWS IoT SQL does not have (FILTER, OVER, DISTINCT, ...) are refused.
    pub(super) fn function_args(&mut self, f: &ast::Function, name: &str, span: Span) -> Vec<Expr> {
        let mut args = Vec::new();
        if f.filter.is_some()
            || f.over.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
        {
            self.err(
                format!("{name}: FILTER, OVER and WITHIN GROUP are not supported"),
                span,
            );
        }
        match &f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(q) => {
                self.err(
                    format!("{name}: a subquery argument needs its own parentheses"),
                    q.span(),
                );
            }
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    self.err(format!("{name}: unsupported argument syntax"), span);
                }
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(self.expr(x)),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => args.push(Expr::Payload),
                        other => {
                            self.err(format!("{name}: unsupported argument {other}"), span);
                        }
                    }
                }
            }
        }
        if !matches!(f.parameters, FunctionArguments::None) {
            self.err(format!("{name}: unsupported argument syntax"), span);
        }
        args
    }

    /// A call of a function Weir has: the arity, the literal arguments known at compile
    /// time, and a literal regex pattern compiled once here rather than per message.
    pub(super) fn known_function(
        &mut self,
        func: Func,
        (min, max): (usize, usize),
        name: &str,
        args: Vec<Expr>,
        span: Span,
    ) -> Expr {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            let plural = if want == "1" { "" } else { "s" };
            self.err(
                format!(
                    "function {name} takes {want} argument{plural}, got {}",
                    args.len()
                ),
                span,
            );
            return placeholder();
        }
        self.check_literals(func, name, &args, span);
        if matches!(
            func,
            Func::RegexpMatches | Func::RegexpReplace | Func::RegexpSubstr
        ) {
            if let Some(Expr::Lit(Value::String(p))) = args.get(1) {
                match functions::compile_pattern(p) {
                    Ok(re) => return Expr::CallRe(func, Box::new(re), args),
                    Err(e) => {
                        self.err(pattern_diag(name, p, &e), span);
                        return placeholder();
                    }
                }
            }
        }
        Expr::Call(func, args)
    }

    /// Checks literal arguments whose validity is known at compile time.
    pub(super) fn check_literals(&mut self, func: Func, name: &str, args: &[Expr], span: Span) {
        let lit = |i: usize| match args.get(i) {
            Some(Expr::Lit(Value::String(s))) => Some(s.as_str()),
            _ => None,
        };
        match func {
            Func::Encode | Func::Decode => {
                if let Some(s) = lit(1) {
                    if !s.eq_ignore_ascii_case("base64") {
                        self.err(
                            format!("{name}: unsupported encoding scheme '{s}' (Weir supports 'base64')"),
                            span,
                        );
                    }
                }
            }
            Func::ParseTime => {
                if let Some(p) = lit(0) {
                    if !time::pattern_is_valid(p) {
                        self.err(format!("{name}: invalid date-time pattern '{p}'"), span);
                    }
                }
            }
            Func::TimeToEpoch => {
                if let Some(p) = lit(1) {
                    if !time::pattern_is_valid(p) {
                        self.err(format!("{name}: invalid date-time pattern '{p}'"), span);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The diagnostic for a literal pattern [`functions::compile_pattern`]
/// refused. An over-long pattern is not quoted back: the message would be
/// as long as the pattern.
fn pattern_diag(name: &str, p: &str, e: &PatternError) -> String {
    match e {
        PatternError::TooLong(len) => format!(
            "{name}: regular expression is {len} bytes long, more than the limit of {MAX_PATTERN_BYTES} bytes"
        ),
        PatternError::TooBig => format!(
            "{name}: regular expression '{p}' compiles to more than the limit of {REGEX_SIZE_LIMIT} bytes \
             (large counts of Unicode classes such as \\w{{1,32}} are big; ASCII classes such as \
             [A-Za-z0-9_] are not)"
        ),
        PatternError::Invalid(msg) => {
            let first = msg.lines().last().unwrap_or("invalid pattern");
            format!("{name}: invalid regular expression '{p}': {first}")
        }
    }
}
