//! What happens to a record whose expression failed (a missing field, a type mismatch).
//!
//! The DSL's operators take infallible closures, so an expression that computes a key or value
//! cannot return its error to the runtime where it happens. It returns a *failed value* instead:
//! a JSON object whose only key is [`MARK`], naming the expression and the error. Every later
//! step passes a failed value on untouched, and every format refuses to serialize it, returning
//! [`StreamsError::Process`] for the expression: so the record reaches the configured processing
//! error handler (fail, skip, dead-letter) at its next sink, repartition or store write, having
//! changed no state on the way.
//!
//! A failing `filter`/`filter_not` predicate is a processing error of its record (the DSL's
//! fallible filter hands it to the configured handler: fail, skip, dead-letter). `branch`
//! predicates cannot fail in the DSL yet: a failing one sends the record on as configured below,
//! logs a warning with the expression's position and counts it in `weir_expression_errors_total`.

use serde_json::{Map, Value};

use super::expr::{EvalError, Expr};
use weir_core::error::StreamsError;

/// The key of a failed value. The NUL makes a clash with a real record field unlikely.
pub(crate) const MARK: &str = "\u{0}weir.failed-expression";

/// A failed value for the expression `expr` (labelled `file:line:col (step)`).
pub(crate) fn failed(expr: &Expr, error: &str) -> Value {
    failed_labelled(expr.application(), &expr.label, error)
}

/// A failed value for the step labelled `label` of `application`.
pub(crate) fn failed_labelled(application: &str, label: &str, error: &str) -> Value {
    weir_core::metrics::expression_error(application, label);
    let mut inner = Map::new();
    inner.insert("expression".into(), Value::String(label.to_owned()));
    inner.insert("error".into(), Value::String(error.to_owned()));
    let mut outer = Map::new();
    outer.insert(MARK.into(), Value::Object(inner));
    Value::Object(outer)
}

/// Whether `v` is a failed value.
pub(crate) fn is_failed(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.len() == 1 && m.contains_key(MARK))
}

/// The first failed value among `vals`, to pass on instead of evaluating.
pub(crate) fn first_failed<'a>(vals: &[&'a Value]) -> Option<&'a Value> {
    vals.iter().copied().find(|v| is_failed(v))
}

/// The error a failed value stands for.
pub(crate) fn as_error(v: &Value) -> Option<StreamsError> {
    let Value::Object(m) = v else { return None };
    if m.len() != 1 {
        return None;
    }
    let inner = m.get(MARK)?;
    let text = |k: &str| {
        inner
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some(StreamsError::Process {
        processor: text("expression"),
        source: text("error").into(),
    })
}

/// Counts and logs a failed predicate; `outcome` says what became of the record.
fn predicate_failed(expr: &Expr, error: &EvalError, outcome: &str) {
    weir_core::metrics::expression_error(expr.application(), &expr.label);
    tracing::warn!(expression = %expr.label, error = %error.0, "predicate failed; {outcome}");
}

/// Evaluates `expr`, or passes on a failed input, or returns a failed value.
pub(crate) fn eval(expr: &Expr, vals: &[&Value]) -> Value {
    if let Some(f) = first_failed(vals) {
        return f.clone();
    }
    match expr.eval(vals) {
        Ok(v) => v,
        Err(e) => failed(expr, &e.0),
    }
}

/// What a predicate answers when it cannot evaluate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OnFailure {
    /// The answer for an already failed record, chosen so that it travels on to where it is
    /// reported.
    pub failed_input: bool,
    /// The answer when the predicate itself fails.
    pub error: bool,
    /// What that answer does to the record, for the log.
    pub outcome: &'static str,
}

/// Evaluates a predicate.
/// Evaluates a filter predicate; a failure (of this expression, or a failed value coming in) is
/// an error of the record, which the DSL's fallible filter hands to the processing error handler.
pub(crate) fn try_test(expr: &Expr, vals: &[&Value]) -> Result<bool, weir_core::error::BoxError> {
    if let Some(Value::Object(m)) = first_failed(vals) {
        let detail = m.get(MARK).cloned().unwrap_or(Value::Null);
        return Err(format!(
            "{}: input is the result of a failed expression: {detail}",
            expr.label
        )
        .into());
    }
    expr.test(vals).map_err(|e| {
        weir_core::metrics::expression_error(expr.application(), &expr.label);
        format!("{}: {}", expr.label, e.0).into()
    })
}

pub(crate) fn test(expr: &Expr, vals: &[&Value], on: OnFailure) -> bool {
    if first_failed(vals).is_some() {
        return on.failed_input;
    }
    match expr.test(vals) {
        Ok(b) => b,
        Err(e) => {
            predicate_failed(expr, &e, on.outcome);
            on.error
        }
    }
}
