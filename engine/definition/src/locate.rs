//! Where a position inside an expression is in the definition file: a YAML scalar's text is not
//! the file's text (quotes, block indentation, folding), so CEL's line and column are mapped back
//! through the scalar's layout: exactly for single-line plain or quoted scalars and `|` blocks,
//! to the scalar's start (with the position inside the expression as a note) otherwise.

use super::error::Pos;
use super::yaml::Node;

pub(crate) fn clamp(n: isize) -> u32 {
    u32::try_from(n).unwrap_or(1).max(1)
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// How positions inside a scalar map to positions in the file.
pub(crate) struct PosMap {
    at: Pos,
    kind: Layout,
}

enum Layout {
    /// A plain scalar on one line: expression column c is file column `at.column + c - 1`.
    Plain,
    /// A quoted scalar on one line: one more for the quote.
    Quoted,
    /// A `|` block: lines are kept, each indented like the first (at `at`).
    Literal,
    /// Folded or multi-line: only the scalar's start is known.
    Other,
}

impl PosMap {
    pub(crate) fn new(node: &Node, source: &str, file: &str) -> Self {
        let offset = node.offset.unwrap_or(usize::MAX);
        let rest = file.get(offset..).unwrap_or("");
        // A block scalar's position is its first line of text; the indicator precedes it.
        let indicator = file
            .get(..offset)
            .and_then(|b| b.trim_end().rsplit([' ', '\n']).next())
            .and_then(|t| t.chars().next());
        let single = !source.contains('\n');
        let kind = match (indicator, rest.chars().next()) {
            (Some('|'), _) => Layout::Literal,
            (Some('>'), _) => Layout::Other,
            (_, Some('\'' | '"')) if single => Layout::Quoted,
            (_, Some(_)) if single => Layout::Plain,
            _ => Layout::Other,
        };
        PosMap { at: node.pos, kind }
    }

    /// The file position of expression position `(line, col)`, and a note when inexact.
    pub(crate) fn locate(&self, line: u32, col: u32) -> (Pos, String) {
        let at = self.at;
        match self.kind {
            Layout::Plain if line == 1 => (Pos::new(at.line, at.column + col - 1), String::new()),
            Layout::Quoted if line == 1 => (Pos::new(at.line, at.column + col), String::new()),
            Layout::Literal => (
                Pos::new(at.line + line - 1, at.column + col - 1),
                String::new(),
            ),
            _ => (
                at,
                format!(" (at line {line}, column {col} of the expression)"),
            ),
        }
    }
}
