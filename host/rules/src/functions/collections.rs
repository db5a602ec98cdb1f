//! `topic()`, `get()`, `transform()`, the lookup-table stand-in for
//! `get_dynamodb()` and `get_thing_shadow()` over the host's shadows.

use serde_json::Value;

use crate::eval::{EvalError, Evaluator};
use crate::value::{to_int_arg, to_string_conv, Kind, Val};

/// `topic()` is the whole topic; `topic(n)` its n-th level, 1-based;
/// out of range is Undefined.
pub(super) fn topic<'a>(topic: &str, n: Option<&Val<'a>>) -> Val<'a> {
    let Some(n) = n else {
        return Val::str(topic.to_string());
    };
    match to_int_arg(n.kind()) {
        Some(i) if i >= 1 => match topic.split('/').nth((i - 1) as usize) {
            Some(level) => Val::str(level.to_string()),
            None => Val::Undefined,
        },
        _ => Val::Undefined,
    }
}

/// `get(collection, key)`: 0-based element of an array, value of an object's
/// key, or character of a string; anything else or out of range is Undefined.
pub(super) fn get<'a>(v: Vec<Val<'a>>) -> Val<'a> {
    let mut it = v.into_iter();
    let (Some(coll), Some(key)) = (it.next(), it.next()) else {
        return Val::Undefined;
    };
    let idx = || to_int_arg(key.kind()).and_then(|i| usize::try_from(i).ok());
    match coll {
        Val::Ref(r) => match r {
            Value::Array(a) => idx()
                .and_then(|i| a.get(i))
                .map_or(Val::Undefined, Val::Ref),
            Value::Object(o) => match key.kind() {
                Kind::Str(k) => o.get(k).map_or(Val::Undefined, Val::Ref),
                _ => Val::Undefined,
            },
            Value::String(s) => char_at(s, idx()),
            _ => Val::Undefined,
        },
        Val::Own(o) => match o {
            Value::Array(mut a) => match idx() {
                Some(i) if i < a.len() => Val::Own(a.swap_remove(i)),
                _ => Val::Undefined,
            },
            Value::Object(mut m) => match key.kind() {
                Kind::Str(k) => m.remove(k).map_or(Val::Undefined, Val::Own),
                _ => Val::Undefined,
            },
            Value::String(s) => char_at(&s, idx()),
            _ => Val::Undefined,
        },
        Val::Undefined | Val::Dec(_) => Val::Undefined,
    }
}

fn char_at<'a>(s: &str, i: Option<usize>) -> Val<'a> {
    match i.and_then(|i| s.chars().nth(i)) {
        Some(c) => Val::str(c.to_string()),
        None => Val::Undefined,
    }
}

/// `transform('enrichArray', object, array)`: every object element of the
/// array gets the object's keys added (the object's values win on clashes);
/// elements that are not objects are left out. Other modes are Undefined.
pub(super) fn transform<'a>(v: &[Val<'a>]) -> Val<'a> {
    let (Some(mode), Some(obj), Some(arr)) = (v.first(), v.get(1), v.get(2)) else {
        return Val::Undefined;
    };
    let (Kind::Str(mode), Kind::Obj(obj), Kind::Arr(arr)) = (mode.kind(), obj.kind(), arr.kind())
    else {
        return Val::Undefined;
    };
    if mode != "enrichArray" {
        return Val::Undefined;
    }
    let out = arr
        .iter()
        .filter_map(|el| match el {
            Value::Object(e) => {
                let mut m = e.clone();
                for (k, x) in obj {
                    m.insert(k.clone(), x.clone());
                }
                Some(Value::Object(m))
            }
            _ => None,
        })
        .collect();
    Val::Own(Value::Array(out))
}

/// `get_dynamodb(table, keyName, keyValue, roleArn)` served from the host's
/// lookup tables: `table` names a Weir lookup table, `keyName` its key
/// column, and `roleArn` is ignored. A missing row is Undefined; a missing
/// table or no lookup tables at all is an evaluation error (AWS also fails
/// the rule when DynamoDB cannot be read).
pub(super) fn get_dynamodb<'a>(ev: &mut Evaluator<'_, 'a>, v: &[Val<'a>]) -> Val<'a> {
    let Some(tables) = ev.cx.lookup else {
        ev.fail(EvalError::NoLookupTables {
            function: "get_dynamodb",
        });
        return Val::Undefined;
    };
    let parts: Option<Vec<_>> = v.iter().take(3).map(|x| to_string_conv(x.kind())).collect();
    let Some(parts) = parts else {
        return Val::Undefined;
    };
    let [table, column, key] = parts.as_slice() else {
        return Val::Undefined;
    };
    match tables.lookup(table, column, key) {
        Ok(Some(row)) => Val::Own(Value::Object(row)),
        Ok(None) => Val::Undefined,
        Err(source) => {
            ev.fail(EvalError::Lookup {
                function: "get_dynamodb",
                source,
            });
            Val::Undefined
        }
    }
}

/// `get_thing_shadow(thingName, roleArn)` and `get_thing_shadow(thingName,
/// shadowName, roleArn)` (AWS's "SQL functions" page): the classic or named
/// shadow of the thing as GetThingShadow returns it, from the host's Device
/// Shadow service; `roleArn` is ignored. Arguments convert to strings as in
/// `get_dynamodb`. A thing without that shadow is Undefined (AWS does not say;
/// this follows `get_dynamodb`'s missing row, so `WHERE
/// get_thing_shadow(...).state.reported.x = 1` is simply false); a shadow the
/// host cannot read, an invalid name, or a host without shadows fails the
/// message, as an unreadable shadow does on AWS.
pub(super) fn get_thing_shadow<'a>(ev: &mut Evaluator<'_, 'a>, v: &[Val<'a>]) -> Val<'a> {
    const NAME: &str = "get_thing_shadow";
    let Some(shadows) = ev.cx.shadows else {
        ev.fail(EvalError::NoShadows { function: NAME });
        return Val::Undefined;
    };
    // The last argument is the role ARN.
    let names = &v[..v.len().saturating_sub(1)];
    let parts: Option<Vec<_>> = names.iter().map(|x| to_string_conv(x.kind())).collect();
    let Some(parts) = parts else {
        return Val::Undefined;
    };
    let (thing, shadow_name) = match parts.as_slice() {
        [thing] => (thing, None),
        [thing, name] => (thing, Some(name.as_ref())),
        _ => return Val::Undefined,
    };
    match shadows.shadow(thing, shadow_name) {
        Ok(Some(doc)) => Val::Own(doc),
        Ok(None) => Val::Undefined,
        Err(source) => {
            ev.fail(EvalError::Lookup {
                function: NAME,
                source,
            });
            Val::Undefined
        }
    }
}
