//! Reading the `steps:` of a stream: each step is a mapping whose *kind* is its first key that
//! names a step (`filter: EXPR`); the kind's value is the step's main argument and the other
//! keys are its options (`name:` everywhere). Unknown kinds and options are reported with the
//! closest valid name; expressions are compiled with the variables their step provides.

use super::error::{DefinitionError, hint};
use super::schema::{Named, Reader};
use super::steps::{BranchDef, JoinKeep, KINDS, Keep, Level, Lookup, Op, RECORD, Step, StreamJoin};
use super::windows::{self, Windowing};
use super::yaml::{Fields, Key, Kind, Node};
use weir_runtime::dsl::EmitStrategy;

pub(crate) fn read_steps(r: &Reader<'_>, node: &Node) -> Result<Vec<Step>, DefinitionError> {
    node.items(r.errs, "`steps`")?
        .iter()
        .map(|s| read_step(r, s))
        .collect()
}

fn kind_of<'a>(
    r: &Reader<'_>,
    node: &'a Node,
) -> Result<(&'static str, &'a Key, &'a Node), DefinitionError> {
    let entries = node.entries(r.errs, "a step")?;
    for (k, v) in entries {
        if let Some((kind, _)) = KINDS.iter().find(|(kind, _)| *kind == k.name) {
            return Ok((kind, k, v));
        }
    }
    let names: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    match entries.first() {
        Some((k, _))
            if k.name == "name" || KINDS.iter().any(|(_, o)| o.contains(&k.name.as_str())) =>
        {
            Err(r.errs.at(
                node.pos,
                format!(
                    "this step has no kind (`{}` is an option); start it with one of: {}",
                    k.name,
                    names.join(", ")
                ),
            ))
        }
        Some((k, _)) => Err(r.errs.at(
            k.pos,
            format!("unknown step `{}`{}", k.name, hint(&k.name, &names)),
        )),
        None => Err(r.errs.at(
            node.pos,
            format!("empty step; expected one of: {}", names.join(", ")),
        )),
    }
}

fn read_step(r: &Reader<'_>, node: &Node) -> Result<Step, DefinitionError> {
    let errs = r.errs;
    let (kind, kind_key, arg) = kind_of(r, node)?;
    let what = format!("`{kind}` step");
    let mut f = Fields::of(node, errs, &what)?;
    f.take(kind);
    let mut name = f.take("name").map(|n| n.name(errs, "`name`")).transpose()?;
    let expr = |n: &Node, scope: &[&str]| r.compiler.compile(n, &what, scope);
    let pred = |n: &Node| r.compiler.predicate(n, &what, RECORD);
    let store = |n: &Node| n.name(errs, &format!("the store of `{kind}`"));
    let yes = |n: &Node| -> Result<(), DefinitionError> {
        if n.boolean(errs, &format!("`{kind}`"))? {
            Ok(())
        } else {
            Err(errs.at(
                n.pos,
                format!("`{kind}: false` does nothing; remove the step"),
            ))
        }
    };
    let op = match kind {
        "filter" | "filter_not" => Op::Filter {
            expr: pred(arg)?,
            keep: kind == "filter",
        },
        "validate" => Op::Validate {
            expr: pred(arg)?,
            error: f.take("error").map(|e| expr(e, RECORD)).transpose()?,
        },
        "map_values" => Op::MapValues(expr(arg, RECORD)?),
        "map" => {
            let mut m = Fields::of(
                arg,
                errs,
                "`map` (a mapping of `key` and `value` expressions)",
            )?;
            let (k, v) = (m.required("key")?, m.required("value")?);
            m.finish(&["key", "value"])?;
            Op::Map {
                key: expr(k, RECORD)?,
                value: expr(v, RECORD)?,
            }
        }
        "select_key" => Op::SelectKey(expr(arg, RECORD)?),
        // The DSL hands flat_map_values only the value.
        "flat_map_values" => Op::FlatMapValues(expr(arg, &["value"])?),
        "flat_map" => Op::FlatMap(expr(arg, RECORD)?),
        "log" => Op::Log {
            expr: expr(arg, RECORD)?,
            level: match f.take("level") {
                None => Level::Info,
                Some(l) => level(r, l)?,
            },
        },
        "lookup" => {
            let (l, join) = lookup(r, arg, &mut f, &name)?;
            name = name.or(join);
            Op::Lookup(Box::new(l))
        }
        "branch" => {
            let mut branches: Vec<BranchDef> = Vec::new();
            for (k, v) in
                Fields::of(arg, errs, "`branch` (branch names and their predicates)")?.all()
            {
                let b = branch(r, k, v, &what)?;
                if b.tombstones
                    && let Some(first) = branches.iter().find(|b| b.tombstones)
                {
                    return Err(errs.at(
                        v.pos,
                        format!(
                            "branch `{}` takes tombstones, but branch `{}` (line {}) already does; \
                             they go to one branch: keep `tombstones: true` on one",
                            k.name, first.name.name, first.name.pos.line
                        ),
                    ));
                }
                branches.push(b);
            }
            let default = f
                .take("default")
                .map(|n| {
                    Ok::<_, DefinitionError>(Named {
                        name: n.name(errs, "`default` (a branch name)")?,
                        pos: n.pos,
                    })
                })
                .transpose()?;
            if branches.is_empty() {
                return Err(errs.at(arg.pos, "`branch` needs at least one named predicate"));
            }
            Op::Branch { branches, default }
        }
        "join" => Op::Join(Box::new(join(r, arg, &mut f)?)),
        "merge" => Op::Merge(Named {
            name: arg.name(errs, "`merge` (a stream)")?,
            pos: arg.pos,
        }),
        "group_by" | "group_by_key" => {
            let key = if kind == "group_by" {
                Some(expr(arg, RECORD)?)
            } else {
                yes(arg)?;
                None
            };
            let repartition = f
                .take("repartition")
                .map(|n| {
                    Ok::<_, DefinitionError>(Named {
                        name: n.name(errs, "`repartition`")?,
                        pos: n.pos,
                    })
                })
                .transpose()?;
            let window = f
                .take("window")
                .map(|w| {
                    Ok::<_, DefinitionError>(Windowing {
                        windows: windows::grouping_window(errs, w)?,
                        emit: EmitStrategy::OnWindowUpdate,
                        pos: w.pos,
                    })
                })
                .transpose()?;
            let window = match (f.take("emit"), window) {
                (Some(e), Some(w)) => Some(Windowing {
                    emit: windows::emit(errs, e)?,
                    ..w
                }),
                (Some(e), None) => {
                    return Err(errs.at(
                        e.pos,
                        "`emit` says when a windowed aggregation forwards its results; give the \
                         grouping a `window:` (or remove `emit`)",
                    ));
                }
                (None, w) => w,
            };
            Op::GroupBy {
                key,
                repartition,
                window,
            }
        }
        "count" => Op::Count { store: store(arg)? },
        "aggregate" => {
            let initial = f.required("initial")?;
            let initial = match initial.kind {
                super::yaml::Kind::Map(_) | super::yaml::Kind::Seq(_) => initial.to_json(),
                _ => r.compiler.constant(initial, "`initial`")?,
            };
            Op::Aggregate {
                store: store(arg)?,
                initial,
                update: expr(f.required("update")?, &["key", "value", "aggregate"])?,
                merger: f
                    .take("merger")
                    .map(|m| expr(m, &["key", "aggregate", "other"]))
                    .transpose()?,
            }
        }
        // The DSL hands a reducer the aggregate and the value, not the key.
        "reduce" => Op::Reduce {
            store: store(arg)?,
            update: expr(f.required("update")?, &["value", "aggregate"])?,
        },
        "to_stream" => {
            yes(arg)?;
            Op::ToStream
        }
        "repartition" => Op::Repartition(arg.name(errs, "`repartition` (the topic's name part)")?),
        "to" => Op::To {
            topic: Named {
                name: arg.name(errs, "`to` (a topic)")?,
                pos: arg.pos,
            },
            key: r.format_of(f.take("key"), weir_core::error::KeyOrValue::Key)?,
            value: r.format_of(f.take("value"), weir_core::error::KeyOrValue::Value)?,
        },
        _ => return Err(errs.at(kind_key.pos, format!("step `{kind}` is not implemented"))),
    };
    if matches!(kind, "count" | "aggregate" | "reduce") {
        for key in ["window", "emit"] {
            if let Some(n) = f.take(key) {
                return Err(errs.at(
                    n.pos,
                    format!(
                        "`{key}` goes on the grouping: put it on the `group_by` (or \
                         `group_by_key`) step before `{kind}`"
                    ),
                ));
            }
        }
    }
    let options = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, o)| *o);
    let mut valid: Vec<&str> = vec![kind, "name"];
    valid.extend_from_slice(options);
    f.finish(&valid)?;
    Ok(Step {
        pos: kind_key.pos,
        kind,
        name,
        op,
    })
}

/// One branch: `NAME: PREDICATE` or `NAME: {when: PREDICATE, tombstones: BOOL}`.
fn branch(r: &Reader<'_>, k: &Key, v: &Node, what: &str) -> Result<BranchDef, DefinitionError> {
    let errs = r.errs;
    let name = Named {
        name: k.name.clone(),
        pos: k.pos,
    };
    if !matches!(v.kind, Kind::Map(_)) {
        return Ok(BranchDef {
            name,
            when: Some(r.compiler.compile(v, what, RECORD)?),
            tombstones: false,
        });
    }
    let mut f = Fields::of(
        v,
        errs,
        &format!("branch `{}` (`when` and `tombstones`)", k.name),
    )?;
    let tombstones = f
        .take("tombstones")
        .map(|n| n.boolean(errs, "`tombstones`"))
        .transpose()?
        .unwrap_or(false);
    let when = f.take("when");
    f.finish(&["when", "tombstones"])?;
    // Only a branch of tombstones needs no predicate.
    if when.is_none() && !tombstones {
        return Err(errs.at(
            v.pos,
            format!(
                "branch `{}` needs `when:` (its predicate), unless it takes only tombstones \
                 (`tombstones: true`)",
                k.name
            ),
        ));
    }
    let when = when
        .map(|n| r.compiler.compile(n, what, RECORD))
        .transpose()?;
    Ok(BranchDef {
        name,
        when,
        tombstones,
    })
}

fn level(r: &Reader<'_>, n: &Node) -> Result<Level, DefinitionError> {
    const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];
    let s = n.name(r.errs, "`level`")?;
    Ok(match s.as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "info" => Level::Info,
        "warn" => Level::Warn,
        "error" => Level::Error,
        other => return Err(r.errs.unknown(n.pos, "log level", other, &LEVELS)),
    })
}

fn lookup(
    r: &Reader<'_>,
    arg: &Node,
    f: &mut Fields<'_>,
    name: &Option<String>,
) -> Result<(Lookup, Option<String>), DefinitionError> {
    let errs = r.errs;
    let what = "`lookup` step";
    let table = Named {
        name: arg.name(errs, "`lookup` (a table)")?,
        pos: arg.pos,
    };
    let names: Vec<&str> = r
        .tables
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(r.streams.iter().map(String::as_str))
        .collect();
    // A table declared under `tables:`, or a stream above that ends in a table (an aggregation).
    let global = match r.tables.iter().find(|(n, _)| *n == table.name) {
        Some((_, global)) => *global,
        None if r.streams.contains(&table.name) => false,
        None => return Err(errs.unknown(arg.pos, "table", &table.name, &names)),
    };
    let many = match (f.take("keys"), global) {
        (Some(k), true) => Some(r.compiler.compile(k, what, RECORD)?),
        (Some(k), false) => {
            return Err(errs.at(k.pos, format!(
                "`keys:` looks many keys up in a global table; table `{}` is partitioned like its topic",
                table.name
            )));
        }
        (None, _) => None,
    };
    let key = match (f.take("key"), global) {
        (Some(k), true) if many.is_some() => {
            return Err(errs.at(
                k.pos,
                "give `key:` (one key) or `keys:` (a list of keys), not both",
            ));
        }
        (None, true) if many.is_some() => None,
        (Some(k), true) => Some(r.compiler.compile(k, what, RECORD)?),
        (None, true) => {
            return Err(errs.at(arg.pos, format!(
                "a lookup in global table `{}` needs `key:`, the expression giving the table key",
                table.name
            )));
        }
        (Some(k), false) => {
            return Err(errs.at(k.pos, format!(
                "table `{}` is partitioned like its topic, so it is joined on the record key; \
                 to join on another key, `select_key` and `repartition` first (or make the table global)",
                table.name
            )));
        }
        (None, false) => None,
    };
    const KEEPS: [&str; 3] = ["inner", "left", "unmatched"];
    let keep = match f.take("keep") {
        None if many.is_some() => Keep::Left,
        Some(n) if many.is_some() => {
            return Err(errs.at(
                n.pos,
                "a `keys:` lookup keeps every record (the rows found may be none): remove `keep`",
            ));
        }
        None => Keep::Inner,
        Some(n) => match n.name(errs, "`keep`")?.as_str() {
            "inner" => Keep::Inner,
            "left" => Keep::Left,
            "unmatched" => Keep::Unmatched,
            other => return Err(errs.unknown(n.pos, "`keep`", other, &KEEPS)),
        },
    };
    let field = match f.take("as") {
        Some(n) => n.name(errs, "`as`")?,
        None => table.name.clone(),
    };
    // The DSL hands a joiner the record value and the table value, not the key.
    let mut scope = vec!["value", "table"];
    let is_ident = field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !field.starts_with(|c: char| c.is_ascii_digit());
    if is_ident && !scope.contains(&field.as_str()) {
        scope.push(&field);
    }
    let value = f
        .take("value")
        .map(|v| r.compiler.compile(v, what, &scope))
        .transpose()?;
    let (mut drop_name, mut value_name, mut join) = (None, None, None);
    if let Some(n) = f.take("names") {
        let mut nf = Fields::of(n, errs, "`names` (node names of a lookup)")?;
        join = nf
            .take("join")
            .map(|n| n.name(errs, "`join`"))
            .transpose()?;
        drop_name = nf
            .take("drop")
            .map(|n| n.name(errs, "`drop`"))
            .transpose()?;
        value_name = nf
            .take("value")
            .map(|n| n.name(errs, "`value`"))
            .transpose()?;
        nf.finish(&["join", "drop", "value"])?;
        if keep != Keep::Unmatched && (drop_name.is_some() || value_name.is_some()) {
            return Err(errs.at(
                n.pos,
                "`names.drop` and `names.value` name the extra nodes of `keep: unmatched`",
            ));
        }
        if join.is_some() && name.is_some() {
            return Err(errs.at(
                n.pos,
                "give the join node's name once: `name` or `names.join`",
            ));
        }
    }
    let lookup = Lookup {
        table,
        global,
        key,
        many,
        keep,
        value,
        field,
        drop_name,
        value_name,
    };
    Ok((lookup, join))
}

/// `join: STREAM` with `window`, `keep` (inner, left, outer), `value` and `store`.
fn join(r: &Reader<'_>, arg: &Node, f: &mut Fields<'_>) -> Result<StreamJoin, DefinitionError> {
    let errs = r.errs;
    let other = Named {
        name: arg.name(errs, "`join` (a stream)")?,
        pos: arg.pos,
    };
    let window = windows::join_window(errs, f.required("window")?)?;
    const KEEPS: [&str; 3] = ["inner", "left", "outer"];
    let keep = match f.take("keep") {
        None => JoinKeep::Inner,
        Some(n) => match n.name(errs, "`keep`")?.as_str() {
            "inner" => JoinKeep::Inner,
            "left" => JoinKeep::Left,
            "outer" => JoinKeep::Outer,
            other => return Err(errs.unknown(n.pos, "`keep` of a join", other, &KEEPS)),
        },
    };
    // The DSL hands a stream joiner both values, not the key.
    let value = r
        .compiler
        .compile(f.required("value")?, "`join` step", &["value", "other"])?;
    let Some(store) = f.take("store") else {
        return Err(f.misspelt(&["store"]).unwrap_or_else(|| {
            errs.at(
                arg.pos,
                "a `join` keeps the records of both streams in stores: name them with \
                 `store: NAME` (their changelogs are `APPLICATION-NAME-this-join-store-changelog`, ...)",
            )
        }));
    };
    let store = Named {
        name: store.name(errs, "`store` (the prefix of the join's store names)")?,
        pos: store.pos,
    };
    Ok(StreamJoin {
        other,
        window,
        keep,
        value,
        store,
    })
}
