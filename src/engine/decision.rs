//! Decisions: what the engine answers.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

pub use crate::value::Arg;

use crate::ids::{ActionId, ArmId, RuleId};

use crate::compile::{MoveArgs, Program};

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
    pub(crate) rule: RuleId,
    /// The action, or `None` for a move.
    pub(crate) action: Option<ActionId>,
    pub(crate) args: Args,
    pub(crate) arm: Option<ArmId>,
    /// `None` for the event's own decision; else the timer's deadline.
    pub(crate) timer: Option<i64>,
}

/// What made a decision: the event being processed, or a timer that fell
/// due (before an event, or when the clock was advanced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Cause<'d> {
    /// The event itself.
    Event,
    /// A timer of `rule` (`journey/rule`) due at `deadline` (ms since the epoch).
    Timer {
        /// The rule whose timer fired, qualified by its journey.
        rule: &'d str,
        /// The timer's deadline.
        #[serde(serialize_with = "rfc3339")]
        deadline: i64,
    },
}

fn rfc3339<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::format_rfc3339(*t))
}

impl Decision {
    /// What made this decision. A host answers the request that sent an
    /// event with its [`Cause::Event`] decisions and routes the rest.
    pub fn cause(&self) -> Cause<'_> {
        match self.timer {
            None => Cause::Event,
            Some(deadline) => Cause::Timer {
                rule: &self.program.rules[self.rule].qualified,
                deadline,
            },
        }
    }

    /// The decision with its [`cause`](Decision::cause) as a `cause` member,
    /// for serializing (`jrule run --causes`).
    pub fn with_cause(&self) -> WithCause<'_> {
        WithCause(self)
    }

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
        let rule = &self.program.rules[self.rule];
        rule.journey.map(|j| &*self.program.journeys[j].name)
    }

    /// The rule that decided.
    pub fn rule(&self) -> &str {
        &self.program.rules[self.rule].name
    }

    /// The action's name, or `move`.
    pub fn action(&self) -> &str {
        match self.action {
            Some(a) => &self.program.actions[a].name,
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
        let rule = &self.program.rules[self.rule];
        self.arm
            .and_then(|a| rule.arms.get(a.index()))
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
        self.serialize_as(s, false)
    }
}

/// A [`Decision`] serialized with its cause; see [`Decision::with_cause`].
#[derive(Debug, Clone, Copy)]
pub struct WithCause<'d>(&'d Decision);

impl Serialize for WithCause<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_as(s, true)
    }
}

impl Decision {
    fn serialize_as<S: Serializer>(&self, s: S, cause: bool) -> Result<S::Ok, S::Error> {
        let arm = self.arm();
        let fields = 6 + usize::from(arm.is_some()) + usize::from(cause);
        let mut d = s.serialize_struct("Decision", fields)?;
        d.serialize_field("time", &crate::time::format_rfc3339(self.time))?;
        d.serialize_field("customer", self.customer())?;
        d.serialize_field("journey", &self.journey())?;
        d.serialize_field("rule", self.rule())?;
        d.serialize_field("action", self.action())?;
        d.serialize_field("args", &ArgMap(self.args()))?;
        if let Some(arm) = arm {
            d.serialize_field("arm", arm)?;
        }
        if cause {
            d.serialize_field("cause", &self.cause())?;
        }
        d.end()
    }
}
