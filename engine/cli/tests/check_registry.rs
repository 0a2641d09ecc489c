//! `weir check --registry URL` against the engine's Schema Registry test server: per subject
//! `no schema registered yet`, `ok` or `incompatible` (exit 2), an unreachable registry exits 1;
//! and `weir try` on the registry-Avro definition (records encoded with the embedded table).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/support/registry_server.rs"]
mod registry_server;

use std::path::PathBuf;
use std::process::{Command, Output};

use registry_server::RegistryServer;

const PRODUCT: &str = include_str!("../../../topologies/schemas/product.avsc");
/// `price` removed and a field without default added: BACKWARD-incompatible with PRODUCT.
const INCOMPATIBLE: &str = r#"{"type":"record","name":"Product","namespace":"marketplace.shop",
  "fields":[{"name":"product_id","type":"string"},{"name":"stock","type":"int"}]}"#;

/// The marketplace crate (`topologies/`): its definitions, golden files and schemas.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../topologies")
}

fn check(url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("check")
        .arg(root().join("definitions/product-filter-avro.yaml"))
        .arg(root().join("definitions/product-filter.yaml"))
        .args(["--registry", url])
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn new_registered_and_incompatible_subjects() {
    let server = RegistryServer::start();
    let out = check(&server.url);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for subject in ["shop-products-value", "products-value"] {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!(" {subject} (")))
            .unwrap_or_else(|| panic!("{subject} missing: {stdout}"));
        assert!(
            line.ends_with("no schema registered yet (would be registered)"),
            "{line}"
        );
    }
    assert!(
        stdout.contains("product-filter.yaml: no registry Avro topics"),
        "{stdout}"
    );

    server.seed(1, "shop-products-value", PRODUCT);
    server.seed(2, "products-value", INCOMPATIBLE);
    let out = check(&server.url);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let line = |s: &str| {
        stdout
            .lines()
            .find(|l| l.contains(s))
            .unwrap_or("")
            .to_owned()
    };
    assert!(line("shop-products-value").ends_with(": ok"), "{stdout}");
    assert!(
        line(" products-value").contains("incompatible: "),
        "{stdout}"
    );
    assert!(stderr.contains("products-value"), "{stderr}");
}

#[test]
fn an_unreachable_registry_exits_1() {
    let out = check("http://127.0.0.1:1");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("products-value") && stderr.contains("unreachable"),
        "{stderr}"
    );
}

#[test]
fn try_encodes_json_records_for_registry_avro_topics() {
    let golden = root().join("golden/product-filter");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("try")
        .arg("-f")
        .arg(root().join("definitions/product-filter-avro.yaml"))
        .arg("--input")
        .arg(format!(
            "forbidden-products={}",
            golden.join("input/forbidden-products.jsonl").display()
        ))
        .arg("--input")
        .arg(format!(
            "shop-products={}",
            golden.join("input/shop-products.jsonl").display()
        ))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let products: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("products\t"))
        .collect();
    let expected = std::fs::read_to_string(golden.join("expected/products.jsonl")).unwrap();
    assert_eq!(products.len(), expected.lines().count(), "{stdout}");
    assert!(products[0].contains("\"product_id\":\"p"), "{stdout}");
}
