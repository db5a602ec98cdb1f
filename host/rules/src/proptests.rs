//! Property tests: parsing, compiling and evaluating never panic, whatever
//! the SQL text, payload or topic; the topic index agrees with the plain
//! matcher.

use proptest::prelude::*;
use serde_json::Value;

use super::{filter_matches, parse_payload, EvalContext, Rule, RuleIndex, Template};

/// Every function the engine knows (except `cast`, whose `AS type` syntax the generator does
/// not produce), plus names that must be rejected.
fn funcs() -> Vec<&'static str> {
    super::functions::NAMES
        .iter()
        .copied()
        .filter(|n| *n != "cast")
        .chain(["aws_lambda", "nosuchfn"])
        .collect()
}

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "speed", "s", "arr", "o", "n", "\"x-y\"", "value",
    ])
    .prop_map(str::to_string)
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        (-1e6f64..1e6).prop_map(|f| format!("{f:.3}")),
        "[a-zA-Z0-9 %$.*+?()\\[\\]{}^|-]{0,8}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        prop::sample::select(vec![
            "true",
            "false",
            "null",
            "'base64'",
            "'yyyy-MM-dd HH:mm:ss.SSS Z'",
            "'enrichArray'",
            "'82'",
            "'-1.5E3'",
        ])
        .prop_map(str::to_string),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (
        field(),
        prop::collection::vec((field(), prop::option::of(0u8..4)), 0..3),
    )
        .prop_map(|(root, rest)| {
            let mut s = root;
            for (f, idx) in rest {
                match idx {
                    Some(i) => s.push_str(&format!("[{i}].{f}")),
                    None => s.push_str(&format!(".{f}")),
                }
            }
            s
        })
}

/// SQL expressions built from the supported grammar (and a few unsupported
/// names, so error paths are exercised too).
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => literal(),
        4 => path(),
        1 => Just("encode(*, 'base64')".to_string()),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "=", "<>", ">", ">=", "<", "<=", "AND", "OR"
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("NOT {a}")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (
                prop::sample::select(funcs()),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (
                inner.clone(),
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(inner.clone())
            )
                .prop_map(|(v, whens, e)| {
                    let mut s = format!("CASE {v}");
                    for (w, t) in whens {
                        s.push_str(&format!(" WHEN {w} THEN {t}"));
                    }
                    if let Some(e) = e {
                        s.push_str(&format!(" ELSE {e}"));
                    }
                    s + " END"
                }),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| {
                let kv: Vec<String> = v
                    .iter()
                    .enumerate()
                    .map(|(i, x)| format!("'k{i}': {x}"))
                    .collect();
                format!("{{{}}}", kv.join(", "))
            }),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "Int", "Decimal", "Boolean", "String", "varchar", "Blob"
                ])
            )
                .prop_map(|(a, t)| format!("cast({a} AS {t})")),
            (
                any::<bool>(),
                inner.clone(),
                field(),
                prop::option::of(inner.clone())
            )
                .prop_map(|(value, x, from, w)| {
                    let v = if value { "VALUE " } else { "" };
                    let w = w.map(|w| format!(" WHERE {w}")).unwrap_or_default();
                    format!("(SELECT {v}{x} FROM {from}{w})")
                }),
        ]
    })
}

fn topic_filter() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "+", "#", "$aws", "", "c d"]),
        1..5,
    )
    .prop_map(|v| v.join("/"))
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "$aws", "", "c d", "x"]),
        1..5,
    )
    .prop_map(|v| v.join("/"))
}

fn rule_sql() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec((expr(), prop::option::of("[a-z]{1,5}")), 1..4),
        any::<bool>(),
        topic_filter(),
        prop::option::of(expr()),
    )
        .prop_map(|(value, items, star, filter, w)| {
            let n = if value { 1 } else { items.len() };
            let list: Vec<String> = items
                .into_iter()
                .take(n)
                .map(|(e, alias)| match alias {
                    Some(a) if !value => format!("{e} AS {a}"),
                    _ => e,
                })
                .collect();
            let head = if value { "SELECT VALUE " } else { "SELECT " };
            let star = if star && !value { "*, " } else { "" };
            let w = w.map(|w| format!(" WHERE {w}")).unwrap_or_default();
            format!("{head}{star}{} FROM '{filter}'{w}", list.join(", "))
        })
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[a-z0-9 .-]{0,6}".prop_map(Value::String),
        prop::sample::select(vec!["82", "-84.5", "5E-2", "true", "abc", "eyJhIjoxfQ=="])
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field(), inner), 0..5).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.trim_matches('"').to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn evaluate_all(rule: &Rule, topic: &str, payload: &[u8]) {
    let parsed = parse_payload(payload);
    let mut cx = EvalContext::new(topic, payload, parsed.as_ref());
    cx.client_id = Some("c");
    cx.timestamp_ms = 1_600_000_000_000;
    let _ = rule.evaluate(&cx);
    let _ = rule.evaluate_json(&cx);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_text_never_panics(sql in "\\PC{0,80}", payload in prop::collection::vec(any::<u8>(), 0..40), topic in "\\PC{0,20}") {
        match Rule::compile(&sql) {
            Ok(rule) => evaluate_all(&rule, &topic, &payload),
            Err(diags) => {
                prop_assert!(!diags.is_empty());
                for d in diags {
                    prop_assert!(d.line >= 1 && d.column >= 1);
                    let suffix = format!("(line {}, column {})", d.line, d.column);
                    prop_assert!(d.to_string().ends_with(&suffix));
                }
            }
        }
    }

    #[test]
    fn sqlish_tokens_never_panic(words in prop::collection::vec(prop::sample::select(vec![
        "SELECT", "VALUE", "*", ",", "FROM", "'a/+'", "WHERE", "(", ")", "[", "]", "{", "}", "'k'", ":",
        "a", ".", "b", "1", "2.5", "+", "-", "=", "<>", "AND", "NOT", "CASE", "WHEN", "THEN", "ELSE",
        "END", "AS", "upper", "get", "cast", "Int", "'x'", "null", "true", ";", "JOIN", "GROUP", "BY",
    ]), 0..30)) {
        let sql = words.join(" ");
        if let Ok(rule) = Rule::compile(&sql) {
            evaluate_all(&rule, "a/b", br#"{"a":{"b":[1,2]},"k":"x"}"#);
        }
    }

    #[test]
    fn grammar_rules_never_panic(sql in rule_sql(), payload in json(), topic in topic()) {
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        match Rule::compile(&sql) {
            Ok(rule) => {
                evaluate_all(&rule, &topic, &bytes);
                evaluate_all(&rule, &topic, b"\x00binary");
            }
            Err(diags) => prop_assert!(!diags.is_empty()),
        }
    }

    #[test]
    fn templates_never_panic(text in "\\PC{0,40}", payload in json()) {
        if let Ok(t) = Template::parse(&text) {
            let bytes = serde_json::to_vec(&payload).unwrap_or_default();
            let cx = EvalContext::new("a/b", &bytes, Some(&payload));
            let _ = t.render(&cx);
        }
    }

    #[test]
    fn index_agrees_with_matcher(filters in prop::collection::vec(topic_filter(), 0..20), topics in prop::collection::vec(topic(), 1..10)) {
        let mut idx = RuleIndex::new();
        let mut valid = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            if idx.insert(i, f).is_ok() {
                valid.push(i);
            }
        }
        for t in &topics {
            let mut got = idx.matches(t);
            got.sort_unstable();
            let want: Vec<usize> = valid.iter().copied().filter(|&i| filter_matches(&filters[i], t)).collect();
            prop_assert_eq!(got, want, "topic {:?}", t);
        }
    }
}

/// Guards the grammar strategy itself: most generated rules must compile,
/// or `grammar_rules_never_panic` would only exercise error paths.
#[test]
fn grammar_sample_compiles_often() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strat = rule_sql();
    let mut ok = 0;
    for _ in 0..300 {
        let sql = strat
            .new_tree(&mut runner)
            .map(|t| t.current())
            .unwrap_or_default();
        if Rule::compile(&sql).is_ok() {
            ok += 1;
        }
    }
    assert!(ok >= 100, "grammar strategy compiles too rarely: {ok}/300");
}
