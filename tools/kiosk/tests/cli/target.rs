//! Where `kiosk` points: a stack by its outputs, the local shop, and what is missing.

use std::path::Path;

use kiosk_e2e::{World, WorldOptions};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_at_a_stack_by_its_outputs_or_at_the_local_shop_and_names_what_is_missing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    w.add_product("book", "9.00").await;
    let sdk = kiosk_localaws::emulator_config().await.unwrap();

    // A stack whose Outputs name this test's table (what `sam deploy` leaves behind).
    let stack = format!("shop-{}", w.tag);
    let template = serde_json::json!({
        "Resources": { "Topic": { "Type": "AWS::SNS::Topic" } },
        "Outputs": {
            "TableName": { "Value": w.t.name },
            "FilesBucket": { "Value": bucket },
            "ApiUrl": { "Value": kiosk_e2e::BASE_URL },
            "SenderEmail": { "Value": kiosk_e2e::VERIFIED_SENDER },
        },
    });
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    let bare = |args: &[&str], dir: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
        cmd.args(args)
            .env_remove("KIOSK_TABLE")
            .env_remove("KIOSK_BUCKET")
            .env_remove("KIOSK_API_URL")
            .env_remove("KIOSK_SENDER")
            .env_remove("KIOSK_STACK");
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        cmd.output().unwrap()
    };
    let out = bare(&["--stack", &stack, "product", "list"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("book"), "{}", stdout(&out));

    let out = bare(&["--stack", "no-such-stack", "product", "list"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--stack no-such-stack"),
        "{}",
        stderr(&out)
    );

    let out = bare(&["product", "list"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--table") && err.contains("KIOSK_TABLE") && err.contains("--stack"),
        "{err}"
    );

    // --local reads what `make dev` writes, from any directory below it.
    let root = scratch(&w);
    let sub = root.join("site/drafts");
    std::fs::create_dir_all(&sub).unwrap();
    let out = bare(&["--local", "product", "list"], Some(&sub));
    assert!(
        !out.status.success() && stderr(&out).contains("make dev"),
        "{}",
        stderr(&out)
    );
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    devstack::write_local_stack(
        &root,
        kiosk_e2e::BASE_URL,
        &endpoint,
        &devstack::setup::Names::of(devstack::setup::NAME),
    )
    .unwrap();
    // Point it at this test's table instead of the dev shop's.
    let out = {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
        cmd.args(["--local", "product", "list"])
            .env("KIOSK_TABLE", &w.t.name)
            .current_dir(&sub);
        cmd.output().unwrap()
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("book"));
    let _ = std::fs::remove_dir_all(root);
}
