//! Types of expressions, and the resolution of bare names by expected type.

use super::{list_names, Checker, SignalInfo};
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Ident, Root, UnaryOp};
use crate::types::{Base, Ty};

/// What `event` means where an expression stands.
pub(super) enum Scope<'a> {
    /// The trigger fixes this signal.
    Signal(&'a str),
    /// The trigger's signal is unknown (already reported): anything goes.
    Unknown,
    /// A `when in … for` rule: fired by a timer.
    Timer,
    /// An action's `requires`: customer only.
    Requires,
    /// A value in a test: neither event nor customer.
    Test,
}

impl Checker<'_> {
    fn show(&self, ty: Ty) -> String {
        format!("`{}`", ty.display(&self.enum_names))
    }

    fn mismatch(&mut self, e: &Expr, message: String, help: Option<String>) -> Ty {
        let label = format!("this is {}", self.show(e.ty));
        self.report(
            Diagnostic::new(Code::TypeMismatch, e.span, message)
                .label(label)
                .maybe_help(help),
        );
        Ty::UNKNOWN
    }

    /// Checks a condition (`where`, `requires`) that must be a bool.
    pub(super) fn check_condition(&mut self, e: &mut Expr, scope: &Scope<'_>, what: &str) {
        let ty = self.expr(e, Some(Ty::BOOL), scope);
        if !ty.is_unknown() && ty != Ty::BOOL {
            self.mismatch(
                e,
                format!("`{what}` needs a bool condition, found {}", self.show(ty)),
                Some("compare the value, for example `customer.nights_this_year > 0`".into()),
            );
        }
    }

    /// Checks a value against the type it must have (argument, default).
    pub(super) fn check_value(&mut self, e: &mut Expr, want: Ty, scope: &Scope<'_>, what: &str) {
        let ty = self.expr(e, Some(want), scope);
        if !fits(ty, want) {
            self.mismatch(
                e,
                format!(
                    "{what} must be {}, found {}",
                    self.show(want),
                    self.show(ty)
                ),
                None,
            );
        }
    }

    /// Checks a profile field's default value.
    pub(super) fn check_default(&mut self, e: &mut Expr, want: Ty) {
        self.check_value(e, want, &Scope::Requires, "the default value");
    }

    /// The type of `e`, annotated on it; reports what is wrong inside.
    pub(super) fn expr(&mut self, e: &mut Expr, expected: Option<Ty>, scope: &Scope<'_>) -> Ty {
        let ty = match &mut e.kind {
            ExprKind::Int(_) => Ty::INT,
            ExprKind::Float(_) => Ty::FLOAT,
            ExprKind::Text(_) => Ty::TEXT,
            ExprKind::Bool(_) => Ty::BOOL,
            ExprKind::Duration(_) => Ty::DURATION,
            ExprKind::List(items) => {
                let want = expected.filter(|t| t.list).map(Ty::element);
                let mut elem: Option<Ty> = None;
                for item in items.iter_mut() {
                    let t = self.expr(item, want.or(elem), scope);
                    if t.is_unknown() {
                        continue;
                    }
                    if t.list {
                        self.mismatch(item, "a list holds single values, not lists".into(), None);
                        continue;
                    }
                    elem = match elem {
                        None => Some(t),
                        Some(prev) if fits(t, prev) => Some(prev),
                        Some(prev) if fits(prev, t) => Some(t),
                        Some(prev) => {
                            let message = format!(
                                "a list of {} cannot hold {}",
                                self.show(prev),
                                self.show(t)
                            );
                            self.mismatch(item, message, None);
                            Some(prev)
                        }
                    };
                }
                Ty::list_of(elem.map_or(Base::Unknown, |t| t.base))
            }
            ExprKind::Path(root, field) => self.path(*root, field, e.span, scope, false),
            ExprKind::Has(root, field) => {
                let t = self.path(*root, field, e.span, scope, true);
                if t.is_unknown() && !self.known_field(*root, field, scope) {
                    Ty::UNKNOWN
                } else {
                    Ty::BOOL
                }
            }
            ExprKind::Name(ident) => self.name(ident, expected),
            ExprKind::Unary(op, operand) => {
                let t = self.expr(operand, None, scope);
                match op {
                    UnaryOp::Not if t == Ty::BOOL || t.is_unknown() => Ty::BOOL,
                    UnaryOp::Not => self.mismatch(
                        operand,
                        format!("`not` needs a bool, found {}", self.show(t)),
                        None,
                    ),
                    UnaryOp::Neg if t.is_numeric() || t.is_unknown() => t,
                    UnaryOp::Neg => self.mismatch(
                        operand,
                        format!("`-` needs a number, found {}", self.show(t)),
                        None,
                    ),
                }
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let op = *op;
                self.binary(op, lhs, rhs, scope)
            }
        };
        e.ty = ty;
        ty
    }

    fn known_field(&self, root: Root, field: &Ident, scope: &Scope<'_>) -> bool {
        match root {
            Root::Customer => self.symbols.customer.contains_key(&field.name),
            Root::Event => match scope {
                Scope::Signal(s) => self
                    .symbols
                    .signals
                    .get(*s)
                    .is_some_and(|i| i.fields.contains_key(&field.name)),
                _ => false,
            },
        }
    }

    fn path(
        &mut self,
        root: Root,
        field: &Ident,
        span: crate::source::Span,
        scope: &Scope<'_>,
        has: bool,
    ) -> Ty {
        if let Scope::Test = scope {
            let root = match root {
                Root::Customer => "customer",
                Root::Event => "event",
            };
            self.report(
                Diagnostic::new(
                    Code::EventFieldAmbiguous,
                    span,
                    format!("a test gives values: `{root}` cannot be read here"),
                )
                .label("not a value")
                .help("write the value itself, for example `gold` or `\"h1\"`"),
            );
            return Ty::UNKNOWN;
        }
        match root {
            Root::Customer => match self.symbols.customer.get(&field.name) {
                Some(f) => f.ty,
                None => {
                    let help = self.suggest(
                        &field.name,
                        self.symbols.customer.keys().map(|s| s.as_str()),
                    );
                    self.report(
                        Diagnostic::new(
                            Code::UnknownField,
                            field.span,
                            format!("the customer profile has no field `{}`", field.name),
                        )
                        .label("unknown field")
                        .maybe_help(
                            help.or_else(|| Some("declare it in the `customer` block".into())),
                        ),
                    );
                    Ty::UNKNOWN
                }
            },
            Root::Event => {
                match scope {
                    Scope::Unknown => Ty::UNKNOWN,
                    Scope::Timer | Scope::Requires | Scope::Test => {
                        let (message, help) = match scope {
                        Scope::Timer => (
                            format!("`event.{}` has no event to read: this rule fires on a timer", field.name),
                            "an `in … for` rule has no triggering event; read `customer.*` instead",
                        ),
                        _ => (
                            format!("`event.{}` cannot be read in `requires`", field.name),
                            "`requires` may read `customer.*` only",
                        ),
                    };
                        self.report(
                            Diagnostic::new(Code::EventFieldAmbiguous, span, message)
                                .label("no single signal here")
                                .help(help),
                        );
                        Ty::UNKNOWN
                    }
                    Scope::Signal(signal) => {
                        let info: Option<&SignalInfo> = self.symbols.signals.get(*signal);
                        let Some(info) = info else { return Ty::UNKNOWN };
                        if !has {
                            match field.name.as_str() {
                                "at" => return Ty::scalar(Base::Place),
                                "via" => return Ty::scalar(Base::Channel),
                                "time" => return Ty::INT,
                                _ => {}
                            }
                        }
                        match info.fields.get(&field.name) {
                            Some(f) => f.ty,
                            None => {
                                let help = self
                                    .suggest(&field.name, info.fields.keys().map(|s| s.as_str()));
                                let signal = signal.to_string();
                                self.report(
                                    Diagnostic::new(
                                        Code::UnknownField,
                                        field.span,
                                        format!("signal `{signal}` has no field `{}`", field.name),
                                    )
                                    .label("unknown field")
                                    .maybe_help(help),
                                );
                                Ty::UNKNOWN
                            }
                        }
                    }
                }
            }
        }
    }

    /// Resolves a bare name against the expected type.
    pub(super) fn name(&mut self, ident: &Ident, expected: Option<Ty>) -> Ty {
        let name = ident.name.as_str();
        let expected = expected.map(Ty::element);
        match expected.map(|t| t.base) {
            Some(Base::Unknown) => Ty::UNKNOWN,
            Some(Base::Enum(i)) => {
                let Some((enum_name, info)) = self.symbols.enums.get_index(i.index()) else {
                    return Ty::UNKNOWN;
                };
                if info.values.contains_key(name) {
                    return Ty::scalar(Base::Enum(i));
                }
                let help = self
                    .suggest(name, info.values.keys().map(|s| s.as_str()))
                    .or_else(|| {
                        Some(format!(
                            "the values of `{enum_name}` are {}",
                            list_names(info.values.keys().map(|s| s.as_str()))
                        ))
                    });
                let message = format!("`{name}` is not a value of enum `{enum_name}`");
                self.report(
                    Diagnostic::new(Code::UnknownValue, ident.span, message)
                        .label("unknown value")
                        .maybe_help(help),
                );
                Ty::UNKNOWN
            }
            Some(Base::Place) => self.named_in(ident, Base::Place),
            Some(Base::Channel) => self.named_in(ident, Base::Channel),
            _ => {
                if let Some(t) = self.find_value(name) {
                    return t;
                }
                let help = match expected {
                    Some(t) if t.base == Base::Text => {
                        Some(format!("text is written in double quotes: `\"{name}\"`"))
                    }
                    _ => self.suggest(name, self.all_values()),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownValue,
                        ident.span,
                        format!("unknown value `{name}`"),
                    )
                    .label("not a value of any enum, place or channel")
                    .maybe_help(help),
                );
                Ty::UNKNOWN
            }
        }
    }

    fn named_in(&mut self, ident: &Ident, base: Base) -> Ty {
        let (table, kind, code) = match base {
            Base::Place => (&self.symbols.places, "place", Code::UnknownPlace),
            _ => (&self.symbols.channels, "channel", Code::UnknownChannel),
        };
        if table.contains_key(&ident.name) {
            return Ty::scalar(base);
        }
        let help = self.suggest(&ident.name, table.keys().map(|s| s.as_str()));
        let d = Diagnostic::new(code, ident.span, format!("unknown {kind} `{}`", ident.name))
            .label(format!("not a declared {kind}"))
            .maybe_help(help.or_else(|| Some(format!("declare it with `{kind}s {}`", ident.name))));
        self.report(d);
        Ty::UNKNOWN
    }

    /// The type of a bare name when nothing is expected: the enum, place
    /// or channel it names.
    fn find_value(&self, name: &str) -> Option<Ty> {
        self.value_enums
            .get(name)
            .map(|&i| Ty::scalar(Base::Enum(i)))
            .or_else(|| {
                self.symbols
                    .places
                    .contains_key(name)
                    .then_some(Ty::scalar(Base::Place))
            })
            .or_else(|| {
                self.symbols
                    .channels
                    .contains_key(name)
                    .then_some(Ty::scalar(Base::Channel))
            })
    }

    fn all_values(&self) -> impl Iterator<Item = &str> + '_ {
        let s = &self.symbols;
        s.enums
            .values()
            .flat_map(|e| e.values.keys())
            .chain(s.places.keys())
            .chain(s.channels.keys())
            .map(|s| s.as_str())
    }

    fn binary(&mut self, op: BinaryOp, lhs: &mut Expr, rhs: &mut Expr, scope: &Scope<'_>) -> Ty {
        // A bare name takes its type from the other side.
        let (l, r) =
            if matches!(lhs.kind, ExprKind::Name(_)) && !matches!(rhs.kind, ExprKind::Name(_)) {
                let r = self.expr(rhs, None, scope);
                let want = match op {
                    BinaryOp::In => r.list.then(|| r.element()),
                    BinaryOp::Contains => None,
                    _ => Some(r),
                };
                let l = self.expr(lhs, want, scope);
                (l, r)
            } else {
                let l = self.expr(lhs, None, scope);
                let want = match op {
                    BinaryOp::In => Some(Ty::list_of(l.base)),
                    BinaryOp::Contains if l.list => Some(l.element()),
                    _ => Some(l),
                };
                let r = self.expr(rhs, want, scope);
                (l, r)
            };
        if l.is_unknown() && !l.list || r.is_unknown() && !r.list {
            return match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                    Ty::UNKNOWN
                }
                _ => Ty::BOOL,
            };
        }
        let sym = op.as_str();
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for (e, t) in [(&*lhs, l), (&*rhs, r)] {
                    if t != Ty::BOOL {
                        self.mismatch(
                            e,
                            format!("`{sym}` needs bool operands, found {}", self.show(t)),
                            None,
                        );
                    }
                }
                Ty::BOOL
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if l.list {
                    self.mismatch(
                        lhs,
                        format!("`{sym}` cannot compare lists"),
                        Some("test members with `in` or `contains`".into()),
                    );
                } else if !comparable(l, r) {
                    let message = format!("cannot compare {} with {}", self.show(l), self.show(r));
                    self.mismatch(rhs, message, None);
                }
                Ty::BOOL
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ordered = !l.list
                    && matches!(
                        l.base,
                        Base::Int | Base::Float | Base::Text | Base::Duration
                    );
                if !ordered {
                    let message = format!(
                        "`{sym}` needs numbers, text or durations, found {}",
                        self.show(l)
                    );
                    self.mismatch(lhs, message, None);
                } else if !comparable(l, r) {
                    let message = format!("cannot compare {} with {}", self.show(l), self.show(r));
                    self.mismatch(rhs, message, None);
                }
                Ty::BOOL
            }
            BinaryOp::In => {
                if l.list {
                    self.mismatch(lhs, "`in` tests a single value, not a list".into(), None);
                } else if !r.list {
                    let message = format!("`in` needs a list on its right, found {}", self.show(r));
                    self.mismatch(rhs, message, None);
                } else if !r.is_unknown() && !comparable(l, r.element()) {
                    let message = format!("cannot look for {} in {}", self.show(l), self.show(r));
                    self.mismatch(rhs, message, None);
                }
                Ty::BOOL
            }
            BinaryOp::Contains => {
                if l.list {
                    if !l.is_unknown() && !comparable(l.element(), r) {
                        let message = format!("{} cannot contain {}", self.show(l), self.show(r));
                        self.mismatch(rhs, message, None);
                    }
                } else if l == Ty::TEXT {
                    if r != Ty::TEXT {
                        let message = format!("text can only contain text, found {}", self.show(r));
                        self.mismatch(rhs, message, None);
                    }
                } else {
                    let message =
                        format!("`contains` needs a list or text, found {}", self.show(l));
                    self.mismatch(lhs, message, None);
                }
                Ty::BOOL
            }
            BinaryOp::StartsWith | BinaryOp::EndsWith => {
                if l != Ty::TEXT {
                    let message = format!("`{sym}` needs text, found {}", self.show(l));
                    self.mismatch(lhs, message, None);
                } else if r != Ty::TEXT {
                    let message = format!("`{sym}` needs text, found {}", self.show(r));
                    self.mismatch(rhs, message, None);
                }
                Ty::BOOL
            }
            BinaryOp::Add | BinaryOp::Sub => {
                if l == Ty::DURATION {
                    if r != Ty::DURATION {
                        let message =
                            format!("cannot {} {} and a duration", verb(op), self.show(r));
                        return self.mismatch(rhs, message, None);
                    }
                    Ty::DURATION
                } else {
                    self.arithmetic(op, lhs, l, rhs, r)
                }
            }
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => self.arithmetic(op, lhs, l, rhs, r),
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, lhs: &Expr, l: Ty, rhs: &Expr, r: Ty) -> Ty {
        let sym = op.as_str();
        if !l.is_numeric() {
            let message = format!("`{sym}` needs numbers, found {}", self.show(l));
            return self.mismatch(lhs, message, None);
        }
        if !r.is_numeric() {
            let message = format!("`{sym}` needs numbers, found {}", self.show(r));
            return self.mismatch(rhs, message, None);
        }
        if l == Ty::FLOAT || r == Ty::FLOAT {
            Ty::FLOAT
        } else {
            Ty::INT
        }
    }
}

fn verb(op: BinaryOp) -> &'static str {
    if op == BinaryOp::Add {
        "add"
    } else {
        "subtract"
    }
}

/// True when a value of type `actual` may stand where `want` is expected.
pub(super) fn fits(actual: Ty, want: Ty) -> bool {
    actual.is_unknown()
        || want.is_unknown()
        || actual == want
        || (actual.list == want.list && actual.base == Base::Int && want.base == Base::Float)
}

/// True when `==` (or ordering, where allowed) may compare the two.
fn comparable(l: Ty, r: Ty) -> bool {
    l.is_unknown() || r.is_unknown() || l == r || (l.is_numeric() && r.is_numeric())
}
