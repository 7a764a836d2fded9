//! `neural-style-studio`: the desktop app, or a headless subcommand.

mod cli;

use clap::{CommandFactory, Parser};

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        Some(cli::Command::Render(args)) => cli::render(args),
        None => cli::Cli::command().print_help().map_err(anyhow::Error::from),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
