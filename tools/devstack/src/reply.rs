//! What the stand-in providers answer and the faults tests inject into them, shared by
//! the Alipay sandbox (`sandbox.rs`) and the Stripe stand-in (`stripe.rs`), which
//! import this and not each other.

/// A reply to the browser or API caller.
pub enum Reply {
    Html(u16, String),
    Json(String),
    Redirect(String),
    /// No reply: the connection is closed (an injected fault).
    Dropped,
}

/// What goes wrong after a stand-in has made a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A 500 `api_error`, stored with the idempotency key like any other answer (Stripe
    /// replays it to a retry with the same key for 24 hours).
    ServerError,
    /// The refund's answer is lost on the way: the connection is closed before a
    /// response is written (Stripe has stored the answer under the key, as it does).
    LoseAnswer,
    /// As `LoseAnswer`, and the next `n` requests of any kind are not answered either
    /// (nor carried out): the caller gives up with the refund made.
    Outage(u32),
}

/// Status of an API reply that means: close the connection without answering.
pub const DROP_CONNECTION: u16 = 0;
