//! Run-time values of profile fields, event data and action arguments.

use std::sync::Arc;

use serde::ser::{Serialize, Serializer};

use crate::types::{Base, Ty};

/// A value of one of the language's types.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `int`.
    Int(i64),
    /// `float`.
    Float(f64),
    /// `text`.
    Text(String),
    /// `bool`.
    Bool(bool),
    /// `duration`, in milliseconds.
    Duration(i64),
    /// A value of an enum, a place or a channel: its index in declaration order.
    Symbol(u32),
    /// `[T]`.
    List(Vec<Value>),
}

impl Value {
    /// The value as type `ty` holds it: an int where a float is declared
    /// becomes a float (so that `/` divides as floats do).
    pub fn widened(self, ty: Ty) -> Value {
        match self {
            Value::Int(i) if ty.base == Base::Float && !ty.list => Value::Float(i as f64),
            Value::List(items) if ty.list => {
                Value::List(items.into_iter().map(|v| v.widened(ty.element())).collect())
            }
            other => other,
        }
    }

    /// True when the value has type `ty` (an int also fits a float).
    pub fn fits(&self, ty: Ty) -> bool {
        if ty.list {
            return match self {
                Value::List(items) => items.iter().all(|v| v.fits(ty.element())),
                _ => false,
            };
        }
        matches!(
            (self, ty.base),
            (Value::Int(_), Base::Int | Base::Float)
                | (Value::Float(_), Base::Float)
                | (Value::Text(_), Base::Text)
                | (Value::Bool(_), Base::Bool)
                | (Value::Duration(_), Base::Duration)
                | (
                    Value::Symbol(_),
                    Base::Enum(_) | Base::Place | Base::Channel
                )
        )
    }
}

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
