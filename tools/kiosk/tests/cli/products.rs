//! `kiosk product add`: the price checkout charges, and bad input that changes nothing.

use kiosk::form::parse_form;
use kiosk_e2e::{World, WorldOptions};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_add_sets_the_price_checkout_charges_and_bad_input_changes_nothing() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let pdf = write(&dir, "Zine One.pdf", b"%PDF-1.4 zine one");

    let out = kiosk(
        &w,
        &bucket,
        &[
            "product",
            "add",
            "zine",
            "--title",
            "Zine One",
            "--price",
            "12.50 CNY",
            "--file",
            &pdf,
            "--limit",
            "3",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let p = stored(&w, "zine").await;
    assert_eq!(p.price().minor(), 1250);
    assert_eq!(p.price().currency(), kiosk::Currency::Cny);
    assert_eq!(p.download_limit(), 3);
    assert_eq!(p.files().first().key, "products/zine/v1/Zine One.pdf");
    assert_eq!(p.files().first().content_type, "application/pdf");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"%PDF-1.4 zine one");
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(p.files().first().sha256.as_deref(), Some(hex.as_str()));
    assert_eq!(
        object_bytes(&bucket, &p.files().first().key).await,
        b"%PDF-1.4 zine one"
    );

    // A checkout for it charges the price given on the command line.
    let resp = w
        .checkout(
            &format!("product_id=zine&email={}", w.buyer(1).replace('@', "%40")),
            "application/x-www-form-urlencoded",
            "text/html",
            "Mozilla/5.0 (X11; Linux x86_64)",
        )
        .await;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let params = parse_form(location.split_once('?').unwrap().1).unwrap();
    let biz: serde_json::Value = serde_json::from_str(&params["biz_content"]).unwrap();
    assert_eq!(biz["total_amount"], "12.50");
    assert_eq!(biz["subject"], "Zine One");

    // Every kind of bad input: a clear message, a failing status, nothing changed.
    let before_objects = objects(&bucket).await;
    let before_products = w.t.store.all_products().await.unwrap();
    let missing = dir.join("nope.pdf").to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 CNY", "--file",
                &missing,
            ],
            "does not exist",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9 CNY", "--file", &pdf,
            ],
            "price \"9 CNY\"",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "nine", "--file", &pdf,
            ],
            "price \"nine\"",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 XYZ", "--file", &pdf,
            ],
            "price \"9.00 XYZ\"",
        ),
        (
            vec![
                "product", "add", "zine", "--title", "Z", "--price", "9.00 CNY", "--file", &pdf,
            ],
            "already exists",
        ),
        (
            vec![
                "product",
                "add",
                "Not An Id",
                "--title",
                "Z",
                "--price",
                "9.00 CNY",
                "--file",
                &pdf,
            ],
            "product id",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", " ", "--price", "9.00 CNY", "--file", &pdf,
            ],
            "title",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 CNY", "--file", &pdf,
                "--limit", "0",
            ],
            "download limit",
        ),
        (
            vec!["product", "set", "ghost", "--price", "9.00 CNY"],
            "no product ghost",
        ),
        (
            vec!["product", "set", "zine", "--price", "9,00 CNY"],
            "price",
        ),
        (
            vec![
                "product",
                "set",
                "zine",
                "--file",
                &missing,
                "--edition",
                "v2",
            ],
            "does not exist",
        ),
        (vec!["product", "set", "zine"], "nothing to change"),
        // A PDF the stamper cannot read: refused before any upload, saying why.
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 CNY", "--file", &pdf,
                "--stamp",
            ],
            "Zine One.pdf cannot be stamped: not a PDF the stamper can read",
        ),
        // Stamping the current file is checked the same way (read back from the bucket).
        (
            vec!["product", "set", "zine", "--stamp"],
            "Zine One.pdf cannot be stamped",
        ),
        (
            vec![
                "product", "add", "zine2", "--title", "Z", "--price", "9.00 CNY", "--file", &pdf,
                "--file", &pdf,
            ],
            "two files are named \"Zine One.pdf\"",
        ),
        (
            vec![
                "product",
                "add",
                "zine2",
                "--title",
                "Z",
                "--price",
                "9.00 CNY",
                "--file",
                &pdf,
                "--file",
                &missing,
                "--content-type",
                "application/pdf",
            ],
            "--content-type names one file's type",
        ),
        (vec!["product", "show", "ghost"], "no product ghost"),
    ];
    for (args, needle) in cases {
        let out = kiosk(&w, &bucket, &args, &[]);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(objects(&bucket).await, before_objects, "no file uploaded");
    assert_eq!(w.t.store.all_products().await.unwrap(), before_products);

    // set changes what future buyers pay; list and show report it.
    let out = kiosk(
        &w,
        &bucket,
        &["product", "set", "zine", "--price", "15.00 CNY"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&kiosk(&w, &bucket, &["product", "list"], &[]));
    assert!(
        listed.contains("zine") && listed.contains("15.00 CNY"),
        "{listed}"
    );
    let shown = stdout(&kiosk(&w, &bucket, &["product", "show", "zine"], &[]));
    assert!(
        shown.contains(&hex) && shown.contains("products/zine/v1/Zine One.pdf"),
        "{shown}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_of_three_files_with_its_pdf_stamped() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let bucket = bucket_for(&w).await;
    let dir = scratch(&w);
    let pdf = kiosk::stamp::sample_pdf(2, 0);
    let files = [
        write(&dir, "book.pdf", &pdf),
        write(&dir, "book.epub", b"PK epub bytes"),
        write(&dir, "code.zip", b"PK zip bytes"),
    ];
    let mut args = vec![
        "product",
        "add",
        "bundle",
        "--title",
        "The Bundle",
        "--price",
        "9.00 CNY",
        "--stamp",
    ];
    for f in &files {
        args.extend(["--file", f.as_str()]);
    }
    let out = kiosk(&w, &bucket, &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("of each file, PDFs stamped, files:"),
        "{said}"
    );
    let p = stored(&w, "bundle").await;
    assert!(p.stamp());
    let names: Vec<&str> = p.files().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["book.pdf", "book.epub", "code.zip"]);
    assert_eq!(
        p.files().get(1).unwrap().content_type,
        "application/epub+zip"
    );
    assert_eq!(p.files().first().size, Some(pdf.len() as u64));
    assert_eq!(object_bytes(&bucket, &p.files().first().key).await, pdf);
    let shown = stdout(&kiosk(&w, &bucket, &["product", "show", "bundle"], &[]));
    assert!(
        shown.contains("products/bundle/v1/code.zip") && shown.contains("stamped PDFs:    yes"),
        "{shown}"
    );
    // Stamping off again, and a new set for future buyers: checked, uploaded, recorded.
    let out = kiosk(
        &w,
        &bucket,
        &[
            "product",
            "set",
            "bundle",
            "--no-stamp",
            "--file",
            &files[0],
            "--edition",
            "v2",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let p = stored(&w, "bundle").await;
    assert!(!p.stamp());
    assert_eq!((p.files().len(), p.edition().as_str()), (1, "v2"));
    let _ = std::fs::remove_dir_all(dir);
}
