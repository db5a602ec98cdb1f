//! Fuzzes the rule parser and compiler, then evaluates whatever compiles
//! against a fixed JSON payload and a binary one. Run with
//! `cargo +nightly fuzz run parse_rule fuzz/corpus/parse_rule`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_rules::{parse_payload, EvalContext, Rule, Template};

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rule) = Rule::compile(sql) {
        let payload = br#"{"a":1,"b":{"c":[1,2,3]},"speed":"82","s":"x","arr":[{"v":1}]}"#;
        let json = parse_payload(payload);
        let cx = EvalContext::new("a/b/c", payload, json.as_ref());
        let _ = rule.evaluate(&cx);
        let binary = EvalContext::new("a/b/c", b"\x00\x01", None);
        let _ = rule.evaluate(&binary);
    }
    let _ = Template::parse(sql);
});
