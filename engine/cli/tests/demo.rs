//! `weir demo` smoke run: the embedded broker, the three topologies and the generators for a few
//! seconds; the totals must show forbidden products dropped, recommendations answered and
//! blocked messages dropped, and every consumed record accounted for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// The numbers of a summary line, in order.
fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"))
}

#[test]
fn demo_runs_the_marketplace_on_the_embedded_broker() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["demo", "--duration", "10", "--rate", "100", "--quiet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    eprintln!("{stdout}");
    // product-filter: N in, out, forbidden dropped, dead letters
    let pf = numbers(line(&stdout, "product-filter:"));
    let (input, output, forbidden, dead) = (pf[0], pf[1], pf[2], pf[3]);
    assert!(input > 300, "{stdout}");
    assert!(forbidden > 0 && dead > 0, "{stdout}");
    assert_eq!(input, output + forbidden + dead, "{stdout}");
    // user-recommendations: searches, requests, answered
    let ur = numbers(line(&stdout, "user-recommendations:"));
    assert!(ur[0] > 0 && ur[2] > 0, "{stdout}");
    assert_eq!(ur[1], ur[2], "every request answered: {stdout}");
    // message-filter: in, out, blocked
    let mf = numbers(line(&stdout, "message-filter:"));
    assert!(mf[0] > 0 && mf[2] > 0, "{stdout}");
    assert_eq!(mf[0], mf[1] + mf[2], "{stdout}");
}

#[test]
fn demo_rejects_bad_flags_with_exit_code_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["demo", "--rate", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"));
}
