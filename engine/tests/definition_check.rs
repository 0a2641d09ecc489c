//! What loading a definition file (`weir check`) catches before any record: unknown functions,
//! a wrong number of arguments, a predicate that is not a boolean, an expression that fails on
//! every record. Each error names file:line:col of the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::definitions::{err, loaded};

fn stream_with(step: &str) -> String {
    format!(
        "application: app\nstreams:\n  s:\n    from: in\n    steps:\n      - {step}\n      - to: out\n"
    )
}

#[test]
fn an_unknown_function_is_a_load_error_with_a_suggestion() {
    let e = err(&stream_with("map_values: lowr(value.name)"));
    assert!(
        e.starts_with("f.yaml:6:21: `map_values` step: unknown function `lowr`"),
        "{e}"
    );
    assert!(e.contains("did you mean `lower`"), "{e}");
    let e = err(&stream_with("map_values: value.name.lowerAsci()"));
    assert!(e.contains("unknown function `lowerAsci`"), "{e}");
}

#[test]
fn a_wrong_number_of_arguments_is_a_load_error() {
    let e = err(&stream_with("map_values: take(value.items)"));
    assert!(
        e.starts_with("f.yaml:6:21: `map_values` step: `take` takes 2 arguments, not 1"),
        "{e}"
    );
    let e = err(&stream_with("map_values: mask(value.text)"));
    assert!(e.contains("`mask` takes 2 arguments, not 1"), "{e}");
}

#[test]
fn a_predicate_that_is_not_a_boolean_is_a_load_error() {
    let e = err(&stream_with("filter: 42"));
    assert!(e.starts_with("f.yaml:6:17: "), "{e}");
    assert!(e.contains("expected a boolean"), "{e}");
}

#[test]
fn an_expression_that_fails_on_every_record_is_a_load_error() {
    let e = err(&stream_with("filter: '\"abc\" > 5'"));
    assert!(e.starts_with("f.yaml:6:17: "), "{e}");
    assert!(e.contains("fails on every record"), "{e}");
}

#[test]
fn valid_calls_still_load() {
    for step in [
        "map_values: take(value.items, 2)",
        "map_values: 'mask(value.text, [\"a\"])'",
        "map_values: value.name.lowerAscii()",
        "map_values: 'size(value.items) > 1 ? \"many\" : \"few\"'",
        "filter: 'value.name.startsWith(\"a\") && value.n in [1, 2]'",
        "map_values: math.greatest(1, 2)",
        "map_values: 'value.tags.exists(t, t == \"x\")'",
        "filter: 'true'",
        "map_values: 'value.items.map(i, i * 2).sort()'",
        "map_values: 'value.name.split(\" \").join(\"-\")'",
        "map_values: 'top(value.counts, 3)'",
        "map_values: 'value.m[?\"k\"].orValue(0)'",
    ] {
        loaded(&stream_with(step));
    }
}

#[test]
fn a_misspelt_streams_property_is_a_load_error() {
    let e = err(
        "application: app\nconfig:\n  processing.exeption.handler: dead_letter\nstreams:\n  s:\n    from: in\n    steps:\n      - to: out\n",
    );
    assert!(e.starts_with("f.yaml:3:"), "{e}");
    assert!(
        e.contains("did you mean `processing.exception.handler`?"),
        "{e}"
    );
}
