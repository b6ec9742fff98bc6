//! `mkimage`: the command-line face of the image tool (see the library for what it does).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Build a bootable root-task image from a system file and its PD ELFs.
#[derive(Parser)]
#[command(name = "mkimage", version)]
struct Args {
    /// The system file (Microkit SDF format).
    #[arg(long)]
    system: PathBuf,
    /// The initialiser (root task) ELF.
    #[arg(long)]
    initialiser: PathBuf,
    /// Directory searched for program images (repeatable; the system file's own directory
    /// is searched last).
    #[arg(long = "search")]
    search: Vec<PathBuf>,
    /// Where to write the image.
    #[arg(long, short)]
    out: PathBuf,
    /// The image boots on the benchmark kernel (`support/kernel/build.sh --bench`): the
    /// monitor then serves the console's `cpu` command.
    #[arg(long)]
    bench_kernel: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), mkimage::Error> {
    let system = sdf::parse_file(&args.system).map_err(mkimage::Error::System)?;
    for w in &system.warnings {
        eprintln!("{w}");
    }
    let mut search = args.search.clone();
    search.push(args.system.parent().map(PathBuf::from).unwrap_or_default());
    let initialiser = std::fs::read(&args.initialiser)
        .map_err(|error| mkimage::Error::Io { path: args.initialiser.clone(), error })?;
    let shown = args.system.display().to_string();
    let image = mkimage::build(&mkimage::Inputs {
        system_file: &shown,
        system: &system,
        search: &search,
        initialiser: &initialiser,
        initialiser_path: &args.initialiser,
        bench_kernel: args.bench_kernel,
    })?;
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).map_err(|error| mkimage::Error::Io { path: dir.to_path_buf(), error })?;
    }
    std::fs::write(&args.out, &image.elf).map_err(|error| mkimage::Error::Io { path: args.out.clone(), error })?;
    for line in &image.report {
        println!("  {line}");
    }
    println!(
        "mkimage: {}: {} PDs, spec {} bytes, image {} bytes",
        args.out.display(),
        system.pds.len(),
        image.spec_len,
        image.elf.len()
    );
    Ok(())
}
