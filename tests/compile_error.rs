//! `CompileError`'s message: every error with its place, then the count.

use jrule::{Program, Source};

#[test]
fn display_lists_every_error_with_its_place() {
    let decls = Source::new(
        "decls.jr",
        "places hotel\nsignal key_used { room: int }\naction offer(what: text)\n",
    );
    let rules = Source::new(
        "rules.jr",
        "when key_used at hotel then offer(\"tea\")\n\
         when key_usd at hotel then offer(\"tea\")\n\
         when key_used at hotl then offer(\"th\u{e9}\"), ofer(\"x\")\n",
    );
    let e = Program::compile(&[decls, rules]).expect_err("does not compile");
    assert_eq!(
        e.to_string(),
        "\
rules.jr:2:6: error[jrule::unknown_signal]: unknown signal `key_usd`
rules.jr:3:18: error[jrule::unknown_place]: unknown place `hotl`
rules.jr:3:42: error[jrule::unknown_action]: unknown action `ofer`
3 errors"
    );
}

#[test]
fn display_of_one_error() {
    let source = Source::new("t.jr", "signal s {}\nwhen s then x\n");
    let e = Program::compile(&[source]).expect_err("no action `x`");
    assert_eq!(
        e.to_string(),
        "t.jr:2:13: error[jrule::unknown_action]: unknown action `x`\n1 error"
    );
}
