//! Events: read from JSON or built in Rust, validated against the program
//! before anything changes.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::compile::{FieldDef, Names, Program};
use crate::ids::{ChannelId, FieldId, PlaceId, SignalId};
use crate::types::{Base, Ty};
use crate::value::Value;

/// Why an event was rejected. A rejected event changes nothing.
///
/// Each kind has a stable [`code`](EventError::code) (`jrule::event_…`),
/// which `jrule run` prints with the message. More kinds may be added:
/// match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The text is not JSON. `line` and `column` (1-based) are where the
    /// reading stopped; `message` is what went wrong there.
    #[error("malformed JSON: {}", at_position(message, *line, *column))]
    Json {
        /// What went wrong, without the position.
        message: String,
        /// The line where reading stopped (1-based; 0 when unknown).
        line: usize,
        /// The column where reading stopped (1-based; 0 when unknown).
        column: usize,
    },
    /// The JSON is not an object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// A key that events do not have.
    #[error("unknown key `{0}` in the event (the keys are customer, signal, time, at, via, data, profile)")]
    UnknownKey(String),
    /// A required key (`customer`, `signal`, `time`) is missing.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// `customer` is not a non-empty text.
    #[error("`customer` must be a non-empty text")]
    BadCustomer,
    /// The program declares no such signal.
    #[error("unknown signal `{0}`")]
    UnknownSignal(String),
    /// An event read or built for another program, whose signals, fields
    /// or names differ from the engine's (after a reload, say): read it
    /// again with the engine's program.
    #[error("the event was read for another program (its signals, fields or names differ from the engine's); read it again with the engine's program")]
    OtherProgram,
    /// The program declares no such place.
    #[error("unknown place `{0}`")]
    UnknownPlace(String),
    /// The program declares no such channel.
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
    /// `time` is neither an RFC 3339 timestamp nor integer milliseconds:
    /// what was found instead, as written.
    #[error("`time` must be an RFC 3339 timestamp or integer milliseconds, found {0}")]
    BadTime(String),
    /// A time in milliseconds since the epoch outside years 0000 to 9999.
    #[error("`time` must be an RFC 3339 timestamp or integer milliseconds, found {time} (times run from year 0000 to 9999)")]
    TimeOutOfRange {
        /// The time, in milliseconds since the epoch.
        time: i64,
    },
    /// The event is older than the engine's clock (both in milliseconds
    /// since the epoch; the message shows them in RFC 3339).
    #[error(
        "event at {} is older than the engine's clock {}: events must come in time order",
        crate::time::format_rfc3339(*time),
        crate::time::format_rfc3339(*clock)
    )]
    OutOfOrder {
        /// The event's time.
        time: i64,
        /// The engine's clock: the time of the last event or timer.
        clock: i64,
    },
    /// The customer's state could not be loaded from the state store (see
    /// [`StoreError`](crate::store::StoreError)): the event is not processed.
    #[error("cannot load the customer's state: {0}")]
    Store(String),
    /// The signal has no such field.
    #[error("signal `{signal}` has no field `{field}`")]
    UnknownField {
        /// The signal.
        signal: String,
        /// The field the event gave.
        field: String,
    },
    /// A required field of the signal is missing.
    #[error("signal `{signal}` needs field `{field}`")]
    MissingField {
        /// The signal.
        signal: String,
        /// The required field.
        field: String,
    },
    /// The customer profile has no such field.
    #[error("the customer profile has no field `{0}`")]
    UnknownProfileField(String),
    /// A value of the wrong type.
    #[error("field `{field}` must be {expected}, found {found}")]
    WrongType {
        /// The field (or `data`, `profile` for those objects).
        field: String,
        /// The type wanted, in words (`an int`, `an object`).
        expected: String,
        /// What was found, in words.
        found: String,
    },
}

impl EventError {
    /// The stable code of this kind of rejection, like
    /// `jrule::event_out_of_order`. Codes are never renamed or reused.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::Json { .. } => "jrule::event_malformed",
            EventError::NotAnObject => "jrule::event_not_an_object",
            EventError::UnknownKey(_) => "jrule::event_unknown_key",
            EventError::Missing(_) => "jrule::event_missing_key",
            EventError::BadCustomer => "jrule::event_bad_customer",
            EventError::UnknownSignal(_) => "jrule::event_unknown_signal",
            EventError::OtherProgram => "jrule::event_other_program",
            EventError::UnknownPlace(_) => "jrule::event_unknown_place",
            EventError::UnknownChannel(_) => "jrule::event_unknown_channel",
            EventError::BadTime(_) => "jrule::event_bad_time",
            EventError::TimeOutOfRange { .. } => "jrule::event_time_out_of_range",
            EventError::OutOfOrder { .. } => "jrule::event_out_of_order",
            EventError::Store(_) => "jrule::event_store",
            EventError::UnknownField { .. } => "jrule::event_unknown_field",
            EventError::MissingField { .. } => "jrule::event_missing_field",
            EventError::UnknownProfileField(_) => "jrule::event_unknown_profile_field",
            EventError::WrongType { .. } => "jrule::event_wrong_type",
        }
    }

    /// A JSON error, with its position as numbers.
    pub(crate) fn json(e: &serde_json::Error) -> EventError {
        let (message, line, column) = split_position(e);
        EventError::Json {
            message,
            line,
            column,
        }
    }
}

/// A JSON error's message without its position, and the position (line and
/// column, 1-based; 0 when serde_json gives none).
pub(crate) fn split_position(e: &serde_json::Error) -> (String, usize, usize) {
    let text = e.to_string();
    let (line, column) = (e.line(), e.column());
    let suffix = format!(" at line {line} column {column}");
    match text.strip_suffix(&suffix) {
        Some(message) if line > 0 => (message.to_string(), line, column),
        _ => (text, 0, 0),
    }
}

/// A message and the position it has (none when `line` is 0), as
/// serde_json writes them.
pub(crate) fn at_position(message: &str, line: usize, column: usize) -> String {
    if line == 0 {
        message.to_string()
    } else {
        format!("{message} at line {line} column {column}")
    }
}

/// One customer signal, resolved against a program.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The layout fingerprint of the program the event was read for.
    pub(crate) layout: u64,
    pub(crate) customer: Arc<str>,
    pub(crate) signal: SignalId,
    pub(crate) time: i64,
    pub(crate) at: Option<PlaceId>,
    pub(crate) via: Option<ChannelId>,
    pub(crate) data: Vec<Option<Value>>,
    pub(crate) profile: Vec<(FieldId, Option<Value>)>,
}

impl Event {
    /// Reads an event from one JSON object (a line of a JSON Lines file).
    pub fn from_json(program: &Program, text: &str) -> Result<Event, EventError> {
        let json: Json = serde_json::from_str(text).map_err(|e| EventError::json(&e))?;
        Event::from_value(program, &json)
    }

    /// Reads an event from the bytes of one JSON object; bytes that are
    /// not UTF-8 make it malformed JSON.
    pub fn from_json_bytes(program: &Program, bytes: &[u8]) -> Result<Event, EventError> {
        let json: Json = serde_json::from_slice(bytes).map_err(|e| EventError::json(&e))?;
        Event::from_value(program, &json)
    }

    /// Reads an event from a parsed JSON value.
    pub fn from_value(program: &Program, json: &Json) -> Result<Event, EventError> {
        let object = json.as_object().ok_or(EventError::NotAnObject)?;
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "customer" | "signal" | "time" | "at" | "via" | "data" | "profile"
            ) {
                return Err(EventError::UnknownKey(key.clone()));
            }
        }
        let customer = match object.get("customer") {
            None => return Err(EventError::Missing("customer")),
            Some(Json::String(s)) if !s.is_empty() => s.as_str(),
            Some(_) => return Err(EventError::BadCustomer),
        };
        let signal = match object.get("signal") {
            None => return Err(EventError::Missing("signal")),
            Some(Json::String(s)) => s.as_str(),
            Some(other) => return Err(EventError::UnknownSignal(other.to_string())),
        };
        let time = match object.get("time") {
            None => return Err(EventError::Missing("time")),
            Some(t) => parse_time(t)?,
        };
        let mut event = EventBuilder::new(program, customer, signal, time)?;
        if let Some(at) = non_null(object.get("at")) {
            let name = at
                .as_str()
                .ok_or_else(|| EventError::UnknownPlace(at.to_string()))?;
            event = event.at(name)?;
        }
        if let Some(via) = non_null(object.get("via")) {
            let name = via
                .as_str()
                .ok_or_else(|| EventError::UnknownChannel(via.to_string()))?;
            event = event.via(name)?;
        }
        for (name, value) in fields(object, "data")? {
            event = event.json_field(name, value)?;
        }
        for (name, value) in fields(object, "profile")? {
            event = event.json_profile(name, value)?;
        }
        event.build()
    }

    /// The customer's id.
    pub fn customer(&self) -> &str {
        &self.customer
    }

    /// The event's time, in milliseconds since the epoch.
    pub fn time(&self) -> i64 {
        self.time
    }
}

/// The members of the event's object `key` (`data`, `profile`), if given.
fn fields<'a>(
    event: &'a serde_json::Map<String, Json>,
    key: &'static str,
) -> Result<impl Iterator<Item = (&'a String, &'a Json)>, EventError> {
    let members = match non_null(event.get(key)) {
        None => None,
        Some(v) => Some(v.as_object().ok_or_else(|| EventError::WrongType {
            field: key.into(),
            expected: "an object".into(),
            found: describe(v),
        })?),
    };
    Ok(members.into_iter().flatten())
}

fn non_null(v: Option<&Json>) -> Option<&Json> {
    v.filter(|v| !v.is_null())
}

fn parse_time(t: &Json) -> Result<i64, EventError> {
    match t {
        Json::String(s) => {
            crate::time::parse_rfc3339(s).ok_or_else(|| EventError::BadTime(format!("`{s}`")))
        }
        Json::Number(n) => match n.as_i64() {
            Some(ms) if crate::time::IN_RANGE.contains(&ms) => Ok(ms),
            Some(ms) => Err(EventError::TimeOutOfRange { time: ms }),
            None => Err(EventError::BadTime(n.to_string())),
        },
        other => Err(EventError::BadTime(describe(other))),
    }
}

fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(_) => "a bool".into(),
        Json::Number(n) if n.is_i64() => "an integer".into(),
        Json::Number(n) if n.is_u64() => "an integer beyond the range of an int".into(),
        Json::Number(_) => "a number".into(),
        Json::String(s) => format!("the text {:?}", truncate(s)),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "an object".into(),
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Builds an [`Event`] in Rust, checking each part against the program.
///
/// ```
/// use jrule::{EventBuilder, Program, Source, Value};
/// let program = Program::compile(&[Source::new(
///     "p.jr",
///     "places hotel\nsignal key_used { room: int }\naction greet\nwhen key_used at hotel then greet",
/// )])?.program;
/// let event = EventBuilder::new(&program, "c42", "key_used", 1_772_403_300_000)?
///     .at("hotel")?
///     .field("room", Value::Int(1204))?
///     .build()?;
/// assert_eq!(event.customer(), "c42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventBuilder<'p> {
    program: &'p Program,
    event: Event,
}

impl<'p> EventBuilder<'p> {
    /// Starts an event of `signal` for `customer` at `time` (ms since the epoch).
    pub fn new(
        program: &'p Program,
        customer: &str,
        signal: &str,
        time: i64,
    ) -> Result<EventBuilder<'p>, EventError> {
        if customer.is_empty() {
            return Err(EventError::BadCustomer);
        }
        let s = program
            .names
            .signal(signal)
            .ok_or_else(|| EventError::UnknownSignal(signal.to_string()))?;
        Ok(EventBuilder {
            program,
            event: Event {
                layout: program.names.layout,
                customer: Arc::from(customer),
                signal: s,
                time,
                at: None,
                via: None,
                data: vec![None; program.names.signals[s].fields.len()],
                profile: Vec::new(),
            },
        })
    }

    /// Where the signal happened.
    pub fn at(mut self, place: &str) -> Result<Self, EventError> {
        let i = self
            .program
            .names
            .place(place)
            .ok_or_else(|| EventError::UnknownPlace(place.into()))?;
        self.event.at = Some(i);
        Ok(self)
    }

    /// How the signal reached us.
    pub fn via(mut self, channel: &str) -> Result<Self, EventError> {
        let i = self
            .program
            .names
            .channel(channel)
            .ok_or_else(|| EventError::UnknownChannel(channel.into()))?;
        self.event.via = Some(i);
        Ok(self)
    }

    /// Sets a data field of the signal.
    pub fn field(mut self, name: &str, value: Value) -> Result<Self, EventError> {
        let (i, def) = self.data_field(name)?;
        let value = check_type(def, value, &self.program.names)?;
        self.event.data[i.index()] = Some(value);
        Ok(self)
    }

    /// Sets a profile field before the rules run.
    /// A required field cannot be set to `None`.
    pub fn profile(mut self, name: &str, value: Option<Value>) -> Result<Self, EventError> {
        let (i, def) = profile_field(self.program, name)?;
        let value = match value {
            Some(v) => Some(check_type(def, v, &self.program.names)?),
            None => not_null(def)?,
        };
        self.event.profile.push((i, value));
        Ok(self)
    }

    fn data_field(&self, name: &str) -> Result<(FieldId, &'p FieldDef), EventError> {
        let signal = &self.program.names.signals[self.event.signal];
        signal
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| &*f.name == name)
            .map(|(i, f)| (FieldId::new(i), f))
            .ok_or_else(|| EventError::UnknownField {
                signal: signal.name.to_string(),
                field: name.to_string(),
            })
    }

    fn json_field(mut self, name: &str, json: &Json) -> Result<Self, EventError> {
        let (i, def) = self.data_field(name)?;
        self.event.data[i.index()] = if json.is_null() {
            None
        } else {
            Some(from_json(def, json, &self.program.names)?)
        };
        Ok(self)
    }

    fn json_profile(mut self, name: &str, json: &Json) -> Result<Self, EventError> {
        let (i, def) = profile_field(self.program, name)?;
        let value = if json.is_null() {
            not_null(def)?
        } else {
            Some(from_json(def, json, &self.program.names)?)
        };
        self.event.profile.push((i, value));
        Ok(self)
    }

    /// Checks that every required field is present and returns the event.
    pub fn build(self) -> Result<Event, EventError> {
        let signal = &self.program.names.signals[self.event.signal];
        for (def, value) in signal.fields.iter().zip(&self.event.data) {
            if value.is_none() && !def.optional {
                return Err(EventError::MissingField {
                    signal: signal.name.to_string(),
                    field: def.name.to_string(),
                });
            }
        }
        Ok(self.event)
    }
}

fn profile_field<'p>(
    program: &'p Program,
    name: &str,
) -> Result<(FieldId, &'p FieldDef), EventError> {
    program
        .names
        .customer
        .iter()
        .enumerate()
        .find(|(_, f)| &*f.name == name)
        .map(|(i, f)| (FieldId::new(i), f))
        .ok_or_else(|| EventError::UnknownProfileField(name.to_string()))
}

fn type_name(ty: Ty, names: &Names) -> String {
    let _ = names;
    let base = match ty.base {
        Base::Int => "an int",
        Base::Float => "a number",
        Base::Text => "a text",
        Base::Bool => "a bool",
        Base::Duration => "a duration",
        Base::Place => "a place",
        Base::Channel => "a channel",
        Base::Enum(_) => "a value of the field's enum",
        Base::Unknown => "a value",
    };
    if ty.list {
        format!(
            "a list of {}",
            base.trim_start_matches("an ").trim_start_matches("a ")
        )
    } else {
        base.to_string()
    }
}

/// An optional field may be made absent; a required one may not.
fn not_null(def: &FieldDef) -> Result<Option<Value>, EventError> {
    if def.optional {
        Ok(None)
    } else {
        Err(EventError::WrongType {
            field: def.name.to_string(),
            expected: "a value (the field is not optional)".to_string(),
            found: "null".to_string(),
        })
    }
}

/// Checks a value built in Rust against the field's type; an int given for
/// a float becomes a float, as it would read from JSON.
fn check_type(def: &FieldDef, value: Value, names: &Names) -> Result<Value, EventError> {
    let valid = |v: &Value| match v {
        Value::Symbol(s) => (*s as usize) < names.names_of(def.ty).len(),
        Value::Float(f) => f.is_finite(),
        _ => true,
    };
    let ok = value.fits(def.ty)
        && match &value {
            Value::List(items) => items.iter().all(valid),
            v => valid(v),
        };
    if ok {
        Ok(value.widened(def.ty))
    } else {
        Err(EventError::WrongType {
            field: def.name.to_string(),
            expected: type_name(def.ty, names),
            found: format!("{value:?}"),
        })
    }
}

/// Reads a value of a field's type from JSON.
pub(crate) fn from_json(def: &FieldDef, json: &Json, names: &Names) -> Result<Value, EventError> {
    value_from_json(def.ty, json, names).ok_or_else(|| EventError::WrongType {
        field: def.name.to_string(),
        expected: type_name(def.ty, names),
        found: describe(json),
    })
}

pub(crate) fn value_from_json(ty: Ty, json: &Json, names: &Names) -> Option<Value> {
    if ty.list {
        let items = json.as_array()?;
        return items
            .iter()
            .map(|i| value_from_json(ty.element(), i, names))
            .collect::<Option<Vec<_>>>()
            .map(Value::List);
    }
    Some(match ty.base {
        Base::Int => Value::Int(json.as_i64()?),
        Base::Float => Value::Float(json.as_f64()?),
        Base::Text => Value::Text(json.as_str()?.to_string()),
        Base::Bool => Value::Bool(json.as_bool()?),
        Base::Duration => Value::Duration(json.as_i64()?),
        Base::Enum(_) | Base::Place | Base::Channel => {
            Value::Symbol(names.symbol_id(ty, json.as_str()?)?)
        }
        Base::Unknown => return None,
    })
}

/// Writes a value of type `ty` as JSON.
pub(crate) fn value_to_json(ty: Ty, value: &Value, names: &Names) -> Json {
    match value {
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(t) => Json::String(t.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Duration(d) => Json::from(*d),
        Value::Symbol(s) => names
            .names_of(ty)
            .get(*s as usize)
            .map_or(Json::Null, |n| Json::String(n.to_string())),
        Value::List(items) => Json::Array(
            items
                .iter()
                .map(|v| value_to_json(ty.element(), v, names))
                .collect(),
        ),
    }
}
