//! The syntax tree as lines of canonical text, one function per node kind.
//!
//! Each function returns the lines of its node. A line remembers where its
//! last token ends in the source, so that comments can be put back in
//! place afterwards (see `super::assemble`). Where a node has a one-line and
//! a broken form, [`Printer::choose`] takes the one-line form when it fits
//! in [`WIDTH`](super::WIDTH) columns and no comment would land inside it.

use crate::source::Span;
use crate::syntax::ast::*;

use super::comments::Comments;
use super::expr::{binary_level, level, Exprs};
use super::WIDTH;

/// One line of output, before comments are put back.
#[derive(Debug, Clone)]
pub(super) struct Line {
    /// Nesting depth (two spaces each).
    pub indent: usize,
    /// The text, without indentation.
    pub text: String,
    /// Where the line's first item starts in the source (for blank lines).
    pub start: usize,
    /// Where the line's last token ends in the source (for comments).
    pub end: usize,
    /// The first line of an item (declaration, journey item, field, arm):
    /// a blank line the user left before it is kept.
    pub item: bool,
    /// Ends with an opening bracket: no blank line follows.
    pub open: bool,
    /// Starts with a closing bracket: comments before it belong inside.
    pub close: bool,
}

impl Line {
    fn new(indent: usize, text: impl Into<String>, end: usize) -> Line {
        Line {
            indent,
            text: text.into(),
            start: end,
            end,
            item: false,
            open: false,
            close: false,
        }
    }

    fn open(mut self) -> Line {
        self.open = true;
        self
    }

    fn close(mut self) -> Line {
        self.close = true;
        self
    }
}

/// Marks the first of `lines` as the start of an item at `start`.
fn item(mut lines: Vec<Line>, start: usize) -> Vec<Line> {
    if let Some(first) = lines.first_mut() {
        first.item = true;
        first.start = start;
    }
    lines
}

fn fits(indent: usize, text: &str) -> bool {
    indent * 2 + text.chars().count() <= WIDTH
}

fn names(list: &[Ident]) -> String {
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    names.join(", ")
}

pub(super) struct Printer<'s> {
    pub comments: &'s Comments<'s>,
    pub exprs: Exprs<'s>,
}

impl Printer<'_> {
    /// The one-line form `flat` if it fits at `indent` and no comment lies
    /// between the ends of the first and last lines of `broken`; else `broken`.
    fn choose(&self, indent: usize, flat: Option<String>, broken: Vec<Line>) -> Vec<Line> {
        let (Some(first), Some(last), Some(flat)) = (broken.first(), broken.last(), flat) else {
            return broken;
        };
        if fits(indent, &flat) && !self.comments.any_in(first.end, last.end) {
            vec![Line::new(indent, flat, last.end)]
        } else {
            broken
        }
    }

    /// Where the last token of `span` ends: a node's span may run on over
    /// the spaces and comments after it.
    fn end(&self, span: Span) -> usize {
        self.comments.trim_end(span.end as usize)
    }

    fn past(&self, pos: u32, token: &str) -> usize {
        self.comments.past(pos as usize, token)
    }

    // ------------------------------------------------------------- items

    pub fn module(&self, m: &Module) -> Vec<Line> {
        let mut lines = Vec::new();
        for it in &m.items {
            let (start, item_lines) = self.item(it, 0);
            lines.extend(item(item_lines, start));
        }
        lines
    }

    /// An item's lines and where it starts in the source.
    fn item(&self, it: &Item, indent: usize) -> (usize, Vec<Line>) {
        match it {
            Item::Places(list) => self.names_decl("places", list, indent),
            Item::Channels(list) => self.names_decl("channels", list, indent),
            Item::Enum(e) => (e.span.start as usize, self.enum_decl(e, indent)),
            Item::Customer(c) => (c.span.start as usize, self.customer(c, indent)),
            Item::Signal(s) => (s.span.start as usize, self.signal(s, indent)),
            Item::Action(a) => (a.span.start as usize, self.action_decl(a, indent)),
            Item::Journey(j) => (j.span.start as usize, self.journey(j, indent)),
            Item::Rule(r) => (r.span.start as usize, self.rule(r, indent)),
            Item::Test(t) => (t.span.start as usize, self.test(t, indent)),
        }
    }

    /// `places a, b` / `channels a, b`.
    fn names_decl(&self, keyword: &str, list: &[Ident], indent: usize) -> (usize, Vec<Line>) {
        let first = list.first().map_or(0, |i| i.span.start as usize);
        let start = self.comments.keyword_before(first, keyword);
        let text = format!("{keyword} {}", names(list));
        (
            start,
            vec![Line::new(
                indent,
                text,
                list.last().map_or(first, |i| self.end(i.span)),
            )],
        )
    }

    /// `enum NAME { a, b }`, or one value a line.
    fn enum_decl(&self, e: &EnumDecl, indent: usize) -> Vec<Line> {
        let name = &e.name.name;
        let flat = if e.values.is_empty() {
            format!("enum {name} {{}}")
        } else {
            format!("enum {name} {{ {} }}", names(&e.values))
        };
        let mut broken = vec![Line::new(
            indent,
            format!("enum {name} {{"),
            self.past(e.name.span.end, "{"),
        )
        .open()];
        for v in &e.values {
            let line = Line::new(indent + 1, v.name.clone(), self.end(v.span));
            broken.extend(item(vec![line], v.span.start as usize));
        }
        broken.push(Line::new(indent, "}", self.end(e.span)).close());
        self.choose(indent, Some(flat), broken)
    }

    /// `customer { … }`: one field a line.
    fn customer(&self, c: &CustomerDecl, indent: usize) -> Vec<Line> {
        let flat = c.fields.is_empty().then(|| "customer {}".to_string());
        let open = self.past(c.keyword.end, "{");
        self.block(indent, "customer {".into(), open, &c.fields, c.span, flat)
    }

    /// `HEAD {`, the fields one a line, `}`.
    fn block(
        &self,
        indent: usize,
        head: String,
        open: usize,
        fields: &[Field],
        whole: Span,
        flat: Option<String>,
    ) -> Vec<Line> {
        let mut broken = vec![Line::new(indent, head, open).open()];
        for f in fields {
            let line = Line::new(indent + 1, self.field(f), self.end(f.span));
            broken.extend(item(vec![line], f.span.start as usize));
        }
        broken.push(Line::new(indent, "}", self.end(whole)).close());
        self.choose(indent, flat, broken)
    }

    /// `name: type = default`.
    fn field(&self, f: &Field) -> String {
        let mut text = format!("{}: {}", f.name.name, type_expr(&f.ty));
        if let Some(d) = &f.default {
            text.push_str(" = ");
            text.push_str(&self.exprs.expr(d));
        }
        text
    }

    /// `signal NAME`, `signal NAME { a: int, b: text }`, or one field a line.
    fn signal(&self, s: &SignalDecl, indent: usize) -> Vec<Line> {
        let name = &s.name.name;
        let flat = if s.fields.is_empty() {
            format!("signal {name}")
        } else {
            let fields: Vec<String> = s.fields.iter().map(|f| self.field(f)).collect();
            format!("signal {name} {{ {} }}", fields.join(", "))
        };
        let open = self.past(s.name.span.end, "{");
        let head = format!("signal {name} {{");
        self.block(indent, head, open, &s.fields, s.span, Some(flat))
    }

    /// `action NAME(params) requires EXPR exclusive`, the options on lines
    /// of their own when long, the parameters too when still long.
    fn action_decl(&self, a: &ActionDecl, indent: usize) -> Vec<Line> {
        let name = &a.name.name;
        let params: Vec<String> = a.params.iter().map(|p| self.field(p)).collect();
        let head_flat = if params.is_empty() {
            format!("action {name}")
        } else {
            format!("action {name}({})", params.join(", "))
        };
        let mut lines = match a.params.last() {
            None => vec![Line::new(indent, head_flat.clone(), self.end(a.name.span))],
            Some(last) => {
                let mut broken = vec![Line::new(
                    indent,
                    format!("action {name}("),
                    self.past(a.name.span.end, "("),
                )
                .open()];
                for (p, text) in a.params.iter().zip(&params) {
                    let line = Line::new(indent + 1, format!("{text},"), self.end(p.span));
                    broken.extend(item(vec![line], p.span.start as usize));
                }
                broken.push(Line::new(indent, ")", self.past(last.span.end, ")")).close());
                self.choose(indent, Some(head_flat.clone()), broken)
            }
        };
        let mut flat = head_flat;
        if let Some(e) = &a.requires {
            flat.push_str(" requires ");
            flat.push_str(&self.exprs.expr(e));
            lines.extend(self.expr_lines(indent + 1, indent + 2, "requires ", e));
        }
        if a.exclusive {
            flat.push_str(" exclusive");
            lines.push(Line::new(indent + 1, "exclusive", self.end(a.span)));
        }
        self.choose(indent, Some(flat), lines)
    }

    // ---------------------------------------------------------- journeys

    /// `journey NAME {`, its stages, goals and rules in written order, `}`.
    fn journey(&self, j: &Journey, indent: usize) -> Vec<Line> {
        let inner = indent + 1;
        let mut items: Vec<(usize, Vec<Line>)> = Vec::new();
        for stages in &j.stages {
            let first = stages.first().map_or(0, |s| s.span.start as usize);
            let start = self.comments.keyword_before(first, "stages");
            let text: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
            let line = Line::new(
                inner,
                format!("stages {}", text.join(" -> ")),
                stages.last().map_or(first, |i| self.end(i.span)),
            );
            items.push((start, vec![line]));
        }
        for g in &j.goals {
            items.push((g.span.start as usize, vec![self.goal(g, inner)]));
        }
        for r in &j.rules {
            items.push((r.span.start as usize, self.rule(r, inner)));
        }
        items.sort_by_key(|(start, _)| *start);
        let mut broken = vec![Line::new(
            indent,
            format!("journey {} {{", j.name.name),
            self.past(j.name.span.end, "{"),
        )
        .open()];
        let empty = items.is_empty();
        for (start, lines) in items {
            broken.extend(item(lines, start));
        }
        broken.push(Line::new(indent, "}", self.end(j.span)).close());
        let flat = empty.then(|| format!("journey {} {{}}", j.name.name));
        self.choose(indent, flat, broken)
    }

    /// `test "NAME" {`, a step a line (`after D` joined with the event
    /// that follows it), `}`.
    fn test(&self, t: &Test, indent: usize) -> Vec<Line> {
        let inner = indent + 1;
        let mut broken = vec![Line::new(
            indent,
            format!("test {} {{", self.exprs.text(&t.name, t.name_span)),
            self.past(t.name_span.end, "{"),
        )
        .open()];
        let mut steps = t.steps.iter().peekable();
        while let Some(step) = steps.next() {
            let (start, text, end) = match step {
                TestStep::Customer { id, values, span } => {
                    let mut text = String::from("customer");
                    if let Some((id, id_span)) = id {
                        text.push(' ');
                        text.push_str(&self.exprs.text(id, *id_span));
                    }
                    text.push(' ');
                    text.push_str(&self.values(values));
                    (span.start, text, span.end)
                }
                TestStep::After(d) => {
                    let start = self.comments.keyword_before(d.span.start as usize, "after");
                    let mut text = format!("after {}", self.exprs.duration(d.ms, d.span));
                    let mut end = d.span.end;
                    if let Some(TestStep::Event(e)) = steps.peek() {
                        text.push(' ');
                        text.push_str(&self.test_event(e));
                        end = e.span.end;
                        steps.next();
                    }
                    (start as u32, text, end)
                }
                TestStep::Event(e) => (e.span.start, self.test_event(e), e.span.end),
                TestStep::Expect {
                    decisions, span, ..
                } => {
                    let text = match decisions {
                        Some(list) => format!("then {}", self.actions_flat(list)),
                        None => "then nothing".to_string(),
                    };
                    (span.start, text, span.end)
                }
            };
            let end = self.end(Span::new(t.span.file, end as usize, end as usize));
            broken.extend(item(vec![Line::new(inner, text, end)], start as usize));
        }
        broken.push(Line::new(indent, "}", self.end(t.span)).close());
        let flat = t
            .steps
            .is_empty()
            .then(|| format!("test {} {{}}", self.exprs.text(&t.name, t.name_span)));
        self.choose(indent, flat, broken)
    }

    /// `when SIGNAL at P via C { f: v }`.
    fn test_event(&self, e: &TestEvent) -> String {
        let mut text = format!("when {}", e.signal.name);
        if let Some(at) = &e.at {
            text.push_str(&format!(" at {}", at.name));
        }
        if let Some(via) = &e.via {
            text.push_str(&format!(" via {}", via.name));
        }
        if !e.values.is_empty() {
            text.push(' ');
            text.push_str(&self.values(&e.values));
        }
        text
    }

    /// `{ f: v, g: w }`, or `{}`.
    fn values(&self, values: &[FieldValue]) -> String {
        if values.is_empty() {
            return "{}".to_string();
        }
        let list: Vec<String> = values
            .iter()
            .map(|v| format!("{}: {}", v.name.name, self.exprs.expr(&v.value)))
            .collect();
        format!("{{ {} }}", list.join(", "))
    }

    /// `goal S within D`.
    fn goal(&self, g: &Goal, indent: usize) -> Line {
        let text = format!(
            "goal {} within {}",
            g.signal.name,
            self.exprs.duration(g.within.ms, g.within.span)
        );
        Line::new(indent, text, self.end(g.span))
    }

    // ------------------------------------------------------------- rules

    /// A rule. Unnamed and short: one line. Otherwise `rule NAME:` (if
    /// named), then `when TRIGGER` (with a short `in` clause of a plain
    /// signal trigger), `in`, `where`, `limit`, `priority` and `then` each
    /// on a line of its own, one level deeper than the rule.
    fn rule(&self, r: &Rule, indent: usize) -> Vec<Line> {
        let body = indent + 1;
        let mut lines = Vec::new();
        let when_indent = match &r.name {
            Some(n) => {
                let colon = self.past(n.span.end, ":");
                lines.push(Line::new(indent, format!("rule {}:", n.name), colon));
                body
            }
            None => indent,
        };
        let trigger = format!("when {}", self.trigger(&r.trigger));
        let trigger_end = self.end(trigger_span(&r.trigger));
        let stages = r
            .stages
            .as_ref()
            .map(|s| (format!("in {}", names(&s.stages)), self.end(s.span)));
        match &stages {
            Some((text, end))
                if matches!(r.trigger, Trigger::Signal { after: None, .. })
                    && fits(when_indent, &format!("{trigger} {text}"))
                    && !self.comments.any_in(trigger_end, *end) =>
            {
                let end = (*end).max(trigger_end);
                lines.push(Line::new(when_indent, format!("{trigger} {text}"), end));
            }
            Some((text, end)) => {
                lines.push(Line::new(when_indent, trigger.clone(), trigger_end));
                lines.push(Line::new(body, text.clone(), *end));
            }
            None => lines.push(Line::new(when_indent, trigger.clone(), trigger_end)),
        }
        let mut flat = trigger;
        if let Some((text, _)) = &stages {
            flat.push(' ');
            flat.push_str(text);
        }
        if let Some(e) = &r.condition {
            flat.push_str(" where ");
            flat.push_str(&self.exprs.expr(e));
            lines.extend(self.expr_lines(body, body + 1, "where ", e));
        }
        if let Some(l) = &r.limit {
            let text = format!(
                "limit {} per {}",
                self.exprs.int(l.count, l.count_span),
                self.exprs.duration(l.per.ms, l.per.span)
            );
            flat.push(' ');
            flat.push_str(&text);
            lines.push(Line::new(body, text, self.end(l.span)));
        }
        if let Some(p) = &r.priority {
            let text = format!("priority {}", self.exprs.int(p.value, p.span));
            flat.push(' ');
            flat.push_str(&text);
            lines.push(Line::new(body, text, self.end(p.span)));
        }
        flat.push_str(" then ");
        flat.push_str(&self.actions_flat(&r.actions));
        lines.extend(self.then_lines(body, &r.actions));
        let has_split = r.actions.iter().any(|a| matches!(a, Action::Split(_)));
        let flat = (r.name.is_none() && !has_split).then_some(flat);
        self.choose(indent, flat, lines)
    }

    fn trigger(&self, t: &Trigger) -> String {
        let d = |d: &Duration| self.exprs.duration(d.ms, d.span);
        match t {
            Trigger::Signal { event, after: None } => filtered(event),
            Trigger::Signal {
                event,
                after: Some((within, after)),
            } => format!(
                "{} within {} after {}",
                filtered(event),
                d(within),
                filtered(after)
            ),
            Trigger::Absence {
                absent,
                within,
                after,
            } => format!(
                "no {} within {} after {}",
                filtered(absent),
                d(within),
                filtered(after)
            ),
            Trigger::Stay {
                stage, duration, ..
            } => format!("in {} for {}", stage.name, d(duration)),
        }
    }

    /// `where`/`requires` and its expression. Too long (or with comments
    /// inside), an `or`/`and` chain breaks before each operator, the
    /// operators one level deeper; an operand that is itself a chain breaks
    /// the same way, one level deeper again.
    fn expr_lines(&self, first: usize, cont: usize, prefix: &str, e: &Expr) -> Vec<Line> {
        let flat = format!("{prefix}{}", self.exprs.expr(e));
        let op = match &e.kind {
            ExprKind::Binary(op @ (BinaryOp::Or | BinaryOp::And), ..) => *op,
            _ => return vec![Line::new(first, flat, self.end(e.span))],
        };
        let p = binary_level(op);
        let mut operands = Vec::new();
        let mut at = e;
        loop {
            match &at.kind {
                ExprKind::Binary(o, l, r) if *o == op => {
                    operands.push(&**r);
                    at = l;
                }
                _ => break,
            }
        }
        operands.push(at);
        operands.reverse();
        let mut lines = Vec::new();
        for (i, o) in operands.into_iter().enumerate() {
            let (indent, prefix) = if i == 0 {
                (first, prefix.to_string())
            } else {
                (cont, format!("{} ", op.as_str()))
            };
            let wrap = if i == 0 { level(o) < p } else { level(o) <= p };
            if wrap {
                let text = format!("{prefix}({})", self.exprs.expr(o));
                lines.push(Line::new(indent, text, self.end(o.span)));
            } else {
                lines.extend(self.expr_lines(indent, cont + 1, &prefix, o));
            }
        }
        self.choose(first, Some(flat), lines)
    }

    // ----------------------------------------------------------- actions

    fn actions_flat(&self, actions: &[Action]) -> String {
        let list: Vec<String> = actions.iter().map(|a| self.action(a)).collect();
        list.join(", ")
    }

    /// One action on one line.
    fn action(&self, a: &Action) -> String {
        match a {
            Action::Call(c) => self.call(c),
            Action::Move { stage, .. } => format!("move to {}", stage.name),
            Action::Skip(_) => "skip".to_string(),
            Action::Split(s) => {
                // Only a hand-built tree nests a split; the grammar does not.
                let arms: Vec<String> = s.arms.iter().map(|a| self.arm(a, 0)).collect();
                format!("split {{ {} }}", arms.join(" "))
            }
        }
    }

    /// `NAME`, `NAME arg` or `NAME(arg, …)`, as written. (Only a primary
    /// can be juxtaposed: `NAME (a + b)` reads as `NAME(a + b)`.)
    fn call(&self, c: &Call) -> String {
        match (c.juxtaposed, c.args.as_slice()) {
            (_, []) => c.name.name.clone(),
            (true, [arg]) if level(arg) == 8 => format!("{} {}", c.name.name, self.exprs.expr(arg)),
            (_, args) => {
                let args: Vec<String> = args.iter().map(|a| self.exprs.expr(a)).collect();
                format!("{}({})", c.name.name, args.join(", "))
            }
        }
    }

    /// `then ACTIONS`: on one line; or, too long, one action a line; a
    /// `split` always opens a block with one arm a line.
    fn then_lines(&self, indent: usize, actions: &[Action]) -> Vec<Line> {
        if actions.iter().any(|a| matches!(a, Action::Split(_))) {
            return self.then_with_split(indent, actions);
        }
        let flat = format!("then {}", self.actions_flat(actions));
        let last = actions.len().saturating_sub(1);
        let lines: Vec<Line> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let text = self.action(a);
                let (indent, text) = match i {
                    0 => (indent, format!("then {text}")),
                    _ => (indent + 1, text),
                };
                let text = if i < last { format!("{text},") } else { text };
                Line::new(indent, text, self.end(action_span(a)))
            })
            .collect();
        if lines.len() <= 1 {
            return vec![Line::new(
                indent,
                flat,
                actions.last().map_or(0, |a| self.end(action_span(a))),
            )];
        }
        self.choose(indent, Some(flat), lines)
    }

    fn then_with_split(&self, indent: usize, actions: &[Action]) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut text = String::from("then ");
        let mut end = 0;
        let mut close = false;
        for (i, a) in actions.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            match a {
                Action::Split(s) => {
                    text.push_str("split {");
                    let mut line = Line::new(indent, text, self.past(s.keyword.end, "{")).open();
                    line.close = close;
                    lines.push(line);
                    let width = s.arms.iter().map(|a| a.name.name.len()).max().unwrap_or(0);
                    for arm in &s.arms {
                        let line = Line::new(indent + 1, self.arm(arm, width), self.end(arm.span));
                        lines.extend(item(vec![line], arm.span.start as usize));
                    }
                    text = "}".to_string();
                    end = self.end(s.span);
                    close = true;
                }
                other => {
                    text.push_str(&self.action(other));
                    end = self.end(action_span(other));
                }
            }
        }
        let mut line = Line::new(indent, text, end);
        line.close = close;
        lines.push(line);
        lines
    }

    /// `NAME PCT%: ACTIONS`, the names padded to `width` so that the
    /// percentages line up.
    fn arm(&self, a: &Arm, width: usize) -> String {
        format!(
            "{:<width$} {}: {}",
            a.name.name,
            self.exprs.percent(a.percent, a.percent_span),
            self.actions_flat(&a.actions)
        )
    }
}

fn type_expr(t: &TypeExpr) -> String {
    let mut text = if t.list {
        format!("[{}]", t.name.name)
    } else {
        t.name.name.clone()
    };
    if t.optional {
        text.push('?');
    }
    text
}

/// `SIGNAL at P, … via C, …`.
fn filtered(f: &Filtered) -> String {
    let mut text = f.signal.name.clone();
    if !f.at.is_empty() {
        text.push_str(" at ");
        text.push_str(&names(&f.at));
    }
    if !f.via.is_empty() {
        text.push_str(" via ");
        text.push_str(&names(&f.via));
    }
    text
}

fn trigger_span(t: &Trigger) -> Span {
    match t {
        Trigger::Signal { event, after } => after.as_ref().map_or(event.span, |(_, f)| f.span),
        Trigger::Absence { after, .. } => after.span,
        Trigger::Stay { duration, .. } => duration.span,
    }
}

fn action_span(a: &Action) -> Span {
    match a {
        Action::Call(c) => c.span,
        Action::Move { stage, .. } => stage.span,
        Action::Skip(span) => *span,
        Action::Split(s) => s.span,
    }
}
