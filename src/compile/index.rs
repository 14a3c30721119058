//! The rule index: for one signal, the rules of each journey (and the
//! top-level rules) partitioned by the stage their `in` clause names, the
//! place their `at` filter names, and the value their `where` requires of
//! one event field (`event.k == v`, `event.k in [..]`). An event looks up
//! the few lists that can match it and merges them in decision order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{CExpr, FieldDef, RuleDef, RuleInfo, TriggerDef};
use crate::ids::{ActionId, FieldId, JourneyId, PlaceId, RuleId, StageId, Table};
use crate::syntax::ast::BinaryOp;
use crate::types::Base;
use crate::value::Value;

/// Which list: stage (`None`: any), place (`None`: any), anchor value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    stage: Option<StageId>,
    place: Option<PlaceId>,
    /// The anchor value's key, when the rules require one.
    value: Option<u64>,
}

/// A rule in a list, with what firing it needs when it only calls one
/// action with constant arguments and its `where` is proven or absent: then
/// the entry alone serves, without reading the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    rule: RuleId,
    /// The rule's `where` is exactly the anchor, over a value compared
    /// exactly: finding the rule in that list proves the condition, so it
    /// is not evaluated again.
    proven: bool,
    fast: Option<(ActionId, u32)>,
}

impl Entry {
    /// A rule, with nothing proven and no shortcut: what an explanation
    /// visits, so that every gate of the rule is checked.
    pub(crate) fn plain(rule: RuleId) -> Entry {
        Entry {
            rule,
            proven: false,
            fast: None,
        }
    }

    /// The rule.
    pub(crate) fn rule(self) -> RuleId {
        self.rule
    }

    /// True when the index proved the rule's `where`.
    pub(crate) fn proven(self) -> bool {
        self.proven
    }

    /// The action and constant arguments of a rule served by its entry.
    pub(crate) fn fast(self) -> Option<(ActionId, u32)> {
        self.fast
    }
}

/// Lists of rules that share a stage, a place and an anchor value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    /// The journey, or `None` for the top-level rules.
    pub journey: Option<JourneyId>,
    /// Every rule of the bucket, in decision order.
    rules: Box<[RuleId]>,
    /// The event field whose value partitions the rules, if any.
    anchor: Option<FieldId>,
    /// Whether any rule names a stage, a place, an anchor value.
    staged: bool,
    placed: bool,
    anchored: bool,
    lists: HashMap<Key, List, BuildHasherDefault<Mix>>,
    /// The lists of any stage and place by small exact anchor value
    /// (enum values, places, channels, small ints): one load, no probing.
    direct: Vec<List>,
}

/// A list of rule entries, kept inline when it holds one (the common case
/// of an equality anchor), to save a memory load per event.
#[derive(Debug, Clone)]
enum List {
    One(Entry),
    Many(Vec<Entry>),
}

impl Default for List {
    fn default() -> List {
        List::Many(Vec::new())
    }
}

impl List {
    fn push(&mut self, entry: Entry) {
        match self {
            List::One(first) if *first == entry => {}
            List::One(first) => *self = List::Many(vec![*first, entry]),
            List::Many(v) if v.is_empty() => *self = List::One(entry),
            List::Many(v) => {
                if v.last() != Some(&entry) {
                    v.push(entry);
                }
            }
        }
    }

    fn as_slice(&self) -> &[Entry] {
        match self {
            List::One(e) => std::slice::from_ref(e),
            List::Many(v) => v,
        }
    }
}

impl Bucket {
    pub(crate) fn new(journey: Option<JourneyId>) -> Bucket {
        Bucket {
            journey,
            ..Bucket::default()
        }
    }

    /// Adds rules (numbered in decision order, added in that order).
    /// `fields` are the signal's fields.
    pub(crate) fn build(
        &mut self,
        rules: &Table<RuleId, RuleDef>,
        info: &Table<RuleId, RuleInfo>,
        ids: &[RuleId],
        fields: &[FieldDef],
    ) {
        self.rules = ids.into();
        // Only fields whose values compare exactly can anchor (not floats:
        // `event.x == 1` holds for 1.0).
        let exact = |f: FieldId| {
            fields
                .get(f.index())
                .is_some_and(|d| !d.ty.list && !matches!(d.ty.base, Base::Float | Base::Unknown))
        };
        let anchor_of = |rule: &RuleDef| anchor_of(rule).filter(|(f, _, _)| exact(*f));
        // The field anchored by the most rules partitions them.
        let mut counts: HashMap<FieldId, usize> = HashMap::new();
        for &id in ids {
            if let Some((field, _, _)) = anchor_of(&rules[id]) {
                *counts.entry(field).or_default() += 1;
            }
        }
        self.anchor = counts
            .into_iter()
            .max_by_key(|&(f, n)| (n, std::cmp::Reverse(f)))
            .map(|(f, _)| f);
        for &id in ids {
            let rule = &rules[id];
            let stages: Vec<Option<StageId>> = match &rule.stages {
                None => vec![None],
                Some(list) => list.iter().copied().map(Some).collect(),
            };
            let places: Vec<Option<PlaceId>> = match &rule.trigger {
                TriggerDef::Signal { event, .. } if !event.at.is_empty() => {
                    event.at.iter().copied().map(Some).collect()
                }
                _ => vec![None],
            };
            let (anchors, proven): (Vec<Option<u64>>, bool) = match anchor_of(rule) {
                Some((field, values, whole)) if Some(field) == self.anchor => {
                    let keys: Vec<(u64, bool)> = values.iter().map(value_key).collect();
                    let exact = keys.iter().all(|k| k.1);
                    (
                        keys.into_iter().map(|k| Some(k.0)).collect(),
                        whole && exact,
                    )
                }
                _ => (vec![None], false),
            };
            self.staged |= stages[0].is_some();
            self.placed |= places[0].is_some();
            self.anchored |= anchors[0].is_some();
            let entry = Entry {
                rule: id,
                proven,
                fast: info[id].fast.filter(|_| proven || !info[id].has_where()),
            };
            for &stage in &stages {
                for &place in &places {
                    for &value in &anchors {
                        self.lists
                            .entry(Key {
                                stage,
                                place,
                                value,
                            })
                            .or_default()
                            .push(entry);
                    }
                }
            }
        }
        let exact_anchor = self.anchor.is_some_and(|f| {
            fields
                .get(f.index())
                .is_some_and(|d| !matches!(d.ty.base, Base::Text | Base::Float | Base::Unknown))
        });
        self.tabulate(exact_anchor);
    }

    /// Moves the lists of small exact anchor values into `direct`.
    fn tabulate(&mut self, exact: bool) {
        const LIMIT: u64 = 1 << 16;
        let small: Vec<Key> = self
            .lists
            .keys()
            .filter(|k| {
                k.stage.is_none() && k.place.is_none() && k.value.is_some_and(|v| v < LIMIT)
            })
            .copied()
            .collect();
        if !exact || small.is_empty() {
            return;
        }
        let size = small.iter().filter_map(|k| k.value).max().unwrap_or(0) as usize + 1;
        // Only when the table is dense enough to be worth its memory.
        if size > 4 * small.len() + 64 {
            return;
        }
        self.direct = vec![List::default(); size];
        for key in small {
            if let (Some(list), Some(v)) = (self.lists.remove(&key), key.value) {
                self.direct[v as usize] = list;
            }
        }
    }

    /// Every rule of the bucket, in decision order, as [plain](Entry::plain)
    /// entries: an explanation gives each a verdict.
    pub(crate) fn every(&self, visit: impl FnMut(Entry)) {
        self.rules.iter().map(|&r| Entry::plain(r)).for_each(visit);
    }

    /// The rules that can fire for an event in `stage` at `place` with
    /// `data`, in decision order, passed one by one to `visit` with whether
    /// their `where` is already proven.
    pub(crate) fn visit(
        &self,
        stage: Option<StageId>,
        place: Option<PlaceId>,
        data: &[Option<Value>],
        mut visit: impl FnMut(Entry),
    ) {
        let mut found: [&[Entry]; 8] = [&[]; 8];
        let mut n = 0;
        let stage = stage.filter(|_| self.staged);
        let place = place.filter(|_| self.placed);
        let value = self
            .anchor
            .filter(|_| self.anchored)
            .and_then(|f| data.get(f.index()))
            .and_then(Option::as_ref)
            .map(|v| value_key(v).0);
        for stage in [Some(None), stage.map(Some)].into_iter().flatten() {
            for place in [Some(None), place.map(Some)].into_iter().flatten() {
                for value in [Some(None), value.map(Some)].into_iter().flatten() {
                    // Small values are in the direct table; the others
                    // (large, negative) stayed in the lists.
                    let list = match value {
                        Some(v)
                            if stage.is_none()
                                && place.is_none()
                                && (v as usize) < self.direct.len() =>
                        {
                            self.direct.get(v as usize)
                        }
                        _ => self.lists.get(&Key {
                            stage,
                            place,
                            value,
                        }),
                    };
                    if let Some(list) = list.filter(|l| !l.as_slice().is_empty()) {
                        found[n] = list.as_slice();
                        n += 1;
                    }
                }
            }
        }
        let lists = &mut found[..n];
        if let [only] = lists {
            only.iter().for_each(|&e| visit(e));
            return;
        }
        // Merge the lists, sorted by rule number.
        loop {
            let mut best: Option<(usize, Entry)> = None;
            for (i, list) in lists.iter().enumerate() {
                if let Some(&head) = list.first() {
                    if best.is_none_or(|(_, b)| head.rule() < b.rule()) {
                        best = Some((i, head));
                    }
                }
            }
            let Some((i, entry)) = best else { break };
            lists[i] = &lists[i][1..];
            visit(entry);
        }
    }
}

/// The event field and values a rule's `where` requires, if it requires any:
/// a conjunct `event.k == v` or `event.k in [v, …]` over exact values; and
/// whether that conjunct is the whole condition.
fn anchor_of(rule: &RuleDef) -> Option<(FieldId, Vec<Value>, bool)> {
    let c = rule.condition.as_ref()?;
    let mut found = None;
    conjuncts(c, &mut |e| {
        if found.is_none() {
            found = anchor(e);
        }
    });
    let whole = !matches!(c, CExpr::Binary(BinaryOp::And, ..));
    found.map(|(f, v)| (f, v, whole))
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

fn anchor(e: &CExpr) -> Option<(FieldId, Vec<Value>)> {
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

/// The key of an anchor value, and whether it is exact. One field's values
/// share a type, so ints, durations, symbols and bools are their own key;
/// text is hashed (a collision only costs an evaluation of the `where`).
fn value_key(v: &Value) -> (u64, bool) {
    match v {
        Value::Int(i) | Value::Duration(i) => (*i as u64, true),
        Value::Symbol(s) => (u64::from(*s), true),
        Value::Bool(b) => (u64::from(*b), true),
        Value::Text(t) => {
            let mut h = Mix::default();
            h.write(t.as_bytes());
            (h.finish(), false)
        }
        Value::Float(_) | Value::List(_) => (0, false),
    }
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
