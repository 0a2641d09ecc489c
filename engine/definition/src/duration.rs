//! Durations in a definition file (window sizes, grace periods, join windows): whole numbers
//! with a unit, `ms`, `s`, `m`, `h` or `d` (`250ms`, `90s`, `1h`), or several of them added up
//! (`1h30m`); `0` needs no unit. Anything else (`1 hour`, `-5m`, `1.5h`, `90`) is an error at
//! the value, saying what to write instead.

use std::time::Duration;

use super::error::{DefinitionError, Errors};
use super::yaml::{Kind, Node};

const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

const HOW: &str = "write a whole number and a unit: ms, s, m, h or d (`250ms`, `90s`, `1h30m`)";

/// The duration at `node`, for the option `what` (e.g. "`grace`").
pub(crate) fn duration(
    node: &Node,
    errs: &Errors,
    what: &str,
) -> Result<Duration, DefinitionError> {
    let bad = |m: String| errs.at(node.pos, m);
    let text = match &node.kind {
        Kind::Str(s) => s.as_str(),
        Kind::Int(0) => return Ok(Duration::ZERO),
        Kind::Int(n) if *n < 0 => {
            return Err(bad(format!("{what} must not be negative, got {n}")));
        }
        Kind::Int(n) => {
            return Err(bad(format!(
                "{what}: `{n}` has no unit; write `{n}ms`, `{n}s`, `{n}m`, `{n}h` or `{n}d`"
            )));
        }
        _ => {
            return Err(bad(format!(
                "expected {what} (a duration such as `90s`), found {}",
                node.describe()
            )));
        }
    };
    parse(text)
        .map(Duration::from_millis)
        .map_err(|why| bad(format!("invalid duration `{text}` for {what}: {why}")))
}

/// The milliseconds `text` stands for, or why it is not a duration.
fn parse(text: &str) -> Result<u64, String> {
    if text.trim_start().starts_with('-') {
        return Err("a duration must not be negative".into());
    }
    if text.is_empty() {
        return Err(HOW.into());
    }
    if text.contains(char::is_whitespace) {
        return Err(format!("a duration has no spaces; {HOW}"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(HOW.into());
        }
        let (number, after) = rest.split_at(digits);
        let letters = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(letters);
        let Some((_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("`{number}` has no unit; {HOW}")
            } else {
                format!("unknown unit `{unit}`; {HOW}")
            });
        };
        let n: u64 = number
            .parse()
            .map_err(|_| "the number is too large".to_owned())?;
        total = n
            .checked_mul(*scale)
            .and_then(|ms| total.checked_add(ms))
            .filter(|ms| i64::try_from(*ms).is_ok())
            .ok_or_else(|| "the duration is too long".to_owned())?;
        rest = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_with_units_add_up() {
        assert_eq!(parse("250ms"), Ok(250));
        assert_eq!(parse("90s"), Ok(90_000));
        assert_eq!(parse("5m"), Ok(300_000));
        assert_eq!(parse("1h"), Ok(3_600_000));
        assert_eq!(parse("2d"), Ok(172_800_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000));
        assert_eq!(parse("0s"), Ok(0));
    }

    #[test]
    fn anything_else_says_how_to_write_it() {
        for bad in ["1 hour", "abc", "1.5h", "h", "", "1h 30m", "10x", "1hour"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("ms, s, m, h or d"), "{bad}: {e}");
        }
        assert_eq!(parse("-5m").unwrap_err(), "a duration must not be negative");
        assert!(parse("90").unwrap_err().starts_with("`90` has no unit"));
        assert!(parse("99999999999999999999d").is_err());
        assert!(parse("999999999999d").unwrap_err().contains("too long"));
    }
}
