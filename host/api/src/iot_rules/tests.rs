//! The wire details of the rules API that need no catalog: which operation a method and path
//! are, AWS's statuses, ListTopicRules' parameters and pages.

use super::*;

fn entry(name: &str, topic: &str, disabled: bool) -> RuleListEntry {
    RuleListEntry {
        name: name.into(),
        topic_pattern: topic.into(),
        disabled,
        item: json!({ "ruleName": name }),
    }
}

fn names(page: &Value) -> Vec<String> {
    page["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn operations_by_method_and_path() {
    let op = |m: Method, p: &str| Operation::parse(&m, p);
    assert_eq!(op(Method::GET, "/rules"), Ok(Operation::List));
    assert_eq!(op(Method::GET, "/rules/"), Ok(Operation::List));
    assert_eq!(
        op(Method::POST, "/rules/r1"),
        Ok(Operation::Create("r1".into()))
    );
    assert_eq!(
        op(Method::GET, "/rules/r1"),
        Ok(Operation::Get("r1".into()))
    );
    assert_eq!(
        op(Method::PATCH, "/rules/r1"),
        Ok(Operation::Replace("r1".into()))
    );
    assert_eq!(
        op(Method::DELETE, "/rules/r1"),
        Ok(Operation::Delete("r1".into()))
    );
    assert_eq!(
        op(Method::POST, "/rules/r1/enable"),
        Ok(Operation::SetEnabled("r1".into(), true))
    );
    assert_eq!(
        op(Method::POST, "/rules/r1/disable"),
        Ok(Operation::SetEnabled("r1".into(), false))
    );
    assert_eq!(
        op(Method::PUT, "/rules/r1").unwrap_err().0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        op(Method::POST, "/rules").unwrap_err().0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        op(Method::GET, "/rules/r1/enable").unwrap_err().0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        op(Method::POST, "/rules/r1/other").unwrap_err().0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        op(Method::POST, "/rules/a/b/c").unwrap_err().0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn error_types_have_the_models_statuses() {
    let cases = [
        (RuleErrorKind::SqlParse, "SqlParseException", 400),
        (
            RuleErrorKind::InvalidRequest,
            "InvalidRequestException",
            400,
        ),
        (
            RuleErrorKind::ResourceAlreadyExists,
            "ResourceAlreadyExistsException",
            409,
        ),
        (RuleErrorKind::Unauthorized, "UnauthorizedException", 401),
        (
            RuleErrorKind::ConflictingResourceUpdate,
            "ConflictingResourceUpdateException",
            409,
        ),
        (
            RuleErrorKind::ServiceUnavailable,
            "ServiceUnavailableException",
            503,
        ),
        (RuleErrorKind::Internal, "InternalException", 500),
        (
            RuleErrorKind::ResourceNotFound,
            "ResourceNotFoundException",
            404,
        ),
        (RuleErrorKind::LimitExceeded, "LimitExceededException", 410),
    ];
    for (kind, code, status) in cases {
        assert_eq!((kind.code(), kind.status()), (code, status));
        let resp = error_response(&RuleApiError::new(kind, "m"));
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["x-amzn-errortype"], code);
    }
}

#[test]
fn list_filters_pages_and_refuses_bad_parameters() {
    let all = vec![
        entry("c", "t/1", false),
        entry("a", "t/1", true),
        entry("b", "t/2", false),
        entry("d", "t/1", false),
    ];
    let page = |q: &str| ListParams::parse(q).and_then(|p| p.page(all.clone()));
    assert_eq!(names(&page("").unwrap()), ["a", "b", "c", "d"]);
    assert_eq!(names(&page("topic=t%2F1").unwrap()), ["a", "c", "d"]);
    assert_eq!(
        names(&page("topic=t/1&ruleDisabled=false").unwrap()),
        ["c", "d"]
    );
    assert_eq!(names(&page("ruleDisabled=true").unwrap()), ["a"]);
    // Pages of two, following the tokens.
    let first = page("maxResults=2").unwrap();
    assert_eq!(names(&first), ["a", "b"]);
    let token = first["nextToken"].as_str().unwrap().to_owned();
    let second = page(&format!("maxResults=2&nextToken={token}")).unwrap();
    assert_eq!(names(&second), ["c", "d"]);
    assert!(second.get("nextToken").is_none());
    for bad in [
        "maxResults=0",
        "maxResults=10001",
        "maxResults=x",
        "ruleDisabled=yes",
        "nextToken=%%",
        "nextToken=!!",
    ] {
        let e = page(bad).unwrap_err();
        assert_eq!(e.kind, RuleErrorKind::InvalidRequest, "{bad}");
    }
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%2Fb+c").as_deref(), Some("a/b c"));
    assert_eq!(
        percent_decode("%24aws%2Frules").as_deref(),
        Some("$aws/rules")
    );
    assert_eq!(percent_decode("%2"), None);
    assert_eq!(percent_decode("%ff"), None);
}

#[test]
fn tag_operations_and_their_arguments() {
    let op = |m: Method, p: &str| Operation::parse(&m, p);
    assert_eq!(op(Method::GET, "/tags"), Ok(Operation::ListTags));
    assert_eq!(op(Method::POST, "/tags"), Ok(Operation::Tag));
    assert_eq!(op(Method::POST, "/untag"), Ok(Operation::Untag));
    assert_eq!(
        op(Method::DELETE, "/tags").unwrap_err().0,
        StatusCode::METHOD_NOT_ALLOWED
    );

    assert_eq!(
        rule_of_arn("arn:aws:iot:us-east-1:000000000000:rule/r_1"),
        Ok("r_1")
    );
    let kind = |arn: &str| rule_of_arn(arn).unwrap_err().kind;
    assert_eq!(
        kind("arn:aws:iot:us-east-1:000000000000:thing/t"),
        RuleErrorKind::ResourceNotFound
    );
    assert_eq!(
        kind("arn:aws:kinesis:us-east-1:000000000000:rule/r"),
        RuleErrorKind::ResourceNotFound
    );
    assert_eq!(kind("rule/r"), RuleErrorKind::InvalidRequest);

    let tags = parse_tagging("team=weir&env=te%20st&flag").unwrap();
    assert_eq!(
        tags,
        [
            ("team".to_owned(), Some("weir".to_owned())),
            ("env".to_owned(), Some("te st".to_owned())),
            ("flag".to_owned(), None)
        ]
    );
    assert!(parse_tagging("").unwrap().is_empty());
    assert_eq!(
        parse_tagging("=v").unwrap_err().kind,
        RuleErrorKind::InvalidRequest
    );
    let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("k{i}=v")).collect();
    assert_eq!(
        parse_tagging(&many.join("&")).unwrap_err().kind,
        RuleErrorKind::LimitExceeded
    );

    let listed = tag_list(&json!([{"Key": "a", "Value": "1"}, {"Key": "b"}])).unwrap();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), Some("1".to_owned())),
            ("b".to_owned(), None)
        ]
    );
    for bad in [
        json!({}),
        json!([{"Value": "1"}]),
        json!([{"Key": "a", "Value": 1}]),
        json!([{"Key": "k", "Value": "v".repeat(257)}]),
    ] {
        assert_eq!(
            tag_list(&bad).unwrap_err().kind,
            RuleErrorKind::InvalidRequest,
            "{bad}"
        );
    }
}
