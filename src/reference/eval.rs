//! Values and the evaluation of checked expressions, straight from
//! LANGUAGE.md §4 and docs/language.md §6.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Root, UnaryOp};
use crate::types::{Base, Ty};

/// A value. Enum values, places and channels are kept by name: the checker
/// has made sure that only values of one type ever meet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    /// Milliseconds.
    Duration(i64),
    Name(String),
    List(Vec<Val>),
}

/// Division or remainder by zero, overflow, or a float that is not finite.
#[derive(Debug)]
pub(crate) struct EvalError;

/// A value or, for an absent optional value, `None`.
pub(crate) type Eval = Result<Option<Val>, EvalError>;

/// The event an expression reads: its time, place, channel and data
/// (only the fields that are present).
#[derive(Debug, Clone)]
pub(crate) struct EventView {
    pub time: i64,
    pub at: Option<String>,
    pub via: Option<String>,
    pub data: BTreeMap<String, Val>,
}

/// What `customer.…` and `event.…` mean where an expression is evaluated.
pub(crate) struct Scope<'a> {
    /// Every profile field: its value, or `None` when absent.
    pub profile: &'a BTreeMap<String, Option<Val>>,
    /// No event for a stay timer or a `requires`.
    pub event: Option<&'a EventView>,
}

impl Val {
    /// The value as a decision argument of type `ty`: an int where a float
    /// is expected is written as a float.
    pub(crate) fn to_json(&self, ty: Ty) -> Json {
        match self {
            Val::Int(i) if ty.base == Base::Float => Json::from(*i as f64),
            Val::Int(i) | Val::Duration(i) => Json::from(*i),
            Val::Float(f) => Json::from(*f),
            Val::Text(s) | Val::Name(s) => Json::from(s.as_str()),
            Val::Bool(b) => Json::from(*b),
            Val::List(items) => {
                Json::Array(items.iter().map(|v| v.to_json(ty.element())).collect())
            }
        }
    }

    /// The value stored in a field of type `ty`: ints become floats.
    pub(crate) fn widen(self, ty: Ty) -> Val {
        match self {
            Val::Int(i) if ty.base == Base::Float => Val::Float(i as f64),
            Val::List(items) => Val::List(items.into_iter().map(|v| v.widen(ty)).collect()),
            v => v,
        }
    }
}

/// A `where` (or `requires`) holds: an absent value counts as false.
pub(crate) fn holds(e: &Expr, scope: &Scope<'_>) -> Result<bool, EvalError> {
    Ok(matches!(eval(e, scope)?, Some(Val::Bool(true))))
}

/// Evaluates an expression.
pub(crate) fn eval(e: &Expr, scope: &Scope<'_>) -> Eval {
    Ok(match &e.kind {
        ExprKind::Int(i) => Some(Val::Int(*i)),
        ExprKind::Float(f) => Some(Val::Float(*f)),
        ExprKind::Text(s) => Some(Val::Text(s.clone())),
        ExprKind::Bool(b) => Some(Val::Bool(*b)),
        ExprKind::Duration(ms) => Some(Val::Duration(i64::try_from(*ms).map_err(|_| EvalError)?)),
        ExprKind::Name(n) => Some(Val::Name(n.name.clone())),
        ExprKind::List(items) => {
            // Absent members are left out (so `x in [a, b]` is `x == a or x == b`).
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.extend(eval(item, scope)?);
            }
            Some(Val::List(out))
        }
        ExprKind::Path(Root::Customer, f) => scope.profile.get(&f.name).cloned().flatten(),
        ExprKind::Path(Root::Event, f) => {
            let event = scope
                .event
                .expect("the checker allows `event.…` only with an event");
            match f.name.as_str() {
                "time" => Some(Val::Int(event.time)),
                "at" => event.at.clone().map(Val::Name),
                "via" => event.via.clone().map(Val::Name),
                name => event.data.get(name).cloned(),
            }
        }
        ExprKind::Has(Root::Customer, f) => Some(Val::Bool(matches!(
            scope.profile.get(&f.name),
            Some(Some(_))
        ))),
        ExprKind::Has(Root::Event, f) => Some(Val::Bool(
            scope.event.is_some_and(|ev| ev.data.contains_key(&f.name)),
        )),
        ExprKind::Unary(UnaryOp::Not, a) => Some(Val::Bool(!truthy(eval(a, scope)?))),
        ExprKind::Unary(UnaryOp::Neg, a) => match eval(a, scope)? {
            None => None,
            Some(Val::Int(i)) => Some(Val::Int(i.checked_neg().ok_or(EvalError)?)),
            Some(Val::Float(f)) => Some(Val::Float(-f)),
            Some(other) => unreachable!("checked: `-` of {other:?}"),
        },
        ExprKind::Binary(BinaryOp::And, a, b) => Some(Val::Bool(
            truthy(eval(a, scope)?) && truthy(eval(b, scope)?),
        )),
        ExprKind::Binary(BinaryOp::Or, a, b) => Some(Val::Bool(
            truthy(eval(a, scope)?) || truthy(eval(b, scope)?),
        )),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (eval(a, scope)?, eval(b, scope)?);
            binary(*op, a, b)?
        }
    })
}

/// A bool operand: absent (or anything but `true`) is false.
fn truthy(v: Option<Val>) -> bool {
    matches!(v, Some(Val::Bool(true)))
}

fn binary(op: BinaryOp, a: Option<Val>, b: Option<Val>) -> Eval {
    use BinaryOp::*;
    let (Some(a), Some(b)) = (a, b) else {
        // An absent operand: a comparison or test that reads it is false,
        // arithmetic on it is absent too.
        return Ok(match op {
            Add | Sub | Mul | Div | Rem => None,
            _ => Some(Val::Bool(false)),
        });
    };
    let test = |b: bool| Ok(Some(Val::Bool(b)));
    match op {
        Eq => test(equal(&a, &b)),
        Ne => test(!equal(&a, &b)),
        Lt => test(order(&a, &b) == Some(Ordering::Less)),
        Le => test(matches!(
            order(&a, &b),
            Some(Ordering::Less | Ordering::Equal)
        )),
        Gt => test(order(&a, &b) == Some(Ordering::Greater)),
        Ge => test(matches!(
            order(&a, &b),
            Some(Ordering::Greater | Ordering::Equal)
        )),
        In => match b {
            Val::List(items) => test(items.iter().any(|x| equal(&a, x))),
            other => unreachable!("checked: `in` {other:?}"),
        },
        Contains => match (a, b) {
            (Val::List(items), x) => test(items.iter().any(|i| equal(i, &x))),
            (Val::Text(s), Val::Text(t)) => test(s.contains(t.as_str())),
            (a, b) => unreachable!("checked: {a:?} contains {b:?}"),
        },
        StartsWith | EndsWith => match (a, b) {
            (Val::Text(s), Val::Text(t)) if op == StartsWith => test(s.starts_with(t.as_str())),
            (Val::Text(s), Val::Text(t)) => test(s.ends_with(t.as_str())),
            (a, b) => unreachable!("checked: {a:?} {} {b:?}", op.as_str()),
        },
        Add | Sub | Mul | Div | Rem => arithmetic(op, a, b).map(Some),
        And | Or => unreachable!("short-circuited in eval"),
    }
}

fn arithmetic(op: BinaryOp, a: Val, b: Val) -> Result<Val, EvalError> {
    use BinaryOp::*;
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => {
            let r = match op {
                Add => x.checked_add(y),
                Sub => x.checked_sub(y),
                Mul => x.checked_mul(y),
                Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            r.map(Val::Int).ok_or(EvalError)
        }
        (Val::Duration(x), Val::Duration(y)) => {
            let r = match op {
                Add => x.checked_add(y),
                _ => x.checked_sub(y),
            };
            r.map(Val::Duration).ok_or(EvalError)
        }
        (a, b) => {
            let (x, y) = (number(&a), number(&b));
            let r = match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                _ => x % y,
            };
            // Division by zero and overflow are errors: no infinity or NaN.
            if r.is_finite() {
                Ok(Val::Float(r))
            } else {
                Err(EvalError)
            }
        }
    }
}

fn number(v: &Val) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        other => unreachable!("checked: a number, not {other:?}"),
    }
}

/// `==`: ints widen to floats against floats.
fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Int(_), Val::Float(_)) | (Val::Float(_), Val::Int(_)) => number(a) == number(b),
        _ => a == b,
    }
}

/// The order of two numbers, texts (by code point) or durations.
fn order(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) | (Val::Duration(x), Val::Duration(y)) => Some(x.cmp(y)),
        (Val::Text(x), Val::Text(y)) => Some(x.cmp(y)),
        _ => number(a).partial_cmp(&number(b)),
    }
}
