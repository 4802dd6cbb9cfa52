//! Just enough W3C WebDriver to drive Debian's headless Chromium through ChromeDriver for the
//! browser test: open pages, find and click elements, type, read the page, resize the
//! window and save screenshots.
//!
//! Hand-rolled over `reqwest` (a dozen JSON calls) rather than a WebDriver crate, so the
//! test adds no dependency tree of its own. ChromeDriver and Chromium must be on the PATH;
//! `scripts/browser-deps.sh` (run by `make test`) installs them when missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use serde_json::{Value, json};

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The flags every Chromium here runs with: headless, and no phoning home (this machine's
/// network is closed, and refused connections only slow the browser down).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A running `chromedriver` on a free loopback port, killed (by PID) when dropped.
pub struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    pub async fn start() -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context(
                "cannot start chromedriver; run `make test` (it installs Debian's chromium \
                 and chromium-driver) or scripts/browser-deps.sh",
            )?;
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await
                && r.status().is_success()
            {
                return Ok(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not answer on {} within 10 s", driver.url)
    }

    /// A new headless Chromium session that saves downloads into `download_dir`.
    pub async fn session(&self, user_data_dir: &Path, download_dir: &Path) -> Result<Browser> {
        self.session_with(user_data_dir, download_dir, true, "en-US,en")
            .await
    }

    /// A session whose browser says it is `user_agent` (a visitor the funnel counts:
    /// headless Chromium's own agent names itself a robot).
    pub async fn session_as(
        &self,
        user_data_dir: &Path,
        download_dir: &Path,
        user_agent: &str,
    ) -> Result<Browser> {
        self.session_full(
            user_data_dir,
            download_dir,
            true,
            "en-US,en",
            Some(user_agent),
        )
        .await
    }

    /// [`ChromeDriver::session`] with JavaScript on or off (Chromium's content setting,
    /// as a buyer who turned it off has it) and the languages the browser asks for
    /// (`Accept-Language`, e.g. `zh-CN,zh`).
    pub async fn session_with(
        &self,
        user_data_dir: &Path,
        download_dir: &Path,
        javascript: bool,
        languages: &str,
    ) -> Result<Browser> {
        self.session_full(user_data_dir, download_dir, javascript, languages, None)
            .await
    }

    async fn session_full(
        &self,
        user_data_dir: &Path,
        download_dir: &Path,
        javascript: bool,
        languages: &str,
        user_agent: Option<&str>,
    ) -> Result<Browser> {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", user_data_dir.display()));
        if let Some(first) = languages.split(',').next() {
            args.push(format!("--lang={first}"));
        }
        if let Some(ua) = user_agent {
            args.push(format!("--user-agent={ua}"));
        }
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium_binary(),
                    "args": args,
                    "prefs": {
                        "download.default_directory": download_dir,
                        "download.prompt_for_download": false,
                        "download.directory_upgrade": true,
                        "safebrowsing.enabled": false,
                        "profile.managed_default_content_settings.javascript":
                            if javascript { 1 } else { 2 },
                        "intl.accept_languages": languages,
                    },
                },
            }},
        });
        let http = reqwest::Client::new();
        let value = call(
            &http,
            reqwest::Method::POST,
            &format!("{}/session", self.url),
            Some(caps),
        )
        .await
        .context("starting Chromium through chromedriver")?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no sessionId in {value}"))?;
        Ok(Browser {
            http,
            session: format!("{}/session/{id}", self.url),
        })
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium_binary() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value> {
    let mut req = http.request(method, url);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("WebDriver {url}"))?;
    let text = resp.text().await?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("WebDriver {url} answered non-JSON: {text}"))?;
    if let Some(err) = v["value"]["error"].as_str() {
        bail!("WebDriver {url}: {err}: {}", v["value"]["message"]);
    }
    Ok(v["value"].clone())
}

/// WebDriver's Tab key.
pub const TAB: char = '\u{E004}';
/// WebDriver's Enter key.
pub const ENTER: char = '\u{E007}';
/// WebDriver's Escape key.
pub const ESCAPE: char = '\u{E00C}';

/// One browser session. Call [`Browser::quit`] at the end; the driver's drop kills the rest.
pub struct Browser {
    http: reqwest::Client,
    session: String,
}

#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    async fn get(&self, path: &str) -> Result<Value> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.session),
            None,
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.session),
            Some(body),
        )
        .await
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    pub async fn current_url(&self) -> Result<String> {
        Ok(self
            .get("/url")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn source(&self) -> Result<String> {
        Ok(self
            .get("/source")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The visible text of the page.
    pub async fn text(&self) -> Result<String> {
        let body = self.find("body").await?;
        Ok(self
            .get(&format!("/element/{}/text", body.0))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// [`Browser::find`], trying again every 100 ms for up to `within`: for what a script
    /// adds after a click (the overlay's dialog), which a busy machine may take a while to
    /// show.
    pub async fn find_within(&self, css: &str, within: std::time::Duration) -> Result<Element> {
        let until = std::time::Instant::now() + within;
        loop {
            match self.find(css).await {
                Ok(e) => return Ok(e),
                Err(e) if std::time::Instant::now() >= until => return Err(e),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        let found = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        let v = match found {
            Ok(v) => v,
            Err(e) => {
                let url = self.current_url().await.unwrap_or_default();
                return Err(e.context(format!("finding `{css}` on {url}")));
            }
        };
        v[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| anyhow!("no element reference for `{css}`: {v}"))
    }

    pub async fn click(&self, el: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", el.0), json!({}))
            .await
            .map(drop)
    }

    pub async fn type_into(&self, el: &Element, text: &str) -> Result<()> {
        self.post(&format!("/element/{}/value", el.0), json!({ "text": text }))
            .await
            .map(drop)
    }

    pub async fn attribute(&self, el: &Element, name: &str) -> Result<Option<String>> {
        Ok(self
            .get(&format!("/element/{}/attribute/{name}", el.0))
            .await?
            .as_str()
            .map(str::to_owned))
    }

    /// Resize the window so the page's viewport is `width` × `height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) -> Result<()> {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .map(drop)
    }

    /// Save a PNG of the visible page.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let b64 = self.get("/screenshot").await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .context("screenshot is not base64")?;
        if !png.starts_with(b"\x89PNG") {
            bail!("screenshot is not a PNG");
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Wait until the page's URL starts with `prefix` (a navigation after a click), up to
    /// 20 s: the whole suite shares one emulator, and a checkout's requests queue behind
    /// the other tests' under its lock.
    pub async fn wait_for_url(&self, prefix: &str) -> Result<String> {
        for _ in 0..200 {
            let url = self.current_url().await?;
            if url.starts_with(prefix) {
                return Ok(url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self.text().await.unwrap_or_default();
        bail!(
            "still at {} after 20 s, waiting for {prefix}; the page says: {}",
            self.current_url().await?,
            text.chars().take(600).collect::<String>()
        )
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the current frame and
    /// return what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Commands go to the document inside the iframe `frame` from now on.
    pub async fn enter_frame(&self, frame: &Element) -> Result<()> {
        self.post("/frame", json!({ "id": { ELEMENT_KEY: frame.0 } }))
            .await
            .map(drop)
    }

    /// Commands go to the top document again.
    pub async fn leave_frames(&self) -> Result<()> {
        self.post("/frame", json!({ "id": null })).await.map(drop)
    }

    /// The focused element of the current frame (an `<iframe>` when focus is inside it).
    pub async fn active(&self) -> Result<Element> {
        let v = self.get("/element/active").await?;
        v[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| anyhow!("no active element: {v}"))
    }

    /// The element's tag and, when set, its `id` and `name` (`input#email`), to say
    /// where focus is.
    pub async fn describe(&self, el: &Element) -> Result<String> {
        let v = self
            .execute(
                "const e = arguments[0]; return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[' + e.name + ']' : '');",
                json!([{ ELEMENT_KEY: el.0 }]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Press keys as a keyboard would, to whatever has focus: each `char` of `keys` is
    /// one key (WebDriver's code points: [`TAB`], [`ENTER`], [`ESCAPE`]).
    pub async fn press(&self, keys: &str) -> Result<()> {
        let mut actions = Vec::new();
        for c in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await?;
        self.http
            .delete(format!("{}/actions", self.session))
            .send()
            .await?;
        Ok(())
    }

    pub async fn quit(self) -> Result<()> {
        call(&self.http, reqwest::Method::DELETE, &self.session, None)
            .await
            .map(drop)
    }
}

/// Screenshots go to `target/e2e/` (never committed).
pub fn screenshot_dir() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow!("no workspace root"))?
        .join("target/e2e");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
