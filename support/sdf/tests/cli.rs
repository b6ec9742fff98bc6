//! The `sdf-check` binary keeps the `make check` contract: valid file -> one summary line
//! on stdout, exit 0; invalid -> one `file:line:col: error:` line on stderr, exit 1;
//! unreadable file or bad usage -> a clear message, exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn sdf_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdf-check")).args(args).current_dir(root()).output().expect("run sdf-check")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn valid_file_prints_one_summary_line() {
    let out = sdf_check(&["../../system.xml"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "../../system.xml: ok: 4 PDs, 8 memory regions, 3 channels, 1 IRQ, 0 I/O port ranges\n"
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn warnings_go_to_stderr_and_keep_exit_zero() {
    let out = sdf_check(&["tests/fixtures/valid_full.xml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert_eq!(
        text(&out.stderr),
        "tests/fixtures/valid_full.xml:9:5: warning: memory region \"spare\" is not mapped by any protection domain\n"
    );
}

#[test]
fn invalid_file_prints_the_error_and_exits_one() {
    let out = sdf_check(&["tests/fixtures/map_overlap.xml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tests/fixtures/map_overlap.xml:8:23: error: <map> of \"buf\""), "{err}");

    let out = sdf_check(&["tests/fixtures/not_utf8.xml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("tests/fixtures/not_utf8.xml:3:33: error: "));
}

#[test]
fn unreadable_file_and_bad_usage_exit_two() {
    let out = sdf_check(&["no/such/system.xml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.starts_with("no/such/system.xml: error: cannot read the system file: "), "{err}");

    let out = sdf_check(&["tests/fixtures"]);
    assert_eq!(out.status.code(), Some(2), "a directory is unreadable as a file");

    for args in [&[][..], &["a.xml", "b.xml"], &["--bogus"]] {
        let out = sdf_check(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("usage: sdf-check FILE"), "{args:?}");
    }

    let out = sdf_check(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("usage: sdf-check FILE"));
}
