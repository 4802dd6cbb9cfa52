//! `kiosk license keygen|public-key` against the emulator's SSM, and `product add|set
//! --license/--seats/--no-license`.

use kiosk_e2e::{World, WorldOptions};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_makes_one_key_and_licensed_products_take_their_seats() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let param = format!("/kiosk-test/{}/cli/license-key", w.tag);
    let with = [("KIOSK_LICENSE_KEY_PARAM", param.as_str())];
    let run = |args: &[&str]| kiosk(&w, &bucket, args, &with);

    let none = run(&["license", "public-key"]);
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("holds no key yet: run `kiosk license keygen`"),
        "{}",
        stderr(&none)
    );

    let made = run(&["license", "keygen"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let printed = stdout(&made);
    let public = printed
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap_or_else(|| panic!("{printed}"))
        .to_owned();
    assert!(kiosk_license::PublicKey::parse(&public).is_ok(), "{public}");
    let shown = run(&["license", "public-key"]);
    assert_eq!(stdout(&shown).trim(), public);

    // A second keygen would orphan every license signed so far: refused, key kept.
    let again = run(&["license", "keygen"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already holds a signing key"),
        "{}",
        stderr(&again)
    );
    assert_eq!(stdout(&run(&["license", "public-key"])).trim(), public);
    let replaced = run(&["license", "keygen", "--replace"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let new_public = stdout(&run(&["license", "public-key"])).trim().to_owned();
    assert_ne!(new_public, public);
    assert!(stdout(&replaced).contains(&new_public));

    // A product with licenses of 3 seats; changed to 5, then off.
    let dir = scratch(&w);
    let zip = write(&dir, "tool.zip", b"PK tool");
    let add = run(&[
        "product",
        "add",
        "tool",
        "--title",
        "Tool",
        "--price",
        "9.00 CNY",
        "--file",
        &zip,
        "--license",
        "--seats",
        "3",
    ]);
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(
        stdout(&add).contains("a license of 3 seats with each order"),
        "{}",
        stdout(&add)
    );
    let seats = |p: kiosk::Product| p.license().map(|s| s.get());
    assert_eq!(seats(stored(&w, "tool").await), Some(3));
    let set = run(&["product", "set", "tool", "--seats", "5"]);
    assert!(set.status.success(), "{}", stderr(&set));
    assert_eq!(seats(stored(&w, "tool").await), Some(5));
    let show = run(&["product", "show", "tool"]);
    assert!(
        stdout(&show).contains("licenses:        yes, 5 seat(s) each"),
        "{}",
        stdout(&show)
    );
    for (args, says) in [
        (
            vec!["product", "set", "tool", "--seats", "0"],
            "--seats: seats must be 1 to 1000, got 0",
        ),
        (
            vec!["product", "set", "tool", "--license", "--no-license"],
            "cannot be used with",
        ),
        (
            vec![
                "product", "add", "t2", "--title", "T", "--price", "1.00 CNY", "--file", &zip,
                "--seats", "2",
            ],
            "--license",
        ),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(seats(stored(&w, "tool").await), Some(5));
    let off = run(&["product", "set", "tool", "--no-license"]);
    assert!(off.status.success(), "{}", stderr(&off));
    assert_eq!(seats(stored(&w, "tool").await), None);
}
