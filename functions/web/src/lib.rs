//! HTTP plumbing shared by the function crates (and the devstack, which runs the same
//! handlers): reading request bodies within a size limit, content negotiation, the
//! security headers every page carries, and the HTML page frame.

pub mod pages;

use std::time::{Duration, SystemTime};

use kiosk::deadline::{Deadline, REPLY_MARGIN};
use kiosk::i18n::Lang;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

/// Largest request body a function accepts. Checkout forms and Alipay notifications are a
/// few hundred bytes; anything near this is not a real client.
pub const MAX_BODY: usize = 16 * 1024;

/// JSON logs (CloudWatch-friendly), level from `RUST_LOG` (default info). Called first
/// thing in every `main`.
pub fn init_tracing() {
    json_logs(std::io::stdout).init();
}

/// The log format every function writes: one JSON object a line, the message at
/// `fields.message`, which is what the stack's alarm metric filters match.
pub fn json_logs<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json, ()>,
    tracing_subscriber::EnvFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time() // Lambda stamps every line already
        .with_writer(writer)
}

/// How long a request may run when no Lambda context says (the devstack, in-process
/// tests): the HTTP functions' `Timeout` in template.yaml.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// This request's deadline ([`kiosk::deadline`]): the Lambda context's less the reply
/// margin, or [`DEFAULT_TIMEOUT`] from now without one.
pub fn deadline(req: &Request) -> Deadline {
    match req.lambda_context_ref() {
        Some(ctx) => Deadline::from_lambda(ctx.deadline, SystemTime::now()),
        None => Deadline::after(DEFAULT_TIMEOUT.saturating_sub(REPLY_MARGIN)),
    }
}

/// The client address API Gateway saw (`requestContext.http.sourceIp`), which the client
/// cannot set; `None` without a request context (the devstack, in-process tests).
pub fn source_ip(req: &Request) -> Option<&str> {
    #[allow(unreachable_patterns)] // one variant with this crate's lambda_http features
    match req.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref(),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    NotUtf8,
}

/// The request body as text, refusing bodies over `MAX_BODY`.
pub fn body_text(req: &Request) -> Result<&str, BodyError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    std::str::from_utf8(bytes).map_err(|_| BodyError::NotUtf8)
}

/// The buyer's language for this request: `explicit` (a `lang` field or parameter) if
/// it names a catalog, else the best for `Accept-Language`, else the shop's `default`.
pub fn request_lang(req: &Request, explicit: Option<&str>, default: Lang) -> Lang {
    Lang::choose(explicit, header_str(req, header::ACCEPT_LANGUAGE), default)
}

/// What a handler reads of a request, read once where the request comes in, so its way
/// through the handler does not go back and forth to this crate: the body within
/// [`MAX_BODY`], how it is encoded and how the caller wants the answer, the headers the
/// shop looks at, and the source address.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub method: &'a lambda_http::http::Method,
    pub body: Result<&'a str, BodyError>,
    /// The body is JSON (`Content-Type`), else a form.
    pub json_body: bool,
    /// The caller wants JSON back (`Accept`), else a page.
    pub wants_json: bool,
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    /// `Sec-GPC`, `DNT`.
    pub sec_gpc: Option<&'a str>,
    pub dnt: Option<&'a str>,
    pub source_ip: Option<&'a str>,
}

impl<'a> Incoming<'a> {
    pub fn of(req: &'a Request) -> Incoming<'a> {
        Incoming {
            method: req.method(),
            body: body_text(req),
            json_body: is_json_body(req),
            wants_json: wants_json(req),
            user_agent: header_str(req, header::USER_AGENT),
            referer: header_str(req, header::REFERER),
            accept_language: header_str(req, header::ACCEPT_LANGUAGE),
            sec_gpc: header_str(req, header::HeaderName::from_static("sec-gpc")),
            dnt: header_str(req, header::HeaderName::from_static("dnt")),
            source_ip: source_ip(req),
        }
    }
}

pub fn header_str(req: &Request, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Does the request carry JSON?
pub fn is_json_body(req: &Request) -> bool {
    header_str(req, header::CONTENT_TYPE).is_some_and(|c| {
        c.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
    })
}

/// Does the client want JSON back? (An HTML form never asks for it.)
pub fn wants_json(req: &Request) -> bool {
    let accept = header_str(req, header::ACCEPT)
        .unwrap_or("")
        .to_ascii_lowercase();
    accept.contains("application/json") || (is_json_body(req) && !accept.contains("text/html"))
}

/// Every page's policy: no script, nothing from elsewhere, forms only to this API or
/// https (the provider), and no framing at all.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' https:; base-uri 'none'; frame-ancestors 'none'";

/// `'sha256-…'` of [`pages::EMBED_SCRIPT`], the one inline script a page may run.
pub fn embed_script_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine;
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pages::EMBED_SCRIPT.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    })
}

/// The buy page in `kiosk.js`'s overlay: [`html`] but that `ancestor` (an origin the
/// shop allows, `EMBED_ORIGINS`) alone may frame it and its one script may run.
pub fn html_embedded(status: StatusCode, body: String, ancestor: &str) -> Response<Body> {
    let mut resp = html(status, body);
    let policy = CSP.replace(
        "frame-ancestors 'none'",
        &format!(
            "script-src {}; frame-ancestors {ancestor}",
            embed_script_hash()
        ),
    );
    match HeaderValue::from_str(&policy) {
        Ok(v) => {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
            resp
        }
        // An origin that passed configuration parsing is a valid header value; if not,
        // the page stays unframeable rather than wrong.
        Err(_) => resp,
    }
}

/// A short version of `bytes` for URLs and `ETag`s: the first 16 hex digits of their
/// SHA-256.
pub fn version_of(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A script served to other sites' pages (`kiosk.js`): cached for an hour and
/// revalidated by `ETag` (`304` when unchanged); for the URL carrying its version
/// (`?v={etag}`), cached for a year. `HEAD` gets the headers alone.
pub fn script(req: &Request, source: &'static str, etag: &str) -> Response<Body> {
    let quoted = format!("\"{etag}\"");
    let fresh = header_str(req, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == quoted || t == "*")
    });
    let versioned = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == format!("v={etag}")));
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Body::Empty)
    } else if req.method() == lambda_http::http::Method::HEAD {
        (StatusCode::OK, Body::Empty)
    } else {
        (StatusCode::OK, Body::Text(source.to_owned()))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if versioned {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&quoted) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

fn with_security_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

fn build(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    with_security_headers(resp)
}

pub fn html(status: StatusCode, body: String) -> Response<Body> {
    build(status, "text/html; charset=utf-8", body)
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    build(status, "application/json", value.to_string())
}

pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    build(status, "text/plain; charset=utf-8", body.to_owned())
}

/// `303 See Other` to `location` (a URL we built, so always a valid header value; an
/// invalid one degrades to a 500 page rather than a panic).
pub fn see_other(lang: Lang, location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = build(
                StatusCode::SEE_OTHER,
                "text/html; charset=utf-8",
                pages::redirecting(lang, location),
            );
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::error(lang, "error-title", "error-try-again"),
        ),
    }
}

#[cfg(test)]
mod log_tests {
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn alarm_messages_are_logged_where_the_metric_filters_look()
    -> Result<(), Box<dyn std::error::Error>> {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = super::json_logs(move || out.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            for m in kiosk::alarm::ALL {
                tracing::error!(message = m, order_id = "K1", error = "why");
            }
        });
        let bytes = buf.0.lock().map_err(|_| "log buffer poisoned")?.clone();
        let lines = String::from_utf8(bytes)?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<Vec<serde_json::Value>, _>>()?;
        assert_eq!(lines.len(), kiosk::alarm::ALL.len());
        for (line, m) in lines.iter().zip(kiosk::alarm::ALL) {
            assert_eq!(line["fields"]["message"], m, "{line}");
            assert_eq!(line["fields"]["order_id"], "K1");
        }
        Ok(())
    }
}
