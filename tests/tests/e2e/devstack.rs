//! The local shop (`make dev`'s server) in a real browser: headless Chromium, driven over
//! WebDriver, buys a book the way a person would. Shop page -> Buy Now with an email ->
//! sandbox cashier -> Pay -> return page with the download link -> the mailbox shows the
//! same link -> five downloads land in Chromium's download folder with the right bytes ->
//! the sixth shows the 410 page. The sandbox refuses a request signed with another key,
//! visibly. Then the same book by card: the Stripe stand-in's page declines
//! 4000 0000 0000 0002 (the order stays pending) and takes 4242 4242 4242 4242, and the
//! return page shows the link. Every page is saved as a PNG at 390 and 1280 px under `target/e2e/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use kiosk::alipay::{AppPrivateKey, parse_form, query_string, string_to_sign_request};
use kiosk_e2e::vector_file;
use kiosk_e2e::webdriver::{Browser, ChromeDriver, screenshot_dir};

/// A phone and a laptop.
const VIEWPORTS: [(u32, u32); 2] = [(390, 844), (1280, 800)];

/// Save the page at both widths as `target/e2e/{name}-{width}.png`.
async fn shots(browser: &Browser, dir: &Path, name: &str) -> Result<()> {
    for (w, h) in VIEWPORTS {
        browser.set_viewport(w, h).await?;
        browser
            .screenshot(&dir.join(format!("{name}-{w}.png")))
            .await?;
    }
    Ok(())
}

/// Finished downloads (Chromium writes `*.crdownload` until a file is complete).
fn finished_downloads(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let partial = path.extension().is_some_and(|e| e == "crdownload")
            || path.to_string_lossy().contains(".com.google.Chrome.");
        if !partial {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

async fn wait_for_downloads(dir: &Path, n: usize) -> Result<Vec<PathBuf>> {
    for _ in 0..100 {
        let files = finished_downloads(dir)?;
        if files.len() >= n {
            return Ok(files);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "expected {n} finished downloads in {}, found {:?}",
        dir.display(),
        finished_downloads(dir)?
    )
}

async fn wait_for_text(browser: &Browser, needle: &str) -> Result<String> {
    for _ in 0..100 {
        // A page still navigating (a form post on its way, a refresh) can replace the
        // body between finding it and reading it (WebDriver's "stale element
        // reference"), or have no body yet ("no such element"). Both are "not there
        // yet", so poll again; anything else fails.
        match browser.text().await {
            Ok(text) if text.contains(needle) => return Ok(text),
            Ok(_) => {}
            Err(e)
                if ["stale element", "no such element"]
                    .iter()
                    .any(|m| format!("{e:#}").contains(m)) => {}
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "`{needle}` never appeared on {}: {}",
        browser.current_url().await?,
        browser.text().await?
    )
}

/// The return page's download link, once the page shows it.
async fn download_link(browser: &Browser, base: &str) -> Result<String> {
    wait_for_text(browser, "Go to your download").await?;
    let link = browser
        .attribute(&browser.find("a.btn").await?, "href")
        .await?
        .unwrap_or_default();
    ensure!(
        link.starts_with(&format!("{base}/download/")),
        "return page link: {link}"
    );
    Ok(link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_buys_a_book_in_chromium() -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("kiosk-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let downloads = scratch.join("downloads");
    std::fs::create_dir_all(&downloads)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let opts = devstack::Options {
        endpoint: std::env::var("AWS_ENDPOINT_URL")
            .context("AWS_ENDPOINT_URL is not set; run `make test`")?,
        site_dir: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("workspace root")?
            .join("site"),
        keys_dir: scratch.join("keys"),
        retry_unit: Duration::from_millis(100),
        name: format!("kiosk-browser-{}", std::process::id()),
    };
    let (base, app) = devstack::start(listener, opts).await?;

    let driver = ChromeDriver::start().await?;
    let browser = driver.session(&scratch.join("profile"), &downloads).await?;
    let mut result = buy(&browser, &base, &downloads).await;
    if result.is_ok() {
        result = buy_by_card(&browser, &base, &app).await;
    }
    let _ = browser.quit().await;
    drop(driver);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result
}

async fn buy(browser: &Browser, base: &str, downloads: &Path) -> Result<()> {
    let shots_dir = screenshot_dir()?;

    // The shop.
    browser.goto(&format!("{base}/")).await?;
    let text = browser.text().await?;
    ensure!(
        text.contains("The Little Book of Rust") && text.contains("Buy Now"),
        "shop page: {text}"
    );
    shots(browser, &shots_dir, "1-shop").await?;

    // Buy Now with an email: the checkout function sends the browser to the cashier.
    let email = format!("reader-{}@example.com", std::process::id());
    let input = browser.find("#email-book").await?;
    browser.type_into(&input, &email).await?;
    let buy = browser.find("#email-book ~ button").await?;
    browser.click(&buy).await?;
    let cashier_url = browser
        .wait_for_url(&format!("{base}/sandbox/alipay/gateway.do?"))
        .await?;
    let text = browser.text().await?;
    ensure!(
        text.contains("The Little Book of Rust") && text.contains("¥9.00"),
        "cashier: {text}"
    );
    shots(browser, &shots_dir, "2-cashier").await?;

    // Pay: the sandbox notifies the shop and sends the browser to the return page.
    let pay = browser
        .find("form[action=\"/sandbox/alipay/pay\"] button")
        .await?;
    browser.click(&pay).await?;
    browser
        .wait_for_url(&format!("{base}/return/alipay?"))
        .await?;
    let link = download_link(browser, base).await?;
    shots(browser, &shots_dir, "3-return").await?;

    // The mailbox shows the purchase mail with the very same link, clickable.
    browser.goto(&format!("{base}/mailbox")).await?;
    let text = browser.text().await?;
    ensure!(text.contains(&email), "mailbox lists the mail to {email}");
    shots(browser, &shots_dir, "4-mailbox").await?;
    let in_mail = browser.find(&format!("a[href=\"{link}\"]")).await?;
    browser.click(&in_mail).await?;
    browser.wait_for_url(&link).await?;

    // The download page; five downloads, each the book itself.
    wait_for_text(browser, "Download").await?;
    shots(browser, &shots_dir, "5-download").await?;
    let token_path = link.strip_prefix(base).context("link under base")?;
    let form_button = format!("form[action=\"{token_path}\"] button");
    for n in 1..=5 {
        let button = browser.find(&form_button).await?;
        browser.click(&button).await?;
        wait_for_downloads(downloads, n).await?;
    }
    let want = devstack::setup::tiny_pdf("The Little Book of Rust - sample edition");
    let files = finished_downloads(downloads)?;
    ensure!(files.len() == 5, "five files downloaded: {files:?}");
    for file in &files {
        ensure!(
            std::fs::read(file)? == want,
            "{} is not the book's bytes",
            file.display()
        );
    }

    // The sixth: the 410 page, and nothing more downloaded.
    let button = browser.find(&form_button).await?;
    browser.click(&button).await?;
    wait_for_text(browser, "All downloads used").await?;
    shots(browser, &shots_dir, "6-used-up").await?;
    ensure!(finished_downloads(downloads)?.len() == 5, "no sixth file");

    // A link that was never issued.
    browser
        .goto(&format!("{base}/download/{}", "A".repeat(32)))
        .await?;
    wait_for_text(browser, "This download link does not exist").await?;
    shots(browser, &shots_dir, "7-unknown-link").await?;

    // The same pay request signed with another key (the vectors' app key, not this
    // shop's generated one): the sandbox refuses it with Alipay's error page.
    let mut params = parse_form(cashier_url.split_once('?').context("query")?.1)?;
    params.remove("sign");
    let other = AppPrivateKey::parse(&vector_file("keys/app_pkcs1.pem"))?;
    let sign = other.sign(string_to_sign_request(&params).as_bytes())?;
    params.insert("sign".into(), sign);
    browser
        .goto(&format!(
            "{base}/sandbox/alipay/gateway.do?{}",
            query_string(&params)
        ))
        .await?;
    let text = wait_for_text(browser, "isv.invalid-signature").await?;
    ensure!(
        text.contains("The payment request was refused"),
        "error page: {text}"
    );
    ensure!(
        !browser.source().await?.contains("Pay ¥"),
        "no cashier for a forged request"
    );
    shots(browser, &shots_dir, "8-bad-signature").await?;
    Ok(())
}

/// Buy the book by card through the Stripe stand-in's hosted page.
async fn buy_by_card(browser: &Browser, base: &str, app: &devstack::App) -> Result<()> {
    let shots_dir = screenshot_dir()?;
    browser.goto(&format!("{base}/")).await?;
    let email = format!("card-reader-{}@example.com", std::process::id());
    let input = browser.find("#email-book").await?;
    browser.type_into(&input, &email).await?;
    browser.click(&browser.find("#card-book").await?).await?;
    browser
        .click(&browser.find("#email-book ~ button").await?)
        .await?;
    let page = browser
        .wait_for_url(&format!("{base}/sandbox/stripe/pay/"))
        .await?;
    let text = wait_for_text(browser, "Card number").await?;
    ensure!(
        text.contains("The Little Book of Rust") && text.contains("9.00 CNY"),
        "card page: {text}"
    );
    shots(browser, &shots_dir, "9-card-page").await?;
    let session = page.rsplit('/').next().context("session id")?.to_owned();
    let order_id = app
        .stripe
        .session(&session)
        .and_then(|s| s.form.get("metadata[order_id]").cloned())
        .context("the stand-in knows the session and its order")?;
    let order_id = kiosk::OrderId::parse(&order_id)?;

    // The declined card: a message, and the order still pending.
    browser
        .type_into(&browser.find("#card").await?, "4000 0000 0000 0002")
        .await?;
    browser.click(&browser.find("#pay").await?).await?;
    wait_for_text(browser, "Your card was declined").await?;
    shots(browser, &shots_dir, "10-card-declined").await?;
    let order = app
        .shop
        .store
        .get_order(&order_id)
        .await?
        .context("order")?;
    ensure!(
        order.status == kiosk::OrderStatus::Pending,
        "declined leaves it pending: {order:?}"
    );

    // The good card: the return page with the link.
    browser
        .type_into(&browser.find("#card").await?, "4242 4242 4242 4242")
        .await?;
    browser.click(&browser.find("#pay").await?).await?;
    browser
        .wait_for_url(&format!("{base}/return/stripe?session_id={session}"))
        .await?;
    download_link(browser, base).await?;
    shots(browser, &shots_dir, "11-card-paid").await?;
    let order = app
        .shop
        .store
        .get_order(&order_id)
        .await?
        .context("order")?;
    ensure!(
        order.status == kiosk::OrderStatus::Paid && order.all_grants().len() == 1,
        "paid once: {order:?}"
    );
    Ok(())
}
