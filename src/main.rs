//! The `jrule` command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    ExitCode::from(jrule::cli::run(jrule::cli::Cli::parse()))
}
