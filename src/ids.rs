//! Ids: what the checker resolves each kind of name to. One type per kind,
//! so that a stage id cannot be passed where a rule id is expected; each is
//! a `u32` that is never `u32::MAX`, so an `Option` of an id costs nothing.
//!
//! Ids are made only by the checker and the compiler, from the positions of
//! what a checked program declares: the checker bounds every count far below
//! `u32::MAX` (a source is at most [`MAX_SOURCE_BYTES`](crate::source::MAX_SOURCE_BYTES)
//! long), so every id of a program indexes that program's tables.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut, Index, IndexMut};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(std::num::NonZeroU32);

        impl $name {
            /// The id of the item at position `index`.
            pub(crate) fn new(index: usize) -> $name {
                let raw = u32::try_from(index).unwrap_or(u32::MAX - 1);
                $name(std::num::NonZeroU32::MIN.saturating_add(raw))
            }

            /// The item's position in its program's table.
            pub fn index(self) -> usize {
                (self.0.get() - 1) as usize
            }
        }

        impl $crate::ids::Id for $name {
            fn new(index: usize) -> $name {
                $name::new(index)
            }

            fn index(self) -> usize {
                $name::index(self)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.index())
            }
        }

    )*};
}

/// Declares id types (also used for the engine's own pool links).
pub(crate) use ids;

/// What every id is: a position in its program's table.
pub(crate) trait Id: Copy {
    fn new(index: usize) -> Self;
    fn index(self) -> usize;
}

/// The ids of a table of `len` items, in order.
pub(crate) fn all<I: Id>(len: usize) -> impl DoubleEndedIterator<Item = I> + ExactSizeIterator {
    (0..len).map(I::new)
}

/// A table indexed by one kind of id (and, as a slice, by position).
#[derive(Clone, PartialEq)]
pub(crate) struct Table<I, T> {
    items: Vec<T>,
    id: PhantomData<fn(I) -> I>,
}

impl<I: Id, T> Table<I, T> {
    /// An empty table.
    pub(crate) fn new() -> Table<I, T> {
        Table {
            items: Vec::new(),
            id: PhantomData,
        }
    }

    /// The item of `id`, if the table has it.
    pub(crate) fn get(&self, id: I) -> Option<&T> {
        self.items.get(id.index())
    }

    /// Every id, in order.
    pub(crate) fn ids(&self) -> impl DoubleEndedIterator<Item = I> + ExactSizeIterator {
        (0..self.items.len()).map(I::new)
    }

    /// Every item with its id, in order.
    pub(crate) fn iter_ids(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
        self.items.iter().enumerate().map(|(i, t)| (I::new(i), t))
    }

    /// The id of the first item that `f` accepts.
    pub(crate) fn find(&self, f: impl Fn(&T) -> bool) -> Option<I> {
        self.items.iter().position(f).map(I::new)
    }
}

impl<I: Id, T> Default for Table<I, T> {
    fn default() -> Table<I, T> {
        Table::new()
    }
}

impl<I, T: std::fmt::Debug> std::fmt::Debug for Table<I, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.items.fmt(f)
    }
}

impl<I, T> From<Vec<T>> for Table<I, T> {
    fn from(items: Vec<T>) -> Table<I, T> {
        Table {
            items,
            id: PhantomData,
        }
    }
}

impl<I, T> FromIterator<T> for Table<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Table<I, T> {
        Table::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<'a, I, T> IntoIterator for &'a Table<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, I, T> IntoIterator for &'a mut Table<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<I, T> Deref for Table<I, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<I, T> DerefMut for Table<I, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items
    }
}

impl<I: Id, T> Index<I> for Table<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: Id, T> IndexMut<I> for Table<I, T> {
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}

ids! {
    /// A declared signal.
    SignalId;
    /// A declared enum.
    EnumId;
    /// A field of the profile, or of one signal's data (which one is known
    /// from where the field is read).
    FieldId;
    /// A declared place.
    PlaceId;
    /// A declared channel.
    ChannelId;
    /// A declared action.
    ActionId;
    /// A declared journey.
    JourneyId;
    /// A stage of one journey.
    StageId;
    /// A rule, numbered in decision order: journeys in declaration order
    /// (top-level rules last), then priority, then declaration order.
    RuleId;
    /// A rule's position in declaration order over the whole program: what
    /// orders timers due at the same instant.
    RuleOrder;
    /// A goal of one journey.
    GoalId;
    /// An arm of a split, numbered over all the splits of one rule.
    ArmId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_gives_back_its_index_and_an_option_of_it_costs_nothing() {
        for i in [0, 1, 41, 1 << 20] {
            assert_eq!(RuleId::new(i).index(), i);
        }
        assert_eq!(std::mem::size_of::<Option<StageId>>(), 4);
        assert!(RuleId::new(2) < RuleId::new(3));
        assert_eq!(format!("{:?}", StageId::new(7)), "StageId(7)");
    }
}
