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

    // Every command and subcommand clap knows (so a new one cannot be missed): listed in
    // its parent's help, and its own help gives an example.
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            out.push(p.clone());
            walk(sub, p, out);
        }
    }
    let mut all = Vec::new();
    walk(&kiosk_cli::Cli::command(), Vec::new(), &mut all);
    assert!(all.len() >= 20, "{all:?}");
    for path in &all {
        let (name, parent) = path.split_last().unwrap();
        let mut parent_args: Vec<&str> = parent.iter().map(String::as_str).collect();
        parent_args.push("--help");
        let listed = help(&parent_args);
        assert!(
            listed
                .lines()
                .any(|l| l.trim_start().starts_with(name.as_str())),
            "{parent:?} --help does not list {name}:\n{listed}"
        );
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let own = help(&args);
        assert!(
            own.contains("Example"),
            "{path:?} --help gives no example:\n{own}"
        );
    }
}
