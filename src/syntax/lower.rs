//! Lowers pest's pairs into the syntax tree, one function per node kind.

use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::ast::*;
use super::Rule;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

/// The deepest expression tree accepted (operators inside operators).
pub const MAX_EXPR_DEPTH: usize = 256;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    use Assoc::Left;
    PrattParser::new()
        .op(Op::infix(Rule::or, Left))
        .op(Op::infix(Rule::and, Left))
        .op(Op::prefix(Rule::not))
        .op(Op::infix(Rule::eq, Left)
            | Op::infix(Rule::ne, Left)
            | Op::infix(Rule::lt, Left)
            | Op::infix(Rule::le, Left)
            | Op::infix(Rule::gt, Left)
            | Op::infix(Rule::ge, Left)
            | Op::infix(Rule::member, Left)
            | Op::infix(Rule::contains, Left)
            | Op::infix(Rule::starts_with, Left)
            | Op::infix(Rule::ends_with, Left))
        .op(Op::infix(Rule::add, Left) | Op::infix(Rule::sub, Left))
        .op(Op::infix(Rule::mul, Left) | Op::infix(Rule::div, Left) | Op::infix(Rule::rem, Left))
        .op(Op::prefix(Rule::neg))
});

type Pairs<'i> = std::iter::Filter<pest::iterators::Pairs<'i, Rule>, fn(&Pair<'i, Rule>) -> bool>;

/// The children of a pair, without punctuation.
fn inner(pair: Pair<'_, Rule>) -> Pairs<'_> {
    fn keep(p: &Pair<'_, Rule>) -> bool {
        !matches!(
            p.as_rule(),
            Rule::lbrace
                | Rule::rbrace
                | Rule::lparen
                | Rule::rparen
                | Rule::rbracket
                | Rule::colon
        )
    }
    pair.into_inner()
        .filter(keep as fn(&Pair<'_, Rule>) -> bool)
}

/// Where pest's offsets land in the file.
#[derive(Clone, Copy)]
struct At {
    file: u32,
    offset: usize,
}

impl At {
    fn span(self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
    }

    fn ident(self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }
}

pub(super) struct Lower {
    at: At,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Lower {
    pub(super) fn new(file: u32, offset: usize) -> Lower {
        Lower {
            at: At { file, offset },
            diagnostics: Vec::new(),
        }
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        self.at.ident(pair)
    }

    fn names(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        inner(pair).map(|p| self.ident(p)).collect()
    }

    pub(super) fn file(&mut self, pair: Pair<'_, Rule>) -> Vec<Item> {
        let mut items = Vec::new();
        for p in inner(pair) {
            let item = match p.as_rule() {
                Rule::places => Item::Places(self.names(last(p))),
                Rule::channels => Item::Channels(self.names(last(p))),
                Rule::enum_decl => Item::Enum(self.enum_decl(p)),
                Rule::customer_decl => Item::Customer(self.customer(p)),
                Rule::signal_decl => Item::Signal(self.signal(p)),
                Rule::action_decl => Item::Action(self.action_decl(p)),
                Rule::journey => Item::Journey(self.journey(p)),
                Rule::rule => Item::Rule(Box::new(self.rule(p))),
                Rule::test_block => Item::Test(self.test(p)),
                _ => continue,
            };
            items.push(item);
        }
        items
    }

    fn test(&mut self, pair: Pair<'_, Rule>) -> Test {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let keyword = self.at.span(&it.next().expect("test keyword"));
        let name = it.next().expect("test name");
        let name_span = self.at.span(&name);
        let text = name.as_str();
        let name = unescape(&text[1..text.len() - 1]);
        let mut steps = Vec::new();
        for p in it {
            match p.as_rule() {
                Rule::test_customer => {
                    let span = self.at.span(&p);
                    let mut id = None;
                    let mut values = Vec::new();
                    for q in inner(p).skip(1) {
                        match q.as_rule() {
                            Rule::text_lit => {
                                let t = q.as_str();
                                id = Some((unescape(&t[1..t.len() - 1]), self.at.span(&q)));
                            }
                            Rule::values => values = self.values(q),
                            _ => {}
                        }
                    }
                    steps.push(TestStep::Customer { id, values, span });
                }
                Rule::test_after => {
                    let mut parts = inner(p).skip(1);
                    let duration = self.duration(parts.next().expect("duration"));
                    steps.push(TestStep::After(duration));
                    if let Some(event) = parts.next() {
                        steps.push(TestStep::Event(self.test_event(event)));
                    }
                }
                Rule::test_event => steps.push(TestStep::Event(self.test_event(p))),
                Rule::test_expect => {
                    let span = self.at.span(&p);
                    let mut parts = inner(p);
                    let keyword = self.at.span(&parts.next().expect("then"));
                    let what = parts.next().expect("expectation");
                    let decisions = match what.as_rule() {
                        Rule::expectations => Some(inner(what).map(|a| self.action(a)).collect()),
                        _ => None,
                    };
                    steps.push(TestStep::Expect {
                        keyword,
                        decisions,
                        span,
                    });
                }
                _ => {}
            }
        }
        Test {
            keyword,
            name,
            name_span,
            steps,
            span,
        }
    }

    fn test_event(&mut self, pair: Pair<'_, Rule>) -> TestEvent {
        let span = self.at.span(&pair);
        let mut it = inner(pair).skip(1);
        let signal = self.ident(it.next().expect("signal"));
        let mut event = TestEvent {
            signal,
            at: None,
            via: None,
            values: Vec::new(),
            span,
        };
        for p in it {
            match p.as_rule() {
                Rule::test_at => event.at = Some(self.ident(last(p))),
                Rule::test_via => event.via = Some(self.ident(last(p))),
                Rule::values => event.values = self.values(p),
                _ => {}
            }
        }
        event
    }

    fn values(&mut self, pair: Pair<'_, Rule>) -> Vec<FieldValue> {
        inner(pair)
            .map(|v| {
                let span = self.at.span(&v);
                let mut it = inner(v);
                let name = self.ident(it.next().expect("field name"));
                let value = self.expr(it.next().expect("value"));
                FieldValue { name, value, span }
            })
            .collect()
    }

    fn enum_decl(&self, pair: Pair<'_, Rule>) -> EnumDecl {
        let span = self.at.span(&pair);
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("enum name"));
        EnumDecl {
            name,
            values: it.map(|p| self.ident(p)).collect(),
            span,
        }
    }

    fn customer(&mut self, pair: Pair<'_, Rule>) -> CustomerDecl {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let keyword = self.at.span(&it.next().expect("customer keyword"));
        CustomerDecl {
            keyword,
            span,
            fields: it.map(|p| self.field(p)).collect(),
        }
    }

    fn field(&mut self, pair: Pair<'_, Rule>) -> Field {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let name = self.ident(it.next().expect("field name"));
        let ty = self.type_expr(it.next().expect("field type"));
        let default = it.next().map(|d| {
            let value = inner(d).next().expect("default value");
            self.expr_or_placeholder(value, primary)
        });
        Field {
            name,
            ty,
            default,
            span,
        }
    }

    fn type_expr(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let base = it.next().expect("type");
        let list = base.as_rule() == Rule::list_type;
        let scalar = if list {
            inner(base).next().expect("element type")
        } else {
            base
        };
        TypeExpr {
            name: self.ident(inner(scalar).next().expect("type name")),
            list,
            optional: it.next().is_some(),
            span,
        }
    }

    fn signal(&mut self, pair: Pair<'_, Rule>) -> SignalDecl {
        let span = self.at.span(&pair);
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("signal name"));
        SignalDecl {
            name,
            span,
            fields: it.map(|p| self.field(p)).collect(),
        }
    }

    fn action_decl(&mut self, pair: Pair<'_, Rule>) -> ActionDecl {
        let span = self.at.span(&pair);
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("action name"));
        let mut decl = ActionDecl {
            name,
            span,
            params: Vec::new(),
            requires: None,
            exclusive: false,
        };
        let mut requires_at: Option<Span> = None;
        let mut exclusive_at: Option<Span> = None;
        for p in it {
            let span = self.at.span(&p);
            match p.as_rule() {
                Rule::param => {
                    let field = self.field(p);
                    decl.params.push(field);
                }
                Rule::requires => {
                    let keyword = first_span(self.at, &p);
                    if self.repeated(&mut requires_at, keyword, "requires") {
                        continue;
                    }
                    decl.requires = Some(self.expr(last(p)));
                }
                _ => {
                    if !self.repeated(&mut exclusive_at, span, "exclusive") {
                        decl.exclusive = true;
                    }
                }
            }
        }
        decl
    }

    /// Reports a clause written twice; true if it was.
    fn repeated(&mut self, first: &mut Option<Span>, here: Span, what: &str) -> bool {
        match first {
            Some(first) => {
                self.diagnostics.push(
                    Diagnostic::new(Code::Duplicate, here, format!("`{what}` is written twice"))
                        .label("second time")
                        .note(*first, "first written here")
                        .help(format!("keep one `{what}`")),
                );
                true
            }
            None => {
                *first = Some(here);
                false
            }
        }
    }

    fn journey(&mut self, pair: Pair<'_, Rule>) -> Journey {
        let span = self.at.span(&pair);
        let mut it = inner(pair).skip(1);
        let name = self.ident(it.next().expect("journey name"));
        let mut journey = Journey {
            name,
            span,
            stages: Vec::new(),
            goals: Vec::new(),
            rules: Vec::new(),
        };
        for p in it {
            match p.as_rule() {
                Rule::stages => journey
                    .stages
                    .push(inner(p).skip(1).map(|s| self.ident(s)).collect()),
                Rule::goal => {
                    let goal_span = self.at.span(&p);
                    let mut g = inner(p);
                    let signal = self.ident(g.nth(1).expect("goal signal"));
                    let within = self.duration(g.nth(1).expect("goal duration"));
                    journey.goals.push(Goal {
                        signal,
                        within,
                        span: goal_span,
                    });
                }
                _ => {
                    let rule = self.rule(p);
                    journey.rules.push(rule);
                }
            }
        }
        journey
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> Rule_ {
        let span = self.at.span(&pair);
        let mut it = inner(pair).peekable();
        let name = match it.peek().map(|p| p.as_rule()) {
            Some(Rule::rule_name) => it
                .next()
                .and_then(|p| inner(p).nth(1))
                .map(|p| self.ident(p)),
            _ => None,
        };
        let when = self.at.span(&it.next().expect("when"));
        let trigger = self.trigger(it.next().expect("trigger"));
        let mut rule = Rule_ {
            name,
            span,
            when,
            trigger,
            stages: None,
            condition: None,
            limit: None,
            priority: None,
            actions: Vec::new(),
        };
        let (mut in_at, mut where_at, mut limit_at, mut priority_at) = (None, None, None, None);
        for p in it {
            if matches!(p.as_rule(), Rule::k_then) {
                continue;
            }
            if p.as_rule() == Rule::actions {
                rule.actions = inner(p).map(|a| self.action(a)).collect();
                continue;
            }
            let keyword = first_span(self.at, &p);
            match p.as_rule() {
                Rule::in_clause if !self.repeated(&mut in_at, keyword, "in") => {
                    rule.stages = Some(StageClause {
                        span: self.at.span(&p),
                        keyword,
                        stages: self.names(last(p)),
                    });
                }
                Rule::where_clause if !self.repeated(&mut where_at, keyword, "where") => {
                    rule.condition = Some(self.expr(last(p)));
                }
                Rule::limit_clause if !self.repeated(&mut limit_at, keyword, "limit") => {
                    let limit_span = self.at.span(&p);
                    let mut l = inner(p);
                    let count = l.nth(1).expect("limit count");
                    let count_span = self.at.span(&count);
                    let count = self.int(count);
                    let per = self.duration(l.nth(1).expect("limit window"));
                    rule.limit = Some(Limit {
                        span: limit_span,
                        count,
                        count_span,
                        per,
                    });
                }
                Rule::priority_clause if !self.repeated(&mut priority_at, keyword, "priority") => {
                    let value = last(p);
                    let span = self.at.span(&value);
                    let value = self.int(value);
                    rule.priority = Some(Priority { value, span });
                }
                _ => {}
            }
        }
        rule
    }

    fn trigger(&mut self, pair: Pair<'_, Rule>) -> Trigger {
        match pair.as_rule() {
            Rule::stay_trigger => {
                let mut it = inner(pair);
                let keyword = self.at.span(&it.next().expect("in"));
                let stage = self.ident(it.next().expect("stage"));
                let duration = self.duration(it.nth(1).expect("duration"));
                Trigger::Stay {
                    keyword,
                    stage,
                    duration,
                }
            }
            Rule::absence_trigger => {
                let mut it = inner(pair).skip(1);
                let absent = self.filtered(it.next().expect("signal"));
                let within = self.duration(it.nth(1).expect("duration"));
                let after = self.filtered(it.nth(1).expect("after signal"));
                Trigger::Absence {
                    absent,
                    within,
                    after,
                }
            }
            _ => {
                let mut it = inner(pair);
                let event = self.filtered(it.next().expect("signal"));
                let after = match it.nth(1) {
                    Some(d) => {
                        let d = self.duration(d);
                        Some((d, self.filtered(it.nth(1).expect("after signal"))))
                    }
                    None => None,
                };
                Trigger::Signal { event, after }
            }
        }
    }

    fn filtered(&self, pair: Pair<'_, Rule>) -> Filtered {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let mut f = Filtered {
            span,
            signal: self.ident(it.next().expect("signal")),
            at: Vec::new(),
            via: Vec::new(),
        };
        for p in it {
            let names = self.names(last(p.clone()));
            if p.as_rule() == Rule::at_filter {
                f.at = names;
            } else {
                f.via = names;
            }
        }
        f
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Action {
        let pair = match pair.as_rule() {
            Rule::action => inner(pair).next().expect("action"),
            _ => pair,
        };
        match pair.as_rule() {
            Rule::move_action => {
                let keyword = first_span(self.at, &pair);
                Action::Move {
                    keyword,
                    stage: self.ident(last(pair)),
                }
            }
            Rule::skip => Action::Skip(self.at.span(&pair)),
            Rule::split => {
                let span = self.at.span(&pair);
                let mut it = inner(pair);
                let keyword = self.at.span(&it.next().expect("split"));
                let arms = it.map(|arm| self.arm(arm)).collect();
                Action::Split(Split {
                    keyword,
                    arms,
                    span,
                })
            }
            _ => Action::Call(self.call(pair)),
        }
    }

    fn arm(&mut self, pair: Pair<'_, Rule>) -> Arm {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let name = self.ident(it.next().expect("arm name"));
        let pct = it.next().expect("percentage");
        let percent_span = self.at.span(&pct);
        let digits = pct.as_str().trim_end_matches('%');
        let percent = match digits.parse::<u32>() {
            Ok(p) => p,
            Err(_) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::Syntax,
                        percent_span,
                        format!("percentage `{}` is out of range", pct.as_str()),
                    )
                    .label("too large")
                    .help("the arms of a split sum to 100%"),
                );
                0
            }
        };
        let actions = inner(it.next().expect("arm actions"))
            .map(|a| self.action(a))
            .collect();
        Arm {
            name,
            span,
            percent,
            percent_span,
            actions,
        }
    }

    fn call(&mut self, pair: Pair<'_, Rule>) -> Call {
        let span = self.at.span(&pair);
        let mut it = inner(pair);
        let name = self.ident(it.next().expect("action name"));
        let (args, juxtaposed) = match it.next() {
            None => (Vec::new(), false),
            Some(p) if p.as_rule() == Rule::call_args => {
                (inner(p).map(|e| self.expr(e)).collect(), false)
            }
            Some(p) => {
                let arg = inner(p).next().expect("argument");
                (vec![self.expr_or_placeholder(arg, primary)], true)
            }
        };
        Call {
            name,
            args,
            juxtaposed,
            span,
        }
    }

    fn duration(&mut self, pair: Pair<'_, Rule>) -> Duration {
        let span = self.at.span(&pair);
        match duration_ms(pair.as_str()) {
            Some(ms) => Duration { ms, span },
            None => {
                self.diagnostics
                    .push(out_of_range(span, "duration", pair.as_str()));
                Duration { ms: 1, span }
            }
        }
    }

    fn int(&mut self, pair: Pair<'_, Rule>) -> i64 {
        match pair.as_str().parse() {
            Ok(v) => v,
            Err(_) => {
                let span = self.at.span(&pair);
                self.diagnostics
                    .push(out_of_range(span, "integer", pair.as_str()));
                0
            }
        }
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        self.expr_or_placeholder(pair, expr)
    }

    /// Lowers an expression; on failure reports it and stands in `false`.
    fn expr_or_placeholder<'i>(&mut self, pair: Pair<'i, Rule>, lower: Lowering<'i>) -> Expr {
        let span = self.at.span(&pair);
        match lower(self.at, pair) {
            Ok((e, _)) => e,
            Err(d) => {
                self.diagnostics.push(d);
                Expr {
                    kind: ExprKind::Bool(false),
                    span,
                    ty: Default::default(),
                }
            }
        }
    }
}

/// A function lowering an expression, returning it with its depth.
type Lowering<'i> = fn(At, Pair<'i, Rule>) -> Result<(Expr, usize), Diagnostic>;

/// `Rule` is taken by pest's enum; the node is [`ast::Rule`](super::ast::Rule).
type Rule_ = super::ast::Rule;

fn last(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    inner(pair).last().expect("a child")
}

fn first_span(at: At, pair: &Pair<'_, Rule>) -> Span {
    let first = inner(pair.clone()).next().expect("a keyword");
    at.span(&first)
}

fn out_of_range(span: Span, what: &str, text: &str) -> Diagnostic {
    let help = match what {
        "integer" => "an int lies between -9223372036854775808 and 9223372036854775807",
        "duration" => "a duration is at most about 292 million years",
        _ => "use a smaller number",
    };
    Diagnostic::new(
        Code::Syntax,
        span,
        format!("{what} `{text}` is out of range"),
    )
    .label("too large")
    .help(help)
}

/// Milliseconds of a duration literal like `30m`.
pub(crate) fn duration_ms(text: &str) -> Option<u64> {
    crate::time::parse_duration(text).and_then(|ms| u64::try_from(ms).ok())
}

fn expr(at: At, pair: Pair<'_, Rule>) -> Result<(Expr, usize), Diagnostic> {
    // Each prefix operator is a level of recursion in the Pratt parser
    // (`a == not b == not c …` nests them), so bound their number first.
    let mut prefixes = 0;
    for p in pair.clone().into_inner() {
        if matches!(p.as_rule(), Rule::not | Rule::neg) {
            prefixes += 1;
            if prefixes > MAX_EXPR_DEPTH {
                return Err(too_deep(at.span(&p)));
            }
        }
    }
    PRATT
        .map_primary(|p| primary(at, p))
        .map_prefix(|op, rhs| {
            let (rhs, depth) = rhs?;
            let span = at.span(&op).to(rhs.span);
            let op = match op.as_rule() {
                Rule::not => UnaryOp::Not,
                _ => UnaryOp::Neg,
            };
            node(ExprKind::Unary(op, Box::new(rhs)), span, depth + 1)
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, l) = lhs?;
            let (rhs, r) = rhs?;
            let span = lhs.span.to(rhs.span);
            let op = match op.as_rule() {
                Rule::or => BinaryOp::Or,
                Rule::and => BinaryOp::And,
                Rule::eq => BinaryOp::Eq,
                Rule::ne => BinaryOp::Ne,
                Rule::lt => BinaryOp::Lt,
                Rule::le => BinaryOp::Le,
                Rule::gt => BinaryOp::Gt,
                Rule::ge => BinaryOp::Ge,
                Rule::member => BinaryOp::In,
                Rule::contains => BinaryOp::Contains,
                Rule::starts_with => BinaryOp::StartsWith,
                Rule::ends_with => BinaryOp::EndsWith,
                Rule::add => BinaryOp::Add,
                Rule::sub => BinaryOp::Sub,
                Rule::mul => BinaryOp::Mul,
                Rule::div => BinaryOp::Div,
                _ => BinaryOp::Rem,
            };
            node(
                ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
                l.max(r) + 1,
            )
        })
        .parse(pair.into_inner())
}

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::Limit,
        span,
        format!("expression nested deeper than the limit of {MAX_EXPR_DEPTH}"),
    )
    .label("too deep")
    .help("split the condition over several rules or simplify it")
}

fn node(kind: ExprKind, span: Span, depth: usize) -> Result<(Expr, usize), Diagnostic> {
    if depth > MAX_EXPR_DEPTH {
        return Err(too_deep(span));
    }
    Ok((
        Expr {
            kind,
            span,
            ty: Default::default(),
        },
        depth,
    ))
}

fn primary(at: At, pair: Pair<'_, Rule>) -> Result<(Expr, usize), Diagnostic> {
    let span = at.span(&pair);
    let text = pair.as_str();
    let kind = match pair.as_rule() {
        Rule::int_lit => ExprKind::Int(
            text.parse()
                .map_err(|_| out_of_range(span, "integer", text))?,
        ),
        Rule::float_lit => {
            let v: f64 = text
                .parse()
                .map_err(|_| out_of_range(span, "number", text))?;
            if !v.is_finite() {
                return Err(out_of_range(span, "number", text));
            }
            ExprKind::Float(v)
        }
        Rule::duration_lit => ExprKind::Duration(
            duration_ms(text).ok_or_else(|| out_of_range(span, "duration", text))?,
        ),
        Rule::bool_lit => ExprKind::Bool(text == "true"),
        Rule::text_lit => ExprKind::Text(unescape(&text[1..text.len() - 1])),
        Rule::list => {
            let mut items = Vec::new();
            let mut depth = 0;
            for p in inner(pair) {
                let (e, d) = expr(at, p)?;
                depth = depth.max(d);
                items.push(e);
            }
            return node(ExprKind::List(items), span, depth + 1);
        }
        Rule::paren => {
            let (mut e, d) = expr(at, inner(pair).next().expect("expression"))?;
            e.span = span;
            return Ok((e, d));
        }
        Rule::has_test | Rule::path => {
            let is_has = pair.as_rule() == Rule::has_test;
            let mut it = inner(pair);
            let root = match it.next().expect("root").as_str() {
                "customer" => Root::Customer,
                _ => Root::Event,
            };
            let field = at.ident(it.last().expect("field"));
            if is_has {
                ExprKind::Has(root, field)
            } else {
                ExprKind::Path(root, field)
            }
        }
        _ => ExprKind::Name(at.ident(inner(pair).next().expect("name"))),
    };
    node(kind, span, 1)
}

/// Decodes the escapes of a text literal (already validated by the scan).
pub(crate) fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
