//! CEL expressions of a definition: compiled once at load ([`Compiler`]), evaluated per record
//! ([`Expr`]).
//!
//! At load, an expression must parse and may only name the variables of its step (`key`,
//! `value`, and e.g. `aggregate` or a looked-up table's value); both kinds of mistake are
//! reported at the file position of the culprit inside the YAML scalar (exact for single-line
//! plain or quoted scalars and `|` blocks; the scalar's start otherwise). Per record, a failed
//! evaluation (a missing field, a type mismatch) is an `Err`, never a panic; only the variables
//! an expression reads are converted from JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cel::common::ast::{Expr as Ast, IdedExpr};
use cel::{Context, Env, Program};
use serde_json::Value;

use super::calls::{self, CallChecker};
use super::convert::{cel_to_json, json_fields_to_val, json_to_val};
use super::error::{DefinitionError, Errors, Pos, hint};
use super::locate::{PosMap, clamp, line_col};
use super::yaml::Node;

/// Names that may appear in an expression besides variables: function namespaces and types.
const BUILTIN_NAMES: &[&str] = &[
    "math",
    "strings",
    "lists",
    "base64",
    "optional",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
];

/// Compiles the expressions of one file.
pub(crate) struct Compiler {
    pub env: Arc<Env>,
    pub errs: Errors,
    pub text: Arc<str>,
    /// The application id, set once the file's `application` is read (for metric labels).
    pub application: Arc<std::sync::OnceLock<String>>,
    /// Checks the functions expressions call (see `calls`).
    calls: CallChecker,
}

/// A compiled expression and the variables it reads.
pub(crate) struct Expr {
    program: Program,
    env: Arc<Env>,
    /// The step's variables in evaluation order, and how the expression reads each.
    vars: Vec<(String, Use)>,
    /// `file:line:col (step)`, naming the expression in runtime errors.
    pub label: Arc<str>,
    /// Where the expression is in the file, and what it is (for load-time errors).
    pub pos: Pos,
    pub what: Arc<str>,
    application: Arc<std::sync::OnceLock<String>>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({})", self.label)
    }
}

/// How an expression reads a variable: not at all, only some fields (`value.a`, `has(value.b)`:
/// only those are converted to CEL), or as a whole.
#[derive(Debug, Clone, PartialEq)]
enum Use {
    None,
    Fields(BTreeSet<String>),
    Whole,
}

/// Why an expression failed on a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EvalError(pub String);

impl Compiler {
    pub fn new(env: Arc<Env>, errs: Errors, text: Arc<str>) -> Self {
        Compiler {
            calls: CallChecker::new(env.clone()),
            env,
            errs,
            text,
            application: Arc::default(),
        }
    }

    /// Compiles `node` as a predicate of `what`: as [`Compiler::compile`], and an expression
    /// that reads no variable must give a boolean (`filter: 42` is refused at load).
    pub fn predicate(
        &self,
        node: &Node,
        what: &str,
        scope: &[&str],
    ) -> Result<Expr, DefinitionError> {
        let e = self.compile(node, what, scope)?;
        if e.vars.iter().all(|(_, u)| *u == Use::None) {
            let values: Vec<Value> = vec![Value::Null; scope.len()];
            let refs: Vec<&Value> = values.iter().collect();
            if let Err(err) = e.test(&refs) {
                return Err(self
                    .errs
                    .at(node.pos, format!("the predicate of {what}: {}", err.0)));
            }
        }
        Ok(e)
    }

    /// Compiles the scalar `node` as the expression of `what`, which may read `scope`.
    pub fn compile(
        &self,
        node: &Node,
        what: &str,
        scope: &[&str],
    ) -> Result<Expr, DefinitionError> {
        let source = node.text(&self.errs, what)?;
        let map = PosMap::new(node, &source, &self.text);
        let program = self.env.compile(&source).map_err(|e| {
            let first = e.errors.first();
            let (line, col) = first.map_or((1, 1), |e| (e.pos.0, e.pos.1));
            let msg = first.map_or_else(|| e.to_string(), |e| e.msg.clone());
            let (pos, note) = map.locate(clamp(line), clamp(col));
            self.errs
                .at(pos, format!("invalid expression for {what}: {msg}{note}"))
        })?;
        let mut refs = Refs::default();
        walk(program.expression(), &BTreeSet::new(), &mut refs);
        for (name, id) in &refs.free {
            if scope.contains(&name.as_str()) || BUILTIN_NAMES.contains(&name.as_str()) {
                continue;
            }
            let (line, col) = program
                .source_info()
                .offset_for(*id)
                .map_or((1, 1), |(start, _)| line_col(&source, start as usize));
            let (pos, note) = map.locate(line, col);
            let message = if name == "timestamp" || name == "headers" {
                format!(
                    "`{name}` is not available to expressions of steps (the DSL's operators do not \
                     pass record timestamps and headers to them; a source's `timestamp:` sees the \
                     record's timestamp){note}"
                )
            } else {
                format!(
                    "unknown variable `{name}` in {what}{}{note}",
                    hint(name, scope)
                )
            };
            return Err(self.errs.at(pos, message));
        }
        let mut found = Vec::new();
        calls::calls(program.expression(), BUILTIN_NAMES, &mut found);
        for call in &found {
            if let Some(problem) = self.calls.problem(call) {
                // A call's offset is its `(`: point at the function's name.
                let at = program.source_info().offset_for(call.id).map(|(start, _)| {
                    let start = start as usize;
                    match source.get(..start) {
                        Some(before) if before.ends_with(call.name.as_str()) => {
                            start - call.name.len()
                        }
                        _ => start,
                    }
                });
                let (line, col) = at.map_or((1, 1), |start| line_col(&source, start));
                let (pos, note) = map.locate(line, col);
                return Err(self.errs.at(pos, format!("{what}: {problem}{note}")));
            }
        }
        let vars: Vec<(String, Use)> = scope
            .iter()
            .map(|s| {
                let u = refs.uses.get(*s).cloned().unwrap_or(Use::None);
                ((*s).to_owned(), u)
            })
            .collect();
        // An expression that reads no variable gives the same on every record: one that fails
        // (`"abc" > 5`) would fail on each, so it is an error now.
        if vars.iter().all(|(_, u)| *u == Use::None) {
            let mut ctx = Context::with_env(self.env.clone());
            for (name, _) in &vars {
                ctx.add_variable_as_val(name.as_str(), json_to_val(&Value::Null));
            }
            if let Err(e) = program.execute(&ctx) {
                return Err(self
                    .errs
                    .at(node.pos, format!("{what} fails on every record: {e}")));
            }
        }
        Ok(Expr {
            program,
            env: self.env.clone(),
            vars,
            label: format!(
                "{}:{}:{} ({})",
                self.errs.file,
                node.pos.line,
                node.pos.column,
                what.replace('`', "").trim_end_matches(" step")
            )
            .into(),
            pos: node.pos,
            what: what.into(),
            application: self.application.clone(),
        })
    }

    /// Compiles and evaluates an expression that reads no variable (e.g. an initial value).
    pub fn constant(&self, node: &Node, what: &str) -> Result<Value, DefinitionError> {
        let e = self.compile(node, what, &[])?;
        e.eval(&[])
            .map_err(|err| self.errs.at(node.pos, format!("{what}: {}", err.0)))
    }
}

/// What a walk over an expression found: identifiers not bound by a comprehension (with the id
/// of their first node), and how each is used.
#[derive(Default)]
struct Refs {
    free: Vec<(String, u64)>,
    uses: BTreeMap<String, Use>,
}

impl Refs {
    fn ident(&mut self, name: &str, id: u64, field: Option<&str>) {
        if !self.free.iter().any(|(n, _)| n == name) {
            self.free.push((name.to_owned(), id));
        }
        let u = self.uses.entry(name.to_owned()).or_insert(Use::None);
        match (field, &mut *u) {
            (Some(f), Use::None) => *u = Use::Fields([f.to_owned()].into()),
            (Some(f), Use::Fields(fs)) => {
                fs.insert(f.to_owned());
            }
            (Some(_), Use::Whole) => {}
            (None, _) => *u = Use::Whole,
        }
    }
}

fn walk(e: &IdedExpr, bound: &BTreeSet<String>, out: &mut Refs) {
    match &e.expr {
        Ast::Ident(name) if !bound.contains(name) => out.ident(name, e.id, None),
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
        Ast::Select(s) => match &s.operand.expr {
            Ast::Ident(name) if !bound.contains(name) => {
                out.ident(name, s.operand.id, Some(&s.field));
            }
            _ => walk(&s.operand, bound, out),
        },
        Ast::Call(_) | Ast::List(_) | Ast::Map(_) | Ast::Struct(_) => {
            for child in calls::children(e) {
                walk(child, bound, out);
            }
        }
        Ast::Comprehension(c) => {
            walk(&c.iter_range, bound, out);
            walk(&c.accu_init, bound, out);
            let mut inner = bound.clone();
            inner.insert(c.iter_var.clone());
            inner.extend(c.iter_var2.clone());
            inner.insert(c.accu_var.clone());
            walk(&c.loop_cond, &inner, out);
            walk(&c.loop_step, &inner, out);
            walk(&c.result, &inner, out);
        }
    }
}

impl Expr {
    /// The application id of the definition (empty before it is known).
    pub(crate) fn application(&self) -> &str {
        self.application
            .get()
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// Evaluates against `vals`, given in the order of the scope it was compiled with.
    pub fn eval(&self, vals: &[&Value]) -> Result<Value, EvalError> {
        let out = self.run(vals)?;
        cel_to_json(&out).map_err(EvalError)
    }

    /// Evaluates a time: the result must be an integer, milliseconds since the epoch.
    pub fn eval_millis(&self, vals: &[&Value]) -> Result<i64, EvalError> {
        match self.run(vals)? {
            cel::Value::Int(ms) => Ok(ms),
            cel::Value::UInt(ms) => {
                i64::try_from(ms).map_err(|_| EvalError(format!("the time {ms} is too large")))
            }
            other => Err(EvalError(format!(
                "expected an int (milliseconds since the epoch), got a {}",
                other.type_of()
            ))),
        }
    }

    /// Evaluates a predicate: the result must be a boolean.
    pub fn test(&self, vals: &[&Value]) -> Result<bool, EvalError> {
        match self.run(vals)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(EvalError(format!(
                "expected a boolean, got a {}",
                other.type_of()
            ))),
        }
    }

    /// The variables of its scope in evaluation order, each with whether the expression reads
    /// it.
    pub(crate) fn scope(&self) -> impl Iterator<Item = (&str, bool)> {
        self.vars.iter().map(|(n, u)| (n.as_str(), *u != Use::None))
    }

    /// The error of evaluating on `vals` when it is one of types (a missing field, no overload
    /// for the operands, values that cannot be compared): what every record of the same shape
    /// would hit. Errors that depend on values (division by zero, an index out of range, a
    /// function refusing its argument) are not reported.
    pub(crate) fn type_error(&self, vals: &[&Value]) -> Option<String> {
        use cel::ExecutionError as E;
        match self.execute(vals) {
            Ok(_) => None,
            Err(
                e @ (E::NoSuchKey(_)
                | E::NoSuchOverload(_)
                | E::UnsupportedBinaryOperator(..)
                | E::ValuesNotComparable(..)
                | E::NotSupportedAsMethod { .. }
                | E::UnexpectedType { .. }),
            ) => Some(e.to_string()),
            Err(_) => None,
        }
    }

    fn run(&self, vals: &[&Value]) -> Result<cel::Value, EvalError> {
        self.execute(vals).map_err(|e| EvalError(e.to_string()))
    }

    fn execute(&self, vals: &[&Value]) -> Result<cel::Value, cel::ExecutionError> {
        let mut ctx = Context::with_env(self.env.clone());
        for ((name, used), v) in self.vars.iter().zip(vals) {
            match used {
                Use::None => {}
                Use::Fields(fields) => {
                    ctx.add_variable_as_val(name.as_str(), json_fields_to_val(v, fields));
                }
                Use::Whole => ctx.add_variable_as_val(name.as_str(), json_to_val(v)),
            }
        }
        self.program.execute(&ctx)
    }
}

/// One expression compiled and evaluated exactly as a definition's steps do it, for tools (e.g.
/// trying an expression on a sample record) and benchmarks.
#[derive(Debug)]
pub struct Expression(Expr);

impl Expression {
    /// Compiles `text`, which may read `variables` (given to `eval` in the same order). Errors
    /// name the file `<expression>`, line 1.
    pub fn compile(text: &str, variables: &[&str]) -> Result<Self, DefinitionError> {
        let errs = Errors {
            file: "<expression>".into(),
        };
        let env = super::functions::environment()
            .map_err(|e| errs.at(Pos::new(1, 1), format!("CEL environment: {e}")))?;
        let node = Node {
            pos: Pos::new(1, 1),
            offset: Some(0),
            kind: super::yaml::Kind::Str(text.to_owned()),
            yaml11: None,
        };
        let c = Compiler::new(Arc::new(env), errs, text.into());
        c.compile(&node, "expression", variables).map(Expression)
    }

    /// The result as JSON.
    pub fn eval(&self, values: &[&Value]) -> Result<Value, String> {
        self.0.eval(values).map_err(|e| e.0)
    }

    /// The result, which must be a boolean.
    pub fn test(&self, values: &[&Value]) -> Result<bool, String> {
        self.0.test(values).map_err(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::functions::environment;
    use super::super::yaml::parse;
    use super::*;
    use serde_json::json;

    fn compiler(text: &str) -> (Compiler, Node) {
        let errs = Errors {
            file: "f.yaml".into(),
        };
        let node = parse(text, &errs).unwrap();
        let c = Compiler::new(Arc::new(environment().unwrap()), errs, text.into());
        (c, node)
    }

    fn first_value(n: &Node) -> &Node {
        let super::super::yaml::Kind::Map(e) = &n.kind else {
            panic!()
        };
        &e[0].1
    }

    fn compile_err(text: &str) -> String {
        let (c, n) = compiler(text);
        c.compile(first_value(&n), "filter", &["key", "value"])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn syntax_errors_point_into_the_scalar() {
        let e = compile_err("filter: value.price >= &&\n");
        assert!(
            e.starts_with("f.yaml:1:24: invalid expression for filter: "),
            "{e}"
        );
        let e = compile_err("filter: 'value.price >= &&'\n");
        assert!(e.starts_with("f.yaml:1:25: "), "{e}");
        let e = compile_err("filter: |\n  value.a &&\n    (value.b ||\n");
        assert!(e.starts_with("f.yaml:4:3: "), "{e}");
        let e = compile_err("filter: |\n  value.a &&\n    (vlue.b)\n");
        assert!(e.starts_with("f.yaml:3:6: unknown variable `vlue`"), "{e}");
    }

    #[test]
    fn unknown_variables_are_named_with_a_suggestion() {
        let e = compile_err("filter: value.price > 0 && vaule.x\n");
        assert_eq!(
            e,
            "f.yaml:1:28: unknown variable `vaule` in filter; did you mean `value`?"
        );
        // Comprehension variables are bound.
        let (c, n) = compiler("filter: value.items.exists(i, i > 2)\n");
        assert!(c.compile(first_value(&n), "filter", &["value"]).is_ok());
    }

    #[test]
    fn evaluates_only_what_it_reads_and_reports_failures() {
        let (c, n) = compiler("filter: value.price >= 0.0 && value.id != ''\n");
        let e = c
            .compile(first_value(&n), "filter", &["key", "value"])
            .unwrap();
        let fields = Use::Fields(["id".to_owned(), "price".to_owned()].into());
        assert_eq!(
            e.vars,
            vec![("key".into(), Use::None), ("value".into(), fields)]
        );
        let good = json!({"price": 1.5, "id": "p"});
        assert_eq!(e.test(&[&Value::Null, &good]), Ok(true));
        let missing = json!({"id": "p"});
        let err = e.test(&[&Value::Null, &missing]).unwrap_err();
        assert!(err.0.contains("price"), "{err:?}");
        assert!(e.test(&[&Value::Null, &json!("text")]).is_err());
        assert_eq!(&*e.label, "f.yaml:1:9 (filter)");
    }

    #[test]
    fn standalone_expressions() {
        let e = Expression::compile("value.a + 1", &["value"]).unwrap();
        assert_eq!(e.eval(&[&json!({"a": 1})]), Ok(json!(2)));
        let err = Expression::compile("value.a +", &["value"]).unwrap_err();
        assert!(err.to_string().starts_with("<expression>:1:10: "), "{err}");
    }

    #[test]
    fn predicates_must_be_boolean() {
        let (c, n) = compiler("filter: value.id\n");
        let e = c.compile(first_value(&n), "filter", &["value"]).unwrap();
        let err = e.test(&[&json!({"id": "x"})]).unwrap_err();
        assert_eq!(err.0, "expected a boolean, got a string");
    }
}
