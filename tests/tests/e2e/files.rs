//! What a buyer receives (issue: several files per product, stamped PDFs), through the
//! download function's real handler against the emulator: a three-file product counts
//! each file on its own; an old one-file grant still downloads; a stamped product's PDF
//! is each buyer's own copy, read back with poppler's `pdftotext` and `pdfinfo` (not our
//! own parser), rendered with `pdftoppm`, and no longer served once refunded.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use kiosk_e2e::{DownloadWorld, World, WorldOptions, body_string};
use lambda_http::{Body, Response};

fn location(resp: &Response<Body>) -> String {
    assert_eq!(resp.status(), 303, "{}", body_string(resp));
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn bytes(tag: &str, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + tag.len()) as u8).collect()
}

/// `POST /download/{token}` for file `file` (`None`: a form from before several files).
async fn post(
    w: &DownloadWorld,
    token: &kiosk::DownloadToken,
    file: Option<&str>,
) -> Response<Body> {
    let path = format!("/download/{}", token.expose());
    let body = file.map(|f| format!("file={f}"));
    w.request("POST", &path, body.as_deref()).await
}

#[tokio::test]
async fn three_files_count_five_each_and_an_old_grant_still_downloads() {
    let w = DownloadWorld::new().await.unwrap();
    let files = [
        ("book.pdf", "application/pdf", bytes("pdf", 3000)),
        ("book.epub", "application/epub+zip", bytes("epub", 2000)),
        ("code.zip", "application/zip", bytes("zip", 1500)),
    ];
    let product = w.add_product("three-files", &files, false).await.unwrap();
    let g = kiosk_e2e::paid_purchase(&w.t.store, &product, &w.buyer(1)).await;
    assert_eq!(g.downloads_left, vec![5, 5, 5]);

    let landing = w
        .request("GET", &format!("/download/{}", g.token.expose()), None)
        .await;
    assert_eq!(landing.status(), 200);
    let page = body_string(&landing);
    for (i, (name, _, b)) in files.iter().enumerate() {
        assert!(page.contains(name), "{page}");
        assert!(
            page.contains(&format!("name=\"file\" value=\"{i}\"")),
            "{page}"
        );
        assert!(
            page.contains(&format!("{} KB", b.len().div_ceil(1024))),
            "{page}"
        );
    }
    assert!(
        page.contains("each file can be downloaded 5 times"),
        "{page}"
    );

    // Five of the EPUB, each its own bytes; the sixth refused, naming the file's limit.
    for _ in 0..5 {
        let url = location(&post(&w, &g.token, Some("1")).await);
        assert_eq!(w.fetch(&url).await, files[1].2);
    }
    let sixth = post(&w, &g.token, Some("1")).await;
    assert_eq!(sixth.status(), 410);
    assert!(body_string(&sixth).contains("All downloads of this file used"));
    assert_eq!(w.grant(&g.token).await.downloads_left, vec![5, 0, 5]);
    // The others still work, and the page says which is used up.
    assert_eq!(
        w.fetch(&location(&post(&w, &g.token, Some("0")).await))
            .await,
        files[0].2
    );
    assert_eq!(
        w.fetch(&location(&post(&w, &g.token, Some("2")).await))
            .await,
        files[2].2
    );
    let page = body_string(
        &w.request("GET", &format!("/download/{}", g.token.expose()), None)
            .await,
    );
    assert!(page.contains("All downloads of this file used."), "{page}");
    assert_eq!(
        page.matches("name=\"file\"").count(),
        2,
        "no button for the used-up file"
    );
    // No such file, or not a position: the link's 404, nothing spent.
    for bad in ["3", "9", "x", "-1", "18446744073709551616"] {
        assert_eq!(
            post(&w, &g.token, Some(bad)).await.status(),
            404,
            "file={bad}"
        );
    }
    assert_eq!(w.grant(&g.token).await.downloads_left, vec![4, 0, 4]);

    // A grant as written before several files: its item has no list, no per-file
    // counts, no stamp flag, no size; a form without `file` downloads it.
    let old = w.purchase(&w.buyer(2)).await;
    w.t.client
        .update_item()
        .table_name(&w.t.name)
        .key(
            "pk",
            AttributeValue::S(format!("GRANT#{}", old.token.expose())),
        )
        .key("sk", AttributeValue::S("GRANT".into()))
        .update_expression("REMOVE stamp, file_size")
        .condition_expression("attribute_exists(pk)")
        .send()
        .await
        .unwrap();
    let url = location(&post(&w, &old.token, None).await);
    assert_eq!(w.fetch(&url).await, w.bytes);
    assert_eq!(w.grant(&old.token).await.downloads_left, vec![4]);
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e} (poppler-utils: make test installs it)"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where a test keeps what it made for a person to look at.
fn kept(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/stamped");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Download file 0 of `token`: the first request finds no copy, gives the download
/// back and answers the page that reloads; the copy is made in the background; then
/// the download serves it.
async fn stamped_copy(w: &DownloadWorld, token: &kiosk::DownloadToken) -> Vec<u8> {
    let first = post(w, token, Some("0")).await;
    assert_eq!(first.status(), 200, "{}", body_string(&first));
    let page = body_string(&first);
    assert!(
        page.contains("is being made") && page.contains("http-equiv=\"refresh\""),
        "{page}"
    );
    assert_eq!(
        w.grant(token).await.downloads_left[0],
        5,
        "nothing spent while preparing"
    );
    for _ in 0..100 {
        let resp = post(w, token, Some("0")).await;
        if resp.status() == 303 {
            return w.fetch(&location(&resp)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the stamped copy was never made");
}

#[tokio::test]
async fn a_stamped_pdf_is_each_buyers_own_copy_and_a_refund_stops_it() {
    let w = DownloadWorld::new()
        .await
        .unwrap()
        .with_stamping()
        .await
        .unwrap();
    let original = kiosk::stamp::sample_pdf(3, 0);
    let notes = b"plain text, never stamped".to_vec();
    let product = w
        .add_product(
            "stamped-book",
            &[
                ("book.pdf", "application/pdf", original.clone()),
                ("notes.txt", "text/plain", notes.clone()),
            ],
            true,
        )
        .await
        .unwrap();
    let a = kiosk_e2e::paid_purchase(&w.t.store, &product, &w.buyer(1)).await;
    let b = kiosk_e2e::paid_purchase(&w.t.store, &product, &w.buyer(2)).await;
    let landing = body_string(
        &w.request("GET", &format!("/download/{}", a.token.expose()), None)
            .await,
    );
    assert!(
        landing.contains("carry your email address and order number"),
        "{landing}"
    );

    let copy_a = stamped_copy(&w, &a.token).await;
    let copy_b = stamped_copy(&w, &b.token).await;
    assert_ne!(copy_a, copy_b, "two buyers, two copies");
    for (g, copy, name) in [(&a, &copy_a, "buyer-a.pdf"), (&b, &copy_b, "buyer-b.pdf")] {
        let path = kept(name);
        std::fs::write(&path, copy).unwrap();
        let path = path.to_str().unwrap();
        let text = tool("pdftotext", &["-layout", path, "-"]);
        let pages: Vec<&str> = text
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .collect();
        assert_eq!(pages.len(), 3, "{text}");
        let email = w.buyer(if std::ptr::eq(g, &a) { 1 } else { 2 });
        for (n, p) in pages.iter().enumerate() {
            assert!(p.contains(&format!("Page {}", n + 1)), "page {n}: {p}");
            assert!(
                p.contains(&format!("Licensed to {email}"))
                    && p.contains(&format!("order {}", g.order_id)),
                "page {n}: {p}"
            );
        }
        let info = tool("pdfinfo", &["-custom", path]);
        let order = info
            .lines()
            .find_map(|l| l.strip_prefix("KioskOrder:"))
            .map(str::trim);
        assert_eq!(order, Some(g.order_id.as_str()), "{info}");
    }
    // Page 1 drawn, for a person to look at (target/stamped/buyer-a-1.png).
    let png = kept("buyer-a");
    tool(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            kept("buyer-a.pdf").to_str().unwrap(),
            png.to_str().unwrap(),
        ],
    );
    let drawn = std::fs::read(png.with_extension("png")).unwrap();
    assert!(drawn.starts_with(b"\x89PNG") && drawn.len() > 1000);

    // The original is untouched, and a file that is no PDF is served as uploaded.
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let files = kiosk::files::Files::new(kiosk::files::s3_client(&sdk), &w.bucket);
    assert_eq!(
        files.read(&product.files().first().key).await.unwrap(),
        original
    );
    assert_eq!(
        w.fetch(&location(&post(&w, &a.token, Some("1")).await))
            .await,
        notes
    );

    // Refunded: the link says so, and stamping makes nothing for it.
    w.t.client
        .update_item()
        .table_name(&w.t.name)
        .key(
            "pk",
            AttributeValue::S(format!("GRANT#{}", a.token.expose())),
        )
        .key("sk", AttributeValue::S("GRANT".into()))
        .update_expression("SET revoked = :t")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    let refunded = post(&w, &a.token, Some("0")).await;
    assert_eq!(refunded.status(), 410);
    assert!(body_string(&refunded).contains("refunded"));
    let stamper = kiosk::stamp::Stamper::new(&sdk, &w.t.name, &w.bucket);
    assert_eq!(
        stamper.stamp_grant(&a.token).await.unwrap(),
        kiosk::stamp::Stamped::NotServed
    );
}

/// What the buy page (and so the overlay, which shows it) and `/products/{id}` say a
/// buyer of a three-file stamped product gets.
#[tokio::test]
async fn the_buy_page_lists_the_files_and_says_the_pdf_is_stamped() {
    let w = World::new(WorldOptions::default()).await.unwrap();
    let id = kiosk::ProductId::parse("bundle").unwrap();
    let edition = kiosk::product::Edition::parse("v1").unwrap();
    let files = [
        ("book.pdf", "application/pdf", 2_500_000),
        ("book.epub", "application/epub+zip", 900_000),
        ("code.zip", "application/zip", 40_000),
    ]
    .iter()
    .map(|(n, t, size)| {
        kiosk::product::FileRef::for_edition(&id, &edition, n, t, None, Some(*size))
    })
    .collect();
    let product = kiosk_e2e::product("bundle", "9.00")
        .with_edition(edition, kiosk::product::FileSet::new(files).unwrap())
        .unwrap()
        .with_stamp(true)
        .unwrap();
    w.t.store
        .create_product(&product, kiosk_e2e::now())
        .await
        .unwrap();
    let get = |path: &str| {
        lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", kiosk_e2e::BASE_URL))
            .header("accept-language", "en")
            .body(Body::Empty)
            .unwrap()
    };
    let resp = checkout::handler::handle(&w.checkout, get("/buy/bundle"), kiosk_e2e::now()).await;
    assert_eq!(resp.status(), 200);
    let page = body_string(&resp);
    for needle in [
        "PDF + EPUB + ZIP",
        "5 downloads of each file",
        "<li>book.pdf</li><li>book.epub</li><li>code.zip</li>",
        "PDFs are stamped with your email address",
    ] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
    let resp =
        checkout::handler::handle(&w.checkout, get("/products/bundle"), kiosk_e2e::now()).await;
    let json: serde_json::Value = serde_json::from_str(&body_string(&resp)).unwrap();
    assert_eq!(
        json["files"][1],
        serde_json::json!({"name": "book.epub", "size": 900_000})
    );
    assert_eq!(json["stamped"], true);
}
