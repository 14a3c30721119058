//! The rule index: for one signal, the rules of each journey (and the
//! top-level rules) partitioned by the stage their `in` clause names, the
//! place their `at` filter names, and the value their `where` requires of
//! one event field (`event.k == v`, `event.k in [..]`). An event looks up
//! the few lists that can match it and merges them in decision order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::expr::CExpr;
use super::{FieldDef, RuleDef, TriggerDef};
use crate::syntax::ast::BinaryOp;
use crate::types::Base;
use crate::value::Value;

/// Any stage, any place, or no anchor value: the wildcard of a key part.
pub(crate) const ANY: u32 = u32::MAX;
const NO_ANCHOR: u64 = u64::MAX;

/// Lists of rules that share a stage, a place and an anchor value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    /// The journey, or `None` for the top-level rules.
    pub journey: Option<usize>,
    /// The event field whose value partitions the rules, if any.
    anchor: Option<usize>,
    /// Whether any rule names a stage, a place, an anchor value.
    staged: bool,
    placed: bool,
    anchored: bool,
    lists: HashMap<(u32, u32, u64), Vec<usize>, BuildHasherDefault<Mix>>,
}

impl Bucket {
    pub(crate) fn new(journey: Option<usize>) -> Bucket {
        Bucket {
            journey,
            ..Bucket::default()
        }
    }

    /// Adds rules (numbered in decision order, added in that order).
    /// `fields` are the signal's fields.
    pub(crate) fn build(&mut self, rules: &[RuleDef], ids: &[usize], fields: &[FieldDef]) {
        // Only fields whose values compare exactly can anchor (not floats:
        // `event.x == 1` holds for 1.0).
        let exact = |f: usize| {
            fields
                .get(f)
                .is_some_and(|d| !d.ty.list && !matches!(d.ty.base, Base::Float | Base::Unknown))
        };
        let anchor_of = |rule: &RuleDef| anchor_of(rule).filter(|(f, _)| exact(*f));
        // The field anchored by the most rules partitions them.
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &id in ids {
            if let Some((field, _)) = anchor_of(&rules[id]) {
                *counts.entry(field).or_default() += 1;
            }
        }
        self.anchor = counts
            .into_iter()
            .max_by_key(|&(f, n)| (n, std::cmp::Reverse(f)))
            .map(|(f, _)| f);
        for &id in ids {
            let rule = &rules[id];
            let stages: Vec<u32> = match &rule.stages {
                None => vec![ANY],
                Some(flags) => flags
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| **f)
                    .map(|(s, _)| s as u32)
                    .collect(),
            };
            let places: Vec<u32> = match &rule.trigger {
                TriggerDef::Signal { event, .. } if !event.at.is_empty() => event.at.clone(),
                _ => vec![ANY],
            };
            let anchors: Vec<u64> = match anchor_of(rule) {
                Some((field, values)) if Some(field) == self.anchor => {
                    values.iter().map(hash_value).collect()
                }
                _ => vec![NO_ANCHOR],
            };
            self.staged |= stages[0] != ANY;
            self.placed |= places[0] != ANY;
            self.anchored |= anchors[0] != NO_ANCHOR;
            for &s in &stages {
                for &p in &places {
                    for &a in &anchors {
                        let list = self.lists.entry((s, p, a)).or_default();
                        if list.last() != Some(&id) {
                            list.push(id);
                        }
                    }
                }
            }
        }
    }

    /// The rules that can fire for an event in `stage` at `place` with
    /// `data`, in decision order, passed one by one to `visit`.
    pub(crate) fn visit(
        &self,
        stage: Option<usize>,
        place: Option<u32>,
        data: &[Option<Value>],
        mut visit: impl FnMut(usize),
    ) {
        let mut found: [&[usize]; 8] = [&[]; 8];
        let mut n = 0;
        let stages = [
            ANY,
            if self.staged {
                stage.map_or(ANY, |s| s as u32)
            } else {
                ANY
            },
        ];
        let places = [
            ANY,
            if self.placed {
                place.unwrap_or(ANY)
            } else {
                ANY
            },
        ];
        let value = self
            .anchor
            .filter(|_| self.anchored)
            .and_then(|f| data.get(f))
            .and_then(Option::as_ref);
        let anchors = [NO_ANCHOR, value.map_or(NO_ANCHOR, hash_value)];
        for (i, &s) in stages.iter().enumerate() {
            if i == 1 && s == ANY {
                continue;
            }
            for (j, &p) in places.iter().enumerate() {
                if j == 1 && p == ANY {
                    continue;
                }
                for (k, &a) in anchors.iter().enumerate() {
                    if k == 1 && a == NO_ANCHOR {
                        continue;
                    }
                    if let Some(list) = self.lists.get(&(s, p, a)) {
                        found[n] = list;
                        n += 1;
                    }
                }
            }
        }
        let lists = &mut found[..n];
        if let [only] = lists {
            only.iter().for_each(|&id| visit(id));
            return;
        }
        // Merge the sorted lists.
        loop {
            let mut best: Option<(usize, usize)> = None;
            for (i, list) in lists.iter().enumerate() {
                if let Some(&head) = list.first() {
                    if best.is_none_or(|(_, b)| head < b) {
                        best = Some((i, head));
                    }
                }
            }
            let Some((i, id)) = best else { break };
            lists[i] = &lists[i][1..];
            visit(id);
        }
    }
}

/// The event field and values a rule's `where` requires, if it requires any:
/// a conjunct `event.k == v` or `event.k in [v, …]` over exact values.
fn anchor_of(rule: &RuleDef) -> Option<(usize, Vec<Value>)> {
    let mut found = None;
    if let Some(c) = &rule.condition {
        conjuncts(c, &mut |e| {
            if found.is_none() {
                found = anchor(e);
            }
        });
    }
    found
}

fn conjuncts<'a>(e: &'a CExpr, f: &mut impl FnMut(&'a CExpr)) {
    match e {
        CExpr::Binary(BinaryOp::And, a, b) => {
            conjuncts(a, f);
            conjuncts(b, f);
        }
        other => f(other),
    }
}

fn anchor(e: &CExpr) -> Option<(usize, Vec<Value>)> {
    let exact = |v: &Value| {
        matches!(
            v,
            Value::Int(_) | Value::Text(_) | Value::Bool(_) | Value::Symbol(_) | Value::Duration(_)
        )
    };
    match e {
        CExpr::Binary(BinaryOp::Eq, a, b) => match (&**a, &**b) {
            (CExpr::EventField(f), CExpr::Const(v)) | (CExpr::Const(v), CExpr::EventField(f))
                if exact(v) =>
            {
                Some((*f, vec![v.clone()]))
            }
            _ => None,
        },
        CExpr::Binary(BinaryOp::In, a, b) => match (&**a, &**b) {
            (CExpr::EventField(f), CExpr::Const(Value::List(items)))
                if !items.is_empty() && items.iter().all(exact) =>
            {
                Some((*f, items.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// A 64-bit hash of an exact value; equal values hash alike. A collision
/// only costs an evaluation: the `where` is always evaluated in full.
fn hash_value(v: &Value) -> u64 {
    let mut h = Mix::default();
    match v {
        Value::Int(i) | Value::Duration(i) => {
            h.write_u8(1);
            h.write_u64(*i as u64);
        }
        Value::Text(t) => {
            h.write_u8(2);
            h.write(t.as_bytes());
        }
        Value::Bool(b) => {
            h.write_u8(3);
            h.write_u8(u8::from(*b));
        }
        Value::Symbol(s) => {
            h.write_u8(4);
            h.write_u64(u64::from(*s));
        }
        Value::Float(_) | Value::List(_) => h.write_u8(5),
    }
    h.finish()
}

/// A small, fast hasher (FxHash's multiply-rotate) for keys the program
/// fixes; anchor values from events are only looked up, never inserted.
#[derive(Default, Clone, Copy)]
pub(crate) struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        self.write_u8(bytes.len() as u8);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}
