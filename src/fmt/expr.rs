//! Expressions and literals as text: the fewest parentheses that keep the
//! tree, and literals that read back as the same values.

use crate::source::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Root, UnaryOp};
use crate::syntax::{duration_ms, unescape};

/// Binding strength, loosest first (docs/language.md §6.1).
pub(super) fn level(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary(op, ..) => binary_level(*op),
        ExprKind::Unary(UnaryOp::Not, _) => 3,
        ExprKind::Unary(UnaryOp::Neg, _) => 7,
        _ => 8,
    }
}

/// The level of a binary operator.
pub(super) fn binary_level(op: BinaryOp) -> u8 {
    use BinaryOp::*;
    match op {
        Or => 1,
        And => 2,
        Eq | Ne | Lt | Le | Gt | Ge | In | Contains | StartsWith | EndsWith => 4,
        Add | Sub => 5,
        Mul | Div | Rem => 6,
    }
}

/// Prints expressions and literals; `text` is the source the tree was
/// parsed from (literals keep their spelling when it is found there), or
/// empty.
#[derive(Clone, Copy)]
pub(super) struct Exprs<'s> {
    pub text: &'s str,
}

impl Exprs<'_> {
    /// An expression on one line.
    pub fn expr(&self, e: &Expr) -> String {
        let mut out = String::new();
        self.write(e, &mut out);
        out
    }

    fn write(&self, e: &Expr, out: &mut String) {
        match &e.kind {
            ExprKind::Int(v) => out.push_str(&self.int(*v, e.span)),
            ExprKind::Float(v) => out.push_str(&self.float(*v, e.span)),
            ExprKind::Text(t) => out.push_str(&self.text(t, e.span)),
            ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Duration(ms) => out.push_str(&self.duration(*ms, e.span)),
            ExprKind::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write(item, out);
                }
                out.push(']');
            }
            ExprKind::Path(root, field) => {
                out.push_str(root_name(*root));
                out.push('.');
                out.push_str(&field.name);
            }
            ExprKind::Has(root, field) => {
                out.push_str(root_name(*root));
                out.push_str(" has ");
                out.push_str(&field.name);
            }
            ExprKind::Name(name) => out.push_str(&name.name),
            ExprKind::Unary(UnaryOp::Not, x) => {
                out.push_str("not ");
                // `not a == b` is `not (a == b)`; the parentheses say so.
                let wrap = matches!(x.kind, ExprKind::Binary(..)) || level(x) < 3;
                self.operand(x, wrap, out);
            }
            ExprKind::Unary(UnaryOp::Neg, x) => {
                out.push('-');
                let inner = self.expr(x);
                // `-3` would read back as the literal -3, not `-` applied to 3.
                let digit = inner.starts_with(|c: char| c.is_ascii_digit());
                if level(x) < 7 || digit {
                    out.push('(');
                    out.push_str(&inner);
                    out.push(')');
                } else {
                    out.push_str(&inner);
                }
            }
            ExprKind::Binary(op, l, r) => {
                let p = binary_level(*op);
                self.operand(l, level(l) < p, out);
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                self.operand(r, level(r) <= p, out);
            }
        }
    }

    fn operand(&self, e: &Expr, wrap: bool, out: &mut String) {
        if wrap {
            out.push('(');
            self.write(e, out);
            out.push(')');
        } else {
            self.write(e, out);
        }
    }

    /// The source text at `span`, if there is a source, without the
    /// parentheses around it (the span of `(24h)` covers them).
    fn written(&self, span: Span) -> Option<&str> {
        let mut s = self.text.get(span.range())?.trim();
        while let Some(inner) = s.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
            s = inner.trim();
        }
        Some(s).filter(|s| !s.is_empty())
    }

    /// An integer, as written if the source has it there.
    pub fn int(&self, v: i64, span: Span) -> String {
        match self.written(span) {
            Some(s) if is_int(s) && s.parse() == Ok(v) => s.to_string(),
            _ => v.to_string(),
        }
    }

    /// A float, as written or in the shortest form that reads back exactly.
    pub fn float(&self, v: f64, span: Span) -> String {
        match self.written(span) {
            Some(s) if is_float(s) && s.parse::<f64>().map(f64::to_bits) == Ok(v.to_bits()) => {
                s.to_string()
            }
            _ => canonical_float(v),
        }
    }

    /// A text literal, as written or with the escapes it needs.
    pub fn text(&self, v: &str, span: Span) -> String {
        match self.written(span) {
            Some(s)
                if s.len() >= 2
                    && s.starts_with('"')
                    && s.ends_with('"')
                    && unescape(&s[1..s.len() - 1]) == v =>
            {
                s.to_string()
            }
            _ => canonical_text(v),
        }
    }

    /// A duration, as written (`24h` stays `24h`) or in its largest exact unit.
    pub fn duration(&self, ms: u64, span: Span) -> String {
        match self.written(span) {
            Some(s) if is_duration(s) && duration_ms(s) == Some(ms) => s.to_string(),
            _ => crate::time::duration_literal(ms),
        }
    }

    /// A split arm's percentage.
    pub fn percent(&self, v: u32, span: Span) -> String {
        match self.written(span) {
            Some(s)
                if s.len() >= 2
                    && s.ends_with('%')
                    && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit())
                    && s[..s.len() - 1].parse() == Ok(v) =>
            {
                s.to_string()
            }
            _ => format!("{v}%"),
        }
    }
}

fn root_name(root: Root) -> &'static str {
    match root {
        Root::Customer => "customer",
        Root::Event => "event",
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_int(s: &str) -> bool {
    digits(s.strip_prefix('-').unwrap_or(s))
}

fn is_float(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, frac)) => digits(whole) && digits(frac),
        None => false,
    };
    let exponent_ok = exponent.is_none_or(|e| {
        digits(
            e.strip_prefix('+')
                .or_else(|| e.strip_prefix('-'))
                .unwrap_or(e),
        )
    });
    mantissa_ok && exponent_ok
}

fn is_duration(s: &str) -> bool {
    match s.as_bytes().split_last() {
        Some((unit, amount)) => {
            matches!(unit, b's' | b'm' | b'h' | b'd')
                && !amount.is_empty()
                && amount.iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}

/// Rust's shortest round-trip form, with the `.0` the grammar needs
/// (`1e20` is written `1.0e20`).
pub(super) fn canonical_float(v: f64) -> String {
    let s = format!("{v:?}");
    match s.find('e') {
        Some(i) if !s[..i].contains('.') => format!("{}.0{}", &s[..i], &s[i..]),
        None if !s.contains('.') && v.is_finite() => format!("{s}.0"),
        _ => s,
    }
}

/// A text literal with `\"`, `\\`, `\n`, `\t`, and `\u{…}` for other
/// control characters.
pub(super) fn canonical_text(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_literals() {
        assert_eq!(canonical_float(1.0), "1.0");
        assert_eq!(canonical_float(-0.5), "-0.5");
        assert_eq!(canonical_float(1e20), "1.0e20");
        assert_eq!(canonical_float(1.5e-7), "1.5e-7");
        assert_eq!(canonical_float(-0.0), "-0.0");
        assert_eq!(crate::time::duration_literal(0), "0s");
        assert_eq!(crate::time::duration_literal(90_000), "90s");
        assert_eq!(crate::time::duration_literal(86_400_000), "1d");
        assert_eq!(crate::time::duration_literal(7_200_000), "2h");
        assert_eq!(canonical_text("a\"b\\c\nd\te\r"), r#""a\"b\\c\nd\te\u{d}""#);
        assert!(is_float("1.5e+3") && is_float("-0.0") && !is_float("1e3") && !is_float("1."));
        assert!(is_duration("30m") && !is_duration("m") && !is_duration("3x"));
    }
}
