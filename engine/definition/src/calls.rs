//! Load-time checks of the functions an expression calls: every function name must exist and
//! be called with a number of arguments it takes, so that `weir check` catches `lower(x)` (no
//! such function) or `take(list)` (two arguments needed) instead of the first record failing.
//!
//! The CEL environment does not list its functions, so each call is *probed*: the function is
//! called at load with sample arguments of every CEL type (null, int, uint, double, string,
//! bool, list, map, bytes). A function that answers "undeclared reference" for every sample
//! does not exist; one that accepts some samples at another arity but none at the arity
//! written is called with the wrong number of arguments. What the probes cannot decide (a
//! function that rejects every sample, e.g. one needing a valid regex) is left to run time.
//! Verdicts are cached per environment, so a file pays once per distinct function and arity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr};
use cel::{Context, Env};

/// Sample arguments, one per CEL type.
const SAMPLES: &[&str] = &[
    "null", "1", "1u", "1.5", "'s'", "true", "[1]", "{'k': 1}", "b'x'",
];

/// The most arguments probed (a call with more is not checked).
const MAX_ARGS: usize = 3;

/// Names offered as "did you mean" for an unknown function.
const KNOWN: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "lowerAscii",
    "upperAscii",
    "lower",
    "upper",
    "trim",
    "split",
    "join",
    "replace",
    "substring",
    "indexOf",
    "lastIndexOf",
    "charAt",
    "format",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "type",
    "dyn",
    "take",
    "top",
    "put",
    "words",
    "mask",
    "orValue",
    "hasValue",
    "value",
    "sort",
    "sortBy",
    "reverse",
    "distinct",
    "flatten",
    "slice",
    "greatest",
    "least",
    "abs",
    "ceil",
    "floor",
    "round",
];

/// A call as written: `name(args)`, `ns.name(args)` or `receiver.name(args)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Receiver {
    None,
    Namespace(String),
    Value,
}

/// A call site found in an expression.
#[derive(Debug)]
pub(crate) struct Call {
    pub name: String,
    receiver: Receiver,
    pub args: usize,
    /// The AST node id (for the position).
    pub id: u64,
}

/// What probing a function at one arity found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Some sample arguments were accepted.
    Accepted,
    /// Every sample was an undeclared reference: no such function.
    Undeclared,
    /// The function exists but rejected every sample (or could not be probed).
    Rejected,
}

/// Probes calls against one CEL environment, caching verdicts.
#[derive(Clone)]
pub(crate) struct CallChecker {
    env: Arc<Env>,
    cache: Arc<Mutex<HashMap<(Receiver, String, usize), Probe>>>,
}

impl CallChecker {
    pub fn new(env: Arc<Env>) -> Self {
        CallChecker {
            env,
            cache: Arc::default(),
        }
    }

    /// Why `call` cannot work, if the probes can tell.
    pub fn problem(&self, call: &Call) -> Option<String> {
        if call.args > MAX_ARGS {
            return None;
        }
        let shown = match &call.receiver {
            Receiver::Namespace(ns) => format!("{ns}.{}", call.name),
            _ => call.name.clone(),
        };
        match self.probe(&call.receiver, &call.name, call.args) {
            Probe::Accepted => None,
            outcome => {
                let arities: Vec<usize> = (0..=MAX_ARGS)
                    .filter(|&n| n != call.args)
                    .filter(|&n| self.probe(&call.receiver, &call.name, n) == Probe::Accepted)
                    .collect();
                if !arities.is_empty() {
                    let list: Vec<String> = arities.iter().map(usize::to_string).collect();
                    let noun = if arities == [1] {
                        "argument"
                    } else {
                        "arguments"
                    };
                    return Some(format!(
                        "`{shown}` takes {} {noun}, not {}",
                        list.join(" or "),
                        call.args
                    ));
                }
                (outcome == Probe::Undeclared).then(|| {
                    let others: Vec<&str> =
                        KNOWN.iter().copied().filter(|k| *k != call.name).collect();
                    format!(
                        "unknown function `{shown}`{}",
                        crate::error::hint(&call.name, &others)
                    )
                })
            }
        }
    }

    fn probe(&self, receiver: &Receiver, name: &str, args: usize) -> Probe {
        let key = (receiver.clone(), name.to_owned(), args);
        if let Some(p) = self.lock().get(&key) {
            return *p;
        }
        let p = self.run_probes(receiver, name, args);
        self.lock().insert(key, p);
        p
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Receiver, String, usize), Probe>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn run_probes(&self, receiver: &Receiver, name: &str, args: usize) -> Probe {
        let slots = args + usize::from(*receiver == Receiver::Value);
        let ctx = Context::with_env(self.env.clone());
        let undeclared = format!("Undeclared reference to '{name}'");
        let mut all_undeclared = true;
        let mut pick = vec![0usize; slots];
        loop {
            let arg = |i: usize| SAMPLES[pick[i]];
            let list = |from: usize| (from..slots).map(arg).collect::<Vec<_>>().join(", ");
            let source = match receiver {
                Receiver::None => format!("{name}({})", list(0)),
                Receiver::Namespace(ns) => format!("{ns}.{name}({})", list(0)),
                Receiver::Value => format!("({}).{name}({})", arg(0), list(1)),
            };
            match self.env.compile(&source).map(|p| p.execute(&ctx)) {
                Ok(Ok(_)) => return Probe::Accepted,
                Ok(Err(e)) => {
                    let text = e.to_string();
                    if !text.contains(&undeclared) && !text.contains("No such key") {
                        all_undeclared = false;
                    }
                }
                // A name the parser refuses as a function is not ours to judge.
                Err(_) => return Probe::Rejected,
            }
            // Next combination of samples.
            let mut i = 0;
            loop {
                if i == slots {
                    return if all_undeclared {
                        Probe::Undeclared
                    } else {
                        Probe::Rejected
                    };
                }
                pick[i] += 1;
                if pick[i] < SAMPLES.len() {
                    break;
                }
                pick[i] = 0;
                i += 1;
            }
        }
    }
}

/// Every function call in `e` (operators and macros excluded), outermost first.
pub(crate) fn calls(e: &IdedExpr, namespaces: &[&str], out: &mut Vec<Call>) {
    if let Ast::Call(c) = &e.expr {
        let operator = c.func_name.starts_with('_')
            || c.func_name.starts_with('@')
            || c.func_name.ends_with('_');
        if !operator {
            let receiver = match c.target.as_deref().map(|t| &t.expr) {
                None => Receiver::None,
                Some(Ast::Ident(ns)) if namespaces.contains(&ns.as_str()) => {
                    Receiver::Namespace(ns.clone())
                }
                Some(_) => Receiver::Value,
            };
            out.push(Call {
                name: c.func_name.clone(),
                receiver,
                args: c.args.len(),
                id: e.id,
            });
        }
    }
    for child in children(e) {
        calls(child, namespaces, out);
    }
}

/// The sub-expressions of `e`, in source order (a comprehension's parts included).
pub(crate) fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Ast::Call(c) => c.target.as_deref().into_iter().chain(&c.args).collect(),
        Ast::Select(s) => vec![&*s.operand],
        Ast::List(l) => l.elements.iter().collect(),
        Ast::Map(m) => m
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
                _ => Vec::new(),
            })
            .collect(),
        Ast::Struct(s) => s
            .entries
            .iter()
            .filter_map(|entry| match &entry.expr {
                EntryExpr::StructField(f) => Some(&f.value),
                _ => None,
            })
            .collect(),
        Ast::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => Vec::new(),
    }
}
