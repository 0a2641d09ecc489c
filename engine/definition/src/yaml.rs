//! The YAML of a definition file as a tree of [`Node`]s that remember where they were written,
//! read through serde-saphyr (`Spanned`), plus the accessors the schema reader uses to say what
//! it expected where ([`Fields`] reports unknown keys with the closest valid one).
//!
//! Owns: YAML syntax errors (with the parser's line and column), the position of every key and
//! value. Does not own: what the keys mean (see `schema`). Anchors, aliases and merge keys are
//! resolved by the parser; a duplicate key is an error.
//!
//! YAML 1.1 booleans: the parser reads a plain `y`, `yes`, `n`, `no`, `on`, `off` (any case) as a
//! boolean. A mapping key is always read as written (`no:` names `no`); a value keeps its
//! spelling, so where a string is expected the error says to quote it.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::error::{DefinitionError, Errors, Pos, hint};

/// A YAML value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    /// Byte offset of the value's first character in the file, when the parser knows it.
    pub offset: Option<usize>,
    pub kind: Kind,
    /// How a boolean was written when only YAML 1.1 makes it one (`no`, `Yes`, `on`...).
    pub yaml11: Option<Box<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key (always a scalar, read as text) and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub pos: Pos,
}

/// Parses `text` into a tree; syntax errors carry the parser's position.
pub(crate) fn parse(text: &str, errs: &Errors) -> Result<Node, DefinitionError> {
    let raw: Spanned<Raw> = serde_saphyr::from_str(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos::new(clamp(l.line()), clamp(l.column())))
            .unwrap_or(Pos::new(1, 1));
        errs.at(pos, bare_message(&e.without_snippet().to_string()))
    })?;
    convert(raw, text, errs)
}

/// The plain scalar written at byte `offset` of `text` if it is a boolean of YAML 1.1 only
/// (`y`, `yes`, `n`, `no`, `on`, `off` in any case; not `true`, `false`).
fn yaml11_bool(text: &str, offset: Option<usize>) -> Option<Box<str>> {
    let rest = text.get(offset?..)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#' | ':'))
        .unwrap_or(rest.len());
    let word = &rest[..end];
    const WORDS: [&str; 6] = ["y", "yes", "n", "no", "on", "off"];
    WORDS
        .iter()
        .any(|w| w.eq_ignore_ascii_case(word))
        .then(|| word.into())
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// The parser's message without its "error: line N column M: " prefix (we print our own).
fn bare_message(full: &str) -> String {
    let first = full.lines().next().unwrap_or(full);
    let rest = first.strip_prefix("error: ").unwrap_or(first);
    let rest = match rest.strip_prefix("line ") {
        Some(after) => after
            .split_once(": ")
            .filter(|(loc, _)| loc.contains(" column "))
            .map(|(_, msg)| msg)
            .unwrap_or(rest),
        None => rest,
    };
    // Some messages end with the position again.
    let rest = match rest.rfind(" at line ") {
        Some(i) if rest[i..].contains(", column ") => &rest[..i],
        _ => rest,
    };
    format!("invalid YAML: {rest}")
}

fn pos_of(l: &Location) -> (Pos, Option<usize>) {
    let offset = l.span().byte_offset().and_then(|o| usize::try_from(o).ok());
    (Pos::new(clamp(l.line()), clamp(l.column())), offset)
}

fn convert(raw: Spanned<Raw>, text: &str, errs: &Errors) -> Result<Node, DefinitionError> {
    let (pos, offset) = pos_of(&raw.referenced);
    let yaml11 = match raw.value {
        Raw::Bool(_) => yaml11_bool(text, offset),
        _ => None,
    };
    let kind = match raw.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(
            items
                .into_iter()
                .map(|i| convert(i, text, errs))
                .collect::<Result<_, _>>()?,
        ),
        Raw::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let (kpos, koffset) = pos_of(&k.referenced);
                let name = match k.value {
                    Raw::Str(s) => s,
                    // A key is a name: `no:` names `no`, whatever YAML 1.1 says.
                    Raw::Bool(b) => {
                        yaml11_bool(text, koffset).map_or_else(|| b.to_string(), String::from)
                    }
                    Raw::Int(i) => i.to_string(),
                    Raw::Float(f) => f.to_string(),
                    Raw::Null => "null".to_owned(),
                    Raw::Seq(_) | Raw::Map(_) => {
                        return Err(errs.at(kpos, "expected a plain name as mapping key"));
                    }
                };
                out.push((Key { name, pos: kpos }, convert(v, text, errs)?));
            }
            Kind::Map(out)
        }
    };
    Ok(Node {
        pos,
        offset,
        kind,
        yaml11,
    })
}

/// What serde-saphyr hands us: values with spans, before positions are simplified.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Raw, E> {
        Ok(i64::try_from(u).map_or(Raw::Float(u as f64), Raw::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Raw, E> {
        Ok(Raw::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = a.next_key()? {
            entries.push((k, a.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Raw, E> {
        Err(E::custom("binary values are not supported"))
    }
}

impl Node {
    /// What the value is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing (null)",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    fn expected(&self, errs: &Errors, what: &str) -> DefinitionError {
        let found = self.describe();
        match &self.yaml11 {
            Some(word) => errs.at(
                self.pos,
                format!(
                    "expected {what}, found {found}: `{word}` is read as a boolean in YAML 1.1; \
                     quote it: \"{word}\""
                ),
            ),
            None => errs.at(self.pos, format!("expected {what}, found {found}")),
        }
    }

    /// A non-empty string (names of topics, stores, nodes...).
    pub fn name(&self, errs: &Errors, what: &str) -> Result<String, DefinitionError> {
        match &self.kind {
            Kind::Str(s) if !s.trim().is_empty() => Ok(s.clone()),
            Kind::Str(_) => Err(errs.at(self.pos, format!("{what} must not be empty"))),
            _ => Err(self.expected(errs, &format!("{what} (a string)"))),
        }
    }

    pub fn boolean(&self, errs: &Errors, what: &str) -> Result<bool, DefinitionError> {
        match self.kind {
            Kind::Bool(b) => Ok(b),
            _ => Err(self.expected(errs, &format!("{what}: true or false"))),
        }
    }

    /// A scalar as the text of an expression (`true`, `1.5` and strings alike).
    pub fn text(&self, errs: &Errors, what: &str) -> Result<String, DefinitionError> {
        match &self.kind {
            Kind::Str(s) if !s.trim().is_empty() => Ok(s.clone()),
            Kind::Bool(b) => Ok(b.to_string()),
            Kind::Int(i) => Ok(i.to_string()),
            Kind::Float(f) => Ok(format!("{f:?}")),
            Kind::Str(_) => Err(errs.at(self.pos, format!("{what} must not be empty"))),
            _ => Err(self.expected(errs, &format!("{what} (an expression)"))),
        }
    }

    pub fn entries(&self, errs: &Errors, what: &str) -> Result<&[(Key, Node)], DefinitionError> {
        match &self.kind {
            Kind::Map(entries) => Ok(entries),
            _ => Err(self.expected(errs, &format!("{what} (a mapping)"))),
        }
    }

    pub fn items(&self, errs: &Errors, what: &str) -> Result<&[Node], DefinitionError> {
        match &self.kind {
            Kind::Seq(items) => Ok(items),
            _ => Err(self.expected(errs, &format!("{what} (a list)"))),
        }
    }

    /// The value as JSON (for literal values such as an aggregation's initial value).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The keys of one mapping, taken one by one; `finish` rejects the ones nobody took.
pub(crate) struct Fields<'a> {
    errs: &'a Errors,
    what: String,
    pub pos: Pos,
    entries: Vec<(&'a Key, &'a Node, bool)>,
}

impl<'a> Fields<'a> {
    pub fn of(node: &'a Node, errs: &'a Errors, what: &str) -> Result<Self, DefinitionError> {
        let entries = node.entries(errs, what)?;
        Ok(Fields {
            errs,
            what: what.to_owned(),
            pos: node.pos,
            entries: entries.iter().map(|(k, v)| (k, v, false)).collect(),
        })
    }

    /// The value of `key`, if present.
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        let e = self.entries.iter_mut().find(|(k, _, _)| k.name == key)?;
        e.2 = true;
        Some(e.1)
    }

    /// The value of `key`, which must be present (when a key not taken yet looks like a typo
    /// of it, the error is that key's, with the suggestion).
    pub fn required(&mut self, key: &str) -> Result<&'a Node, DefinitionError> {
        match self.take(key) {
            Some(n) => Ok(n),
            None => Err(self.misspelt(&[key]).unwrap_or_else(|| {
                self.errs
                    .at(self.pos, format!("{} needs `{key}`", self.what))
            })),
        }
    }

    /// "unknown key `stream`...; did you mean `streams`?" for the first key not taken yet that
    /// is a likely typo of one of `wanted` (keys that are missing).
    pub fn misspelt(&self, wanted: &[&str]) -> Option<DefinitionError> {
        let (k, _, _) = self
            .entries
            .iter()
            .find(|(k, _, used)| !used && weir_core::text::closest(&k.name, wanted).is_some())?;
        Some(self.errs.at(
            k.pos,
            format!(
                "unknown key `{}` in {}{}",
                k.name,
                self.what,
                hint(&k.name, wanted)
            ),
        ))
    }

    /// Every key: for mappings whose keys are names the user chose.
    pub fn all(&mut self) -> Vec<(&'a Key, &'a Node)> {
        self.entries
            .iter_mut()
            .map(|e| {
                e.2 = true;
                (e.0, e.1)
            })
            .collect()
    }

    /// Fails on the first key not taken, suggesting the closest of `valid`.
    pub fn finish(self, valid: &[&str]) -> Result<(), DefinitionError> {
        match self.entries.iter().find(|(_, _, used)| !used) {
            Some((k, _, _)) => Err(self.errs.at(
                k.pos,
                format!(
                    "unknown key `{}` in {}{}",
                    k.name,
                    self.what,
                    hint(&k.name, valid)
                ),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs() -> Errors {
        Errors {
            file: "t.yaml".into(),
        }
    }

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let n = parse("a:\n  b: [1, x]\n  c: 'q'\n", &errs()).unwrap();
        let Kind::Map(top) = &n.kind else { panic!() };
        let Kind::Map(inner) = &top[0].1.kind else {
            panic!()
        };
        assert_eq!(inner[0].0.pos, Pos::new(2, 3));
        assert_eq!(inner[1].1.pos, Pos::new(3, 6));
        assert_eq!(inner[1].1.kind, Kind::Str("q".into()));
        let Kind::Seq(items) = &inner[0].1.kind else {
            panic!()
        };
        assert_eq!(items[1].pos, Pos::new(2, 10));
    }

    #[test]
    fn syntax_errors_point_at_the_parser_position() {
        let e = parse("a: [1, 2\nb: 3\n", &errs()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 2), "{e}");
        assert!(e.message.starts_with("invalid YAML: "), "{e}");
        let e = parse("a: 1\na: 2\n", &errs()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 1), "{e}");
        assert!(e.message.contains("duplicate"), "{e}");
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let e = errs();
        let n = parse("topic: t\nglobl: true\n", &e).unwrap();
        let mut f = Fields::of(&n, &e, "table `x`").unwrap();
        f.required("topic").unwrap();
        let e = f.finish(&["topic", "global", "store"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yaml:2:1: unknown key `globl` in table `x`; did you mean `global`?"
        );
    }
}
