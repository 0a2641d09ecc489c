//! [`DefinitionError`]: what went wrong in a definition file and where (`file:line:col`), and
//! the "did you mean" suggestions every unknown-name error carries.
//!
//! Owns the error type and the edit-distance suggestion. Does not own the messages themselves:
//! each loader step words its own, saying what was expected.

use std::fmt;
use std::sync::Arc;

use weir_core::text::closest;

/// A position in a definition file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }
}

/// A definition file could not be loaded: its name, the line and column of the culprit and what
/// was expected there. Displays as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for DefinitionError {}

impl From<DefinitionError> for weir_core::StreamsError {
    fn from(e: DefinitionError) -> Self {
        weir_core::StreamsError::Definition(Box::new(e))
    }
}

/// Makes errors for one file.
#[derive(Debug, Clone)]
pub(crate) struct Errors {
    pub file: Arc<str>,
}

impl Errors {
    pub fn at(&self, pos: Pos, message: impl Into<String>) -> DefinitionError {
        DefinitionError {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    /// "unknown WHAT `word`; did you mean `x`?" (or the list of valid names when none is close).
    pub fn unknown<S: AsRef<str>>(
        &self,
        pos: Pos,
        what: &str,
        word: &str,
        valid: &[S],
    ) -> DefinitionError {
        self.at(pos, format!("unknown {what} `{word}`{}", hint(word, valid)))
    }
}

/// "; did you mean `x`?" for the closest valid name, else "; expected one of: a, b, c".
pub(crate) fn hint<S: AsRef<str>>(word: &str, valid: &[S]) -> String {
    match closest(word, valid) {
        Some(best) => format!("; did you mean `{best}`?"),
        None if valid.is_empty() => String::new(),
        None => {
            let list: Vec<&str> = valid.iter().map(AsRef::as_ref).collect();
            format!("; expected one of: {}", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::text::edit_distance;

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(edit_distance("filter", "filter"), 0);
        assert_eq!(edit_distance("filtr", "filter"), 1);
        assert_eq!(edit_distance("fitler", "filter"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_the_closest_or_lists_all() {
        let kinds = ["filter", "filter_not", "map", "map_values"];
        assert_eq!(hint("filtr", &kinds), "; did you mean `filter`?");
        assert_eq!(hint("map_value", &kinds), "; did you mean `map_values`?");
        assert_eq!(
            hint("zzz", &kinds),
            "; expected one of: filter, filter_not, map, map_values"
        );
    }

    #[test]
    fn displays_file_line_column() {
        let e = Errors {
            file: "a.yaml".into(),
        }
        .at(Pos::new(3, 7), "expected a string");
        assert_eq!(e.to_string(), "a.yaml:3:7: expected a string");
    }
}
