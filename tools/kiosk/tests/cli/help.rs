//! `kiosk --help`: every command, with examples.

use super::common::*;

#[test]
fn help_names_every_command_with_examples() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        stdout(&out)
    };
    let top = help(&["--help"]);
    for word in [
        "product",
        "update",
        "orders",
        "sales",
        "resend",
        "reconcile",
        "--stack",
        "--local",
        "Examples:",
    ] {
        assert!(top.contains(word), "kiosk --help lacks {word}:\n{top}");
    }
    for (args, words) in [
        (
            vec!["product", "--help"],
            vec!["add", "set", "list", "show"],
        ),
        (
            vec!["product", "add", "--help"],
            vec!["--price", "--file", "Example"],
        ),
        (
            vec!["update", "--help"],
            vec!["--dry-run", "--note", "--file", "again"],
        ),
        (
            vec!["orders", "--help"],
            vec!["--status", "--since", "--product", "--mail"],
        ),
        (vec!["reconcile", "--help"], vec!["--budget", "Example"]),
        (vec!["sales", "--help"], vec!["--csv", "--since"]),
        (vec!["resend", "--help"], vec!["ORDER_ID", "--email"]),
    ] {
        let text = help(&args);
        for w in words {
            assert!(text.contains(w), "{args:?} help lacks {w}:\n{text}");
        }
    }
}
