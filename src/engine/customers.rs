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
use crate::ids::{JourneyId, RuleId, StageId};
use crate::value::Value;

crate::ids::ids! {
    /// A record of a pool: timers or cap windows, linked per customer.
    Link;
}

/// Slots are allocated a page at a time, so that growing never copies them.
const PAGE: usize = 1024;

/// A customer's place in one journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JourneyState {
    pub journey: JourneyId,
    pub stage: StageId,
    /// When the customer entered the journey (goals count from there).
    pub entered: i64,
    /// When the customer entered the stage.
    pub since: i64,
    /// A bit per goal of the journey, set once converted.
    pub converted: u64,
}

/// A pending timer of one rule.
#[derive(Debug, Clone)]
pub(crate) struct Timer {
    pub rule: RuleId,
    next: Option<Link>,
    pub deadline: i64,
    /// For `no … after S2`: the `S2` event, which `event.FIELD` reads.
    pub event: Option<TimerEvent>,
}

/// The event a `no … after S2` wait keeps.
#[derive(Debug, Clone)]
pub(crate) struct TimerEvent {
    pub time: i64,
    pub at: Option<crate::ids::PlaceId>,
    pub via: Option<crate::ids::ChannelId>,
    /// Boxed, so that a signal without fields costs no allocation.
    pub data: Box<[Option<Value>]>,
}

/// The firing times of a rule with a `limit`, within its window.
#[derive(Debug, Clone)]
struct Cap {
    rule: RuleId,
    next: Option<Link>,
    times: SmallVec<[i64; 2]>,
}

#[derive(Debug, Clone)]
struct Slot {
    /// `None` for a free slot.
    id: Option<Arc<str>>,
    /// The first journey entered (kept inline: most customers are in one).
    first: Option<JourneyState>,
    timers: Option<Link>,
    caps: Option<Link>,
    cold: Option<Box<Cold>>,
}

const FREE: Slot = Slot {
    id: None,
    first: None,
    timers: None,
    caps: None,
    cold: None,
};

#[derive(Debug, Clone, Default)]
struct Cold {
    /// Journeys after the first, in the order entered.
    journeys: Vec<JourneyState>,
    /// Split rules that assigned this customer an arm, in that order.
    exposures: Vec<RuleId>,
    profile: Option<Box<[Option<Value>]>>,
    /// `S within D after S2` rules: when `S2` last happened.
    memory: Vec<(RuleId, i64)>,
}

impl Cold {
    fn is_empty(&self) -> bool {
        self.journeys.is_empty()
            && self.exposures.is_empty()
            && self.profile.is_none()
            && self.memory.is_empty()
    }
}

/// Records linked into per-customer lists, with a free list. A free
/// record is `None` (which costs nothing: records hold a rule id).
#[derive(Debug, Clone)]
struct Pool<T> {
    items: Vec<Option<T>>,
    free: Vec<Link>,
}

impl<T> Default for Pool<T> {
    fn default() -> Pool<T> {
        Pool {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

trait Linked {
    fn next(&self) -> Option<Link>;
    fn set_next(&mut self, next: Option<Link>);
}

impl Linked for Timer {
    fn next(&self) -> Option<Link> {
        self.next
    }
    fn set_next(&mut self, next: Option<Link>) {
        self.next = next;
    }
}

impl Linked for Cap {
    fn next(&self) -> Option<Link> {
        self.next
    }
    fn set_next(&mut self, next: Option<Link>) {
        self.next = next;
    }
}

impl<T: Linked> Pool<T> {
    fn add(&mut self, item: T) -> Link {
        match self.free.pop() {
            Some(at) => {
                self.items[at.index()] = Some(item);
                at
            }
            None => {
                self.items.push(Some(item));
                Link::new(self.items.len() - 1)
            }
        }
    }

    fn take(&mut self, at: Link) -> Option<T> {
        let item = self.items.get_mut(at.index())?.take();
        self.free.push(at);
        item
    }

    fn get(&self, at: Link) -> Option<&T> {
        self.items.get(at.index())?.as_ref()
    }

    fn get_mut(&mut self, at: Link) -> Option<&mut T> {
        self.items.get_mut(at.index())?.as_mut()
    }

    fn iter(&self, head: Option<Link>) -> impl Iterator<Item = &T> {
        let mut at = head;
        std::iter::from_fn(move || {
            let item = self.get(at?)?;
            at = item.next();
            Some(item)
        })
    }

    fn push(&mut self, head: &mut Option<Link>, mut item: T) {
        item.set_next(*head);
        *head = Some(self.add(item));
    }

    /// Unlinks and drops the items of a list that `remove` selects.
    fn remove_where(&mut self, head: &mut Option<Link>, mut remove: impl FnMut(&mut T) -> bool) {
        let mut prev: Option<Link> = None;
        let mut at = *head;
        while let Some(here) = at {
            let Some(item) = self.get_mut(here) else {
                return;
            };
            let next = item.next();
            if remove(item) {
                match prev.and_then(|p| self.get_mut(p)) {
                    Some(p) => p.set_next(next),
                    None => *head = next,
                }
                self.take(here);
            } else {
                prev = Some(here);
            }
            at = next;
        }
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
            let at = self.store(fresh);
            debug_assert_eq!(at, slot, "a new customer's slot changed");
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

    /// Drops a customer's state (its timers must be out of the queue) and
    /// frees its slot.
    pub fn clear(&mut self, slot: u32) {
        let record = slot_mut(&mut self.pages, slot);
        let (timers, caps) = (record.timers.take(), record.caps.take());
        self.timers
            .remove_where(&mut Some(timers).flatten(), |_| true);
        self.caps.remove_where(&mut Some(caps).flatten(), |_| true);
        let id = slot_ref(&self.pages, slot).id.clone().unwrap_or_default();
        let hash = self.hasher.hash_one(&*id);
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.release(slot);
    }

    /// Stores a record in a slot of its own (the last freed, or a new
    /// one), found by its id; returns the slot.
    fn store(&mut self, record: Slot) -> u32 {
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
        *slot_mut(&mut self.pages, at) = record;
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
        at
    }

    /// Copies the customer in `slot` of `from` (its record, and its timers
    /// and cap windows from the pools) into this set, which must not hold
    /// it yet; returns its slot here (`None` for a free slot of `from`).
    pub(crate) fn copy_from(&mut self, from: &Customers, slot: u32) -> Option<u32> {
        from.id(slot)?;
        let source = slot_ref(&from.pages, slot);
        let mut record = Slot {
            timers: None,
            caps: None,
            ..source.clone()
        };
        // Pushing puts an item first: push in reverse to keep the order.
        let timers: Vec<Timer> = from.timers.iter(source.timers).cloned().collect();
        for timer in timers.into_iter().rev() {
            self.timers.push(&mut record.timers, timer);
        }
        let caps: Vec<Cap> = from.caps.iter(source.caps).cloned().collect();
        for cap in caps.into_iter().rev() {
            self.caps.push(&mut record.caps, cap);
        }
        Some(self.store(record))
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
        let rest = self.slot.cold.as_ref().map_or(&[][..], |c| &c.journeys);
        self.slot.first.iter().chain(rest)
    }

    /// The customer's stage in a journey.
    pub fn stage(&self, journey: JourneyId) -> Option<StageId> {
        match &self.slot.first {
            Some(first) if first.journey == journey => Some(first.stage),
            None => None,
            Some(_) => self
                .journeys()
                .find(|j| j.journey == journey)
                .map(|j| j.stage),
        }
    }

    pub fn exposures(&self) -> &'a [RuleId] {
        self.slot.cold.as_ref().map_or(&[], |c| &c.exposures)
    }

    pub fn profile(&self) -> Option<&'a [Option<Value>]> {
        self.slot.cold.as_ref().and_then(|c| c.profile.as_deref())
    }

    pub fn memory(&self) -> &'a [(RuleId, i64)] {
        self.slot.cold.as_ref().map_or(&[], |c| &c.memory)
    }

    /// When `S2` of a `within … after S2` rule last happened.
    pub fn remembered(&self, rule: RuleId) -> Option<i64> {
        self.memory().iter().find(|(r, _)| *r == rule).map(|m| m.1)
    }

    /// A rule's firings after `since`.
    pub fn cap_count(&self, rule: RuleId, since: i64) -> usize {
        self.caps
            .iter(self.slot.caps)
            .find(|c| c.rule == rule)
            .map_or(0, |c| c.times.iter().filter(|&&x| x > since).count())
    }

    /// Each capped rule with its firing times.
    pub fn caps(&self) -> impl Iterator<Item = (RuleId, &'a [i64])> {
        self.caps
            .iter(self.slot.caps)
            .map(|c| (c.rule, &c.times[..]))
    }

    pub fn timers(&self) -> impl Iterator<Item = &'a Timer> {
        self.timers.iter(self.slot.timers)
    }

    pub fn is_empty(&self) -> bool {
        self.slot.first.is_none()
            && self.slot.timers.is_none()
            && self.slot.caps.is_none()
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

    pub fn journey_mut(&mut self, journey: JourneyId) -> Option<&mut JourneyState> {
        match &mut self.slot.first {
            Some(first) if first.journey == journey => Some(first),
            None => None,
            Some(_) => self
                .slot
                .cold
                .as_mut()?
                .journeys
                .iter_mut()
                .find(|j| j.journey == journey),
        }
    }

    /// Adds a journey the customer was not in.
    pub fn enter_journey(&mut self, state: JourneyState) {
        if self.slot.first.is_none() {
            self.slot.first = Some(state);
        } else {
            self.cold().journeys.push(state);
        }
    }

    pub fn expose(&mut self, rule: RuleId) {
        let cold = self.cold();
        if !cold.exposures.contains(&rule) {
            cold.exposures.push(rule);
        }
    }

    /// The profile, created from the defaults when the customer had none.
    pub fn profile_mut(&mut self, defaults: &[Option<Value>]) -> &mut [Option<Value>] {
        self.cold()
            .profile
            .get_or_insert_with(|| defaults.to_vec().into_boxed_slice())
    }

    pub fn remember(&mut self, rule: RuleId, time: i64) {
        let memory = &mut self.cold().memory;
        match memory.iter_mut().find(|(r, _)| *r == rule) {
            Some(m) => m.1 = time,
            None => memory.push((rule, time)),
        }
    }

    /// Records a firing of a rule with a `limit`.
    pub fn add_firing(&mut self, rule: RuleId, time: i64) {
        let mut at = self.slot.caps;
        while let Some(cap) = at.and_then(|here| self.caps.get_mut(here)) {
            if cap.rule == rule {
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
                rule,
                next: None,
                times,
            },
        );
    }

    /// Drops cap windows and sequence memories that have run out by `t`.
    pub fn prune(&mut self, program: &Program, t: i64) {
        if self.slot.caps.is_some() {
            self.caps.remove_where(&mut self.slot.caps, |cap| {
                let per = program.rules[cap.rule].limit.map_or(0, |(_, per)| per);
                let since = t.saturating_sub(per);
                cap.times.retain(|x| *x > since);
                cap.times.is_empty()
            });
        }
        if let Some(cold) = &mut self.slot.cold {
            cold.memory
                .retain(|&(rule, when)| match &program.rules[rule].trigger {
                    TriggerDef::Signal {
                        after: Some((within, _)),
                        ..
                    } => t.saturating_sub(when) <= *within,
                    _ => false,
                });
        }
    }

    pub fn add_timer(&mut self, rule: RuleId, deadline: i64, event: Option<TimerEvent>) {
        self.timers.push(
            &mut self.slot.timers,
            Timer {
                rule,
                next: None,
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
        if self.slot.timers.is_none() {
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
    pub fn take_timer(&mut self, rule: RuleId, deadline: i64) -> Option<Timer> {
        let mut prev: Option<Link> = None;
        let mut at = self.slot.timers;
        while let Some(here) = at {
            let t = self.timers.get(here)?;
            let next = t.next;
            if t.rule == rule && t.deadline == deadline {
                match prev.and_then(|p| self.timers.get_mut(p)) {
                    Some(p) => p.next = next,
                    None => self.slot.timers = next,
                }
                return self.timers.take(here);
            }
            prev = Some(here);
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
