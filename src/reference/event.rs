//! Events read from JSON (LANGUAGE.md §5, docs/engine.md "Events"). A bad
//! event is rejected with the same text as the engine's `EventError`.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::eval::{EventView, Val};
use crate::check::{FieldInfo, Symbols};
use crate::types::{Base, Ty};

/// A valid event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub customer: String,
    pub signal: String,
    pub view: EventView,
    /// Profile fields to set, in the order given; `None` makes one absent.
    pub profile: Vec<(String, Option<Val>)>,
}

const KEYS: [&str; 7] = ["customer", "signal", "time", "at", "via", "data", "profile"];

/// Reads one event; the error is the rejection's text.
pub(crate) fn parse(symbols: &Symbols, line: &str) -> Result<Event, String> {
    let json: Json = serde_json::from_str(line).map_err(|e| format!("malformed JSON: {e}"))?;
    let object = json.as_object().ok_or("an event must be a JSON object")?;
    if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown key `{key}` in the event (the keys are customer, signal, time, at, via, data, profile)"
        ));
    }
    let customer = match object.get("customer") {
        None => return Err("missing `customer`".into()),
        Some(Json::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err("`customer` must be a non-empty text".into()),
    };
    let signal = match object.get("signal") {
        None => return Err("missing `signal`".into()),
        Some(Json::String(s)) => s.clone(),
        Some(other) => return Err(format!("unknown signal `{other}`")),
    };
    let time = match object.get("time") {
        None => return Err("missing `time`".into()),
        Some(t) => time(t)?,
    };
    let fields = &symbols
        .signals
        .get(&signal)
        .ok_or_else(|| format!("unknown signal `{signal}`"))?
        .fields;
    let at = named(object, "at", "place", |p| symbols.places.contains_key(p))?;
    let via = named(object, "via", "channel", |c| {
        symbols.channels.contains_key(c)
    })?;
    let mut data = BTreeMap::new();
    for (name, value) in members(object, "data")? {
        let info = fields
            .get(name)
            .ok_or_else(|| format!("signal `{signal}` has no field `{name}`"))?;
        if !value.is_null() {
            data.insert(name.clone(), value_of(symbols, name, info, value)?);
        }
    }
    let mut profile = Vec::new();
    for (name, value) in members(object, "profile")? {
        let info = symbols
            .customer
            .get(name)
            .ok_or_else(|| format!("the customer profile has no field `{name}`"))?;
        let value = match value {
            Json::Null if info.optional => None,
            Json::Null => {
                return Err(format!(
                    "field `{name}` must be a value (the field is not optional), found null"
                ))
            }
            v => Some(value_of(symbols, name, info, v)?),
        };
        profile.push((name.clone(), value));
    }
    if let Some((name, _)) = fields
        .iter()
        .find(|(name, info)| !info.optional && !data.contains_key(*name))
    {
        return Err(format!("signal `{signal}` needs field `{name}`"));
    }
    Ok(Event {
        customer,
        signal,
        view: EventView {
            time,
            at,
            via,
            data,
        },
        profile,
    })
}

fn time(t: &Json) -> Result<i64, String> {
    let bad = |found: String| {
        format!("`time` must be an RFC 3339 timestamp or integer milliseconds, found {found}")
    };
    match t {
        Json::String(s) => crate::time::parse_rfc3339(s).ok_or_else(|| bad(format!("`{s}`"))),
        // Integer milliseconds, within years 0000 to 9999 (LANGUAGE.md: times are RFC 3339 instants).
        Json::Number(n) => match n.as_i64() {
            Some(ms) if crate::time::IN_RANGE.contains(&ms) => Ok(ms),
            Some(ms) => Err(bad(format!("{ms} (times run from year 0000 to 9999)"))),
            None => Err(bad(n.to_string())),
        },
        other => Err(bad(describe(other))),
    }
}

/// `at` or `via`: absent, `null`, or a declared name.
fn named(
    object: &Map<String, Json>,
    key: &str,
    kind: &str,
    declared: impl Fn(&str) -> bool,
) -> Result<Option<String>, String> {
    match object.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if declared(s) => Ok(Some(s.clone())),
        Some(Json::String(s)) => Err(format!("unknown {kind} `{s}`")),
        Some(other) => Err(format!("unknown {kind} `{other}`")),
    }
}

/// The members of `data` or `profile` (none when absent or `null`).
fn members<'a>(
    object: &'a Map<String, Json>,
    key: &str,
) -> Result<Vec<(&'a String, &'a Json)>, String> {
    match object.get(key) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Object(m)) => Ok(m.iter().collect()),
        Some(other) => Err(format!(
            "field `{key}` must be an object, found {}",
            describe(other)
        )),
    }
}

/// A field's value, of its declared type.
fn value_of(symbols: &Symbols, name: &str, info: &FieldInfo, json: &Json) -> Result<Val, String> {
    convert(symbols, info.ty, json).ok_or_else(|| {
        format!(
            "field `{name}` must be {}, found {}",
            type_name(info.ty),
            describe(json)
        )
    })
}

fn convert(symbols: &Symbols, ty: Ty, json: &Json) -> Option<Val> {
    if ty.list {
        let items = json.as_array()?;
        return items
            .iter()
            .map(|i| convert(symbols, ty.element(), i))
            .collect::<Option<Vec<_>>>()
            .map(Val::List);
    }
    let declared = |name: &str| match ty.base {
        Base::Place => symbols.places.contains_key(name),
        Base::Channel => symbols.channels.contains_key(name),
        Base::Enum(i) => symbols.enums[i.index()].values.contains_key(name),
        _ => false,
    };
    Some(match ty.base {
        Base::Int => Val::Int(json.as_i64()?),
        Base::Float => Val::Float(json.as_f64()?),
        Base::Text => Val::Text(json.as_str()?.to_string()),
        Base::Bool => Val::Bool(json.as_bool()?),
        Base::Duration => Val::Duration(json.as_i64()?),
        Base::Enum(_) | Base::Place | Base::Channel => {
            let name = json.as_str()?;
            if !declared(name) {
                return None;
            }
            Val::Name(name.to_string())
        }
        Base::Unknown => return None,
    })
}

fn type_name(ty: Ty) -> String {
    let (article, noun) = match ty.base {
        Base::Int => ("an", "int"),
        Base::Float => ("a", "number"),
        Base::Text => ("a", "text"),
        Base::Bool => ("a", "bool"),
        Base::Duration => ("a", "duration"),
        Base::Place => ("a", "place"),
        Base::Channel => ("a", "channel"),
        Base::Enum(_) => ("a", "value of the field's enum"),
        Base::Unknown => ("a", "value"),
    };
    if ty.list {
        format!("a list of {noun}")
    } else {
        format!("{article} {noun}")
    }
}

/// What a JSON value is, in words.
fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(_) => "a bool".into(),
        Json::Number(n) if n.is_i64() => "an integer".into(),
        Json::Number(n) if n.is_u64() => "an integer beyond the range of an int".into(),
        Json::Number(_) => "a number".into(),
        Json::String(s) => {
            let cut = s
                .char_indices()
                .nth(40)
                .map_or(s.as_str(), |(i, _)| &s[..i]);
            format!("the text {cut:?}")
        }
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "an object".into(),
    }
}
