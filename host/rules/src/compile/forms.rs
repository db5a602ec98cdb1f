//! The SQL expression forms that take more than a constructor to compile: field access,
//! unary and binary operators, `CAST`, `substring`, and the forms sqlparser reads but AWS IoT
//! SQL does not have (refused with what to use instead).

use super::*;

impl Compiler<'_> {
    /// `a.b[i].c`: a path when the root is one, else an access into the root's value.
    pub(super) fn field_access(&mut self, root: &ast::Expr, access_chain: &[AccessExpr]) -> Expr {
        use ast::Expr as E;
        let (base, mut segs) = match self.expr(root) {
            Expr::Path(p) => (None, p.segs),
            other => (Some(other), Vec::new()),
        };
        for a in access_chain {
            match a {
                AccessExpr::Dot(E::Identifier(i)) => segs.push(Seg::Key(i.value.as_str().into())),
                AccessExpr::Subscript(Subscript::Index { index }) => {
                    let ix = self.expr(index);
                    segs.push(Seg::Index(Box::new(ix)));
                }
                other => self.err("unsupported field access", other.span()),
            }
        }
        match base {
            None => Expr::Path(Path { segs }),
            Some(b) => Expr::Access(Box::new(b), Path { segs }),
        }
    }

    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
    pub(super) fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Expr {
        let operand = operand.map(|o| self.boxed(o));
        let whens = conditions
            .iter()
            .map(|w| (self.expr(&w.condition), self.expr(&w.result)))
            .collect();
        let otherwise = else_result.map(|x| self.boxed(x));
        Expr::Case {
            operand,
            whens,
            otherwise,
        }
    }

    /// `ceil(x)` and `floor(x)`, which sqlparser parses as their own forms (with an optional
    /// date-time field AWS does not have).
    pub(super) fn ceil_floor(
        &mut self,
        e: &ast::Expr,
        expr: &ast::Expr,
        field: &CeilFloorKind,
    ) -> Expr {
        if !matches!(
            field,
            CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)
        ) {
            self.err("ceil and floor take one argument", e.span());
        }
        let f = if matches!(e, ast::Expr::Ceil { .. }) {
            Func::Ceil
        } else {
            Func::Floor
        };
        Expr::Call(f, vec![self.expr(expr)])
    }

    /// `x [NOT] IN arr`: AWS's IN takes one array expression on the right, which sqlparser
    /// reads as a list of one item.
    pub(super) fn in_array(
        &mut self,
        expr: &ast::Expr,
        items: &[ast::Expr],
        negated: bool,
    ) -> Expr {
        let needle = self.boxed(expr);
        let haystack = match items.first() {
            Some(h) => self.boxed(h),
            None => Box::new(placeholder()),
        };
        Expr::In {
            needle,
            haystack,
            negated,
        }
    }

    /// `-x`, `+x`, `NOT x`. A negated number literal is folded, so `-9223372036854775808`
    /// and `-1.5` are literals as AWS reads them, not a negation at run time.
    pub(super) fn unary(&mut self, e: &ast::Expr, op: &UnaryOperator, expr: &ast::Expr) -> Expr {
        match op {
            UnaryOperator::Minus => match self.expr(expr) {
                Expr::Lit(Value::Number(n)) => {
                    if let Some(i) = n.as_i64().and_then(i64::checked_neg) {
                        Expr::Lit(Value::from(i))
                    } else {
                        let f = n.as_f64().unwrap_or(0.0);
                        Expr::Lit(
                            serde_json::Number::from_f64(-f)
                                .map(Value::Number)
                                .unwrap_or(Value::Null),
                        )
                    }
                }
                Expr::Dec(d) => Expr::Dec(crate::decimal::neg(d)),
                other => Expr::Neg(Box::new(other)),
            },
            UnaryOperator::Plus => self.expr(expr),
            UnaryOperator::Not => Expr::Not(self.boxed(expr)),
            other => {
                self.err(format!("unsupported operator {other}"), e.span());
                placeholder()
            }
        }
    }

    /// Arithmetic, comparison and logic; other sqlparser operators are not AWS IoT SQL.
    pub(super) fn binary(
        &mut self,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
    ) -> Expr {
        let l = self.boxed(left);
        let r = self.boxed(right);
        match op {
            BinaryOperator::Plus => Expr::Arith(ArithOp::Add, l, r),
            BinaryOperator::Minus => Expr::Arith(ArithOp::Sub, l, r),
            BinaryOperator::Multiply => Expr::Arith(ArithOp::Mul, l, r),
            BinaryOperator::Divide => Expr::Arith(ArithOp::Div, l, r),
            BinaryOperator::Modulo => Expr::Arith(ArithOp::Rem, l, r),
            BinaryOperator::Eq => Expr::Cmp(CmpOp::Eq, l, r),
            BinaryOperator::NotEq => Expr::Cmp(CmpOp::Ne, l, r),
            BinaryOperator::Gt => Expr::Cmp(CmpOp::Gt, l, r),
            BinaryOperator::GtEq => Expr::Cmp(CmpOp::Ge, l, r),
            BinaryOperator::Lt => Expr::Cmp(CmpOp::Lt, l, r),
            BinaryOperator::LtEq => Expr::Cmp(CmpOp::Le, l, r),
            BinaryOperator::And => Expr::And(l, r),
            BinaryOperator::Or => Expr::Or(l, r),
            other => {
                let at = operator_span(left, right);
                self.err(
                    format!("operator {other} is not supported in AWS IoT SQL"),
                    at,
                );
                placeholder()
            }
        }
    }

    /// `CAST(x AS type)` to one of the types AWS IoT SQL names.
    pub(super) fn cast(&mut self, e: &ast::Expr, expr: &ast::Expr, data_type: &DataType) -> Expr {
        let inner = self.boxed(expr);
        match cast_target(data_type) {
            Some(t) => Expr::Cast(inner, t),
            None => {
                self.err(
                    format!(
                        "cannot cast to {data_type}; use Int, Integer, Decimal, Double, Bool, Boolean, String or Varchar"
                    ),
                    e.span(),
                );
                placeholder()
            }
        }
    }

    /// `substring(string, start[, end])`; sqlparser parses it specially, and also accepts the
    /// `FROM`/`FOR` form AWS does not.
    pub(super) fn substring(
        &mut self,
        e: &ast::Expr,
        expr: &ast::Expr,
        from: Option<&ast::Expr>,
        until: Option<&ast::Expr>,
        special: bool,
    ) -> Expr {
        if !special {
            self.err(
                "use substring(string, start[, end]); FROM/FOR syntax is not AWS IoT SQL",
                e.span(),
            );
        }
        let mut args = vec![self.expr(expr)];
        match from {
            Some(f) => args.push(self.expr(f)),
            None => self.err("substring needs 2 or 3 arguments", e.span()),
        }
        if let Some(f) = until {
            args.push(self.expr(f));
        }
        Expr::Call(Func::Substring, args)
    }

    /// What sqlparser reads but AWS IoT SQL does not have: an error naming what to use
    /// instead, and a placeholder so compiling goes on and finds the other mistakes.
    pub(super) fn refused(&mut self, e: &ast::Expr) -> Expr {
        use ast::Expr as E;
        let msg = match e {
            E::IsNull(_) | E::IsNotNull(_) => {
                "IS [NOT] NULL is not AWS IoT SQL; use isNull(x) or isUndefined(x)".to_owned()
            }
            E::In { .. } => {
                "IN takes one array expression on the right, e.g. x IN ['a', 'b'] or x IN arr"
                    .to_owned()
            }
            E::Like { .. } | E::ILike { .. } | E::SimilarTo { .. } => {
                "LIKE is not AWS IoT SQL; use regexp_matches()".to_owned()
            }
            E::Between { .. } => "BETWEEN is not AWS IoT SQL; use x >= a AND x <= b".to_owned(),
            other => format!("unsupported expression in AWS IoT SQL: {other}"),
        };
        self.err(msg, e.span());
        placeholder()
    }
}

fn operator_span(left: &ast::Expr, right: &ast::Expr) -> Span {
    let l = left.span();
    if l.start.line != 0 {
        Span::new(l.end, l.end)
    } else {
        right.span()
    }
}

fn cast_target(t: &DataType) -> Option<CastTo> {
    let name = t.to_string().to_ascii_lowercase();
    let base = name.split('(').next().unwrap_or("").trim();
    Some(match base {
        "int" | "integer" => CastTo::Int,
        "decimal" | "double" => CastTo::Decimal,
        "bool" | "boolean" => CastTo::Bool,
        "string" | "varchar" | "nvarchar" | "text" | "ntext" => CastTo::String,
        _ => return None,
    })
}
