//! Stamping a buyer's copy of a PDF (a product made with `--stamp`): a small footer line
//! "Licensed to {email} · order {id}" on every page, and the order id in the document
//! information (`/KioskOrder`). The original is never changed; each grant's copy is made
//! once and kept under its own key ([`copy_key`]); docs/architecture.md, "Stamped PDFs",
//! says who stamps when.
//!
//! Pure Rust (lopdf), no fonts embedded: the line is set in Helvetica, one of the 14 fonts
//! every PDF reader has, in WinAnsi encoding, so characters outside Latin-1 in an address
//! (rare: internationalised local parts) print as `?`. The page's own drawing is wrapped
//! in `q … Q` so whatever graphics state it leaves cannot move or hide the line. The same
//! input and line always give the same bytes (no dates are written), so stamping again
//! after a lost answer writes the same copy.
//!
//! What cannot be stamped, and is refused when the author flags the product
//! ([`check`]): a file lopdf cannot parse (the reason is lopdf's), an encrypted
//! (password-protected) PDF, a PDF without pages.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

use crate::files::{Files, UploadError};
use crate::ids::{DownloadToken, OrderId};
use crate::store::StoreError;
use crate::store::views::StampStore;

/// The font resource name the stamp adds to each page.
const FONT: &str = "KioskStamp";
/// The document information key holding the order id.
pub const INFO_KEY: &str = "KioskOrder";
/// Footer text size, in points.
const SIZE: f32 = 7.0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    #[error("not a PDF the stamper can read ({0})")]
    Unreadable(String),
    #[error("the PDF is encrypted (password-protected); upload it unprotected to stamp it")]
    Encrypted,
    #[error("the PDF has no pages")]
    NoPages,
}

/// Where the stamped copy of `original` (a key under `products/`) for one grant lives:
/// `stamped/{order id}/{edition}/{file name}`. An order has one grant per edition, so the
/// key is the grant's; the stack's lifecycle rule deletes these copies after a while
/// (README, "Stamped PDFs"), and a download finding none has it made again.
pub fn copy_key(order_id: &str, edition: &str, file_name: &str) -> String {
    format!("{PREFIX}{order_id}/{edition}/{file_name}")
}

/// The bucket prefix of every stamped copy (the stamping function may write only here).
pub const PREFIX: &str = "stamped/";

/// The footer line for a buyer.
pub fn line(email: &str, order_id: &str) -> String {
    format!("Licensed to {email} \u{b7} order {order_id}")
}

/// Whether `pdf` can be stamped: the whole stamp is made and thrown away, so a file
/// that passes here stamps for every buyer.
pub fn check(pdf: &[u8]) -> Result<(), StampError> {
    stamp(pdf, &line("buyer@example.com", "K0"), "K0").map(|_| ())
}

/// `pdf` with `text` at the foot of every page and `order_id` in its information.
pub fn stamp(pdf: &[u8], text: &str, order_id: &str) -> Result<Vec<u8>, StampError> {
    let mut doc = Document::load_mem(pdf).map_err(|e| StampError::Unreadable(e.to_string()))?;
    if doc.is_encrypted() || doc.was_encrypted() {
        return Err(StampError::Encrypted);
    }
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    if pages.is_empty() {
        return Err(StampError::NoPages);
    }
    let font = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"Type1".to_vec())),
        ("BaseFont", Object::Name(b"Helvetica".to_vec())),
        ("Encoding", Object::Name(b"WinAnsiEncoding".to_vec())),
    ]));
    let save = doc.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec()));
    let encoded = win_ansi_literal(text);
    // Pages of one size share one footer stream.
    let mut footers: Vec<((i64, i64), ObjectId)> = Vec::new();
    for page in pages {
        let (x, y) = origin(&doc, page);
        let at = ((x * 100.0) as i64, (y * 100.0) as i64);
        let footer = match footers.iter().find(|(k, _)| *k == at) {
            Some((_, id)) => *id,
            None => {
                let mut ops = format!(
                    "Q\nq\nBT\n/{FONT} {SIZE} Tf\n0.4 g\n{:.2} {:.2} Td\n(",
                    x + 24.0,
                    y + 10.0
                )
                .into_bytes();
                ops.extend_from_slice(&encoded);
                ops.extend_from_slice(b") Tj\nET\nQ\n");
                let id = doc.add_object(Stream::new(Dictionary::new(), ops));
                footers.push((at, id));
                id
            }
        };
        let mut contents = vec![Object::Reference(save)];
        contents.extend(current_contents(&doc, page));
        contents.push(Object::Reference(footer));
        let resources = page_resources(&doc, page, font);
        let dict = doc
            .get_dictionary_mut(page)
            .map_err(|e| StampError::Unreadable(e.to_string()))?;
        dict.set("Contents", Object::Array(contents));
        dict.set("Resources", Object::Dictionary(resources));
    }
    set_info(&mut doc, order_id);
    let mut out = Vec::with_capacity(pdf.len() + pdf.len() / 8);
    doc.save_to(&mut out)
        .map_err(|e| StampError::Unreadable(e.to_string()))?;
    Ok(out)
}

/// A page attribute the page or one of its ancestors sets (`MediaBox`, `CropBox`,
/// `Resources` are inheritable), resolved.
fn inherited<'a>(doc: &'a Document, page: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = doc.get_dictionary(page).ok()?;
    for _ in 0..64 {
        if let Ok(v) = node.get(key) {
            return doc.dereference(v).ok().map(|(_, o)| o);
        }
        let parent = node.get(b"Parent").and_then(Object::as_reference).ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// The lower-left corner of what a reader shows of the page (its crop box, else its
/// media box; US Letter's origin when neither can be read).
fn origin(doc: &Document, page: ObjectId) -> (f32, f32) {
    let corner = |key: &[u8]| -> Option<(f32, f32)> {
        let arr = inherited(doc, page, key)?.as_array().ok()?;
        let n = |i: usize| -> Option<f32> {
            let (_, o) = doc.dereference(arr.get(i)?).ok()?;
            o.as_float()
                .ok()
                .or_else(|| o.as_i64().ok().map(|v| v as f32))
        };
        Some((n(0)?.min(n(2)?), n(1)?.min(n(3)?)))
    };
    corner(b"CropBox")
        .or_else(|| corner(b"MediaBox"))
        .unwrap_or((0.0, 0.0))
}

/// The page's content streams as references, in order.
fn current_contents(doc: &Document, page: ObjectId) -> Vec<Object> {
    doc.get_page_contents(page)
        .into_iter()
        .map(Object::Reference)
        .collect()
}

/// The page's resources (its own or inherited, copied) with the stamp's font added.
fn page_resources(doc: &Document, page: ObjectId, font: ObjectId) -> Dictionary {
    let mut res = match inherited(doc, page, b"Resources") {
        Some(Object::Dictionary(d)) => d.clone(),
        _ => Dictionary::new(),
    };
    let mut fonts = match res.get(b"Font").ok().map(|o| doc.dereference(o)) {
        Some(Ok((_, Object::Dictionary(d)))) => d.clone(),
        _ => Dictionary::new(),
    };
    fonts.set(FONT, Object::Reference(font));
    res.set("Font", Object::Dictionary(fonts));
    res
}

/// The document information dictionary with `/KioskOrder (order id)`.
fn set_info(doc: &mut Document, order_id: &str) {
    let value = Object::String(win_ansi_bytes(order_id), StringFormat::Literal);
    if let Ok(id) = doc.trailer.get(b"Info").and_then(Object::as_reference)
        && let Ok(info) = doc.get_dictionary_mut(id)
    {
        info.set(INFO_KEY, value);
        return;
    }
    let info = doc.add_object(Dictionary::from_iter(vec![(INFO_KEY, value)]));
    doc.trailer.set("Info", Object::Reference(info));
}

/// `text` in WinAnsi (Latin-1 for what a footer holds; anything else `?`).
fn win_ansi_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// `text` as the inside of a PDF literal string: WinAnsi, `(`, `)` and `\` escaped.
fn win_ansi_literal(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for b in win_ansi_bytes(text) {
        if matches!(b, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// The stamping function's handle: reads a grant and its order ([`StampStore`]), reads
/// originals and writes copies ([`Files`]; its policy: `products/*` read, `stamped/*`
/// write).
pub struct Stamper {
    store: StampStore,
    files: Files,
}

/// What one stamping job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamped {
    /// Copies made (how many PDFs).
    Made(usize),
    /// Nothing to stamp: the grant's product is not stamped, or has no PDF.
    NotStamped,
    /// The grant is refunded (or unknown): no copy is made for it.
    NotServed,
}

#[derive(Debug, thiserror::Error)]
pub enum StampJobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Files(#[from] UploadError),
    #[error("grant of order {order}: its order is missing")]
    NoOrder { order: OrderId },
    #[error("{key}: {why}")]
    Stamp { key: String, why: StampError },
}

impl Stamper {
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, crate::startup::InitError> {
        let c = crate::config::StampConfig::from_env()?;
        Ok(Self::new(sdk, &c.table_name, &c.files_bucket))
    }

    /// A handle on `table` and `bucket` (tests and `make dev`).
    pub fn new(sdk: &aws_config::SdkConfig, table: &str, bucket: &str) -> Self {
        Stamper {
            store: StampStore::of(crate::startup::open_store(sdk, table)),
            files: Files::new(crate::files::s3_client(sdk), bucket),
        }
    }

    /// Make the stamped copies of `token`'s PDFs (each again, if it exists: the bytes
    /// are the same). A refunded grant gets none.
    pub async fn stamp_grant(&self, token: &DownloadToken) -> Result<Stamped, StampJobError> {
        let Some(grant) = self.store.get_grant(token).await? else {
            return Ok(Stamped::NotServed);
        };
        if !grant.stamp || !grant.files.has_pdf() {
            return Ok(Stamped::NotStamped);
        }
        if grant.revoked {
            return Ok(Stamped::NotServed);
        }
        let order = self
            .store
            .get_order(&grant.order_id)
            .await?
            .ok_or_else(|| StampJobError::NoOrder {
                order: grant.order_id.clone(),
            })?;
        let text = line(order.email.as_str(), order.id.as_str());
        let mut made = 0;
        for f in grant.files.iter().filter(|f| f.is_pdf()) {
            let original = self.files.read(&f.key).await?;
            let copy =
                stamp(&original, &text, order.id.as_str()).map_err(|why| StampJobError::Stamp {
                    key: f.key.clone(),
                    why,
                })?;
            drop(original);
            let key = copy_key(grant.order_id.as_str(), grant.edition.as_str(), &f.name);
            self.files.put(&key, copy, &f.content_type).await?;
            made += 1;
        }
        tracing::info!(order_id = %grant.order_id, made, "stamped");
        Ok(Stamped::Made(made))
    }
}

/// A stamping request as the queue carries it: `{"stamp_grant": "TOKEN"}` (the queue is
/// encrypted and only the download function may send to it).
pub fn message(token: &DownloadToken) -> String {
    serde_json::json!({ "stamp_grant": token.expose() }).to_string()
}

/// The grant a queue message asks to stamp (`None`: not such a message).
pub fn parse_message(body: &str) -> Option<DownloadToken> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    DownloadToken::parse(v.get("stamp_grant")?.as_str()?).ok()
}

/// A function that stamps a grant in this process (tests, `make dev`).
pub type InProcess = Arc<
    dyn Fn(DownloadToken) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync,
>;

/// How the download function asks for a stamped copy it did not find.
#[derive(Clone)]
pub enum StampRequests {
    /// The stack's stamp queue (`STAMP_QUEUE_URL`), consumed by the stamping function.
    Queue {
        client: aws_sdk_sqs::Client,
        url: String,
    },
    /// Right here, in the background (a local shop).
    InProcess(InProcess),
    /// Not wired: a stamped download waits for a copy that nothing makes (logged).
    Off,
}

impl std::fmt::Debug for StampRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StampRequests::Queue { url, .. } => write!(f, "Queue({url})"),
            StampRequests::InProcess(_) => f.write_str("InProcess"),
            StampRequests::Off => f.write_str("Off"),
        }
    }
}

impl StampRequests {
    /// Stamping by `stamper` in this process, in a task of its own (the download page
    /// does not wait for it, as it does not wait for the queue's consumer).
    pub fn by(stamper: Arc<Stamper>) -> StampRequests {
        StampRequests::InProcess(Arc::new(move |token: DownloadToken| {
            let stamper = stamper.clone();
            Box::pin(async move {
                tokio::spawn(async move {
                    if let Err(e) = stamper.stamp_grant(&token).await {
                        tracing::error!(error = %crate::error_chain(&e), "stamping failed");
                    }
                });
                Ok(())
            })
        }))
    }

    /// Ask for `token`'s copies to be made.
    pub async fn request(&self, token: &DownloadToken) -> Result<(), String> {
        match self {
            StampRequests::Queue { client, url } => client
                .send_message()
                .queue_url(url)
                .message_body(message(token))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| crate::error_chain(&e)),
            StampRequests::InProcess(f) => f(token.clone()).await,
            StampRequests::Off => Err("stamping is not wired here".into()),
        }
    }
}

/// A PDF of `pages` A4 pages, each saying "Page n" in Courier and, with `image_bytes`
/// above 0, showing an uncompressed RGB image of about that many bytes of noise (so a
/// benchmark's file has a real book's weight): for tests, benchmarks and samples.
pub fn sample_pdf(pages: usize, image_bytes: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Font".to_vec())),
        ("Subtype", Object::Name(b"Type1".to_vec())),
        ("BaseFont", Object::Name(b"Courier".to_vec())),
    ]));
    let resources = doc.add_object(Dictionary::from_iter(vec![(
        "Font",
        Object::Dictionary(Dictionary::from_iter(vec![("F1", Object::Reference(font))])),
    )]));
    let side = ((image_bytes / 3) as f64).sqrt() as i64;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kids = Vec::new();
    for n in 1..=pages {
        let mut ops = format!("BT /F1 24 Tf 72 700 Td (Page {n}) Tj ET");
        let mut page = vec![
            ("Type", Object::Name(b"Page".to_vec())),
            ("Parent", Object::Reference(pages_id)),
        ];
        if side > 0 {
            let noise: Vec<u8> = (0..side * side * 3)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (seed >> 56) as u8
                })
                .collect();
            let image = doc.add_object(Stream::new(
                Dictionary::from_iter(vec![
                    ("Type", Object::Name(b"XObject".to_vec())),
                    ("Subtype", Object::Name(b"Image".to_vec())),
                    ("Width", Object::Integer(side)),
                    ("Height", Object::Integer(side)),
                    ("ColorSpace", Object::Name(b"DeviceRGB".to_vec())),
                    ("BitsPerComponent", Object::Integer(8)),
                ]),
                noise,
            ));
            ops.push_str(" q 200 0 0 200 72 400 cm /Im1 Do Q");
            page.push((
                "Resources",
                Object::Dictionary(Dictionary::from_iter(vec![
                    (
                        "Font",
                        Object::Dictionary(Dictionary::from_iter(vec![(
                            "F1",
                            Object::Reference(font),
                        )])),
                    ),
                    (
                        "XObject",
                        Object::Dictionary(Dictionary::from_iter(vec![(
                            "Im1",
                            Object::Reference(image),
                        )])),
                    ),
                ])),
            ));
        }
        let content = doc.add_object(Stream::new(Dictionary::new(), ops.into_bytes()));
        page.push(("Contents", Object::Reference(content)));
        kids.push(Object::Reference(
            doc.add_object(Dictionary::from_iter(page)),
        ));
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(Dictionary::from_iter(vec![
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Count", Object::Integer(pages as i64)),
            ("Kids", Object::Array(kids)),
            ("Resources", Object::Reference(resources)),
            (
                "MediaBox",
                Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
            ),
        ])),
    );
    let catalog = doc.add_object(Dictionary::from_iter(vec![
        ("Type", Object::Name(b"Catalog".to_vec())),
        ("Pages", Object::Reference(pages_id)),
    ]));
    doc.trailer.set("Root", Object::Reference(catalog));
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = doc.save_to(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_gets_the_line_and_the_info_the_order() {
        let pdf = sample_pdf(3, 0);
        let text = line("a(b)@example.com", "K42");
        let out = stamp(&pdf, &text, "K42").unwrap();
        let doc = Document::load_mem(&out).unwrap();
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 3);
        for (n, id) in pages {
            let content = doc.get_page_content(id);
            let s = String::from_utf8_lossy(&content);
            assert!(s.contains(&format!("(Page {n})")), "{s}");
            let needle = b"(Licensed to a\\(b\\)@example.com \xb7 order K42)";
            assert!(content.windows(needle.len()).any(|w| w == needle), "{s}");
            let fonts = doc.get_page_fonts(id).unwrap();
            assert!(fonts.contains_key(FONT.as_bytes()) && fonts.contains_key(&b"F1"[..]));
        }
        let info = doc
            .get_dictionary(doc.trailer.get(b"Info").unwrap().as_reference().unwrap())
            .unwrap();
        assert_eq!(
            info.get(INFO_KEY.as_bytes()).unwrap().as_str().unwrap(),
            b"K42"
        );
        // Same input, same copy.
        assert_eq!(stamp(&pdf, &text, "K42").unwrap(), out);
        assert_ne!(
            stamp(&pdf, &line("c@example.com", "K43"), "K43").unwrap(),
            out
        );
    }

    #[test]
    fn what_cannot_be_stamped_says_why() {
        assert!(matches!(
            check(b"%PDF-1.4\nnot really"),
            Err(StampError::Unreadable(_))
        ));
        assert!(matches!(check(b"hello"), Err(StampError::Unreadable(_))));
        assert_eq!(check(&sample_pdf(1, 0)), Ok(()));
    }

    #[test]
    fn only_latin_1_is_kept() {
        assert_eq!(win_ansi_literal("é·ü李\\"), b"\xe9\xb7\xfc?\\\\".to_vec());
    }
}
