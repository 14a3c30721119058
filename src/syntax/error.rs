//! Turns pest's failures into diagnostics in the language's own words.

use pest::error::{ErrorVariant, InputLocation};

use super::Rule;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

/// A syntax diagnostic for a failed parse of `text[offset..]`.
pub(super) fn syntax_error(
    error: pest::error::Error<Rule>,
    text: &str,
    offset: usize,
    file: u32,
) -> Diagnostic {
    let pos = offset
        + match error.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((p, _)) => p,
        };
    let positives = match error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { message } => {
            return Diagnostic::new(
                Code::Limit,
                Span::new(file, pos, pos),
                format!("the parser gave up: {message}"),
            )
            .help("simplify the program near here")
        }
    };
    let (found, len) = found(text, pos);
    let prev = previous_token(text, pos);
    let expected = expected(&positives, prev);
    let mut message = match expected {
        Some(expected) => format!("expected {expected}"),
        None => "unexpected input".to_string(),
    };
    if !prev.is_empty() {
        message.push_str(&format!(" after `{prev}`"));
    }
    message.push_str(&format!(", found {found}"));
    let token = &text[pos..pos + len];
    let help = if token == "=" && !text[pos..].starts_with("==") {
        Some("compare with `==`; a single `=` only gives a profile field its default".to_string())
    } else if KEYWORDS.contains(&token) && message.contains(" name") {
        Some(format!(
            "`{token}` is a keyword and cannot be used as a name"
        ))
    } else {
        None
    };
    Diagnostic::new(Code::Syntax, Span::new(file, pos, pos + len), message)
        .label("unexpected here")
        .maybe_help(help)
}

/// The reserved words (as in the grammar's `keyword` rule).
pub const KEYWORDS: [&str; 40] = [
    "places",
    "channels",
    "enum",
    "customer",
    "signal",
    "action",
    "journey",
    "stages",
    "goal",
    "within",
    "after",
    "rule",
    "when",
    "at",
    "via",
    "in",
    "where",
    "limit",
    "per",
    "priority",
    "then",
    "move",
    "to",
    "split",
    "skip",
    "no",
    "for",
    "requires",
    "exclusive",
    "and",
    "or",
    "not",
    "contains",
    "starts_with",
    "ends_with",
    "has",
    "true",
    "false",
    "event",
    "test",
];

/// Describes the token at `pos` and gives its length in bytes.
fn found(text: &str, pos: usize) -> (String, usize) {
    let rest = &text[pos..];
    let Some(c) = rest.chars().next() else {
        return ("end of file".to_string(), 0);
    };
    if c.is_ascii_alphanumeric() || c == '_' {
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..len];
        let shown = if word.len() > 24 {
            format!("`{}…`", &word[..24])
        } else {
            format!("`{word}`")
        };
        return (shown, len);
    }
    if c == '"' {
        return ("a text".to_string(), 1);
    }
    (format!("`{}`", c.escape_debug()), c.len_utf8())
}

/// The token just before `pos`, skipping white space (empty at the start).
fn previous_token(text: &str, pos: usize) -> &str {
    let before = without_comments(text[..pos].trim_end());
    let Some(last) = before.chars().next_back() else {
        return "";
    };
    if last.is_ascii_alphanumeric() || last == '_' {
        // Past the last character that is not part of a word (it may be
        // more than one byte long).
        let start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        if word.len() > 24 {
            ""
        } else {
            word
        }
    } else if before.ends_with("->") {
        "->"
    } else if last.is_ascii_punctuation() {
        &before[before.len() - 1..]
    } else {
        ""
    }
}

/// `text` without the comments it ends with, trimmed.
fn without_comments(mut text: &str) -> &str {
    loop {
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        if let Some(at) = line_comment(&text[line_start..]) {
            text = text[..line_start + at].trim_end();
        } else if let Some(open) = text.strip_suffix("*/").and_then(|t| t.rfind("/*")) {
            text = text[..open].trim_end();
        } else {
            return text;
        }
    }
}

/// Where a `//` comment starts in `line`, outside text literals.
fn line_comment(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_text = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_text => i += 1,
            b'"' => in_text = !in_text,
            b'/' if !in_text && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn expected(positives: &[Rule], prev: &str) -> Option<String> {
    let expression = positives.iter().any(|r| {
        matches!(
            r,
            Rule::root
                | Rule::not
                | Rule::neg
                | Rule::paren
                | Rule::list
                | Rule::name
                | Rule::has_test
                | Rule::path
                | Rule::expr
                | Rule::juxtaposed
        )
    });
    let mut phrases: Vec<String> = Vec::new();
    for &r in positives {
        let phrase = if expression && starts_expression(r) {
            Some("an expression".to_string())
        } else {
            phrase(r, prev)
        };
        if let Some(p) = phrase {
            if !phrases.contains(&p) {
                phrases.push(p);
            }
        }
    }
    // Tokens first, then kinds of thing, then the end of the file.
    phrases.sort_by_key(|p| match p.as_str() {
        "end of file" => 2,
        p if p.starts_with('`') => 0,
        _ => 1,
    });
    match phrases.len() {
        0 => None,
        1 => phrases.pop(),
        n => {
            let last = phrases.pop()?;
            let _ = n;
            Some(format!("{} or {last}", phrases.join(", ")))
        }
    }
}

fn starts_expression(r: Rule) -> bool {
    matches!(
        r,
        Rule::root
            | Rule::not
            | Rule::neg
            | Rule::paren
            | Rule::list
            | Rule::name
            | Rule::has_test
            | Rule::path
            | Rule::expr
            | Rule::juxtaposed
            | Rule::lparen
            | Rule::ident
            | Rule::duration_lit
            | Rule::float_lit
            | Rule::int_lit
            | Rule::text_lit
            | Rule::bool_lit
    )
}

fn phrase(r: Rule, prev: &str) -> Option<String> {
    let fixed = match r {
        Rule::EOI => "end of file",
        Rule::file => "a declaration or a rule",
        Rule::k_places
        | Rule::k_channels
        | Rule::k_enum
        | Rule::k_customer
        | Rule::k_signal
        | Rule::k_action
        | Rule::k_journey
        | Rule::places
        | Rule::channels
        | Rule::enum_decl
        | Rule::customer_decl
        | Rule::signal_decl
        | Rule::action_decl
        | Rule::journey
        | Rule::k_test
        | Rule::test_block => "a declaration",
        Rule::rule => "a rule",
        Rule::stages => "a `stages` line",
        Rule::goal => "a `goal`",
        Rule::ident | Rule::name_list | Rule::filtered => name_after(prev),
        Rule::int_lit => "an integer",
        Rule::float_lit => "a number",
        Rule::duration_lit => "a duration like `30m`",
        Rule::percent_lit => "a percentage like `50%`",
        Rule::text_lit | Rule::text_chars | Rule::escape => "a text in double quotes",
        Rule::bool_lit => "`true` or `false`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::rbracket => "`]`",
        Rule::colon => "`:`",
        Rule::action | Rule::actions | Rule::arm_actions | Rule::call => "an action",
        Rule::arm => "a split arm like `treatment 50%: …`",
        Rule::or
        | Rule::and
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::member
        | Rule::contains
        | Rule::starts_with
        | Rule::ends_with
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::rem => "an operator",
        Rule::type_expr | Rule::scalar_type | Rule::list_type => "a type",
        Rule::field | Rule::param => "a field like `name: text`",
        Rule::default => "`=`",
        Rule::optional => "`?`",
        Rule::requires => "`requires`",
        Rule::exclusive => "`exclusive`",
        Rule::at_filter => "`at`",
        Rule::via_filter => "`via`",
        Rule::in_clause | Rule::stay_trigger => "`in`",
        Rule::absence_trigger => "`no`",
        Rule::signal_trigger => "a signal",
        Rule::where_clause => "`where`",
        Rule::limit_clause => "`limit`",
        Rule::priority_clause => "`priority`",
        Rule::rule_name => "`rule`",
        Rule::field_name => "a field name",
        Rule::move_action => "`move`",
        Rule::skip => "`skip`",
        Rule::split => "`split`",
        Rule::call_args => "`(`",
        Rule::root | Rule::path | Rule::has_test => "`customer` or `event`",
        Rule::test_customer => "`customer`",
        Rule::test_after => "`after`",
        Rule::test_event => "`when`",
        Rule::test_expect => "`then`",
        Rule::test_at => "`at`",
        Rule::test_via => "`via`",
        Rule::nothing => "`nothing`",
        Rule::expectations => "an expected decision",
        Rule::values | Rule::value => "a field like `name: value`",
        Rule::not | Rule::neg | Rule::paren | Rule::list | Rule::name | Rule::expr => {
            "an expression"
        }
        _ => {
            let name = format!("{r:?}");
            return name.strip_prefix("k_").map(|k| format!("`{k}`"));
        }
    };
    Some(fixed.to_string())
}

/// What a name is, judging by the keyword before it.
fn name_after(prev: &str) -> &'static str {
    match prev {
        "when" | "no" | "after" | "goal" => "a signal",
        "at" => "a place",
        "via" => "a channel",
        "in" | "to" | "stages" | "->" => "a stage",
        "journey" => "a journey name",
        "rule" => "a rule name",
        "signal" => "a signal name",
        "action" => "an action name",
        "enum" => "an enum name",
        _ => "a name",
    }
}
