//! Decisions: what the engine answers.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

/// One decision: an action to take for a customer now, or a stage move.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When (the event's time, or a timer's deadline), ms since the epoch.
    pub time: i64,
    /// The customer.
    pub customer: Arc<str>,
    /// The journey, or `None` for a top-level rule.
    pub journey: Option<Arc<str>>,
    /// The rule that decided.
    pub rule: Arc<str>,
    /// The action's name, or `move`.
    pub action: Arc<str>,
    /// The arguments by parameter name (`from`/`to` for a move).
    pub args: Vec<(Arc<str>, Arg)>,
    /// The split arm the decision was made in.
    pub arm: Option<Arc<str>>,
}

impl Decision {
    /// The decision as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The value of a decision's argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// An absent optional value (`null`).
    Null,
    /// An `int`.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `bool`.
    Bool(bool),
    /// A `duration` in milliseconds.
    Duration(i64),
    /// A `text`, or the name of an enum value, place, channel or stage.
    Text(Arc<str>),
    /// A list.
    List(Vec<Arg>),
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Null => s.serialize_none(),
            Arg::Int(i) | Arg::Duration(i) => s.serialize_i64(*i),
            Arg::Float(f) => s.serialize_f64(*f),
            Arg::Bool(b) => s.serialize_bool(*b),
            Arg::Text(t) => s.serialize_str(t),
            Arg::List(items) => items.serialize(s),
        }
    }
}

struct Args<'a>(&'a [(Arc<str>, Arg)]);

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.arm.is_some() { 7 } else { 6 };
        let mut d = s.serialize_struct("Decision", fields)?;
        d.serialize_field("time", &crate::time::format_rfc3339(self.time))?;
        d.serialize_field("customer", &*self.customer)?;
        d.serialize_field("journey", &self.journey.as_deref())?;
        d.serialize_field("rule", &*self.rule)?;
        d.serialize_field("action", &*self.action)?;
        d.serialize_field("args", &Args(&self.args))?;
        if let Some(arm) = &self.arm {
            d.serialize_field("arm", &**arm)?;
        }
        d.end()
    }
}
