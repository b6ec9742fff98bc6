//! `sdf-check FILE`: validates a system file without building anything (`make check`).
//! Valid: prints one summary line, exit 0 (warnings go to stderr). Invalid: prints
//! `file:line:col: error: ...` on stderr, exit 1. Unreadable file or bad usage: exit 2.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: sdf-check FILE\n\nValidates a system file (Microkit SDF format with x86 and PCI extensions).\nExit status: 0 valid, 1 invalid, 2 unreadable file or bad usage.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [file] if !file.starts_with('-') || file == "-" => file.clone(),
        _ => {
            eprintln!("sdf-check: error: expected exactly one system file argument\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match sdf::parse_file(Path::new(&file)) {
        Ok(system) => {
            for w in &system.warnings {
                eprintln!("{w}");
            }
            println!("{file}: ok: {}", system.summary());
            ExitCode::SUCCESS
        }
        Err(e @ sdf::LoadError::Io { .. }) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(sdf::LoadError::Invalid(d)) => {
            eprintln!("{d}");
            ExitCode::from(1)
        }
    }
}
