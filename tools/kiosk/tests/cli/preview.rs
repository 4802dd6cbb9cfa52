//! `kiosk preview`: any page or mail in any language, with no shop at all.

use super::common::*;

fn kiosk(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(args)
        // No shop: neither a stack, nor a local one, nor the emulator.
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("KIOSK_TABLE")
        .output()
        .unwrap()
}

#[test]
fn preview_shows_any_page_or_mail_in_any_language_without_a_shop() {
    let out = kiosk(&["preview", "mail", "purchase", "--lang", "zh-CN"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with("Subject: 你的下载：The Little Book of Rust\n"),
        "{text}"
    );
    assert!(
        text.contains("5 次下载") && text.contains("北京时间"),
        "{text}"
    );

    let out = kiosk(&["preview", "mail", "purchase", "--lang", "en", "--html"]);
    let html = stdout(&out);
    assert!(
        html.to_ascii_lowercase()
            .starts_with("<!doctype html><html lang=\"en\">"),
        "{html}"
    );
    assert!(html.contains("5 downloads"), "{html}");

    let out = kiosk(&["preview", "page", "download", "--lang", "zh-cn"]);
    let page = stdout(&out);
    assert!(
        page.contains("<html lang=\"zh-CN\"") && page.contains("共 5 次下载，还剩 3 次"),
        "{page}"
    );

    let list = stdout(&kiosk(&["preview", "list"]));
    for name in ["buy", "download", "used-up", "purchase", "edition", "links"] {
        assert!(list.lines().any(|l| l.trim() == name), "{name} in {list}");
    }

    for (args, says) in [
        (
            vec!["preview", "mail", "purchase", "--lang", "fr"],
            "no catalog for \"fr\"",
        ),
        (vec!["preview", "page", "nope"], "no page called \"nope\""),
        (vec!["preview", "mail"], "say which mail"),
    ] {
        let out = kiosk(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
