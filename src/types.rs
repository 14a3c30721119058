//! The types of the language, shared by the syntax tree and the checker.

use std::fmt;

use crate::ids::EnumId;

/// A scalar type, or the element type of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Base {
    /// Not known: not checked yet, or already reported as an error.
    Unknown,
    /// `int` (i64).
    Int,
    /// `float` (f64).
    Float,
    /// `text`.
    Text,
    /// `bool`.
    Bool,
    /// `duration` (milliseconds).
    Duration,
    /// `place`.
    Place,
    /// `channel`.
    Channel,
    /// A declared enum.
    Enum(EnumId),
}

/// The type of a value: a scalar or a list of scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ty {
    /// The scalar, or the list's element.
    pub base: Base,
    /// A list `[base]`.
    pub list: bool,
}

impl Ty {
    /// Unknown: the poison type that never causes a second error.
    pub const UNKNOWN: Ty = Ty::scalar(Base::Unknown);
    /// `int`.
    pub const INT: Ty = Ty::scalar(Base::Int);
    /// `float`.
    pub const FLOAT: Ty = Ty::scalar(Base::Float);
    /// `text`.
    pub const TEXT: Ty = Ty::scalar(Base::Text);
    /// `bool`.
    pub const BOOL: Ty = Ty::scalar(Base::Bool);
    /// `duration`.
    pub const DURATION: Ty = Ty::scalar(Base::Duration);

    /// A scalar type.
    pub const fn scalar(base: Base) -> Ty {
        Ty { base, list: false }
    }

    /// A list of `base`.
    pub const fn list_of(base: Base) -> Ty {
        Ty { base, list: true }
    }

    /// True for the poison type (and lists of it).
    pub fn is_unknown(self) -> bool {
        self.base == Base::Unknown
    }

    /// True for `int` and `float`.
    pub fn is_numeric(self) -> bool {
        !self.list && matches!(self.base, Base::Int | Base::Float)
    }

    /// The element type of a list.
    pub fn element(self) -> Ty {
        Ty::scalar(self.base)
    }

    /// Displays the type with enum names taken from `enums`.
    pub fn display<'a>(self, enums: &'a [String]) -> TyDisplay<'a> {
        TyDisplay { ty: self, enums }
    }
}

impl Default for Ty {
    fn default() -> Ty {
        Ty::UNKNOWN
    }
}

/// A type ready to print, with enum names.
pub struct TyDisplay<'a> {
    ty: Ty,
    enums: &'a [String],
}

impl fmt::Display for TyDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.ty.base {
            Base::Unknown => "unknown",
            Base::Int => "int",
            Base::Float => "float",
            Base::Text => "text",
            Base::Bool => "bool",
            Base::Duration => "duration",
            Base::Place => "place",
            Base::Channel => "channel",
            Base::Enum(i) => self.enums.get(i.index()).map_or("enum", |s| s.as_str()),
        };
        if self.ty.list {
            write!(f, "[{name}]")
        } else {
            f.write_str(name)
        }
    }
}
