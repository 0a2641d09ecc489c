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

/// A file reading `product.avsc` records (a union field, a nested record, an array) with one
/// step, loaded from a directory of its own.
fn avro_stream_with(step: &str) -> Result<weir_engine::definition::Loaded, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("product.avsc"),
        r#"{"type":"record","name":"Product","fields":[
            {"name":"product_id","type":"string"},{"name":"price","type":"double"},
            {"name":"stock","type":"int"},{"name":"tags","type":{"type":"array","items":"string"}},
            {"name":"shop","type":["null","string","long"],"default":null},
            {"name":"seller","type":{"type":"record","name":"Seller","fields":[
                {"name":"id","type":"string"}]}}]}"#,
    )
    .unwrap();
    let path = dir.path().join("f.yaml");
    std::fs::write(
        &path,
        format!(
            "application: app\nstreams:\n  s:\n    from: in\n    value: {{avro: product.avsc}}\n\
             \x20   steps:\n      - {step}\n      - to: out\n"
        ),
    )
    .unwrap();
    weir_engine::definition::load(&path).map_err(|e| e.to_string())
}

#[test]
fn expressions_on_avro_records_are_type_checked_against_the_schema() {
    // A field the schema does not have, at the expression.
    let e = avro_stream_with("filter: value.prise > 5.0").err().unwrap();
    assert!(e.contains("f.yaml:7:17: "), "{e}");
    assert!(e.contains("fails on every record of this stream"), "{e}");
    assert!(e.contains("product.avsc"), "{e}");
    assert!(e.contains("No such key: prise"), "{e}");
    // Types no record can satisfy: a double against a string, a string plus an int, a method
    // of strings on an int, a nested field that does not exist.
    for step in [
        r#"filter: 'value.price > "5"'"#,
        "map_values: value.product_id + 1",
        "filter: value.stock.startsWith('a')",
        "filter: value.seller.name == 'x'",
        "select_key: value.tags[0] + 1",
    ] {
        let e = avro_stream_with(step).err();
        assert!(
            e.as_ref()
                .is_some_and(|e| e.contains("fails on every record")),
            "{step}: {e:?}"
        );
    }
}

#[test]
fn avro_type_checks_leave_what_depends_on_values_to_run_time() {
    for step in [
        // Right types.
        "filter: value.price > 5.0 && value.product_id.startsWith('p')",
        "map_values: '{\"id\": value.product_id, \"n\": size(value.tags)}'",
        // A union field: fine for its string branch (a long or null record fails at run time).
        "filter: value.shop.startsWith('s')",
        // Value-dependent errors: a division by a zero stock, an index past the end.
        "filter: value.price / double(value.stock) > 1.0",
        "filter: value.tags[3] == 'x'",
        // After a step that computes the value, its shape is not known any more.
        "map_values: '{\"x\": 1}'\n      - filter: value.y > 1",
    ] {
        if let Err(e) = avro_stream_with(step) {
            panic!("{step}: {e}");
        }
    }
}

#[test]
fn a_file_runs_as_the_application_id_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.yaml");
    std::fs::write(&path, stream_with("filter: value.n > 0")).unwrap();
    let as_file = weir_engine::definition::load(&path).unwrap();
    assert_eq!(as_file.topology.application_id(), "app");
    let renamed = weir_engine::definition::load_as(&path, "bench-7").unwrap();
    assert_eq!(renamed.application, "bench-7");
    assert_eq!(renamed.topology.application_id(), "bench-7");
}

#[test]
fn a_value_only_step_on_json_values_is_not_type_checked_against_the_key() {
    // flat_map_values sees only `value` (JSON: no known shape); the string key's samples must
    // not stand in for it.
    loaded(
        "application: app\nstreams:\n  s:\n    from: in\n    key: string\n    steps:\n      \
         - flat_map_values: 'value.tags.map(t, {\"id\": value.id, \"tag\": t})'\n      \
         - to: out\n",
    );
}
