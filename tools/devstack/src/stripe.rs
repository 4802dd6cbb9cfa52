//! A local Stripe at `/sandbox/stripe/`, so a card purchase can be tried without a
//! Stripe account. It serves the API calls the shop makes -- create, retrieve and expire
//! a Checkout Session, create a refund -- checking the bearer key, the form body and the
//! idempotency key (the same key with the same body answers the same reply; with
//! another body, an `idempotency_error`; while a request with the key is still being
//! worked on, a 409, as Stripe does). Its hosted checkout page shows
//! the product and price with a card field: `4242 4242 4242 4242` pays, `4000 0000 0000
//! 0002` is declined. Paying posts signed webhook events to the shop (retried until a
//! 2xx) and sends the browser to `success_url`.
//!
//! For the soak, [`StripeSandbox::set_faults`] makes a seeded share of its API calls
//! throttled, failed (a 500 saved under the idempotency key) or answered into a closed
//! connection after acting, and of its webhook events delivered twice or late.
//!
//! A stand-in, not an emulator: it knows one line item, one currency per session and no
//! customers. Refunds report a `charge.refunded` that names only the PaymentIntent, the
//! least a real charge carries, so the shop's lookup by payment id is what is exercised.
//!
//! Over 400 lines: a stand-in for a whole provider (API, hosted page, signed webhooks).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk::form::parse_form;
use kiosk::stripe::checkout::API_VERSION;
use kiosk::stripe::webhook::WebhookSecret;
use kiosk::text::html_escape as e;
use kiosk_web::pages::frame;
use serde_json::{Value, json};

use crate::reply::Reply;
pub use crate::reply::{DROP_CONNECTION, Fault};

/// The cards the hosted page knows, as Stripe's test mode names them.
pub const CARD_PAYS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    /// The create call's form, as sent.
    pub form: BTreeMap<String, String>,
    pub amount: u64,
    pub currency: String,
    /// `open`, `complete`, `expired`.
    pub status: String,
    /// `unpaid`, `paid`.
    pub payment_status: String,
    pub payment_intent: Option<String>,
    pub refunded: u64,
    pub created: i64,
    /// The refunds made of its PaymentIntent, as the API shows them.
    pub refunds: Vec<Value>,
}

impl Session {
    fn field(&self, k: &str) -> Option<&str> {
        self.form.get(k).map(String::as_str)
    }
}

pub struct StripeSandbox {
    secret_key: String,
    webhook_secret: WebhookSecret,
    /// The shop's webhook endpoint (`{base}/notify/stripe`).
    webhook_url: String,
    /// This stand-in's own URL (`{base}/sandbox/stripe`).
    page_base: String,
    sessions: Mutex<HashMap<String, Session>>,
    /// Idempotency key -> (request body, reply).
    idempotent: Mutex<HashMap<String, (String, ApiReply)>>,
    counter: Mutex<u64>,
    http: reqwest::Client,
    retry_unit: Duration,
    /// Webhooks the shop acknowledged: (event type, session or charge id, attempts).
    pub deliveries: Mutex<Vec<(String, String, u32)>>,
    /// Faults to inject into the next refund creations (tests): each makes the refund,
    /// then answers as the fault says.
    refund_faults: Mutex<Vec<Fault>>,
    /// Requests still to drop unanswered ([`Fault::Outage`]).
    outage: Mutex<u32>,
    /// How much later each of the next refund creations is made ([`Self::refund_late`]).
    late_refunds: Mutex<Vec<Duration>>,
    /// Idempotency keys of requests still being worked on: another request with one is
    /// answered 409, and nothing is saved for it.
    in_flight: Mutex<std::collections::HashSet<String>>,
    /// Webhook events still being delivered (or retried).
    webhooks_pending: std::sync::atomic::AtomicUsize,
    faults: Mutex<FaultPlan>,
}

/// An API reply: HTTP status and JSON body.
pub type ApiReply = (u16, String);

/// A keyed request in flight: its key leaves the set when this is dropped (after its
/// answer is saved), unless `key` was taken out first.
struct Flying<'a> {
    set: &'a Mutex<std::collections::HashSet<String>>,
    key: Option<String>,
}

impl Drop for Flying<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.set
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&k);
        }
    }
}

/// Faults the stand-in injects by a seed into its API answers and webhooks (the soak),
/// each a share of the calls or events, drawn in the order they come (the calls and the
/// events from two streams of the seed).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub seed: u64,
    /// A 429 `rate_limit`, nothing done and nothing saved under the key (as Stripe's
    /// rate limiter answers before a request runs).
    pub throttle: f64,
    /// A 500 `api_error`, nothing done; saved under the request's idempotency key and
    /// replayed to the same key, as Stripe saves every answer of a request that ran.
    pub server_error: f64,
    /// Done, its answer saved under the key, and the connection closed unanswered.
    pub lost_answer: f64,
    /// A webhook event delivered twice, each on its own schedule.
    pub duplicate_webhook: f64,
    /// A webhook event's first delivery put off by up to 16 retry steps (so events
    /// arrive out of order).
    pub delay_webhook: f64,
}

/// How many of each fault were injected: throttled, 500s, lost answers, webhooks
/// duplicated, webhooks delayed.
pub type Injected = [u64; 5];

#[derive(Default)]
struct FaultPlan {
    /// The faults, and the streams for API calls and for webhook events.
    plan: Option<(Faults, [crate::dice::Dice; 2])>,
    injected: Injected,
}

impl FaultPlan {
    /// Which of `rates` (in order) a draw from stream `stream` picks, counting it under
    /// `first + i`.
    fn draw(&mut self, stream: usize, rates: &[f64], first: usize) -> Option<usize> {
        let (_, dice) = self.plan.as_mut()?;
        let mut x = dice[stream].fraction();
        for (i, r) in rates.iter().enumerate() {
            if x < *r {
                self.injected[first + i] += 1;
                return Some(i);
            }
            x -= r;
        }
        None
    }

    fn rates(&self) -> Option<Faults> {
        self.plan.as_ref().map(|(f, _)| *f)
    }
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> ApiReply {
    (
        status,
        json!({"error": {"type": kind, "code": code, "message": message}}).to_string(),
    )
}

fn now() -> i64 {
    kiosk::clock::now_exact().unix_timestamp()
}

impl StripeSandbox {
    pub fn new(
        secret_key: &str,
        webhook_secret: WebhookSecret,
        shop_base: &str,
        retry_unit: Duration,
    ) -> Arc<Self> {
        Arc::new(StripeSandbox {
            secret_key: secret_key.to_owned(),
            webhook_secret,
            webhook_url: format!("{shop_base}/notify/stripe"),
            page_base: format!("{shop_base}/sandbox/stripe"),
            sessions: Mutex::default(),
            idempotent: Mutex::default(),
            counter: Mutex::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            retry_unit,
            deliveries: Mutex::default(),
            refund_faults: Mutex::default(),
            outage: Mutex::default(),
            late_refunds: Mutex::default(),
            in_flight: Mutex::default(),
            webhooks_pending: std::sync::atomic::AtomicUsize::new(0),
            faults: Mutex::default(),
        })
    }

    /// Make each of the next refund creations fail after the refund is made, one fault
    /// each, in order.
    pub fn fail_refunds(&self, faults: &[Fault]) {
        self.refund_faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(faults);
    }

    /// Inject `faults` from now on (replacing any plan).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = FaultPlan {
            plan: Some((
                faults,
                [
                    crate::dice::Dice::new(faults.seed, 0),
                    crate::dice::Dice::new(faults.seed, 1),
                ],
            )),
            injected: Injected::default(),
        };
    }

    /// Stop injecting; how many of each were injected.
    pub fn clear_faults(&self) -> Injected {
        std::mem::take(&mut *self.faults.lock().unwrap_or_else(|p| p.into_inner())).injected
    }

    /// The API fault for this call: 0 throttled, 1 a 500, 2 the answer lost.
    fn api_fault(&self) -> Option<usize> {
        let mut plan = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let f = plan.rates()?;
        plan.draw(0, &[f.throttle, f.server_error, f.lost_answer], 0)
    }

    /// The webhook fault for this event: 0 duplicated, 1 delayed.
    fn webhook_fault(&self) -> Option<usize> {
        let mut plan = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let f = plan.rates()?;
        plan.draw(1, &[f.duplicate_webhook, f.delay_webhook], 3)
    }

    /// Webhook events not yet acknowledged and still to be tried again.
    pub fn webhooks_pending(&self) -> usize {
        self.webhooks_pending
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Make the next refund creation `after` later, as a Stripe still working on it when
    /// the caller's connection drops: its request gets no answer; until the refund is
    /// made it is not in the list, and a request with the same idempotency key is
    /// answered 409 (Stripe's "another in-progress request using this key"); then the
    /// answer is saved under the key like any other.
    pub fn refund_late(&self, after: Duration) {
        self.late_refunds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(after);
    }

    /// Refunds made of the session's PaymentIntent (however often they were asked for).
    pub fn refunds_made(&self, session: &str) -> usize {
        self.session(session).map_or(0, |s| s.refunds.len())
    }

    fn next_id(&self, prefix: &str) -> String {
        let mut c = self.counter.lock().unwrap_or_else(|p| p.into_inner());
        *c += 1;
        format!("{prefix}_test_local{:06}{}", *c, now())
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The session a shop order started, by its `metadata[order_id]`.
    pub fn session_for_order(&self, order_id: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|s| s.field("metadata[order_id]") == Some(order_id))
            .cloned()
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Session)) -> Option<Session> {
        let mut all = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let s = all.get_mut(id)?;
        f(s);
        Some(s.clone())
    }

    /// The PaymentIntent's metadata: what the create call put in
    /// `payment_intent_data[metadata][...]` (its charges carry it too).
    fn intent_metadata(s: &Session) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in &s.form {
            if let Some(key) = k
                .strip_prefix("payment_intent_data[metadata][")
                .and_then(|k| k.strip_suffix(']'))
            {
                m.insert(key.to_owned(), Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }

    fn session_metadata(s: &Session) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in &s.form {
            if let Some(key) = k
                .strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
            {
                m.insert(key.to_owned(), Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }

    fn charge_json(s: &Session) -> Value {
        let pi = s.payment_intent.clone().unwrap_or_default();
        json!({
            "id": format!("ch_{}", pi.trim_start_matches("pi_")),
            "object": "charge",
            "amount": s.amount,
            "amount_refunded": s.refunded,
            "currency": s.currency,
            "metadata": Self::intent_metadata(s),
            "payment_intent": pi,
            "refunded": s.refunded == s.amount,
            "status": "succeeded",
            "livemode": false,
        })
    }

    /// The session; with `expand` its PaymentIntent is an object whose latest charge
    /// is expanded too (`expand[]=payment_intent.latest_charge`).
    fn session_json_expanded(&self, s: &Session, expand: bool) -> Value {
        let mut v = self.session_json(s);
        if expand && let Some(pi) = &s.payment_intent {
            v["payment_intent"] = json!({
                "id": pi,
                "object": "payment_intent",
                "amount": s.amount,
                "currency": s.currency,
                "metadata": Self::intent_metadata(s),
                "status": "succeeded",
                "latest_charge": Self::charge_json(s),
            });
        }
        v
    }

    fn session_json(&self, s: &Session) -> Value {
        json!({
            "id": s.id,
            "object": "checkout.session",
            "amount_subtotal": s.amount,
            "amount_total": s.amount,
            "client_reference_id": s.field("client_reference_id"),
            "created": s.created,
            "currency": s.currency,
            "customer_email": s.field("customer_email"),
            "expires_at": s.field("expires_at").and_then(|v| v.parse::<i64>().ok()),
            "livemode": false,
            "metadata": Self::session_metadata(s),
            "mode": "payment",
            "payment_intent": s.payment_intent,
            "payment_status": s.payment_status,
            "status": s.status,
            "success_url": s.field("success_url"),
            "cancel_url": s.field("cancel_url"),
            "url": (s.status == "open").then(|| format!("{}/pay/{}", self.page_base, s.id)),
        })
    }

    /// An API request (`path` below `/sandbox/stripe`, `query` its query string): status
    /// and JSON body ([`DROP_CONNECTION`]: no answer at all).
    pub fn api(
        self: &Arc<Self>,
        method: &str,
        path: &str,
        query: &str,
        headers: &hyper::HeaderMap,
        body: &str,
    ) -> ApiReply {
        {
            let mut outage = self.outage.lock().unwrap_or_else(|p| p.into_inner());
            if *outage > 0 {
                *outage -= 1;
                return (DROP_CONNECTION, String::new());
            }
        }
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        if header("authorization") != Some(&format!("Bearer {}", self.secret_key)) {
            return error(
                401,
                "invalid_request_error",
                "api_key_invalid",
                "Invalid API Key provided",
            );
        }
        if header("stripe-version") != Some(API_VERSION) {
            return error(
                400,
                "invalid_request_error",
                "api_version_invalid",
                "this stand-in speaks one Stripe-Version",
            );
        }
        let key = header("idempotency-key").map(str::to_owned);
        // A keyed POST is in flight from here until its answer is saved: another
        // request with its key meanwhile gets Stripe's 409.
        let mut flying = Flying {
            set: &self.in_flight,
            key: None,
        };
        if method == "POST"
            && let Some(k) = &key
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            if in_flight.contains(k) {
                return error(
                    409,
                    "idempotency_error",
                    "",
                    "There is currently another in-progress request using this Stripe-Idempotency-Key (that probably means you submitted twice, and the other request is still going through). Please try again later.",
                );
            }
            let seen = self
                .idempotent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(k)
                .cloned();
            if let Some((first_body, reply)) = seen {
                return if first_body == body {
                    reply
                } else {
                    error(
                        400,
                        "idempotency_error",
                        "idempotency_key_in_use",
                        "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    )
                };
            }
            in_flight.insert(k.clone());
            flying.key = Some(k.clone());
        }
        let form = if body.is_empty() {
            Ok(BTreeMap::new())
        } else {
            parse_form(body)
        };
        let Ok(form) = form else {
            return error(
                400,
                "invalid_request_error",
                "parameter_invalid",
                "body is not a form",
            );
        };
        let q = parse_form(query).unwrap_or_default();
        let expand = query.contains("payment_intent.latest_charge");
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let fault = self.api_fault();
        if fault == Some(0) {
            return error(
                429,
                "invalid_request_error",
                "rate_limit",
                "Too many requests hit the API too quickly (a fault injected by the stand-in)",
            );
        }
        let mut dropped = fault == Some(2);
        let mut reply = match (method, parts.as_slice()) {
            _ if fault == Some(1) => error(
                500,
                "api_error",
                "",
                "An unknown error occurred (a fault injected by the stand-in)",
            ),
            ("POST", ["v1", "checkout", "sessions"]) => self.create(form),
            ("GET", ["v1", "refunds"]) => self.list_refunds(q.get("payment_intent")),
            ("GET", ["v1", "checkout", "sessions", id]) => match self.session(id) {
                Some(s) => (200, self.session_json_expanded(&s, expand).to_string()),
                None => error(
                    404,
                    "invalid_request_error",
                    "resource_missing",
                    "No such checkout.session",
                ),
            },
            ("POST", ["v1", "checkout", "sessions", id, "expire"]) => self.expire(id),
            ("POST", ["v1", "refunds"]) => {
                let late = {
                    let mut l = self.late_refunds.lock().unwrap_or_else(|p| p.into_inner());
                    (!l.is_empty()).then(|| l.remove(0))
                };
                if let Some(after) = late {
                    // Still in flight after this answer: the later refund ends it.
                    flying.key = None;
                    self.make_refund_later(after, form, key, body.to_owned());
                    return (DROP_CONNECTION, String::new());
                }
                let made = self.refund(form);
                let fault = {
                    let mut f = self.refund_faults.lock().unwrap_or_else(|p| p.into_inner());
                    (made.0 == 200 && !f.is_empty()).then(|| f.remove(0))
                };
                match fault {
                    Some(Fault::ServerError) => error(
                        500,
                        "api_error",
                        "",
                        "An unknown error occurred (sandbox fault injected after the refund was made)",
                    ),
                    Some(Fault::LoseAnswer) => {
                        dropped = true;
                        made
                    }
                    Some(Fault::Outage(n)) => {
                        dropped = true;
                        *self.outage.lock().unwrap_or_else(|p| p.into_inner()) = n;
                        made
                    }
                    None => made,
                }
            }
            _ => error(
                404,
                "invalid_request_error",
                "resource_missing",
                "Unrecognized request URL",
            ),
        };
        // Stripe saves the answer of every request that started executing, 5xx
        // included, and replays it for the same key; only a request refused before that
        // (a parameter that does not validate, rate limiting) is not saved.
        let validation = reply.0 == 400 && reply.1.contains("\"parameter_");
        if method == "POST"
            && let Some(k) = key
            && reply.0 != 429
            && !validation
        {
            self.idempotent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(k, (body.to_owned(), reply.clone()));
        }
        if dropped {
            reply = (DROP_CONNECTION, String::new());
        }
        reply
    }

    fn create(&self, form: BTreeMap<String, String>) -> ApiReply {
        let missing = |k: &str| {
            error(
                400,
                "invalid_request_error",
                "parameter_missing",
                &format!("Missing required param: {k}."),
            )
        };
        for k in [
            "mode",
            "success_url",
            "line_items[0][price_data][currency]",
            "line_items[0][price_data][unit_amount]",
            "line_items[0][price_data][product_data][name]",
            "line_items[0][quantity]",
        ] {
            if form.get(k).is_none_or(|v| v.is_empty()) {
                return missing(k);
            }
        }
        let Some(amount) = form["line_items[0][price_data][unit_amount]"]
            .parse::<u64>()
            .ok()
            .filter(|a| *a > 0)
        else {
            return error(
                400,
                "invalid_request_error",
                "parameter_invalid_integer",
                "unit_amount must be a positive integer",
            );
        };
        // Stripe's minimum charge per currency (its "Minimum and maximum charge amounts"
        // table), in the currency's smallest unit: the yen has no decimals, so 50 is
        // ¥50. A currency Stripe does not list takes the equivalent of USD 0.50; this
        // stand-in fixes the yuan's at 4.00. An unknown currency is refused.
        let currency = form["line_items[0][price_data][currency]"].as_str();
        let minimum = match currency {
            "usd" | "eur" => 50,
            "gbp" => 30,
            "jpy" => 50,
            "cny" => 400,
            other => {
                return error(
                    400,
                    "invalid_request_error",
                    "parameter_invalid_string",
                    &format!("Invalid currency: {other}."),
                );
            }
        };
        if amount < minimum {
            return error(
                400,
                "invalid_request_error",
                "amount_too_small",
                &format!(
                    "The Checkout Session's total amount due must add up to at least {minimum} {currency} (in the currency's smallest unit)."
                ),
            );
        }
        // Stripe's window, measured from this moment on this clock, to the nanosecond and
        // with no slack: a request built with exactly 30 minutes left arrives with less.
        let received = kiosk::clock::now_exact();
        let created = received.unix_timestamp();
        if let Some(exp) = form.get("expires_at") {
            let ok = exp
                .parse::<i64>()
                .ok()
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                .is_some_and(|t| {
                    t >= received + time::Duration::minutes(30)
                        && t <= received + time::Duration::hours(24)
                });
            if !ok {
                return error(
                    400,
                    "invalid_request_error",
                    "parameter_invalid_integer",
                    "The expires_at timestamp must be at least 30 minutes from Checkout Session creation and less than 24 hours from Checkout Session creation.",
                );
            }
        }
        let session = Session {
            id: self.next_id("cs"),
            currency: form["line_items[0][price_data][currency]"].clone(),
            amount,
            form,
            status: "open".into(),
            payment_status: "unpaid".into(),
            payment_intent: None,
            refunded: 0,
            created,
            refunds: Vec::new(),
        };
        let reply = self.session_json(&session).to_string();
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session.id.clone(), session);
        (200, reply)
    }

    fn expire(self: &Arc<Self>, id: &str) -> ApiReply {
        let Some(s) = self.session(id) else {
            return error(
                404,
                "invalid_request_error",
                "resource_missing",
                "No such checkout.session",
            );
        };
        if s.status != "open" {
            return error(
                400,
                "invalid_request_error",
                "checkout_session_not_open",
                "Only Checkout Sessions with a status of open can be expired.",
            );
        }
        let s = self
            .update(id, |s| s.status = "expired".into())
            .unwrap_or(s);
        let object = self.session_json(&s);
        self.send_event("checkout.session.expired", &s.id, object.clone());
        (200, object.to_string())
    }

    fn refund(self: &Arc<Self>, form: BTreeMap<String, String>) -> ApiReply {
        let pi = form.get("payment_intent").cloned().unwrap_or_default();
        let target = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|s| s.payment_intent.as_deref() == Some(pi.as_str()))
            .cloned();
        let Some(s) = target else {
            return error(
                404,
                "invalid_request_error",
                "resource_missing",
                "No such payment_intent",
            );
        };
        let amount = match form.get("amount") {
            Some(a) => match a.parse::<u64>() {
                Ok(a) if a > 0 => a,
                _ => {
                    return error(
                        400,
                        "invalid_request_error",
                        "parameter_invalid_integer",
                        "amount must be a positive integer",
                    );
                }
            },
            None => s.amount - s.refunded,
        };
        let mut metadata = serde_json::Map::new();
        for (k, v) in &form {
            if let Some(key) = k
                .strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
            {
                metadata.insert(key.to_owned(), Value::String(v.clone()));
            }
        }
        let refund = json!({
            "id": self.next_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": s.currency,
            "metadata": metadata,
            "payment_intent": pi,
            "status": "succeeded",
        });
        // What is left is checked and taken in one step, as Stripe does: two refunds at
        // once never give back more than was paid.
        let mut too_large = false;
        let s = self
            .update(&s.id, |s| {
                if amount > s.amount - s.refunded {
                    too_large = true;
                    return;
                }
                s.refunded += amount;
                s.refunds.insert(0, refund.clone());
            })
            .unwrap_or(s);
        if too_large {
            return error(
                400,
                "invalid_request_error",
                "amount_too_large",
                "Refund amount is greater than unrefunded amount on charge",
            );
        }
        self.send_event("charge.refunded", &s.id, Self::charge_json(&s));
        (200, refund.to_string())
    }

    /// A refund request Stripe is still working on: made `after` from now, its answer
    /// then saved under `key`, which stays in flight (as its request left it) until
    /// then.
    fn make_refund_later(
        self: &Arc<Self>,
        after: Duration,
        form: BTreeMap<String, String>,
        key: Option<String>,
        body: String,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let made = me.refund(form);
            if let Some(k) = key {
                me.idempotent
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(k.clone(), (body, made));
                me.in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&k);
            }
        });
    }

    /// A refund made outside Kiosk (the dashboard), whose `charge.refunded` never
    /// reaches the shop: only asking Stripe shows it.
    pub fn refund_quietly(&self, session: &str, amount: u64) {
        self.update(session, |s| {
            s.refunded = (s.refunded + amount).min(s.amount)
        });
    }

    /// `GET /v1/refunds?payment_intent=pi_...`: its refunds, newest first.
    fn list_refunds(&self, pi: Option<&String>) -> ApiReply {
        let Some(pi) = pi else {
            return error(
                400,
                "invalid_request_error",
                "parameter_missing",
                "this stand-in lists the refunds of one payment_intent",
            );
        };
        let refunds = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|s| s.payment_intent.as_deref() == Some(pi.as_str()))
            .map(|s| s.refunds.clone())
            .unwrap_or_default();
        (
            200,
            json!({"object": "list", "data": refunds, "has_more": false, "url": "/v1/refunds"})
                .to_string(),
        )
    }

    /// The webhooks the shop acknowledged about `about` (a session), oldest first:
    /// (event type, attempts it took).
    pub fn delivered_about(&self, about: &str) -> Vec<(String, u32)> {
        self.deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, a, _)| a == about)
            .map(|(kind, _, attempts)| (kind.clone(), *attempts))
            .collect()
    }

    /// The buyer's bank disputes the session's payment (`charge.dispute.created`), or
    /// the dispute closes `won` or `lost` (`charge.dispute.closed`).
    pub fn dispute(self: &Arc<Self>, session: &str, status: &str) {
        let Some(s) = self.session(session) else {
            return;
        };
        let pi = s.payment_intent.clone().unwrap_or_default();
        let object = json!({
            "id": format!("dp_{}", pi.trim_start_matches("pi_")),
            "object": "dispute",
            "amount": s.amount,
            "currency": s.currency,
            "charge": format!("ch_{}", pi.trim_start_matches("pi_")),
            "payment_intent": pi,
            "reason": "fraudulent",
            "status": status,
        });
        let kind = if status == "won" || status == "lost" || status == "warning_closed" {
            "charge.dispute.closed"
        } else {
            "charge.dispute.created"
        };
        self.send_event(kind, session, object);
    }

    /// Complete the session unpaid, as a bank debit or voucher does (a test's stand-in
    /// for a delayed method; the shop's sessions take cards only).
    pub fn complete_unpaid(&self, session: &str) {
        self.update(session, |s| s.status = "complete".into());
    }

    /// The hosted checkout page.
    pub fn page(&self, id: &str, notice: Option<&str>) -> Reply {
        let Some(s) = self.session(id) else {
            return Reply::Html(
                404,
                frame(
                    kiosk::i18n::Lang::EN,
                    "Stripe sandbox",
                    "",
                    "<h1>No such Checkout Session</h1>",
                ),
            );
        };
        if s.status != "open" {
            return Reply::Html(
                410,
                frame(
                    kiosk::i18n::Lang::EN,
                    "Stripe sandbox",
                    "",
                    &format!(
                        "<h1>This checkout is {}</h1><p><a href=\"{}\">Back to the shop</a></p>",
                        e(&s.status),
                        e(s.field("cancel_url").unwrap_or("/"))
                    ),
                ),
            );
        }
        let price = kiosk::stripe::event::money(s.amount, &s.currency)
            .map(|m| format!("{} {}", m.to_decimal(), m.currency()))
            .unwrap_or_else(|_| format!("{} {}", s.amount, s.currency));
        let notice = notice
            .map(|n| format!("<p role=\"alert\" style=\"color:#cf222e\">{}</p>", e(n)))
            .unwrap_or_default();
        Reply::Html(
            200,
            frame(
                kiosk::i18n::Lang::EN,
                "Stripe sandbox - checkout",
                "<style>#card{display:block;width:100%;padding:.7rem;font:inherit;border:1px solid #d0d7de;border-radius:8px;margin:.35rem 0 .75rem}\
                 #pay{width:100%;padding:.8rem;border:0;border-radius:8px;background:#635bff;color:#fff;font:inherit;font-weight:600;cursor:pointer}</style>",
                &format!(
                    "<p class=\"muted\">Stripe sandbox (local stand-in)</p>\
                     <h1 id=\"product\">{name}</h1><p id=\"price\" style=\"font-size:1.4rem\">{price}</p>\
                     <p>Paying as {email}</p>{notice}\
                     <form method=\"post\" action=\"{base}/pay/{id}\">\
                     <label for=\"card\">Card number</label>\
                     <input id=\"card\" name=\"card\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"4242 4242 4242 4242\" required>\
                     <button id=\"pay\" type=\"submit\">Pay {price}</button></form>\
                     <p class=\"muted\">4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>\
                     <p><a href=\"{cancel}\">Back to the shop</a></p>",
                    name = e(s
                        .field("line_items[0][price_data][product_data][name]")
                        .unwrap_or("")),
                    price = e(&price),
                    email = e(s.field("customer_email").unwrap_or("")),
                    base = e(&self.page_base),
                    id = e(&s.id),
                    cancel = e(s.field("cancel_url").unwrap_or("/")),
                ),
            ),
        )
    }

    /// The buyer pressed Pay with `card`. With `lose_webhook=1` the session is paid but
    /// the shop is never told (as when every webhook fails), so only the return page's or
    /// reconcile's retrieve can find the payment.
    pub fn pay(self: &Arc<Self>, id: &str, body: &str) -> Reply {
        let form = parse_form(body).unwrap_or_default();
        let lose_webhook = form.get("lose_webhook").map(String::as_str) == Some("1");
        let card: String = form
            .get("card")
            .cloned()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let Some(s) = self.session(id) else {
            return self.page(id, None);
        };
        if s.status != "open" {
            return self.page(id, None);
        }
        match card.as_str() {
            CARD_PAYS => {}
            CARD_DECLINED => return self.page(id, Some("Your card was declined.")),
            _ => {
                return self.page(
                    id,
                    Some("Use a test card: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined."),
                );
            }
        }
        let pi = self.next_id("pi");
        let Some(s) = self.update(id, |s| {
            s.status = "complete".into();
            s.payment_status = "paid".into();
            s.payment_intent = Some(pi);
        }) else {
            return self.page(id, None);
        };
        if !lose_webhook {
            self.send_event("checkout.session.completed", &s.id, self.session_json(&s));
        }
        let back = s
            .field("success_url")
            .unwrap_or("/")
            .replace("{CHECKOUT_SESSION_ID}", &s.id);
        Reply::Redirect(back)
    }

    /// Post a signed event to the shop in the background, retrying until a 2xx.
    fn send_event(self: &Arc<Self>, kind: &str, about: &str, object: Value) {
        let me = self.clone();
        let event = json!({
            "id": self.next_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now(),
            "data": {"object": object},
            "livemode": false,
            "pending_webhooks": 1,
            "type": kind,
        })
        .to_string();
        let (kind, about) = (kind.to_owned(), about.to_owned());
        let fault = self.webhook_fault();
        let copies = if fault == Some(0) { 2 } else { 1 };
        let first = if fault == Some(1) {
            let mut plan = self.faults.lock().unwrap_or_else(|p| p.into_inner());
            plan.plan
                .as_mut()
                .map_or(0, |(_, dice)| 1 + dice[1].below(16) as u32)
        } else {
            0
        };
        for _ in 0..copies {
            let (me, event, kind, about) = (me.clone(), event.clone(), kind.clone(), about.clone());
            self.webhooks_pending
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                me.deliver(&event, kind, about, first).await;
                me.webhooks_pending
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    }

    /// Post `event` until the shop acknowledges it, on Stripe's schedule in
    /// `retry_unit` steps, the first after `first` steps.
    async fn deliver(&self, event: &str, kind: String, about: String, first: u32) {
        let waits = [first, 1, 1, 2, 4, 8, 16, 32];
        for (attempt, steps) in waits.iter().enumerate() {
            tokio::time::sleep(self.retry_unit * *steps).await;
            let header = self.webhook_secret.header(now(), event.as_bytes());
            let ok = self
                .http
                .post(&self.webhook_url)
                .header("content-type", "application/json; charset=utf-8")
                .header("stripe-signature", header)
                .body(event.to_owned())
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                self.deliveries
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((kind, about, attempt as u32 + 1));
                return;
            }
            tracing::warn!(
                kind,
                about,
                attempt = attempt + 1,
                "stripe sandbox: webhook not acknowledged; will retry"
            );
        }
    }
}
