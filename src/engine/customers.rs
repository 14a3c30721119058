//! Customer state, interned. Each customer with any state has a dense slot
//! number, found through a hash table of slot numbers (five bytes per
//! customer). A slot is one 64-byte record: the id, the first journey's
//! stage, times and goal bits, and the heads of the customer's timers and
//! cap windows, which live in pools shared by all customers. What most
//! customers lack — a profile, sequence memories, further journeys, split
//! exposures — is in a boxed side record.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::compile::{Program, TriggerDef};
use crate::value::Value;

/// No slot, timer, cap or journey.
const NIL: u32 = u32::MAX;
/// Slots are allocated a page at a time, so that growing never copies them.
const PAGE: usize = 1024;

/// A customer's place in one journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JourneyState {
    pub journey: u32,
    pub stage: u32,
    /// When the customer entered the journey (goals count from there).
    pub entered: i64,
    /// When the customer entered the stage.
    pub since: i64,
    /// A bit per goal of the journey, set once converted.
    pub converted: u64,
}

const NO_JOURNEY: JourneyState = JourneyState {
    journey: NIL,
    stage: 0,
    entered: 0,
    since: 0,
    converted: 0,
};

/// A pending timer of one rule.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timer {
    pub rule: u32,
    next: u32,
    pub deadline: i64,
    /// For `no … after S2`: the `S2` event, which `event.FIELD` reads.
    pub event: Option<TimerEvent>,
}

/// The event a `no … after S2` wait keeps.
#[derive(Debug, Clone)]
pub(crate) struct TimerEvent {
    pub time: i64,
    pub at: Option<u32>,
    pub via: Option<u32>,
    /// Boxed, so that a signal without fields costs no allocation.
    pub data: Box<[Option<Value>]>,
}

/// The firing times of a rule with a `limit`, within its window.
#[derive(Debug, Clone, Default)]
struct Cap {
    rule: u32,
    next: u32,
    times: SmallVec<[i64; 2]>,
}

#[derive(Debug, Clone)]
struct Slot {
    /// `None` for a free slot.
    id: Option<Arc<str>>,
    first: JourneyState,
    timers: u32,
    caps: u32,
    cold: Option<Box<Cold>>,
}

const FREE: Slot = Slot {
    id: None,
    first: NO_JOURNEY,
    timers: NIL,
    caps: NIL,
    cold: None,
};

#[derive(Debug, Clone, Default)]
struct Cold {
    /// Journeys after the first, in the order entered.
    journeys: Vec<JourneyState>,
    /// Split rules that assigned this customer an arm, in that order.
    exposures: Vec<u32>,
    profile: Option<Box<[Option<Value>]>>,
    /// `S within D after S2` rules: when `S2` last happened.
    memory: Vec<(u32, i64)>,
}

impl Cold {
    fn is_empty(&self) -> bool {
        self.journeys.is_empty()
            && self.exposures.is_empty()
            && self.profile.is_none()
            && self.memory.is_empty()
    }
}

/// Records linked into per-customer lists, with a free list.
#[derive(Debug, Clone, Default)]
struct Pool<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T: Default> Pool<T> {
    fn add(&mut self, item: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = item;
                i
            }
            None => {
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        }
    }

    fn take(&mut self, i: u32) -> T {
        self.free.push(i);
        std::mem::take(&mut self.items[i as usize])
    }
}

trait Linked {
    fn next(&self) -> u32;
    fn set_next(&mut self, next: u32);
}

impl Linked for Timer {
    fn next(&self) -> u32 {
        self.next
    }
    fn set_next(&mut self, next: u32) {
        self.next = next;
    }
}

impl Linked for Cap {
    fn next(&self) -> u32 {
        self.next
    }
    fn set_next(&mut self, next: u32) {
        self.next = next;
    }
}

impl<T: Linked + Default> Pool<T> {
    fn iter(&self, head: u32) -> impl Iterator<Item = &T> {
        let mut at = head;
        std::iter::from_fn(move || {
            let item = self.items.get(at as usize)?;
            at = item.next();
            Some(item)
        })
    }

    fn push(&mut self, head: &mut u32, mut item: T) {
        item.set_next(*head);
        *head = self.add(item);
    }

    /// Unlinks and returns the items of a list that `remove` selects.
    fn remove_where(&mut self, head: &mut u32, mut remove: impl FnMut(&mut T) -> bool) -> usize {
        let mut removed = 0;
        let mut prev = NIL;
        let mut at = *head;
        while at != NIL {
            let next = self.items[at as usize].next();
            if remove(&mut self.items[at as usize]) {
                if prev == NIL {
                    *head = next;
                } else {
                    self.items[prev as usize].set_next(next);
                }
                self.take(at);
                removed += 1;
            } else {
                prev = at;
            }
            at = next;
        }
        removed
    }
}

/// Every customer with any state.
#[derive(Debug, Clone)]
pub(crate) struct Customers {
    index: HashTable<u32>,
    pages: Vec<Box<[Slot]>>,
    /// Slots handed out so far; those below it that are free are in `free`.
    used: u32,
    free: Vec<u32>,
    timers: Pool<Timer>,
    caps: Pool<Cap>,
    hasher: FixedState,
    /// A new customer, until it is known to keep state.
    fresh: Slot,
}

impl Default for Customers {
    fn default() -> Self {
        Customers {
            index: HashTable::new(),
            pages: Vec::new(),
            used: 0,
            free: Vec::new(),
            timers: Pool::default(),
            caps: Pool::default(),
            hasher: FixedState::with_seed(0x006a_7275_6c65),
            fresh: FREE,
        }
    }
}

fn slot_mut(pages: &mut [Box<[Slot]>], slot: u32) -> &mut Slot {
    &mut pages[slot as usize / PAGE][slot as usize % PAGE]
}

/// Drops a side record left empty.
fn tidy(slot: &mut Slot) {
    if slot.cold.as_ref().is_some_and(|c| c.is_empty()) {
        slot.cold = None;
    }
}

fn slot_ref(pages: &[Box<[Slot]>], slot: u32) -> &Slot {
    &pages[slot as usize / PAGE][slot as usize % PAGE]
}

impl Customers {
    /// The number of customers with any state.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of a customer with state.
    pub fn find(&self, id: &str) -> Option<u32> {
        if self.index.is_empty() {
            return None;
        }
        let hash = self.hasher.hash_one(id);
        let pages = &self.pages;
        self.index
            .find(hash, |&s| {
                slot_ref(pages, s)
                    .id
                    .as_deref()
                    .is_some_and(|x| std::ptr::eq(x, id) || x == id)
            })
            .copied()
    }

    /// The slot of a customer, and whether it is new. A new customer is
    /// kept aside ([`fresh`](Customers::fresh)) under the slot number it will
    /// get: [`settle`](Customers::settle) stores it there only if it gained
    /// state, so that an event that leaves none costs no slot.
    pub fn enter(&mut self, id: &Arc<str>) -> (u32, bool) {
        if let Some(slot) = self.find(id) {
            return (slot, false);
        }
        self.fresh = FREE;
        self.fresh.id = Some(Arc::clone(id));
        (self.free.last().copied().unwrap_or(self.used), true)
    }

    /// The new customer [`enter`](Customers::enter) set aside.
    pub fn fresh(&mut self) -> Customer<'_> {
        Customer {
            slot: &mut self.fresh,
            timers: &mut self.timers,
            caps: &mut self.caps,
        }
    }

    /// Stores a new customer that gained state in the slot `enter` gave it,
    /// or frees the slot of a known one that has none left.
    pub fn settle(&mut self, slot: u32, new: bool) {
        if new {
            tidy(&mut self.fresh);
            let fresh = std::mem::replace(&mut self.fresh, FREE);
            if self.view_of(&fresh).is_empty() {
                return;
            }
            let at = match self.free.pop() {
                Some(s) => s,
                None => {
                    if self.used as usize == self.pages.len() * PAGE {
                        self.pages.push(vec![FREE; PAGE].into_boxed_slice());
                    }
                    self.used += 1;
                    self.used - 1
                }
            };
            debug_assert_eq!(at, slot, "a new customer's slot changed");
            *slot_mut(&mut self.pages, at) = fresh;
            let Customers {
                index,
                pages,
                hasher,
                ..
            } = self;
            let id = slot_ref(pages, at).id.as_deref().unwrap_or("");
            let hash = hasher.hash_one(id);
            index.insert_unique(hash, at, |&s| {
                hasher.hash_one(slot_ref(pages, s).id.as_deref().unwrap_or(""))
            });
            return;
        }
        tidy(slot_mut(&mut self.pages, slot));
        if self.get(slot).is_empty() {
            let id = slot_ref(&self.pages, slot).id.clone().unwrap_or_default();
            let hash = self.hasher.hash_one(&*id);
            if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
                entry.remove();
            }
            self.release(slot);
        }
    }

    fn view_of<'a>(&'a self, slot: &'a Slot) -> View<'a> {
        View {
            slot,
            timers: &self.timers,
            caps: &self.caps,
        }
    }

    fn release(&mut self, slot: u32) {
        *slot_mut(&mut self.pages, slot) = FREE;
        self.free.push(slot);
    }

    /// The id of a slot's customer (`None` for a free slot).
    pub fn id(&self, slot: u32) -> Option<&Arc<str>> {
        if slot >= self.used {
            return None;
        }
        slot_ref(&self.pages, slot).id.as_ref()
    }

    /// A customer, to read and change.
    pub fn get(&mut self, slot: u32) -> Customer<'_> {
        Customer {
            slot: slot_mut(&mut self.pages, slot),
            timers: &mut self.timers,
            caps: &mut self.caps,
        }
    }

    /// A customer, read-only.
    pub fn view(&self, slot: u32) -> View<'_> {
        View {
            slot: slot_ref(&self.pages, slot),
            timers: &self.timers,
            caps: &self.caps,
        }
    }

    /// Every customer with state, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = View<'_>> {
        self.index.iter().map(|&s| self.view(s))
    }
}

/// One customer's state, read-only.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    slot: &'a Slot,
    timers: &'a Pool<Timer>,
    caps: &'a Pool<Cap>,
}

/// One customer's state.
pub(crate) struct Customer<'a> {
    slot: &'a mut Slot,
    timers: &'a mut Pool<Timer>,
    caps: &'a mut Pool<Cap>,
}

impl<'a> View<'a> {
    pub fn id(&self) -> &'a Arc<str> {
        self.slot.id.as_ref().expect("a live slot has an id")
    }

    /// The journeys the customer is in, in the order entered.
    pub fn journeys(&self) -> impl Iterator<Item = &'a JourneyState> {
        let first = (self.slot.first.journey != NIL).then_some(&self.slot.first);
        let rest = self.slot.cold.as_ref().map_or(&[][..], |c| &c.journeys);
        first.into_iter().chain(rest)
    }

    /// The customer's stage in a journey.
    pub fn stage(&self, journey: usize) -> Option<usize> {
        let first = &self.slot.first;
        if first.journey == journey as u32 {
            return Some(first.stage as usize);
        }
        self.journeys()
            .find(|j| j.journey == journey as u32)
            .map(|j| j.stage as usize)
    }

    pub fn exposures(&self) -> &'a [u32] {
        self.slot.cold.as_ref().map_or(&[], |c| &c.exposures)
    }

    pub fn profile(&self) -> Option<&'a [Option<Value>]> {
        self.slot.cold.as_ref().and_then(|c| c.profile.as_deref())
    }

    pub fn memory(&self) -> &'a [(u32, i64)] {
        self.slot.cold.as_ref().map_or(&[], |c| &c.memory)
    }

    /// When `S2` of a `within … after S2` rule last happened.
    pub fn remembered(&self, rule: usize) -> Option<i64> {
        self.memory()
            .iter()
            .find(|(r, _)| *r == rule as u32)
            .map(|m| m.1)
    }

    /// A rule's firings after `since`.
    pub fn cap_count(&self, rule: usize, since: i64) -> usize {
        self.caps
            .iter(self.slot.caps)
            .find(|c| c.rule == rule as u32)
            .map_or(0, |c| c.times.iter().filter(|&&x| x > since).count())
    }

    /// Each capped rule with its firing times.
    pub fn caps(&self) -> impl Iterator<Item = (u32, &'a [i64])> {
        self.caps
            .iter(self.slot.caps)
            .map(|c| (c.rule, &c.times[..]))
    }

    pub fn timers(&self) -> impl Iterator<Item = &'a Timer> {
        self.timers.iter(self.slot.timers)
    }

    pub fn is_empty(&self) -> bool {
        self.slot.first.journey == NIL
            && self.slot.timers == NIL
            && self.slot.caps == NIL
            && self.slot.cold.as_ref().is_none_or(|c| c.is_empty())
    }
}

impl Customer<'_> {
    pub fn view(&self) -> View<'_> {
        View {
            slot: self.slot,
            timers: self.timers,
            caps: self.caps,
        }
    }

    fn cold(&mut self) -> &mut Cold {
        self.slot.cold.get_or_insert_with(Box::default)
    }

    pub fn journey_mut(&mut self, journey: usize) -> Option<&mut JourneyState> {
        if self.slot.first.journey == journey as u32 {
            return Some(&mut self.slot.first);
        }
        self.slot
            .cold
            .as_mut()?
            .journeys
            .iter_mut()
            .find(|j| j.journey == journey as u32)
    }

    /// Adds a journey the customer was not in.
    pub fn enter_journey(&mut self, state: JourneyState) {
        if self.slot.first.journey == NIL {
            self.slot.first = state;
        } else {
            self.cold().journeys.push(state);
        }
    }

    pub fn expose(&mut self, rule: usize) {
        let cold = self.cold();
        if !cold.exposures.contains(&(rule as u32)) {
            cold.exposures.push(rule as u32);
        }
    }

    /// The profile, created from the defaults when the customer had none.
    pub fn profile_mut(&mut self, defaults: &[Option<Value>]) -> &mut [Option<Value>] {
        self.cold()
            .profile
            .get_or_insert_with(|| defaults.to_vec().into_boxed_slice())
    }

    pub fn remember(&mut self, rule: usize, time: i64) {
        let memory = &mut self.cold().memory;
        match memory.iter_mut().find(|(r, _)| *r == rule as u32) {
            Some(m) => m.1 = time,
            None => memory.push((rule as u32, time)),
        }
    }

    /// Records a firing of a rule with a `limit`.
    pub fn add_firing(&mut self, rule: usize, time: i64) {
        let head = self.slot.caps;
        let mut at = head;
        while at != NIL {
            let cap = &mut self.caps.items[at as usize];
            if cap.rule == rule as u32 {
                cap.times.push(time);
                return;
            }
            at = cap.next;
        }
        let mut times = SmallVec::new();
        times.push(time);
        self.caps.push(
            &mut self.slot.caps,
            Cap {
                rule: rule as u32,
                next: NIL,
                times,
            },
        );
    }

    /// Drops cap windows and sequence memories that have run out by `t`.
    pub fn prune(&mut self, program: &Program, t: i64) {
        if self.slot.caps != NIL {
            self.caps.remove_where(&mut self.slot.caps, |cap| {
                let per = program.rules[cap.rule as usize]
                    .limit
                    .map_or(0, |(_, per)| per);
                let since = t.saturating_sub(per);
                cap.times.retain(|x| *x > since);
                cap.times.is_empty()
            });
        }
        if let Some(cold) = &mut self.slot.cold {
            cold.memory.retain(
                |&(rule, when)| match &program.rules[rule as usize].trigger {
                    TriggerDef::Signal {
                        after: Some((within, _)),
                        ..
                    } => t.saturating_sub(when) <= *within,
                    _ => false,
                },
            );
        }
    }

    pub fn add_timer(&mut self, rule: usize, deadline: i64, event: Option<TimerEvent>) {
        self.timers.push(
            &mut self.slot.timers,
            Timer {
                rule: rule as u32,
                next: NIL,
                deadline,
                event,
            },
        );
    }

    /// Removes the timers that `remove` selects, calling `removed` with each.
    pub fn remove_timers(
        &mut self,
        mut remove: impl FnMut(&Timer) -> bool,
        mut removed: impl FnMut(&Timer),
    ) {
        if self.slot.timers == NIL {
            return;
        }
        self.timers.remove_where(&mut self.slot.timers, |t| {
            let r = remove(t);
            if r {
                removed(t);
            }
            r
        });
    }

    /// Removes and returns the timer of a rule due at `deadline`.
    pub fn take_timer(&mut self, rule: usize, deadline: i64) -> Option<Timer> {
        let mut prev = NIL;
        let mut at = self.slot.timers;
        while at != NIL {
            let t = &self.timers.items[at as usize];
            let next = t.next;
            if t.rule == rule as u32 && t.deadline == deadline {
                if prev == NIL {
                    self.slot.timers = next;
                } else {
                    self.timers.items[prev as usize].next = next;
                }
                return Some(self.timers.take(at));
            }
            prev = at;
            at = next;
        }
        None
    }

    /// Sets the profile (restoring a saved state).
    pub fn set_profile(&mut self, profile: Box<[Option<Value>]>) {
        self.cold().profile = Some(profile);
    }

    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }
}
