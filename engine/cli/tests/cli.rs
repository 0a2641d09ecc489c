//! The `weir` binary: `check` on every shipped definition exits 0, a broken file gets
//! FILE:LINE:COL and exit code 2, and `try` reproduces the golden outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use weir_topologies::golden::read_jsonl;

fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

/// The marketplace crate (`topologies/`): its definitions, golden files and schemas.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../topologies")
}

#[test]
fn check_accepts_every_shipped_definition() {
    let files: Vec<PathBuf> = std::fs::read_dir(root().join("definitions"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    let out = weir().arg("check").args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_reports_file_line_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "application: x\nstreams:\n  s:\n    from: a\n    steps:\n      - filtr: value.x\n",
    )
    .unwrap();
    let out = weir().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:6:9:", bad.display())), "{err}");
    assert!(err.contains("did you mean `filter`"), "{err}");
}

#[test]
fn check_locates_typos_of_required_keys_and_bytes_that_are_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, "application: x\nstream:\n  s:\n    from: a\n").unwrap();
    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"application: x\n# caf\xe9\nstreams: {}\n").unwrap();
    let out = weir()
        .arg("check")
        .arg(&typo)
        .arg(&latin1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:2:1: unknown key `stream` in the definition; did you mean `streams`?",
            typo.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:2:6: the file is not valid UTF-8",
            latin1.display()
        )),
        "{err}"
    );
}

fn try_reproduces(case: &str, definition: &str, inputs: &[&str]) {
    let dir = root().join("golden").join(case);
    let out_dir = tempfile::tempdir().unwrap();
    let mut cmd = weir();
    cmd.arg("try")
        .arg("-f")
        .arg(root().join("definitions").join(definition));
    for topic in inputs {
        cmd.arg("--input").arg(format!(
            "{topic}={}",
            dir.join("input").join(format!("{topic}.jsonl")).display()
        ));
    }
    let out = cmd
        .arg("--output-dir")
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_dir = dir.join("expected");
    for e in std::fs::read_dir(&expected_dir).unwrap().flatten() {
        let name = e.file_name();
        let actual = read_jsonl(&out_dir.path().join(&name)).unwrap();
        let expected = read_jsonl(&e.path()).unwrap();
        assert_eq!(
            actual,
            expected,
            "{}: weir try differs from the golden output",
            Path::new(&name).display()
        );
    }
}

#[test]
fn try_reproduces_the_product_filter_golden_outputs() {
    try_reproduces(
        "product-filter",
        "product-filter.yaml",
        &["forbidden-products", "shop-products"],
    );
}

#[test]
fn try_reproduces_the_user_interests_golden_outputs() {
    try_reproduces(
        "user-interests",
        "user-interests.yaml",
        &["client-searches"],
    );
}

#[test]
fn try_reproduces_the_user_recommendations_golden_outputs() {
    try_reproduces(
        "user-recommendations",
        "user-recommendations.yaml",
        &[
            "forbidden-products",
            "client-searches",
            "client-recommendation-requests",
        ],
    );
}

#[test]
fn try_reproduces_the_message_filter_golden_outputs() {
    try_reproduces(
        "message-filter",
        "message-filter.yaml",
        &["blocked-users", "forbidden-words", "messages"],
    );
}

#[test]
fn try_sends_an_unreadable_product_to_the_dead_letter_topic_with_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("shop.jsonl");
    // A product whose value is a JSON string, not an object: the `validate` expression cannot
    // read `value.product_id`, so the record is a processing error → the dead-letter topic.
    std::fs::write(
        &input,
        "{\"key\":\"p9\",\"value\":\"not a product\",\"timestamp\":1}\n",
    )
    .unwrap();
    let out = weir()
        .arg("try")
        .arg("-f")
        .arg(root().join("definitions/product-filter.yaml"))
        .arg("--input")
        .arg(format!("shop-products={}", input.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("shop-products-dlq\t"))
        .unwrap_or_else(|| panic!("no dead letter in {stdout}"));
    let record: serde_json::Value = serde_json::from_str(line.split_once('\t').unwrap().1).unwrap();
    assert_eq!(record["value"], "not a product");
    let error = record["headers"]["weir.error"].as_str().unwrap();
    assert!(error.contains("valid-products"), "{error}");
    assert!(!stdout.contains("\nproducts\t"), "{stdout}");
}

#[test]
fn describe_of_a_built_in_topology_matches_its_golden_text() {
    let out = weir()
        .args(["describe", "--topology", "product-filter"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected =
        std::fs::read_to_string(root().join("golden/product-filter/describe.txt")).unwrap();
    // The built-in uses its name as application id; describe() does not print it.
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn describe_formats_dot_and_mermaid_and_rejects_others_with_exit_2() {
    let run = |format: &str| {
        weir()
            .args([
                "describe",
                "--topology",
                "product-filter",
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let dot = run("dot");
    assert!(dot.status.success());
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.starts_with("digraph \"product-filter\" {"), "{dot}");
    assert!(dot.contains("[label=\"lookup-forbidden\""), "{dot}");
    let mermaid = run("mermaid");
    assert!(mermaid.status.success());
    let mermaid = String::from_utf8_lossy(&mermaid.stdout);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains(">\"shop-products\"]"), "{mermaid}");
    let text = run("text");
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("Topologies:"));
    let bad = run("svg");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"));
}

#[test]
fn a_topology_reading_its_own_output_is_a_warning_in_check_and_a_bounded_error_in_try() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loop.yaml");
    std::fs::write(
        &file,
        "application: loop\nstreams:\n  s:\n    from: x\n    steps:\n      - to: x\n",
    )
    .unwrap();
    let out = weir().arg("check").arg(&file).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: topic `x` is written and read"),
        "{err}"
    );

    let input = dir.path().join("x.jsonl");
    std::fs::write(
        &input,
        "{\"key\":\"k\",\"value\":{\"n\":1},\"timestamp\":1}\n",
    )
    .unwrap();
    let out = weir()
        .args(["try", "-f"])
        .arg(&file)
        .arg("--input")
        .arg(format!("x={}", input.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopped after 100 generations"), "{err}");
}

#[test]
fn try_takes_records_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rekey.yaml");
    std::fs::write(
        &file,
        "application: rekey\nstreams:\n  s:\n    from: in\n    steps:\n      - to: same\n      - select_key: value.user\n      - to: by-user\n",
    )
    .unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"value\":{\"user\":\"Игорь\"},\"timestamp\":1}\n{\"key\":null,\"value\":{\"user\":\"Виктор\"},\"timestamp\":2}\n",
    )
    .unwrap();
    let out = weir()
        .args(["try", "-f"])
        .arg(&file)
        .arg("--input")
        .arg(format!("in={}", input.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(
            &"by-user\t{\"key\":\"Игорь\",\"value\":{\"user\":\"Игорь\"},\"timestamp\":1}"
        ),
        "{stdout}"
    );
    assert!(
        lines.contains(&"same\t{\"key\":null,\"value\":{\"user\":\"Виктор\"},\"timestamp\":2}"),
        "{stdout}"
    );
}

/// Runs `weir try` on `definition` (text) with `in=` lines `input`; (exit code, stdout, stderr).
fn try_text(definition: &str, input: &[u8]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, definition).unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, input).unwrap();
    let out = weir()
        .args(["try", "-f"])
        .arg(&file)
        .arg("--input")
        .arg(format!("in={}", path.display()))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PASS: &str = "application: t\nstreams:\n  s:\n    from: in\n    steps:\n      - validate: value.n > 0\n      - to: out\n";

#[test]
fn try_input_errors_name_the_file_and_line() {
    let (code, _, err) = try_text(
        PASS,
        b"{\"key\":\"a\",\"value\":{\"n\":1},\"timestamp\":-1}\n",
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("in.jsonl:1: topic `in`: timestamp -1 is negative"),
        "{err}"
    );

    let (code, _, err) = try_text(
        PASS,
        b"{\"key\":\"a\",\"value\":{\"n\":1},\"timestamp\":1}\n{\"key\":{\"id\":1},\"value\":{\"n\":1},\"timestamp\":2}\n",
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("in.jsonl:2: topic `in`: expected a JSON string"),
        "{err}"
    );

    let (code, _, err) = try_text(
        PASS,
        b"{\"key\":\"a\",\"value\":{\"n\":1}}\n{\"key\":\"\xff\"}\n",
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("in.jsonl:2: not UTF-8"), "{err}");
}

#[test]
fn try_stamps_records_without_a_timestamp_with_the_current_time() {
    let (code, out, err) = try_text(PASS, b"{\"key\":\"a\",\"value\":{\"n\":1}}\n");
    assert_eq!(code, Some(0), "{err}");
    let line = out.lines().next().unwrap().split_once('\t').unwrap().1;
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    let ts = record["timestamp"].as_i64().unwrap();
    assert!(ts > 1_700_000_000_000, "{ts}");
}

#[test]
fn try_with_the_fail_handler_shows_what_was_written_before_the_failure() {
    let (code, out, err) = try_text(
        PASS,
        b"{\"key\":\"a\",\"value\":{\"n\":1},\"timestamp\":1}\n{\"key\":\"b\",\"value\":{\"n\":0},\"timestamp\":2}\n{\"key\":\"c\",\"value\":{\"n\":3},\"timestamp\":3}\n",
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        out, "out\t{\"key\":\"a\",\"value\":{\"n\":1},\"timestamp\":1}\n",
        "{err}"
    );
    assert!(err.contains("validation failed"), "{err}");
}

#[test]
fn try_keeps_the_text_of_values_that_pass_through_unchanged() {
    // Field order, a number past u64, a number's own spelling: kept through `validate` and
    // `to` (nothing changed the value); a value `map_values` computed is written anew.
    let (code, out, err) = try_text(
        PASS,
        "{\"key\":\"a\",\"value\":{\"z\":\"Привет\",\"n\":18446744073709551616,\"a\":1.50,\"m\":{\"y\":1,\"b\":[2.0,1e3]}},\"timestamp\":1}\n"
            .as_bytes(),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "out\t{\"key\":\"a\",\"value\":{\"z\":\"Привет\",\"n\":18446744073709551616,\"a\":1.50,\"m\":{\"y\":1,\"b\":[2.0,1e3]}},\"timestamp\":1}\n"
    );
    let changed = PASS.replace(
        "validate: value.n > 0",
        "map_values: '{\"n\": value.n, \"z\": 1}'",
    );
    let (code, out, err) = try_text(
        &changed,
        b"{\"key\":\"a\",\"value\":{\"z\":0,\"n\":2},\"timestamp\":1}\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "out\t{\"key\":\"a\",\"value\":{\"n\":2,\"z\":1},\"timestamp\":1}\n"
    );
}
