//! The parser: precedence, associativity, literals and spans.

use jrule::syntax::ast::{Action, BinaryOp, Expr, ExprKind, Item, Module, Root, Trigger, UnaryOp};
use jrule::syntax::parse;
use jrule::Source;

fn module(text: &str) -> Module {
    let parsed = parse(&Source::new("t.jr", text), 0);
    let messages: Vec<_> = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(messages.is_empty(), "{messages:?}");
    parsed.module
}

fn condition(expr: &str) -> Expr {
    let m = module(&format!("when s where {expr} then x"));
    match m.items.into_iter().next() {
        Some(Item::Rule(r)) => r.condition.expect("a where clause"),
        other => panic!("not a rule: {other:?}"),
    }
}

/// An expression as an S-expression.
fn sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Text(t) => format!("{t:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Duration(ms) => format!("{ms}ms"),
        ExprKind::List(items) => {
            format!("[{}]", items.iter().map(sexp).collect::<Vec<_>>().join(" "))
        }
        ExprKind::Path(root, f) => format!("{}.{}", root_name(*root), f.name),
        ExprKind::Has(root, f) => format!("(has {} {})", root_name(*root), f.name),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Unary(op, e) => {
            let op = if *op == UnaryOp::Not { "not" } else { "neg" };
            format!("({op} {})", sexp(e))
        }
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.as_str(), sexp(a), sexp(b)),
        other => panic!("no S-expression for {other:?}"),
    }
}

fn root_name(root: Root) -> &'static str {
    match root {
        Root::Customer => "customer",
        Root::Event => "event",
        other => panic!("no name for {other:?}"),
    }
}

#[test]
fn precedence_loosest_to_tightest() {
    let cases = [
        ("a or b and c", "(or a (and b c))"),
        ("a and b or c", "(or (and a b) c)"),
        ("not a == b", "(not (== a b))"),
        ("not a and b", "(and (not a) b)"),
        ("a == b or c", "(or (== a b) c)"),
        ("a + b * c", "(+ a (* b c))"),
        ("a * b + c", "(+ (* a b) c)"),
        ("a < b + 1 and c", "(and (< a (+ b 1)) c)"),
        ("-a * b", "(* (neg a) b)"),
        ("a % b / c", "(/ (% a b) c)"),
        ("(a or b) and c", "(and (or a b) c)"),
        ("not not a", "(not (not a))"),
        ("a + 1 in [1, 2]", "(in (+ a 1) [1 2])"),
        (
            "customer.tags contains \"x\" or customer has email",
            "(or (contains customer.tags \"x\") (has customer email))",
        ),
        (
            "event.name starts_with \"a\" and event.name ends_with \"z\"",
            "(and (starts_with event.name \"a\") (ends_with event.name \"z\"))",
        ),
        ("x in customer.tags", "(in x customer.tags)"),
    ];
    for (source, expected) in cases {
        assert_eq!(sexp(&condition(source)), expected, "{source}");
    }
}

#[test]
fn left_associativity() {
    assert_eq!(sexp(&condition("a - b - c")), "(- (- a b) c)");
    assert_eq!(sexp(&condition("a / b / c")), "(/ (/ a b) c)");
    assert_eq!(sexp(&condition("a or b or c")), "(or (or a b) c)");
    assert_eq!(sexp(&condition("a and b and c")), "(and (and a b) c)");
}

#[test]
fn literals() {
    assert_eq!(sexp(&condition("30s == 30000")), "(== 30000ms 30000)");
    assert_eq!(sexp(&condition("15m < 2h")), "(< 900000ms 7200000ms)");
    assert_eq!(sexp(&condition("7d > 0s")), "(> 604800000ms 0ms)");
    assert_eq!(sexp(&condition("-3 < 2.5")), "(< -3 2.5)");
    assert_eq!(sexp(&condition("a - 3")), "(- a 3)");
    assert_eq!(sexp(&condition("- 3 < a")), "(< (neg 3) a)");
    assert_eq!(
        sexp(&condition("a > -9223372036854775808")),
        "(> a -9223372036854775808)"
    );
    assert_eq!(
        sexp(&condition(r#""q\"b\\s\n\t\u{1F600}" == """#)),
        format!("(== {:?} \"\")", "q\"b\\s\n\t\u{1F600}")
    );
    assert_eq!(sexp(&condition("true != false")), "(!= true false)");
}

#[test]
fn where_then_in_clause_is_not_membership() {
    let m = module("when s where a > 1 in booked then x");
    let Some(Item::Rule(r)) = m.items.first() else {
        panic!()
    };
    assert_eq!(sexp(r.condition.as_ref().unwrap()), "(> a 1)");
    let stages: Vec<_> = r
        .stages
        .as_ref()
        .unwrap()
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(stages, ["booked"]);
}

#[test]
fn spans_point_at_the_source() {
    let text = "when key_used where event.room >= 1000 then offer room_service";
    let m = module(text);
    let Some(Item::Rule(r)) = m.items.first() else {
        panic!()
    };
    let at = |s: jrule::Span| &text[s.range()];
    assert_eq!(at(r.span), text);
    assert_eq!(at(r.when), "when");
    let Trigger::Signal { event, .. } = &r.trigger else {
        panic!()
    };
    assert_eq!(at(event.signal.span), "key_used");
    let cond = r.condition.as_ref().unwrap();
    assert_eq!(at(cond.span), "event.room >= 1000");
    let ExprKind::Binary(BinaryOp::Ge, lhs, rhs) = &cond.kind else {
        panic!()
    };
    assert_eq!(at(lhs.span), "event.room");
    assert_eq!(at(rhs.span), "1000");
    let Action::Call(call) = &r.actions[0] else {
        panic!()
    };
    assert_eq!(at(call.name.span), "offer");
    assert!(call.juxtaposed);
    assert_eq!(at(call.args[0].span), "room_service");
    let paren = condition("(a or b)");
    assert_eq!((paren.span.start, paren.span.end), (13, 21));
}

#[test]
fn layout_and_comments_do_not_change_the_tree() {
    let a = module("journey j { stages a -> b rule r: when s in a where x == 1 then move to b, send(sms, \"t\") }");
    let b = module(
        "// a comment\njourney j {\n  stages a\n    -> b\n  /* block */\n  rule r:\n    when s\n    in a\n    where (x == 1)\n    then move to b,\n         send(sms, \"t\")\n}\n",
    );
    assert_ne!(a, b, "`==` compares positions");
    assert_eq!(a.without_spans(), b.without_spans());
    let c = module("journey j { stages a -> b rule r: when s in a where x == 2 then move to b, send(sms, \"t\") }");
    assert_ne!(a.without_spans(), c.without_spans());
    // The same text parses to equal trees, spans and all.
    assert_eq!(a, module("journey j { stages a -> b rule r: when s in a where x == 1 then move to b, send(sms, \"t\") }"));
}

#[test]
fn without_spans_clears_every_span() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hotel.jr"))
        .expect("example");
    let stripped = module(&text).without_spans();
    let debug = format!("{stripped:?}");
    // Spans print as `FILE:START..END`; cleared, every one is `0:0..0`.
    let bytes = debug.as_bytes();
    let mut spans = 0;
    for (at, _) in debug.match_indices("..") {
        if at > 0 && bytes[at - 1].is_ascii_digit() {
            spans += 1;
            let around = &debug[at - 4..at + 4];
            let cleared = !around.as_bytes()[0].is_ascii_digit()
                && &around[1..7] == "0:0..0"
                && !around.as_bytes()[7].is_ascii_digit();
            assert!(cleared, "a span left: {around:?}");
        }
    }
    assert!(spans > 100, "{spans}");
}

#[test]
fn every_example_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/spec/examples");
    for name in ["hotel.jr", "bank_loan.jr", "retail.jr"] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("example");
        let m = module(&text);
        assert!(m.items.len() > 10, "{name}");
    }
}

#[test]
fn split_arms_and_juxtaposed_calls_end_where_they_should() {
    let m = module(
        "journey j { stages a rule r: when s then split { t 50%: ping c 50%: skip } rule q: when s then ping }",
    );
    let Some(Item::Journey(j)) = m.items.first() else {
        panic!()
    };
    assert_eq!(j.rules.len(), 2);
    let Action::Split(split) = &j.rules[0].actions[0] else {
        panic!()
    };
    assert_eq!(split.arms.len(), 2);
    assert_eq!(split.arms[1].name.name, "c");
    let Action::Call(ping) = &split.arms[0].actions[0] else {
        panic!()
    };
    assert!(ping.args.is_empty());
}

#[test]
fn syntax_errors_are_worded() {
    let cases = [
        (
            "journey x { rule a: when b then when }",
            "expected an action after `then`, found `when`",
            33,
        ),
        (
            "when a where x > then b",
            "expected an expression after `>`, found `then`",
            18,
        ),
        (
            "rule r when a then b",
            "expected `:` after `r`, found `when`",
            8,
        ),
        (
            "signal s { x: }",
            "expected a type after `:`, found `}`",
            15,
        ),
        (
            "when a at then b",
            "expected a place after `at`, found `then`",
            11,
        ),
        ("goal", "expected a declaration or a rule, found `goal`", 1),
        (
            "signal s\n\ngoal x",
            "expected `{`, a declaration, a rule or end of file after `s`, found `goal`",
            1,
        ),
    ];
    for (text, message, column) in cases {
        let source = Source::new("t.jr", text);
        let parsed = parse(&source, 0);
        let d = parsed
            .diagnostics
            .first()
            .unwrap_or_else(|| panic!("no error for {text}"));
        assert_eq!(d.message, message, "{text}");
        let line = text.lines().count();
        assert_eq!(
            source.line_col(d.span.start as usize),
            (line, column),
            "{text}"
        );
        assert!(parsed.broken);
    }
}

/// Large files are parsed in pieces cut where items start: the result must
/// not depend on where the cuts fall.
#[test]
fn large_files_parse_in_pieces_like_one() {
    let mut text = String::from(
        "places hotel\ncustomer {\n  email: text?\n}\nsignal s { n: int }\naction a(n: int)\n",
    );
    for i in 0..6000 {
        // Lines that look like item starts but are not: inside a journey
        // (depth 1) and an expression line beginning with `customer has`.
        text.push_str(&format!(
            "journey j{i} {{\nstages x -> y\nrule r{i}:\nwhen s\nwhere event.n > {i} and\ncustomer has email\nthen a({i}), move to y\n}}\nwhen s at hotel\nthen a({i})\n"
        ));
    }
    assert!(text.len() > 4 * 64 * 1024);
    let checked = jrule::check(&[Source::new("big.jr", text.clone())]);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == jrule::Severity::Error)
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{:?}", &errors[..errors.len().min(3)]);
    let items: usize = checked.modules.iter().map(|m| m.items.len()).sum();
    assert_eq!(items, 4 + 6000 * 2);
    // A mistake near the end is reported where it is.
    let broken = format!("{text}when s then then\n");
    let source = Source::new("big.jr", broken.clone());
    let parsed = parse(&source, 0);
    assert_eq!(parsed.diagnostics.len(), 1);
    let d = &parsed.diagnostics[0];
    assert_eq!(
        source.line_col(d.span.start as usize),
        (broken.lines().count(), 13)
    );
    assert_eq!(d.message, "expected an action after `then`, found `then`");
}
