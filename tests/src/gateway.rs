//! A local stand-in for Alipay's gateway, for `alipay.trade.query` and `.close`: it checks
//! our request signature with the app's public key and answers with a response signed by
//! the test "Alipay" key, exactly in the gateway's reply format (signed `*_response`
//! slice). Each trade's answer is scripted by the test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kiosk::alipay::{AlipayPublicKey, AppPrivateKey, parse_form, string_to_sign_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub enum Answer {
    Paid {
        trade_no: String,
        total_amount: String,
    },
    Waiting,
    NotExist,
    /// Closed at the provider (by us or by its own timeout).
    Closed,
    /// Open when queried; the buyer pays just before our close arrives, so the close is
    /// refused (`ACQ.TRADE_STATUS_ERROR`) and the trade is paid from then on.
    PaysAtClose {
        trade_no: String,
        total_amount: String,
    },
    /// A gateway that hangs: the request is read (and counted) but never answered; the
    /// connection stays open until the test ends.
    Silent,
    /// Paid, then `refund_fee` of it refunded (by the author, in Alipay's console): the
    /// query says TRADE_SUCCESS while some is left, TRADE_CLOSED once all is refunded,
    /// as Alipay's does.
    Refunded {
        trade_no: String,
        total_amount: String,
        refund_fee: String,
    },
}

/// The gateway's own faults, drawn from a seed (the soak's): a share of requests
/// answered 502 without being looked at, and a share answered by dropping the
/// connection after the request was applied (a close done, its answer lost).
#[derive(Debug, Clone, Copy)]
pub struct GatewayFaults {
    pub seed: u64,
    pub unavailable: f64,
    pub lost_answer: f64,
}

#[derive(Default)]
struct FaultState {
    plan: Option<(GatewayFaults, crate::dice::Dice)>,
    injected: [u64; 2],
}

impl FaultState {
    /// 0: unavailable, 1: answer lost, None: none.
    fn draw(&mut self) -> Option<usize> {
        let (plan, dice) = self.plan.as_mut()?;
        let x = dice.fraction();
        let kind = if x < plan.unavailable {
            0
        } else if x < plan.unavailable + plan.lost_answer {
            1
        } else {
            return None;
        };
        self.injected[kind] += 1;
        Some(kind)
    }
}

pub struct Gateway {
    pub url: String,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    faults: Arc<Mutex<FaultState>>,
    /// Method names of requests whose signature verified.
    pub calls: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gateway {
    pub async fn start(
        app_public: AlipayPublicKey,
        alipay_private: Arc<AppPrivateKey>,
    ) -> anyhow::Result<Gateway> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/gateway.do", listener.local_addr()?);
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let calls: Arc<Mutex<Vec<String>>> = Arc::default();
        let faults: Arc<Mutex<FaultState>> = Arc::default();
        let (a, c, f) = (answers.clone(), calls.clone(), faults.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (a, c, f, key, signer) = (
                    a.clone(),
                    c.clone(),
                    f.clone(),
                    app_public.clone(),
                    alipay_private.clone(),
                );
                tokio::spawn(async move {
                    let Some(body) = read_body(&mut sock).await else {
                        return;
                    };
                    let fault = f.lock().unwrap().draw();
                    if fault == Some(0) {
                        let _ = sock
                            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                    let reply = answer(&body, &key, &signer, &a, &c);
                    if fault == Some(1) {
                        // Applied, and the connection dropped before the answer.
                        return;
                    }
                    let Some(reply) = reply else {
                        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
                        return;
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html;charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        reply.len(),
                        reply
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Ok(Gateway {
            url,
            answers,
            faults,
            calls,
            task,
        })
    }

    pub fn set(&self, out_trade_no: &str, answer: Answer) {
        self.answers
            .lock()
            .unwrap()
            .insert(out_trade_no.to_owned(), answer);
    }

    /// Start the gateway's own faults.
    pub fn set_faults(&self, faults: GatewayFaults) {
        *self.faults.lock().unwrap() = FaultState {
            plan: Some((faults, crate::dice::Dice::of(faults.seed))),
            injected: [0; 2],
        };
    }

    /// Stop them; how many of each were injected (unavailable, answer lost).
    pub fn clear_faults(&self) -> [u64; 2] {
        std::mem::take(&mut *self.faults.lock().unwrap()).injected
    }

    /// The gateway's own book of a trade: what it answers about it now (`NotExist` for
    /// one it never heard of).
    pub fn trade(&self, out_trade_no: &str) -> Answer {
        self.answers
            .lock()
            .unwrap()
            .get(out_trade_no)
            .cloned()
            .unwrap_or(Answer::NotExist)
    }
}

async fn read_body(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return String::from_utf8(buf[end + 4..end + 4 + len].to_vec()).ok();
        }
    }
}

fn signed(member: &str, inner: &serde_json::Value, signer: &AppPrivateKey) -> String {
    let slice = inner.to_string();
    let sign = signer.sign(slice.as_bytes()).unwrap_or_default();
    format!(
        "{{\"{member}\":{slice},\"sign\":{}}}",
        serde_json::Value::String(sign)
    )
}

fn answer(
    body: &str,
    app_public: &AlipayPublicKey,
    signer: &AppPrivateKey,
    answers: &Mutex<HashMap<String, Answer>>,
    calls: &Mutex<Vec<String>>,
) -> Option<String> {
    let bad = |msg: &str| {
        Some(serde_json::json!({"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": msg}})
            .to_string())
    };
    let Ok(params) = parse_form(body) else {
        return bad("not a form");
    };
    let Some(sign) = params.get("sign") else {
        return bad("no sign");
    };
    if app_public
        .verify(string_to_sign_request(&params).as_bytes(), sign)
        .is_err()
    {
        return bad("signature does not verify");
    }
    let method = params.get("method").cloned().unwrap_or_default();
    calls.lock().unwrap().push(method.clone());
    let biz: serde_json::Value = params
        .get("biz_content")
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    let out_trade_no = biz["out_trade_no"].as_str().unwrap_or_default().to_owned();
    let member = format!("{}_response", method.replace('.', "_"));
    let mut answers = answers.lock().unwrap();
    let current = answers
        .get(&out_trade_no)
        .cloned()
        .unwrap_or(Answer::NotExist);
    if let Answer::Silent = current {
        return None;
    }
    if method == "alipay.trade.close" {
        let status_error = serde_json::json!({
            "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法", "out_trade_no": out_trade_no
        });
        let inner = match current {
            Answer::Waiting | Answer::Closed => {
                answers.insert(out_trade_no.clone(), Answer::Closed);
                serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_no": format!("T-{out_trade_no}")})
            }
            Answer::NotExist => serde_json::json!({
                "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在", "out_trade_no": out_trade_no
            }),
            Answer::Paid { .. } | Answer::Refunded { .. } | Answer::Silent => status_error,
            Answer::PaysAtClose {
                trade_no,
                total_amount,
            } => {
                answers.insert(
                    out_trade_no.clone(),
                    Answer::Paid {
                        trade_no,
                        total_amount,
                    },
                );
                status_error
            }
        };
        return Some(signed(&member, &inner, signer));
    }
    let inner = match current {
        Answer::Paid {
            trade_no,
            total_amount,
        } => serde_json::json!({
            "code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_no": trade_no,
            "trade_status": "TRADE_SUCCESS", "total_amount": total_amount, "subject": "brace } and quote \" inside"
        }),
        Answer::Refunded {
            trade_no,
            total_amount,
            refund_fee,
        } => serde_json::json!({
            "code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_no": trade_no,
            "trade_status": if refund_fee == total_amount { "TRADE_CLOSED" } else { "TRADE_SUCCESS" },
            "total_amount": total_amount
        }),
        Answer::Waiting | Answer::PaysAtClose { .. } | Answer::Silent => serde_json::json!({
            "code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_status": "WAIT_BUYER_PAY", "total_amount": "9.00"
        }),
        Answer::Closed => serde_json::json!({
            "code": "10000", "msg": "Success", "out_trade_no": out_trade_no, "trade_status": "TRADE_CLOSED", "total_amount": "9.00"
        }),
        Answer::NotExist => serde_json::json!({
            "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在", "out_trade_no": out_trade_no
        }),
    };
    Some(signed(&member, &inner, signer))
}
