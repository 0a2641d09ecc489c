//! The CEL environment of definition files: the standard library, cel's `strings`, `lists` and
//! `math` extensions, and functions of weir's own for what CEL cannot say:
//!
//! | function | result |
//! |---|---|
//! | `take(list, n)` | the first `n` elements (all of them when the list is shorter) |
//! | `top(map, n)` | the keys of the `n` largest numeric values, largest first, ties by key |
//! | `put(map, key, value)` | a copy of `map` with `key` set to `value` |
//! | `words(text)` | the words of `text`, lower-cased by Unicode rules (see [`weir_core::text`]) |
//! | `mask(text, words)` | `text` with each word that is a key of the map (or an element of the list) `words`, compared caseless ([`weir_core::text::fold`]), replaced by `*`s |
//! | `lower(text)`, `upper(text)` | `text` in lower / upper case by Unicode rules (cel's `lowerAscii()` leaves `Д` as it is) |
//!
//! The lists extension adds `slice`, `sort`, `sortBy`, `reverse`, `distinct`, `flatten`; the
//! standard library's optional values give defaults: `m[?k].orValue(0)`.

use std::cmp::Ordering;
use std::collections::HashMap;

use cel::common::types::{
    CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString, CelUInt, DYN_TYPE, INT_TYPE,
    LIST_TYPE, MAP_TYPE, STRING_TYPE,
};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError, extensions};
use weir_core::text::fold;

/// The environment every expression of a definition is compiled and run in.
pub(crate) fn environment() -> Result<Env, DeclarationError> {
    let mut env = Env::stdlib();
    env.add_extension(extensions::strings)?;
    env.add_extension(extensions::lists)?;
    env.add_extension(extensions::math)?;
    env.add_overload("take", "take_list_int", vec![LIST_TYPE, INT_TYPE], take)?;
    env.add_overload("top", "top_map_int", vec![MAP_TYPE, INT_TYPE], top)?;
    env.add_overload(
        "put",
        "put_map_dyn_dyn",
        vec![MAP_TYPE, DYN_TYPE, DYN_TYPE],
        put,
    )?;
    env.add_overload("lower", "lower_string", vec![STRING_TYPE], lower)?;
    env.add_overload("upper", "upper_string", vec![STRING_TYPE], upper)?;
    env.add_overload("words", "words_string", vec![STRING_TYPE], words)?;
    env.add_overload("mask", "mask_string_map", vec![STRING_TYPE, MAP_TYPE], mask)?;
    env.add_overload(
        "mask",
        "mask_string_list",
        vec![STRING_TYPE, LIST_TYPE],
        mask,
    )?;
    Ok(env)
}

fn args<'b, 'v, const N: usize>(
    args: Vec<CowVal<'b, 'v>>,
) -> Result<[CowVal<'b, 'v>; N], ExecutionError> {
    args.try_into()
        .map_err(|a: Vec<_>| ExecutionError::invalid_argument_count(N, a.len()))
}

fn count(function: &str, n: &dyn Val) -> Result<usize, ExecutionError> {
    let n = *n
        .downcast_ref::<CelInt>()
        .ok_or_else(|| ExecutionError::function_error(function, "the count must be an int"))?
        .inner();
    usize::try_from(n)
        .map_err(|_| ExecutionError::function_error(function, format!("negative count {n}")))
}

fn map_arg<'b, 'v>(
    function: &str,
    m: &'b (dyn Val + 'v),
) -> Result<&'b CelMap<'v>, ExecutionError> {
    m.downcast_ref::<CelMap>().ok_or_else(|| {
        ExecutionError::function_error(
            function,
            format!("expected a map, got {}", m.get_type().name()),
        )
    })
}

/// `take(list, n)`.
fn take<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list, n] = args(a)?;
    let n = count("take", n.as_ref())?;
    let items = list
        .as_iterable()
        .ok_or_else(|| ExecutionError::function_error("take", "expected a list"))?;
    let mut iter = items.iter();
    let mut out = Vec::new();
    while out.len() < n {
        match iter.next() {
            Some(item) => out.push(item.clone_as_boxed()),
            None => break,
        }
    }
    Ok(CowVal::owned(CelList::from(out)))
}

fn as_f64(v: &dyn Val) -> Option<f64> {
    if let Some(i) = v.downcast_ref::<CelInt>() {
        Some(*i.inner() as f64)
    } else if let Some(u) = v.downcast_ref::<CelUInt>() {
        Some(*u.inner() as f64)
    } else {
        v.downcast_ref::<CelDouble>().map(|d| *d.inner())
    }
}

/// `top(map, n)`.
fn top<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [m, n] = args(a)?;
    let n = count("top", n.as_ref())?;
    let m = map_arg("top", m.as_ref())?;
    let mut entries = Vec::with_capacity(m.inner().len());
    for (k, v) in m.inner() {
        let score = as_f64(v.as_ref()).ok_or_else(|| {
            ExecutionError::function_error(
                "top",
                format!("values must be numbers, got {}", v.get_type().name()),
            )
        })?;
        entries.push((score, k));
    }
    entries.sort_by(|(sa, ka), (sb, kb)| {
        sb.partial_cmp(sa)
            .unwrap_or(Ordering::Equal)
            .then_with(|| ka.cmp(kb))
    });
    let keys: Vec<Box<dyn Val + 'v>> = entries
        .into_iter()
        .take(n)
        .map(|(_, k)| k.inner().clone_as_boxed())
        .collect();
    Ok(CowVal::owned(CelList::from(keys)))
}

/// `put(map, key, value)`.
fn put<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [m, key, value] = args(a)?;
    let map = map_arg("put", m.as_ref())?;
    let key = CelMapKey::try_from(key.into_owned()).map_err(|_| {
        ExecutionError::function_error("put", "map keys must be strings, ints, uints or bools")
    })?;
    let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = map.inner().clone();
    out.insert(key, value.into_owned());
    Ok(CowVal::owned(CelMap::from(out)))
}

fn string_arg<'b>(function: &str, v: &'b dyn Val) -> Result<&'b str, ExecutionError> {
    v.downcast_ref::<CelString>()
        .map(|s| s.inner())
        .ok_or_else(|| {
            ExecutionError::function_error(
                function,
                format!("expected a string, got {}", v.get_type().name()),
            )
        })
}

/// `lower(text)`.
fn lower<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text] = args(a)?;
    let out = string_arg("lower", text.as_ref())?.to_lowercase();
    Ok(CowVal::owned(CelString::from(out)))
}

/// `upper(text)`.
fn upper<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text] = args(a)?;
    let out = string_arg("upper", text.as_ref())?.to_uppercase();
    Ok(CowVal::owned(CelString::from(out)))
}

/// `words(text)`.
fn words<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text] = args(a)?;
    let list: Vec<Box<dyn Val + 'v>> = weir_core::text::words(string_arg("words", text.as_ref())?)
        .into_iter()
        .map(|w| Box::new(CelString::from(w)) as Box<dyn Val + 'v>)
        .collect();
    Ok(CowVal::owned(CelList::from(list)))
}

/// `mask(text, words)`: `words` is a map (its keys) or a list of strings; a word of `text` is
/// masked when its case fold is one of theirs.
fn mask<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text, set] = args(a)?;
    let text = string_arg("mask", text.as_ref())?;
    let mut masked = std::collections::HashSet::new();
    if let Some(m) = set.downcast_ref::<CelMap>() {
        for k in m.inner().keys() {
            masked.insert(fold(string_arg("mask", k.inner())?));
        }
    } else if let Some(items) = set.as_iterable() {
        let mut iter = items.iter();
        while let Some(item) = iter.next() {
            masked.insert(fold(string_arg("mask", item)?));
        }
    }
    let out = weir_core::text::mask(text, |w| masked.contains(&fold(w)));
    Ok(CowVal::owned(CelString::from(out)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use cel::{Context, Value};

    fn eval(src: &str) -> Result<Value, ExecutionError> {
        let env = Arc::new(environment().unwrap());
        let p = env.compile(src).unwrap();
        p.execute(&Context::with_env(env))
    }

    #[test]
    fn take_top_put() {
        assert_eq!(eval("take([1, 2, 3], 2)").unwrap(), eval("[1, 2]").unwrap());
        assert_eq!(eval("take([1], 5)").unwrap(), eval("[1]").unwrap());
        assert!(eval("take([1], -1)").is_err());
        assert_eq!(
            eval("top({'a': 1, 'b': 3, 'c': 3, 'd': 2.5}, 3)").unwrap(),
            eval("['b', 'c', 'd']").unwrap()
        );
        assert!(eval("top({'a': 'x'}, 1)").is_err());
        assert_eq!(
            eval("put({'a': 1}, 'b', 2)").unwrap(),
            eval("{'a': 1, 'b': 2}").unwrap()
        );
        assert_eq!(eval("put({'a': 1}, 'a', 5)['a']").unwrap(), Value::Int(5));
    }

    #[test]
    fn words_and_mask() {
        assert_eq!(
            eval("words('Buy CHEAP pills!')").unwrap(),
            eval("['buy', 'cheap', 'pills']").unwrap()
        );
        assert_eq!(
            eval("mask('Buy CHEAP pills!', {'cheap': 'spam'})").unwrap(),
            Value::from("Buy ***** pills!")
        );
        assert_eq!(
            eval("mask('Buy CHEAP pills!', ['pills'])").unwrap(),
            Value::from("Buy CHEAP *****!")
        );
        assert!(eval("mask('x', [1])").is_err());
        // Unicode case: the word matches whatever its case (and the list's).
        assert_eq!(
            eval("mask('Ты ДУРАК!', ['дурак'])").unwrap(),
            Value::from("Ты *****!")
        );
        assert_eq!(
            eval("mask('ты дурак', {'ДУРАК': 1})").unwrap(),
            Value::from("ты *****")
        );
        assert_eq!(
            eval("mask('Die STRASSE, die Straße', ['straße'])").unwrap(),
            Value::from("Die *******, die ******")
        );
        assert_eq!(
            eval("words('Ты ДУРАК, ΟΔΟΣ!')").unwrap(),
            eval("['ты', 'дурак', 'οδος']").unwrap()
        );
        assert!(eval("words(1)").is_err());
    }

    #[test]
    fn lower_and_upper_follow_unicode() {
        assert_eq!(eval("lower('Ты ДУРАК')").unwrap(), Value::from("ты дурак"));
        assert_eq!(
            eval("upper('straße, ты')").unwrap(),
            Value::from("STRASSE, ТЫ")
        );
        // What they replace: cel's ASCII-only lowering leaves Cyrillic as it is.
        assert_eq!(eval("'ДУРАК'.lowerAscii()").unwrap(), Value::from("ДУРАК"));
        assert_eq!(
            eval("mask(lower('ДУРАК'), ['дурак'])").unwrap(),
            Value::from("*****")
        );
        assert!(eval("lower(1)").is_err());
    }

    #[test]
    fn extensions_and_optionals_are_available() {
        assert_eq!(
            eval("[3, 1, 2].sort()").unwrap(),
            eval("[1, 2, 3]").unwrap()
        );
        assert_eq!(eval("{'a': 1}[?'b'].orValue(0)").unwrap(), Value::Int(0));
        assert_eq!(eval("'Ab'.lowerAscii()").unwrap(), Value::from("ab"));
        assert_eq!(eval("math.least(3, 2)").unwrap(), Value::Int(2));
    }
}
