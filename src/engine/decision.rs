//! Decisions: what the engine answers.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use crate::compile::{MoveArgs, Program};

/// The value of a decision's argument.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

/// Arguments of a decision: the program's own when they are constant (no
/// allocation, no reference count to touch), or computed.
#[derive(Debug, Clone)]
pub(crate) enum Args {
    Fixed(u32),
    Owned(MoveArgs),
}

/// One decision: an action to take for a customer now, or a stage move.
/// Names are read from the program through the accessors, so making a
/// decision copies no text.
#[derive(Debug, Clone)]
pub struct Decision {
    pub(crate) time: i64,
    pub(crate) customer: Arc<str>,
    pub(crate) program: Arc<Program>,
    pub(crate) rule: u32,
    /// The action, or `None` for a move.
    pub(crate) action: Option<u32>,
    pub(crate) args: Args,
    pub(crate) arm: Option<u16>,
}

impl Decision {
    /// When (the event's time, or a timer's deadline), ms since the epoch.
    pub fn time(&self) -> i64 {
        self.time
    }

    /// The customer.
    pub fn customer(&self) -> &str {
        &self.customer
    }

    /// The journey, or `None` for a top-level rule.
    pub fn journey(&self) -> Option<&str> {
        let rule = &self.program.rules[self.rule as usize];
        rule.journey.map(|j| &*self.program.journeys[j].name)
    }

    /// The rule that decided.
    pub fn rule(&self) -> &str {
        &self.program.rules[self.rule as usize].name
    }

    /// The action's name, or `move`.
    pub fn action(&self) -> &str {
        match self.action {
            Some(a) => &self.program.actions[a as usize].name,
            None => &self.program.words.move_,
        }
    }

    /// True for a stage move (whose action reads `move`).
    pub fn is_move(&self) -> bool {
        self.action.is_none()
    }

    /// The arguments by parameter name (`from`/`to` for a move).
    pub fn args(&self) -> &[(Arc<str>, Arg)] {
        match &self.args {
            Args::Fixed(i) => &self.program.fixed_args[*i as usize],
            Args::Owned(a) => a,
        }
    }

    /// The split arm the decision was made in.
    pub fn arm(&self) -> Option<&str> {
        let rule = &self.program.rules[self.rule as usize];
        self.arm
            .and_then(|a| rule.arms.get(a as usize))
            .map(|a| &**a)
    }

    /// The decision as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl PartialEq for Decision {
    fn eq(&self, other: &Decision) -> bool {
        self.time == other.time
            && self.customer == other.customer
            && self.journey() == other.journey()
            && self.rule() == other.rule()
            && self.action() == other.action()
            && self.args() == other.args()
            && self.arm() == other.arm()
    }
}

struct ArgMap<'a>(&'a [(Arc<str>, Arg)]);

impl Serialize for ArgMap<'_> {
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
        let arm = self.arm();
        let mut d = s.serialize_struct("Decision", if arm.is_some() { 7 } else { 6 })?;
        d.serialize_field("time", &crate::time::format_rfc3339(self.time))?;
        d.serialize_field("customer", self.customer())?;
        d.serialize_field("journey", &self.journey())?;
        d.serialize_field("rule", self.rule())?;
        d.serialize_field("action", self.action())?;
        d.serialize_field("args", &ArgMap(self.args()))?;
        if let Some(arm) = arm {
            d.serialize_field("arm", arm)?;
        }
        d.end()
    }
}
