//! Reading windows: the `window:` and `emit:` options of a grouping (tumbling, hopping, sliding
//! or session windows, with `grace`) and the `window:` of a stream–stream `join` (`difference`,
//! `before`, `after`, `grace`), into the DSL's window types. Every duration is read by
//! `duration`; unknown keys are errors with the closest valid one, as everywhere.
//!
//! Does not own: what windows do (the DSL's windowed operators) or where they may appear (the
//! step reader and the builder).

use std::time::Duration;

use super::duration::duration;
use super::error::{DefinitionError, Errors, Pos};
use super::yaml::{Fields, Kind, Node};
use weir_core::window::WindowedFormat;
use weir_runtime::dsl::{EmitStrategy, JoinWindows, SessionWindows, SlidingWindows, TimeWindows};

/// The windows of a grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Windows {
    /// Tumbling (advance = size) or hopping windows.
    Time(TimeWindows),
    Sliding(SlidingWindows),
    Session(SessionWindows),
}

impl Windows {
    /// How keys of these windows are written (Kafka Streams' windowed key layouts).
    pub(crate) fn format(&self) -> WindowedFormat {
        match self {
            Windows::Time(w) => WindowedFormat::Time { size_ms: w.size_ms },
            Windows::Sliding(w) => WindowedFormat::Sliding {
                difference_ms: w.difference_ms,
            },
            Windows::Session(_) => WindowedFormat::Session,
        }
    }
}

/// `window:` and `emit:` of a grouping step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windowing {
    pub windows: Windows,
    pub emit: EmitStrategy,
    /// Where `window:` is.
    pub pos: Pos,
}

const KINDS: [&str; 4] = ["tumbling", "hopping", "sliding", "session"];
const WINDOW_KEYS: [&str; 5] = ["tumbling", "hopping", "sliding", "session", "grace"];
const WHAT: &str = "`window` (tumbling, hopping, sliding or session, and grace)";

/// A duration that must be more than zero.
fn positive(node: &Node, errs: &Errors, what: &str) -> Result<Duration, DefinitionError> {
    let d = duration(node, errs, what)?;
    if d.is_zero() {
        return Err(errs.at(node.pos, format!("{what} must be more than zero")));
    }
    Ok(d)
}

/// A window kind's one duration, written as the value (`sliding: 1h`) or under its own name
/// (`sliding: {difference: 1h}`).
fn one(errs: &Errors, node: &Node, kind: &str, key: &str) -> Result<Duration, DefinitionError> {
    if !matches!(node.kind, Kind::Map(_)) {
        return positive(node, errs, &format!("`{kind}` (its {key})"));
    }
    let mut f = Fields::of(node, errs, &format!("`{kind}` window"))?;
    let d = positive(f.required(key)?, errs, &format!("`{key}`"))?;
    f.finish(&[key])?;
    Ok(d)
}

/// The `window:` of a grouping, e.g. `{tumbling: 1h, grace: 5m}`.
pub(crate) fn grouping_window(errs: &Errors, node: &Node) -> Result<Windows, DefinitionError> {
    let mut f = Fields::of(node, errs, WHAT)?;
    let grace = f
        .take("grace")
        .map(|n| duration(n, errs, "`grace`"))
        .transpose()?
        .unwrap_or(Duration::ZERO);
    let given: Vec<(&str, &Node)> = KINDS
        .iter()
        .filter_map(|k| f.take(k).map(|n| (*k, n)))
        .collect();
    f.finish(&WINDOW_KEYS)?;
    let (kind, arg) = match given.as_slice() {
        [] => {
            return Err(errs.at(
                node.pos,
                "`window` needs its kind: `tumbling: SIZE`, `hopping: {size: SIZE, advance: STEP}`, \
                 `sliding: DIFFERENCE` or `session: GAP`",
            ));
        }
        [one] => *one,
        [(first, _), (second, n), ..] => {
            return Err(errs.at(
                n.pos,
                format!("a window is of one kind: `{first}` or `{second}`, not both"),
            ));
        }
    };
    Ok(match kind {
        "tumbling" => Windows::Time(TimeWindows::of_size_and_grace(
            positive(arg, errs, "`tumbling` (the window size)")?,
            grace,
        )),
        "hopping" => {
            let mut h = Fields::of(arg, errs, "`hopping` (`size` and `advance`)")?;
            let (size_node, advance_node) = (h.required("size")?, h.required("advance")?);
            h.finish(&["size", "advance"])?;
            let size = positive(size_node, errs, "`size`")?;
            let advance = positive(advance_node, errs, "`advance`")?;
            if advance > size {
                return Err(errs.at(
                    advance_node.pos,
                    "`advance` must not be more than `size` (windows would leave gaps)",
                ));
            }
            Windows::Time(TimeWindows::of_size_and_grace(size, grace).advance_by(advance))
        }
        "sliding" => Windows::Sliding(SlidingWindows::of_time_difference_and_grace(
            one(errs, arg, "sliding", "difference")?,
            grace,
        )),
        _ => Windows::Session(SessionWindows::of_inactivity_gap_and_grace(
            one(errs, arg, "session", "gap")?,
            grace,
        )),
    })
}

/// `emit: on_window_update | on_window_close`.
pub(crate) fn emit(errs: &Errors, node: &Node) -> Result<EmitStrategy, DefinitionError> {
    const EMITS: [&str; 2] = ["on_window_update", "on_window_close"];
    match node.name(errs, "`emit`")?.as_str() {
        "on_window_update" => Ok(EmitStrategy::OnWindowUpdate),
        "on_window_close" => Ok(EmitStrategy::OnWindowClose),
        other => Err(errs.unknown(node.pos, "`emit`", other, &EMITS)),
    }
}

/// The `window:` of a stream–stream join: `{difference: 10s, grace: 1s}`, optionally with
/// `before` and `after` (how much earlier and later the other stream's records may be); both of
/// those instead of `difference`.
pub(crate) fn join_window(errs: &Errors, node: &Node) -> Result<JoinWindows, DefinitionError> {
    const KEYS: [&str; 4] = ["difference", "before", "after", "grace"];
    let mut f = Fields::of(
        node,
        errs,
        "the `window` of a join (difference, before, after, grace)",
    )?;
    let mut get = |k: &str| {
        f.take(k)
            .map(|n| duration(n, errs, &format!("`{k}`")))
            .transpose()
    };
    let difference = get("difference")?;
    let before = get("before")?;
    let after = get("after")?;
    let grace = get("grace")?.unwrap_or(Duration::ZERO);
    f.finish(&KEYS)?;
    let base = match (difference, before, after) {
        (Some(d), _, _) => d,
        (None, Some(_), Some(_)) => Duration::ZERO,
        (None, _, _) => {
            return Err(errs.at(
                node.pos,
                "a join window needs `difference` (how far apart in time two records may be to \
                 join), or both `before` and `after`",
            ));
        }
    };
    let mut w = JoinWindows::of_time_difference_and_grace(base, grace);
    if let Some(b) = before {
        w = w.before(b);
    }
    if let Some(a) = after {
        w = w.after(a);
    }
    Ok(w)
}
