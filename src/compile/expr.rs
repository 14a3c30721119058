//! Compiled expressions: names resolved to slots, evaluated without
//! allocating.

use crate::ids::{ChannelId, PlaceId};
use crate::syntax::ast::BinaryOp;
use crate::value::Value;

use super::CExpr;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvalError {
    DivisionByZero,
    Overflow,
}

/// What an expression reads: the event (if any) and the profile.
pub(crate) struct Scope<'a> {
    pub data: &'a [Option<Value>],
    pub at: Option<PlaceId>,
    pub via: Option<ChannelId>,
    /// Now: the event's time, or the timer's deadline.
    pub time: i64,
    /// What `event.time` reads: the time of the event the rule reads.
    pub event_time: i64,
    pub profile: &'a [Option<Value>],
}

impl<'a> Scope<'a> {
    /// A scope with no event: a timer of a stay rule, or `requires`.
    pub(crate) fn without_event(time: i64, profile: &'a [Option<Value>]) -> Scope<'a> {
        Scope {
            data: &[],
            at: None,
            via: None,
            time,
            event_time: time,
            profile,
        }
    }
}

/// A value during evaluation, borrowing from the event, profile or program.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
    Duration(i64),
    Symbol(u32),
    Values(&'a [Value]),
    Exprs(&'a [CExpr]),
}

impl<'a> Val<'a> {
    /// A place, channel or enum value by its position.
    fn symbol(index: usize) -> Val<'a> {
        Val::Symbol(u32::try_from(index).unwrap_or(u32::MAX))
    }

    fn of(v: &'a Option<Value>) -> Val<'a> {
        match v {
            None => Val::Absent,
            Some(v) => Val::from_value(v),
        }
    }

    fn from_value(v: &'a Value) -> Val<'a> {
        match v {
            Value::Int(i) => Val::Int(*i),
            Value::Float(f) => Val::Float(*f),
            Value::Text(t) => Val::Text(t),
            Value::Bool(b) => Val::Bool(*b),
            Value::Duration(d) => Val::Duration(*d),
            Value::Symbol(s) => Val::Symbol(*s),
            Value::List(items) => Val::Values(items),
        }
    }

    /// The owned value (for action arguments); `None` when absent.
    pub(crate) fn to_value(self, scope: &Scope<'_>) -> Result<Option<Value>, EvalError> {
        Ok(Some(match self {
            Val::Absent => return Ok(None),
            Val::Int(i) => Value::Int(i),
            Val::Float(f) => Value::Float(f),
            Val::Bool(b) => Value::Bool(b),
            Val::Text(t) => Value::Text(t.to_string()),
            Val::Duration(d) => Value::Duration(d),
            Val::Symbol(s) => Value::Symbol(s),
            Val::Values(items) => Value::List(items.to_vec()),
            Val::Exprs(items) => {
                let mut out = Vec::with_capacity(items.len());
                for e in items {
                    out.extend(e.eval(scope)?.to_value(scope)?);
                }
                Value::List(out)
            }
        }))
    }
}

impl CExpr {
    /// True when the condition holds (absent values and errors aside).
    pub(crate) fn holds(&self, scope: &Scope<'_>) -> Result<bool, EvalError> {
        Ok(matches!(self.eval(scope)?, Val::Bool(true)))
    }

    pub(crate) fn eval<'a>(&'a self, scope: &Scope<'a>) -> Result<Val<'a>, EvalError> {
        Ok(match self {
            CExpr::Const(v) => Val::from_value(v),
            CExpr::List(items) => Val::Exprs(items),
            CExpr::EventField(f) => scope.data.get(f.index()).map_or(Val::Absent, Val::of),
            CExpr::EventAt => scope.at.map_or(Val::Absent, |p| Val::symbol(p.index())),
            CExpr::EventVia => scope.via.map_or(Val::Absent, |c| Val::symbol(c.index())),
            CExpr::EventTime => Val::Int(scope.event_time),
            CExpr::CustomerField(f) => scope.profile.get(f.index()).map_or(Val::Absent, Val::of),
            CExpr::HasEvent(f) => Val::Bool(scope.data.get(f.index()).is_some_and(Option::is_some)),
            CExpr::HasCustomer(f) => {
                Val::Bool(scope.profile.get(f.index()).is_some_and(Option::is_some))
            }
            // An absent bool counts as false, as under `and` and `or`.
            CExpr::Not(inner) => Val::Bool(!matches!(inner.eval(scope)?, Val::Bool(true))),
            CExpr::Neg(inner) => match inner.eval(scope)? {
                Val::Int(i) => Val::Int(i.checked_neg().ok_or(EvalError::Overflow)?),
                Val::Float(f) => Val::Float(-f),
                Val::Duration(d) => Val::Duration(d.checked_neg().ok_or(EvalError::Overflow)?),
                _ => Val::Absent,
            },
            CExpr::Binary(BinaryOp::And, a, b) => {
                if !matches!(a.eval(scope)?, Val::Bool(true)) {
                    return Ok(Val::Bool(false));
                }
                Val::Bool(matches!(b.eval(scope)?, Val::Bool(true)))
            }
            CExpr::Binary(BinaryOp::Or, a, b) => {
                if matches!(a.eval(scope)?, Val::Bool(true)) {
                    return Ok(Val::Bool(true));
                }
                Val::Bool(matches!(b.eval(scope)?, Val::Bool(true)))
            }
            CExpr::Binary(op, a, b) => binary(*op, a.eval(scope)?, b.eval(scope)?, scope)?,
        })
    }
}

fn binary<'a>(
    op: BinaryOp,
    a: Val<'a>,
    b: Val<'a>,
    scope: &Scope<'a>,
) -> Result<Val<'a>, EvalError> {
    if matches!(a, Val::Absent) || matches!(b, Val::Absent) {
        return Ok(match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                Val::Absent
            }
            _ => Val::Bool(false),
        });
    }
    use std::cmp::Ordering;
    let order = |a: Val<'_>, b: Val<'_>| -> Option<Ordering> { compare(a, b) };
    Ok(match op {
        BinaryOp::Eq => Val::Bool(order(a, b) == Some(Ordering::Equal)),
        BinaryOp::Ne => Val::Bool(order(a, b).is_some_and(|o| o != Ordering::Equal)),
        BinaryOp::Lt => Val::Bool(order(a, b) == Some(Ordering::Less)),
        BinaryOp::Le => Val::Bool(matches!(
            order(a, b),
            Some(Ordering::Less | Ordering::Equal)
        )),
        BinaryOp::Gt => Val::Bool(order(a, b) == Some(Ordering::Greater)),
        BinaryOp::Ge => Val::Bool(matches!(
            order(a, b),
            Some(Ordering::Greater | Ordering::Equal)
        )),
        BinaryOp::In => Val::Bool(member(a, b, scope)?),
        BinaryOp::Contains => match (a, b) {
            (Val::Text(t), Val::Text(s)) => Val::Bool(t.contains(s)),
            (list, x) => Val::Bool(member(x, list, scope)?),
        },
        BinaryOp::StartsWith => match (a, b) {
            (Val::Text(t), Val::Text(s)) => Val::Bool(t.starts_with(s)),
            _ => Val::Bool(false),
        },
        BinaryOp::EndsWith => match (a, b) {
            (Val::Text(t), Val::Text(s)) => Val::Bool(t.ends_with(s)),
            _ => Val::Bool(false),
        },
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            arithmetic(op, a, b)?
        }
        BinaryOp::And | BinaryOp::Or => Val::Absent,
    })
}

fn member<'a>(x: Val<'a>, list: Val<'a>, scope: &Scope<'a>) -> Result<bool, EvalError> {
    match list {
        Val::Values(items) => Ok(items
            .iter()
            .any(|v| compare(x, Val::from_value(v)) == Some(std::cmp::Ordering::Equal))),
        Val::Exprs(items) => {
            for e in items {
                if compare(x, e.eval(scope)?) == Some(std::cmp::Ordering::Equal) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// Orders two values of comparable types (`None` when they are not).
fn compare(a: Val<'_>, b: Val<'_>) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(&y)),
        (Val::Int(x), Val::Float(y)) => (x as f64).partial_cmp(&y),
        (Val::Float(x), Val::Int(y)) => x.partial_cmp(&(y as f64)),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(&y),
        (Val::Text(x), Val::Text(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(&y)),
        (Val::Duration(x), Val::Duration(y)) => Some(x.cmp(&y)),
        (Val::Symbol(x), Val::Symbol(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

fn arithmetic<'a>(op: BinaryOp, a: Val<'a>, b: Val<'a>) -> Result<Val<'a>, EvalError> {
    use EvalError::{DivisionByZero, Overflow};
    Ok(match (a, b) {
        (Val::Int(x), Val::Int(y)) => Val::Int(match op {
            BinaryOp::Add => x.checked_add(y).ok_or(Overflow)?,
            BinaryOp::Sub => x.checked_sub(y).ok_or(Overflow)?,
            BinaryOp::Mul => x.checked_mul(y).ok_or(Overflow)?,
            BinaryOp::Div if y == 0 => return Err(DivisionByZero),
            BinaryOp::Div => x.checked_div(y).ok_or(Overflow)?,
            BinaryOp::Rem if y == 0 => return Err(DivisionByZero),
            _ => x.checked_rem(y).ok_or(Overflow)?,
        }),
        (Val::Duration(x), Val::Duration(y)) => Val::Duration(match op {
            BinaryOp::Add => x.checked_add(y).ok_or(Overflow)?,
            _ => x.checked_sub(y).ok_or(Overflow)?,
        }),
        (x, y) => {
            let (Some(x), Some(y)) = (float(x), float(y)) else {
                return Ok(Val::Absent);
            };
            let r = match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div if y == 0.0 => return Err(DivisionByZero),
                BinaryOp::Div => x / y,
                BinaryOp::Rem if y == 0.0 => return Err(DivisionByZero),
                _ => x % y,
            };
            if !r.is_finite() {
                return Err(Overflow);
            }
            Val::Float(r)
        }
    })
}

fn float(v: Val<'_>) -> Option<f64> {
    match v {
        Val::Int(i) => Some(i as f64),
        Val::Float(f) => Some(f),
        _ => None,
    }
}
