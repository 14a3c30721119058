//! The syntax tree. Every node carries its span, and spans compare by
//! position, so `==` on nodes compares layout too: the same program written
//! on other lines is a different tree.
//!
//! To compare trees whatever their layout and comments (the formatter's
//! round trip, its tests and fuzzing), compare [`Module::without_spans`]:
//! a copy with every span set to [`Span::default`]. The clearing is one
//! small impl per node kind that destructures the node without `..` and
//! matches without `_`, so a field or variant added to the tree fails to
//! compile until it is cleared too, and the comparison cannot silently go
//! back to comparing positions.

use crate::source::Span;
use crate::types::Ty;

/// A name as written, with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// The items of one source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// Index of the file in the program's sources.
    pub file: u32,
    /// The whole file.
    pub span: Span,
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Item {
    Places(Vec<Ident>),
    Channels(Vec<Ident>),
    Enum(EnumDecl),
    Customer(CustomerDecl),
    Signal(SignalDecl),
    Action(ActionDecl),
    Journey(Journey),
    Rule(Box<Rule>),
    Test(Test),
}

/// `enum NAME { a, b }`.
/// `test "name" { … }`: a customer, a timed list of events, and the
/// decisions expected after each step.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub keyword: Span,
    pub name: String,
    pub name_span: Span,
    pub steps: Vec<TestStep>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TestStep {
    /// `customer ["id"] { field: value, … }`: the customer's id and profile
    /// fields, merged into the next event's profile.
    Customer {
        id: Option<(String, Span)>,
        values: Vec<FieldValue>,
        span: Span,
    },
    /// `after D`: the clock moves on by `D`, firing the timers due.
    After(Duration),
    /// `when SIGNAL [at P] [via C] [{ field: value, … }]`: an event now.
    Event(TestEvent),
    /// `then …`: the decisions of the step before, exactly and in order;
    /// `None` for `then nothing`.
    Expect {
        keyword: Span,
        decisions: Option<Vec<Action>>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestEvent {
    pub signal: Ident,
    pub at: Option<Ident>,
    pub via: Option<Ident>,
    pub values: Vec<FieldValue>,
    pub span: Span,
}

/// `name: value` in a test.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldValue {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumDecl {
    /// The enum's name.
    pub name: Ident,
    /// Its values in order.
    pub values: Vec<Ident>,
    /// The whole node.
    pub span: Span,
}

/// `customer { … }`: the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDecl {
    /// The `customer` keyword.
    pub keyword: Span,
    /// The profile fields.
    pub fields: Vec<Field>,
    /// The whole node.
    pub span: Span,
}

/// A field of the profile or a signal, or an action's parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name.
    pub name: Ident,
    /// Its declared type.
    pub ty: TypeExpr,
    /// `= literal` (profile fields only).
    pub default: Option<Expr>,
    /// The whole node.
    pub span: Span,
}

/// A type as written: `int`, `tier?`, `[text]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    /// The scalar type's name (the element's, for a list).
    pub name: Ident,
    /// `[T]`.
    pub list: bool,
    /// `T?`.
    pub optional: bool,
    /// The whole type.
    pub span: Span,
}

/// `signal NAME { fields }`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalDecl {
    /// The signal's name.
    pub name: Ident,
    /// Its data fields.
    pub fields: Vec<Field>,
    /// The whole node.
    pub span: Span,
}

/// `action NAME(params) [requires EXPR] [exclusive]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionDecl {
    /// The action's name.
    pub name: Ident,
    /// Its parameters.
    pub params: Vec<Field>,
    /// The consent-like condition checked at each decision.
    pub requires: Option<Expr>,
    /// At most one decision of this action per event.
    pub exclusive: bool,
    /// The whole node.
    pub span: Span,
}

/// `journey NAME { stages…, goals…, rules… }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    /// The journey's name.
    pub name: Ident,
    /// Each `stages a -> b -> c` line.
    pub stages: Vec<Vec<Ident>>,
    /// `goal S within D`.
    pub goals: Vec<Goal>,
    /// The journey's rules in order.
    pub rules: Vec<Rule>,
    /// The whole node.
    pub span: Span,
}

/// `goal S within D`.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// The converting signal.
    pub signal: Ident,
    /// The window after entering the journey.
    pub within: Duration,
    /// The whole node.
    pub span: Span,
}

/// A duration literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duration {
    /// Length in milliseconds.
    pub ms: u64,
    /// The literal.
    pub span: Span,
}

/// A rule: trigger, clauses and actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `rule NAME:`, if named.
    pub name: Option<Ident>,
    /// The `when` keyword (unnamed rules are called `L<line>` after it).
    pub when: Span,
    /// What makes it fire.
    pub trigger: Trigger,
    /// `in STAGE, …`.
    pub stages: Option<StageClause>,
    /// `where EXPR`.
    pub condition: Option<Expr>,
    /// `limit N per D`.
    pub limit: Option<Limit>,
    /// `priority N`.
    pub priority: Option<Priority>,
    /// What it does.
    pub actions: Vec<Action>,
    /// The whole node.
    pub span: Span,
}

/// `in a, b`.
impl Rule {
    /// The rule's name as decisions show it: `L12` for an unnamed rule
    /// whose `when` is on line 12 of its file.
    pub fn display_name(&self, sources: &[crate::source::Source]) -> String {
        match &self.name {
            Some(n) => n.name.clone(),
            None => {
                let line = sources
                    .get(self.when.file as usize)
                    .map_or(0, |s| s.line_col(self.when.start as usize).0);
                format!("L{line}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StageClause {
    /// The `in` keyword.
    pub keyword: Span,
    /// The stages.
    pub stages: Vec<Ident>,
    /// The whole node.
    pub span: Span,
}

/// `limit N per D`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// N.
    pub count: i64,
    /// Where N is written.
    pub count_span: Span,
    /// The sliding window.
    pub per: Duration,
    /// The whole node.
    pub span: Span,
}

/// `priority N`.
#[derive(Debug, Clone, PartialEq)]
pub struct Priority {
    /// N.
    pub value: i64,
    /// Where N is written.
    pub span: Span,
}

/// A signal with its `at` / `via` filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    /// The signal.
    pub signal: Ident,
    /// `at P, …` (empty: any place).
    pub at: Vec<Ident>,
    /// `via C, …` (empty: any channel).
    pub via: Vec<Ident>,
    /// The whole node.
    pub span: Span,
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Trigger {
    /// `when S` or `when S within D after S2`.
    Signal {
        /// The signal that fires the rule.
        event: Filtered,
        /// `within D after S2`.
        after: Option<(Duration, Filtered)>,
    },
    /// `when no S within D after S2`.
    Absence {
        /// The signal whose absence fires the rule.
        absent: Filtered,
        /// How long to wait.
        within: Duration,
        /// The signal that starts the wait.
        after: Filtered,
    },
    /// `when in STAGE for D`.
    Stay {
        /// The `in` keyword.
        keyword: Span,
        /// The stage.
        stage: Ident,
        /// How long the customer must stay.
        duration: Duration,
    },
}

/// One action of a rule.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// A declared action.
    Call(Call),
    /// `move to STAGE`.
    Move {
        /// The `move` keyword.
        keyword: Span,
        /// The target stage.
        stage: Ident,
    },
    /// `split { arm PCT%: actions … }`.
    Split(Split),
    /// `skip`.
    Skip(Span),
}

/// `NAME(args)` or `NAME arg`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The action.
    pub name: Ident,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Written as `NAME arg` rather than `NAME(arg)`.
    pub juxtaposed: bool,
    /// The whole call.
    pub span: Span,
}

/// `split { … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The `split` keyword.
    pub keyword: Span,
    /// The arms in order.
    pub arms: Vec<Arm>,
    /// The whole node.
    pub span: Span,
}

/// `NAME PCT%: actions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    /// The arm's name.
    pub name: Ident,
    /// Its share of customers.
    pub percent: u32,
    /// Where the percentage is written.
    pub percent_span: Span,
    /// What it does (no nested split).
    pub actions: Vec<Action>,
    /// The whole node.
    pub span: Span,
}

/// An expression, annotated with its type by the checker.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
    /// Its type, once checked ([`Ty::UNKNOWN`] before).
    pub ty: Ty,
}

/// `customer` or `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Root {
    Customer,
    Event,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum UnaryOp {
    Not,
    Neg,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::Contains => "contains",
            BinaryOp::StartsWith => "starts_with",
            BinaryOp::EndsWith => "ends_with",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    /// Milliseconds.
    Duration(u64),
    List(Vec<Expr>),
    /// `customer.FIELD`, `event.FIELD` (including `event.at`, `.via`, `.time`).
    Path(Root, Ident),
    /// `customer has FIELD`.
    Has(Root, Ident),
    /// A bare name: an enum value, place or channel, resolved by expected type.
    Name(Ident),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

impl Module {
    /// The tree with every span set to [`Span::default`]: two trees that
    /// differ only in layout and comments have equal `without_spans()`.
    pub fn without_spans(&self) -> Module {
        let mut module = self.clone();
        module.clear_spans();
        module
    }

    /// Sets every span of the tree to [`Span::default`].
    pub fn clear_spans(&mut self) {
        ClearSpans::clear_spans(self);
    }
}

/// Sets every span of a node and its children to [`Span::default`].
///
/// Each impl destructures its node without `..` and matches without `_`,
/// so a field or variant added to the tree does not compile until it is
/// cleared here too.
trait ClearSpans {
    fn clear_spans(&mut self);
}

impl ClearSpans for Span {
    fn clear_spans(&mut self) {
        *self = Span::default();
    }
}

impl<T: ClearSpans> ClearSpans for Vec<T> {
    fn clear_spans(&mut self) {
        self.iter_mut().for_each(ClearSpans::clear_spans);
    }
}

impl<T: ClearSpans> ClearSpans for Option<T> {
    fn clear_spans(&mut self) {
        if let Some(t) = self {
            t.clear_spans();
        }
    }
}

impl<T: ClearSpans + ?Sized> ClearSpans for Box<T> {
    fn clear_spans(&mut self) {
        (**self).clear_spans();
    }
}

impl<A: ClearSpans, B: ClearSpans> ClearSpans for (A, B) {
    fn clear_spans(&mut self) {
        self.0.clear_spans();
        self.1.clear_spans();
    }
}

/// Leaves without spans.
macro_rules! no_spans {
    ($($t:ty),*) => {
        $(impl ClearSpans for $t {
            fn clear_spans(&mut self) {}
        })*
    };
}

no_spans!(String, bool, u32, i64, u64, f64, Ty, Root, UnaryOp, BinaryOp);

/// Clears the named fields of a struct, destructured exhaustively.
macro_rules! clear_fields {
    ($t:ident { $($field:ident),* }) => {
        impl ClearSpans for $t {
            fn clear_spans(&mut self) {
                let $t { $($field),* } = self;
                $($field.clear_spans();)*
            }
        }
    };
}

clear_fields!(Ident { name, span });
clear_fields!(Module { file, span, items });
clear_fields!(Test {
    keyword,
    name,
    name_span,
    steps,
    span
});
clear_fields!(TestEvent {
    signal,
    at,
    via,
    values,
    span
});
clear_fields!(FieldValue { name, value, span });
clear_fields!(EnumDecl { name, values, span });
clear_fields!(CustomerDecl {
    keyword,
    fields,
    span
});
clear_fields!(Field {
    name,
    ty,
    default,
    span
});
clear_fields!(TypeExpr {
    name,
    list,
    optional,
    span
});
clear_fields!(SignalDecl { name, fields, span });
clear_fields!(ActionDecl {
    name,
    params,
    requires,
    exclusive,
    span
});
clear_fields!(Journey {
    name,
    stages,
    goals,
    rules,
    span
});
clear_fields!(Goal {
    signal,
    within,
    span
});
clear_fields!(Duration { ms, span });
clear_fields!(Rule {
    name,
    when,
    trigger,
    stages,
    condition,
    limit,
    priority,
    actions,
    span
});
clear_fields!(StageClause {
    keyword,
    stages,
    span
});
clear_fields!(Limit {
    count,
    count_span,
    per,
    span
});
clear_fields!(Priority { value, span });
clear_fields!(Filtered {
    signal,
    at,
    via,
    span
});
clear_fields!(Call {
    name,
    args,
    juxtaposed,
    span
});
clear_fields!(Split {
    keyword,
    arms,
    span
});
clear_fields!(Arm {
    name,
    percent,
    percent_span,
    actions,
    span
});
clear_fields!(Expr { kind, span, ty });

impl ClearSpans for Item {
    fn clear_spans(&mut self) {
        match self {
            Item::Places(names) | Item::Channels(names) => names.clear_spans(),
            Item::Enum(e) => e.clear_spans(),
            Item::Customer(c) => c.clear_spans(),
            Item::Signal(s) => s.clear_spans(),
            Item::Action(a) => a.clear_spans(),
            Item::Journey(j) => j.clear_spans(),
            Item::Rule(r) => r.clear_spans(),
            Item::Test(t) => t.clear_spans(),
        }
    }
}

impl ClearSpans for TestStep {
    fn clear_spans(&mut self) {
        match self {
            TestStep::Customer { id, values, span } => {
                id.clear_spans();
                values.clear_spans();
                span.clear_spans();
            }
            TestStep::After(d) => d.clear_spans(),
            TestStep::Event(e) => e.clear_spans(),
            TestStep::Expect {
                keyword,
                decisions,
                span,
            } => {
                keyword.clear_spans();
                decisions.clear_spans();
                span.clear_spans();
            }
        }
    }
}

impl ClearSpans for Trigger {
    fn clear_spans(&mut self) {
        match self {
            Trigger::Signal { event, after } => {
                event.clear_spans();
                after.clear_spans();
            }
            Trigger::Absence {
                absent,
                within,
                after,
            } => {
                absent.clear_spans();
                within.clear_spans();
                after.clear_spans();
            }
            Trigger::Stay {
                keyword,
                stage,
                duration,
            } => {
                keyword.clear_spans();
                stage.clear_spans();
                duration.clear_spans();
            }
        }
    }
}

impl ClearSpans for Action {
    fn clear_spans(&mut self) {
        match self {
            Action::Call(call) => call.clear_spans(),
            Action::Move { keyword, stage } => {
                keyword.clear_spans();
                stage.clear_spans();
            }
            Action::Split(split) => split.clear_spans(),
            Action::Skip(span) => span.clear_spans(),
        }
    }
}

impl ClearSpans for ExprKind {
    fn clear_spans(&mut self) {
        match self {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Text(_)
            | ExprKind::Bool(_)
            | ExprKind::Duration(_) => {}
            ExprKind::List(items) => items.clear_spans(),
            ExprKind::Path(_, name) | ExprKind::Has(_, name) | ExprKind::Name(name) => {
                name.clear_spans()
            }
            ExprKind::Unary(_, e) => e.clear_spans(),
            ExprKind::Binary(_, a, b) => {
                a.clear_spans();
                b.clear_spans();
            }
        }
    }
}
