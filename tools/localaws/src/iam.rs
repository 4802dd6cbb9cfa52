//! The template's IAM policies as data, and an evaluator for the part of IAM they use, so
//! a test can replay what a function really asked AWS for and see whether its role allows
//! it. The emulator enforces no IAM; without this, a policy that denies the code (or one
//! that allows far more than the code needs) would show only after `sam deploy`.
//!
//! Supported, because the template uses exactly this: `Effect: Allow`; actions named in
//! full; resources exact or ending in `*`; `!If` on the template's `Conditions`
//! (evaluated by [`crate::functions`]) with `!Ref AWS::NoValue`; conditions `StringEquals`,
//! `StringEqualsIgnoreCase` and `ForAllValues:StringLike`. Anything else in a policy is an
//! error, so a new kind of statement cannot be ignored silently.
//!
//! Over 400 lines: the policy reader, the request mapper and the evaluator, with the
//! denials they must find as tests.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_norway::Value;

use crate::functions::{Resolver, Values, doc};

/// One `Allow` statement, resolved.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Vec<Condition>,
}

/// `{operator: {key: values}}`.
#[derive(Debug, Clone)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// One request as IAM sees it: the action, the resource ARN and the condition keys the
/// service sets (`dynamodb:LeadingKeys` = the partition keys touched, `ses:FromAddress`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: Vec<(String, Vec<String>)>,
}

/// Every function's policy statements, by logical id.
pub fn policies(template: &str, values: &Values) -> Result<BTreeMap<String, Vec<Statement>>> {
    let doc = doc(template)?;
    let r = Resolver::new(&doc, values);
    let holds = |name: &str| r.holds(name);
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("template has no Resources"))?;
    let mut out = BTreeMap::new();
    for (name, res) in resources {
        let name_str = name.as_str().unwrap_or_default().to_owned();
        if res.get("Type").and_then(Value::as_str) == Some("AWS::IAM::ManagedPolicy") {
            // A policy for people (the `kiosk` command line's), by its logical id.
            let list = res
                .get("Properties")
                .and_then(|p| p.get("PolicyDocument"))
                .and_then(|d| d.get("Statement"))
                .and_then(Value::as_sequence)
                .ok_or_else(|| anyhow!("{name_str}: no PolicyDocument.Statement list"))?;
            let mut statements = Vec::new();
            for s in list {
                statements
                    .push(statement(&r, &holds, s).map_err(|e| anyhow!("{name_str}: {e:#}"))?);
            }
            out.insert(name_str, statements);
            continue;
        }
        if res.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name_str;
        let mut statements = Vec::new();
        let policies = res
            .get("Properties")
            .and_then(|p| p.get("Policies"))
            .and_then(Value::as_sequence)
            .ok_or_else(|| anyhow!("{name}: no Policies list"))?;
        for policy in policies {
            let list = policy
                .get("Statement")
                .and_then(Value::as_sequence)
                .ok_or_else(|| anyhow!("{name}: a policy that is not a Statement list"))?;
            for s in list {
                statements.push(statement(&r, &holds, s).map_err(|e| anyhow!("{name}: {e:#}"))?);
            }
        }
        out.insert(name, statements);
    }
    Ok(out)
}

fn strings(
    r: &Resolver,
    holds: &dyn Fn(&str) -> Result<bool>,
    v: Option<&Value>,
) -> Result<Vec<String>> {
    let items: Vec<&Value> = match v {
        None => vec![],
        Some(Value::Sequence(s)) => s.iter().collect(),
        Some(one) => vec![one],
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(v) = pick(holds, item)? {
            out.push(r.resolve(v)?);
        }
    }
    Ok(out)
}

/// `!If [cond, a, b]` chosen, `!Ref AWS::NoValue` dropped (None).
fn pick<'v>(holds: &dyn Fn(&str) -> Result<bool>, v: &'v Value) -> Result<Option<&'v Value>> {
    match v {
        Value::Tagged(t) if t.tag == "If" => match t.value.as_sequence().map(Vec::as_slice) {
            Some([c, a, b]) => {
                let c = c.as_str().ok_or_else(|| anyhow!("!If: condition name"))?;
                pick(holds, if holds(c)? { a } else { b })
            }
            _ => bail!("!If takes [condition, then, else]"),
        },
        Value::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("AWS::NoValue") => Ok(None),
        v => Ok(Some(v)),
    }
}

fn statement(r: &Resolver, holds: &dyn Fn(&str) -> Result<bool>, s: &Value) -> Result<Statement> {
    let sid = s
        .get("Sid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
        bail!("{sid}: only Allow statements are supported");
    }
    let mut conditions = Vec::new();
    if let Some(c) = s.get("Condition") {
        let ops = c.as_mapping().ok_or_else(|| anyhow!("{sid}: Condition"))?;
        for (op, keys) in ops {
            let operator = op.as_str().unwrap_or_default().to_owned();
            if !matches!(
                operator.as_str(),
                "StringEquals"
                    | "StringEqualsIgnoreCase"
                    | "ForAllValues:StringLike"
                    | "ForAllValues:StringEquals"
            ) {
                bail!("{sid}: condition operator {operator} is not supported");
            }
            for (key, values) in keys
                .as_mapping()
                .ok_or_else(|| anyhow!("{sid}: {operator}"))?
            {
                conditions.push(Condition {
                    operator: operator.clone(),
                    key: key.as_str().unwrap_or_default().to_owned(),
                    values: strings(r, holds, Some(values))?,
                });
            }
        }
    }
    Ok(Statement {
        actions: strings(r, holds, s.get("Action"))?,
        resources: strings(r, holds, s.get("Resource"))?,
        conditions,
        sid,
    })
}

/// IAM's `*` and `?` wildcards (StringLike, resources).
pub fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

impl Statement {
    pub fn allows(&self, req: &Request) -> bool {
        self.actions.contains(&req.action)
            && self.resources.iter().any(|r| like(r, &req.resource))
            && self.conditions.iter().all(|c| c.holds(req))
    }
}

impl Condition {
    fn holds(&self, req: &Request) -> bool {
        let given = req
            .context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .map(|(_, v)| v.as_slice());
        match (self.operator.as_str(), given) {
            // A single-valued key absent from the request fails StringEquals.
            ("StringEquals", Some([v])) => self.values.iter().any(|want| want == v),
            ("StringEqualsIgnoreCase", Some([v])) => {
                self.values.iter().any(|want| want.eq_ignore_ascii_case(v))
            }
            // Every value must match some pattern; an absent key holds vacuously, as in
            // IAM (which is why each statement using it names item-level actions only).
            ("ForAllValues:StringLike", given) => given
                .unwrap_or_default()
                .iter()
                .all(|v| self.values.iter().any(|p| like(p, v))),
            ("ForAllValues:StringEquals", given) => given
                .unwrap_or_default()
                .iter()
                .all(|v| self.values.iter().any(|want| want == v)),
            _ => false,
        }
    }
}

/// Whether any of `statements` allows `req`.
pub fn allowed(statements: &[Statement], req: &Request) -> bool {
    statements.iter().any(|s| s.allows(req))
}

/// The locked emulator's record of one request (`scripts/moto_locked.py`).
#[derive(Debug, Clone, Deserialize)]
pub struct Recorded {
    /// The service its signature names (`s3`, `dynamodb`, …); empty when unsigned.
    #[serde(default)]
    pub service: String,
    /// `X-Amz-Target` (JSON protocols: DynamoDB, SSM); empty for SES's query protocol.
    pub target: String,
    pub body: String,
    /// The HTTP method and path (REST protocols: SES v2).
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
    /// When it reached the emulator (before waiting for its lock) and when it was
    /// answered, in seconds on the emulator's clock.
    #[serde(default)]
    pub arrived: f64,
    #[serde(default)]
    pub answered: f64,
}

impl Recorded {
    /// The operation, as a log reads it: `DynamoDB_20120810.GetItem` → `GetItem`, SES's
    /// query protocol by its `Action`, SES v2 by method and path.
    pub fn operation(&self) -> String {
        if let Some((_, op)) = self.target.rsplit_once('.') {
            return op.to_owned();
        }
        if let Some(action) = self
            .body
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
        {
            return action.to_owned();
        }
        format!("{} {}", self.method, self.path)
    }

    /// Whether it is a DynamoDB call.
    pub fn is_dynamodb(&self) -> bool {
        self.target.starts_with("DynamoDB_")
    }
}

/// How many calls of `calls` were made one after another: a call that reached the
/// emulator before the calls in flight were answered went out together with them (the
/// emulator's lock makes it wait, but the caller did not). The latency a request pays
/// is about this many round trips.
pub fn sequential_steps(calls: &[&Recorded]) -> usize {
    let mut sorted: Vec<&&Recorded> = calls.iter().collect();
    sorted.sort_by(|a, b| a.arrived.total_cmp(&b.arrived));
    let mut steps = 0;
    let mut in_flight_until = f64::NEG_INFINITY;
    for c in sorted {
        if c.arrived >= in_flight_until {
            steps += 1;
            in_flight_until = c.answered;
        } else {
            in_flight_until = in_flight_until.max(c.answered);
        }
    }
    steps
}

/// Where the emulator answers the requests an app id made.
pub const REQUESTS_PATH: &str = "/_kiosk/requests";

/// The app id (`AWS_SDK_UA_APP_ID`) under which the emulator records a function's calls.
pub fn app_id(tag: &str, function: &str) -> String {
    format!("kiosk-iam-{tag}-{function}")
}

/// The requests the emulator recorded for `app`, oldest first.
pub async fn recorded(http: &reqwest::Client, endpoint: &str, app: &str) -> Result<Vec<Recorded>> {
    let url =
        reqwest::Url::parse_with_params(&format!("{endpoint}{REQUESTS_PATH}"), &[("app", app)])?;
    let resp = http
        .get(url)
        .send()
        .await
        .context("GET the recorded requests")?;
    anyhow::ensure!(
        resp.status().is_success(),
        "recorded requests: {}",
        resp.status()
    );
    let text = resp.text().await.context("reading the recorded requests")?;
    serde_json::from_str(&text).context("the recorded requests are not the expected JSON")
}

const ARN: &str = "arn:aws:{service}:us-east-1:123456789012";

fn arn(service: &str, rest: &str) -> String {
    format!("{}:{rest}", ARN.replace("{service}", service))
}

/// What IAM authorises for one recorded request (a transaction is one request per item,
/// as DynamoDB authorises it).
pub fn requests_of(r: &Recorded) -> Result<Vec<Request>> {
    if let Some(op) = r.target.strip_prefix("DynamoDB_20120810.") {
        let body: Json = serde_json::from_str(&r.body).context("a DynamoDB body")?;
        return dynamodb(op, &body);
    }
    if let Some(op) = r.target.strip_prefix("AmazonSSM.") {
        let body: Json = serde_json::from_str(&r.body).context("an SSM body")?;
        let names = body["Names"].as_array().cloned().unwrap_or_default();
        let names: Vec<Json> = match body.get("Name") {
            Some(n) => vec![n.clone()],
            None => names,
        };
        return Ok(names
            .iter()
            .filter_map(Json::as_str)
            .map(|n| Request {
                action: format!("ssm:{op}"),
                resource: arn("ssm", &format!("parameter{n}")),
                context: vec![],
            })
            .collect());
    }
    if let Some(op) = r.target.strip_prefix("AmazonSQS.") {
        let body: Json = serde_json::from_str(&r.body).context("an SQS body")?;
        // http://HOST/ACCOUNT/NAME -> arn:aws:sqs:REGION:ACCOUNT:NAME
        let url = body["QueueUrl"].as_str().unwrap_or_default();
        let mut parts = url.rsplit('/');
        let (name, account) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        return Ok(vec![Request {
            action: format!("sqs:{op}"),
            resource: format!("arn:aws:sqs:us-east-1:{account}:{name}"),
            context: vec![],
        }]);
    }
    if r.service == "s3" {
        return Ok(vec![s3(&r.method, &r.path)?]);
    }
    if let Some(address) = r.path.strip_prefix("/v2/email/suppression/addresses/") {
        let action = match r.method.as_str() {
            "DELETE" => "DeleteSuppressedDestination",
            "GET" => "GetSuppressedDestination",
            m => bail!("SES v2 {m} {address}: not a request the shop makes"),
        };
        // The suppression list has no resource type in IAM: only "*" grants it.
        return Ok(vec![Request {
            action: format!("ses:{action}"),
            resource: "*".into(),
            context: vec![],
        }]);
    }
    let form: BTreeMap<String, String> = reqwest::Url::parse(&format!("q:?{}", r.body))?
        .query_pairs()
        .into_owned()
        .collect();
    match form.get("Action").map(String::as_str) {
        Some(action @ ("SendEmail" | "SendRawEmail")) => {
            let from = form.get("Source").cloned().unwrap_or_default();
            let context = vec![("ses:FromAddress".into(), vec![from.clone()])];
            let mut out = vec![Request {
                action: format!("ses:{action}"),
                resource: arn("ses", &format!("identity/{from}")),
                context: context.clone(),
            }];
            // A send naming a configuration set is authorised on that set too.
            if let Some(set) = form.get("ConfigurationSetName") {
                out.push(Request {
                    action: format!("ses:{action}"),
                    resource: arn("ses", &format!("configuration-set/{set}")),
                    context,
                });
            }
            Ok(out)
        }
        Some(action) => Ok(vec![Request {
            action: format!("ses:{action}"),
            resource: "*".into(),
            context: vec![],
        }]),
        None => bail!(
            "an unrecognised request: target {:?}, body {:?}",
            r.target,
            r.body
        ),
    }
}

/// An S3 call, path-style (`/bucket/key`, as the SDK addresses the emulator), as IAM
/// authorises it: on the object (`arn:aws:s3:::bucket/key`, the key decoded) or, for a
/// listing, the bucket. A HEAD needs `s3:GetObject`, as at S3.
fn s3(method: &str, path: &str) -> Result<Request> {
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let key = percent_decode(key);
    let action = match (method, key.is_empty()) {
        ("GET" | "HEAD", false) => "s3:GetObject",
        ("PUT", false) => "s3:PutObject",
        ("DELETE", false) => "s3:DeleteObject",
        ("GET", true) => "s3:ListBucket",
        ("HEAD", true) => "s3:ListBucket",
        (m, _) => bail!("S3 {m} /{path}: not a request the shop makes"),
    };
    let resource = if key.is_empty() {
        format!("arn:aws:s3:::{bucket}")
    } else {
        format!("arn:aws:s3:::{bucket}/{key}")
    };
    Ok(Request {
        action: action.into(),
        resource,
        context: vec![],
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn table_arn(table: &Json) -> String {
    arn(
        "dynamodb",
        &format!("table/{}", table.as_str().unwrap_or_default()),
    )
}

/// The partition key of an item or key (`{"pk": {"S": ...}}`).
fn pk(item: &Json) -> Vec<String> {
    item["pk"]["S"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect()
}

/// The attribute names an update touches, as IAM's `dynamodb:Attributes` lists them: the
/// key's attributes and every attribute its `UpdateExpression` names (placeholders
/// resolved through `ExpressionAttributeNames`).
fn updated_attributes(update: &Json) -> Vec<String> {
    let mut out: Vec<String> = update["Key"]
        .as_object()
        .map(|k| k.keys().cloned().collect())
        .unwrap_or_default();
    let names = &update["ExpressionAttributeNames"];
    let expr = update["UpdateExpression"].as_str().unwrap_or_default();
    let keywords = [
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "if_not_exists",
        "list_append",
    ];
    for token in
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '#' || c == ':'))
    {
        if token.is_empty() || token.starts_with(':') || token.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let name = match token.strip_prefix('#') {
            Some(_) => names[token].as_str().unwrap_or(token).to_owned(),
            None if keywords.iter().any(|k| k.eq_ignore_ascii_case(token)) => continue,
            None => token.to_owned(),
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn dynamodb(op: &str, body: &Json) -> Result<Vec<Request>> {
    let item_request = |action: &str, table: &Json, item: &Json| Request {
        action: format!("dynamodb:{action}"),
        resource: table_arn(table),
        context: vec![("dynamodb:LeadingKeys".into(), pk(item))],
    };
    let update_request = |table: &Json, update: &Json| {
        let mut r = item_request("UpdateItem", table, &update["Key"]);
        r.context
            .push(("dynamodb:Attributes".into(), updated_attributes(update)));
        r
    };
    Ok(match op {
        "UpdateItem" => vec![update_request(&body["TableName"], body)],
        "GetItem" | "DeleteItem" => {
            vec![item_request(op, &body["TableName"], &body["Key"])]
        }
        "PutItem" => vec![item_request(op, &body["TableName"], &body["Item"])],
        "Query" | "Scan" => {
            let mut resource = table_arn(&body["TableName"]);
            if let Some(index) = body["IndexName"].as_str() {
                resource = format!("{resource}/index/{index}");
            }
            vec![Request {
                action: format!("dynamodb:{op}"),
                resource,
                context: vec![],
            }]
        }
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, req)| Request {
                action: "dynamodb:BatchGetItem".into(),
                resource: table_arn(&Json::String(table.clone())),
                context: vec![(
                    "dynamodb:LeadingKeys".into(),
                    req["Keys"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(pk)
                        .collect(),
                )],
            })
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let (kind, part) = t
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .ok_or_else(|| anyhow!("an empty transaction item"))?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => bail!("transaction item {other}"),
                };
                if kind == "Update" {
                    return Ok(update_request(&part["TableName"], part));
                }
                let item = if kind == "Put" {
                    &part["Item"]
                } else {
                    &part["Key"]
                };
                Ok(item_request(action, &part["TableName"], item))
            })
            .collect::<Result<_>>()?,
        other => vec![Request {
            action: format!("dynamodb:{other}"),
            resource: table_arn(&body["TableName"]),
            context: vec![],
        }],
    })
}

#[cfg(test)]
mod tests {
    fn call(target: &str, arrived: f64, answered: f64) -> Recorded {
        Recorded {
            service: "dynamodb".into(),
            target: target.into(),
            body: String::new(),
            method: "POST".into(),
            path: "/".into(),
            arrived,
            answered,
        }
    }

    #[test]
    fn calls_made_together_are_one_step() {
        let a = call("DynamoDB_20120810.UpdateItem", 0.0, 1.0);
        // Sent while `a` was in flight (it waited for the emulator's lock).
        let b = call("DynamoDB_20120810.GetItem", 0.1, 2.0);
        // Sent after both were answered.
        let c = call("DynamoDB_20120810.TransactWriteItems", 2.1, 3.0);
        assert_eq!(sequential_steps(&[&a, &b, &c]), 2);
        assert_eq!(sequential_steps(&[&c, &a]), 2);
        let d = call("DynamoDB_20120810.GetItem", 1.5, 1.6);
        assert_eq!(sequential_steps(&[&a, &d, &c]), 3, "after a, before c");
        assert_eq!(sequential_steps(&[]), 0);
        assert_eq!(a.operation(), "UpdateItem");
        assert!(a.is_dynamodb());
    }

    use super::*;

    #[test]
    fn an_update_names_its_key_and_the_attributes_it_writes() {
        let update = serde_json::json!({
            "Key": {"pk": {"S": "CODES"}, "sk": {"S": "LAUNCH"}},
            "UpdateExpression": "SET #u = #u + :one, mail_state = if_not_exists(mail_state, :x) REMOVE pending, check_at",
            "ExpressionAttributeNames": {"#u": "uses"},
        });
        assert_eq!(
            updated_attributes(&update),
            ["pk", "sk", "uses", "mail_state", "pending", "check_at"]
        );
        let code_only = Condition {
            operator: "ForAllValues:StringEquals".into(),
            key: "dynamodb:Attributes".into(),
            values: vec!["pk".into(), "sk".into(), "uses".into()],
        };
        let req = |attrs: &[&str]| Request {
            action: "dynamodb:UpdateItem".into(),
            resource: TABLE.into(),
            context: vec![(
                "dynamodb:Attributes".into(),
                attrs.iter().map(|a| (*a).to_owned()).collect(),
            )],
        };
        assert!(code_only.holds(&req(&["pk", "sk", "uses"])));
        assert!(!code_only.holds(&req(&["pk", "sk", "uses", "disabled"])));
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(like("GRANT#*", "GRANT#abc"));
        assert!(like("GRANT#*", "GRANT#"));
        assert!(!like("GRANT#*", "PRODUCT#x"));
        assert!(like("arn:*:table/t", "arn:aws:table/t"));
        assert!(!like("arn:aws:table/t", "arn:aws:table/t/index/I"));
        assert!(like("a?c", "abc") && !like("a?c", "ac"));
    }

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t";
    const VISITS: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/t-visits";

    fn values(sender: &str, sandbox: bool) -> Values {
        Values {
            params: [
                ("SenderEmail", sender),
                ("ShopUrl", "https://example.com/"),
                ("AlipayAppId", "2021000000000001"),
                ("SesSandbox", if sandbox { "true" } else { "false" }),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            resources: [
                ("Table", "t"),
                ("Table.Arn", TABLE),
                ("VisitsTable", "t-visits"),
                ("VisitsTable.Arn", VISITS),
                (
                    "MailEventsDeadLetters.Arn",
                    "arn:aws:sqs:us-east-1:123456789012:dlq",
                ),
                (
                    "FreeOrdersQueue",
                    "http://localhost/123456789012/free-orders",
                ),
                (
                    "FreeOrdersQueue.Arn",
                    "arn:aws:sqs:us-east-1:123456789012:free-orders",
                ),
                ("StampQueue", "http://localhost/123456789012/stamp"),
                ("StampQueue.Arn", STAMP_QUEUE),
                ("FilesBucket", "b"),
                ("FilesBucket.Arn", "arn:aws:s3:::b"),
                ("HttpApi", "api"),
                ("MailConfigurationSet", MAIL_SET),
                ("MailEventsTopic", MAIL_TOPIC),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        }
    }

    const MAIL_SET: &str = "kiosk-mail";
    const STAMP_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:stamp";
    const MAIL_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kiosk-MailEventsTopic";

    fn item(action: &str, pk: &str) -> Request {
        Request {
            action: format!("dynamodb:{action}"),
            resource: TABLE.into(),
            context: vec![("dynamodb:LeadingKeys".into(), vec![pk.into()])],
        }
    }

    /// An item of the second table (no backups).
    fn visits_item(action: &str, pk: &str) -> Request {
        Request {
            resource: VISITS.into(),
            ..item(action, pk)
        }
    }

    /// Checkout reads products and codes, writes new orders (a free one with its grant
    /// and its mail's state) and reserves a code's use; it cannot rewrite a price or
    /// make a code.
    #[test]
    fn checkout_may_read_products_and_write_new_orders_only() {
        let p = policies(crate::TEMPLATE, &values("shop@example.com", false)).unwrap();
        let checkout = &p["CheckoutFunction"];
        for (action, pk) in [
            ("GetItem", "PRODUCT#rust-book"),
            ("PutItem", "ORDER#K1"),
            ("GetItem", "SECRET"),
            ("GetItem", "CODES"),
            ("UpdateItem", "CODES"),
            ("UpdateItem", "FREE#DAY#1#a@example.com"),
            ("UpdateItem", "FREE#SHOP#3600#1"),
            ("GetItem", "HOLD#LAUNCH#h:0123"),
            ("PutItem", "HOLD#LAUNCH#h:0123"),
        ] {
            assert!(allowed(checkout, &item(action, pk)), "{action} {pk}");
        }
        // Its per-network counters and the day's salt, only in the table without
        // backups.
        for (action, pk) in [
            ("UpdateItem", "CHECKOUT#NET#h:0123#1"),
            ("UpdateItem", "FREE#NET#h:0123#1"),
            ("UpdateItem", "CODEMISS#NET#h:0123#1"),
            ("GetItem", "SALT"),
            ("PutItem", "SALT"),
        ] {
            assert!(allowed(checkout, &visits_item(action, pk)), "{action} {pk}");
            assert!(
                !allowed(checkout, &item(action, pk)),
                "{action} {pk} in the main table"
            );
        }
        assert!(!allowed(checkout, &visits_item("UpdateItem", "ORDER#K1")));
        assert!(!allowed(checkout, &item("UpdateItem", "SECRET")));
        for (action, pk) in [
            ("PutItem", "PRODUCT#rust-book"),
            ("UpdateItem", "PRODUCT#rust-book"),
            ("PutItem", "CODES"),
            ("DeleteItem", "CODES"),
            ("UpdateItem", "GRANT#x"),
            ("GetItem", "GRANT#x"),
            // It grants nothing (reconcile grants free orders: kiosk::free).
            ("PutItem", "GRANT#x"),
            ("PutItem", "TXN#free#x"),
        ] {
            assert!(
                !allowed(checkout, &item(action, pk)),
                "checkout may {action} {pk}"
            );
        }
        // It asks for free orders on the queue, and mails nothing.
        assert!(allowed(
            checkout,
            &Request {
                action: "sqs:SendMessage".into(),
                resource: "arn:aws:sqs:us-east-1:123456789012:free-orders".into(),
                context: vec![],
            }
        ));
        assert!(
            !checkout
                .iter()
                .any(|s| s.actions.iter().any(|a| a.starts_with("ses:")))
        );
    }

    /// An update naming `attrs` of the item `pk`.
    fn update(pk: &str, attrs: &[&str]) -> Request {
        let mut r = item("UpdateItem", pk);
        r.context.push((
            "dynamodb:Attributes".into(),
            attrs.iter().map(|a| (*a).to_owned()).collect(),
        ));
        r
    }

    /// No function may change a code but for its use counter; checkout may change an
    /// order's mail state and hand a code's use over, never its status, payment or links.
    #[test]
    fn code_and_order_updates_are_limited_to_their_attributes() {
        let p = policies(crate::TEMPLATE, &values("shop@example.com", false)).unwrap();
        for f in [
            "CheckoutFunction",
            "PaymentNotifyFunction",
            "ReconcileFunction",
        ] {
            assert!(
                allowed(&p[f], &update("CODES", &["pk", "sk", "uses"])),
                "{f}"
            );
            for attr in ["disabled", "percent", "max_uses", "expires_at"] {
                assert!(
                    !allowed(&p[f], &update("CODES", &["pk", "sk", attr])),
                    "{f} may change a code's {attr}"
                );
            }
        }
        let checkout = &p["CheckoutFunction"];
        assert!(allowed(
            checkout,
            &update("ORDER#K1", &["pk", "sk", "code"])
        ));
        for attr in [
            "status",
            "paid_at",
            "provider_txn_id",
            "grant_token",
            "amount",
            "email",
            "mail_state",
        ] {
            assert!(
                !allowed(checkout, &update("ORDER#K1", &["pk", "sk", attr])),
                "checkout may change an order's {attr}"
            );
        }
    }

    /// Payment-notify and reconcile may give a code's use back, and do nothing else to
    /// codes (reconcile also reads one, to check a free order before granting it).
    #[test]
    fn only_checkout_reserves_and_expiry_gives_back_code_uses() {
        let p = policies(crate::TEMPLATE, &values("shop@example.com", false)).unwrap();
        for f in ["PaymentNotifyFunction", "ReconcileFunction"] {
            assert!(allowed(&p[f], &item("UpdateItem", "CODES")), "{f}");
            for action in ["PutItem", "DeleteItem"] {
                assert!(!allowed(&p[f], &item(action, "CODES")), "{f} {action}");
            }
        }
        assert!(!allowed(
            &p["PaymentNotifyFunction"],
            &item("GetItem", "CODES")
        ));
        assert!(allowed(&p["ReconcileFunction"], &item("GetItem", "CODES")));
        assert!(allowed(
            &p["ReconcileFunction"],
            &item("GetItem", "PRODUCT#b")
        ));
        assert!(!allowed(
            &p["ReconcileFunction"],
            &item("UpdateItem", "PRODUCT#b")
        ));
        for f in ["CollectFunction", "DownloadFunction"] {
            assert!(!allowed(&p[f], &item("UpdateItem", "CODES")), "{f}");
        }
    }

    /// Collect touches the funnel's items only: salts, the variant secret, counters,
    /// visit markers and its beacon counter; never a product, an order or a grant.
    #[test]
    fn collect_touches_only_the_funnels_items() {
        let p = policies(crate::TEMPLATE, &values("shop@example.com", false)).unwrap();
        let collect = &p["CollectFunction"];
        for (action, pk) in [
            ("GetItem", "SECRET"),
            ("PutItem", "SECRET"),
            ("UpdateItem", "VIEWS#2026-11-28#3"),
            ("UpdateItem", "SOURCES#2026-11-28"),
            ("GetItem", "SOURCES#2026-11-28"),
            ("Query", "TESTS"),
            ("BatchGetItem", "PRODUCT#rust-book"),
        ] {
            assert!(allowed(collect, &item(action, pk)), "{action} {pk}");
        }
        for (action, pk) in [
            ("GetItem", "SALT"),
            ("PutItem", "SALT"),
            ("Query", "SALT"),
            ("DeleteItem", "SALT"),
            ("UpdateItem", "VISIT#2026-11-28#abc"),
            ("UpdateItem", "BEACON#NET#h:0123#1795000000"),
            ("UpdateItem", "VISITORS#NET#h:0123#1795000000"),
        ] {
            assert!(allowed(collect, &visits_item(action, pk)), "{action} {pk}");
            assert!(
                !allowed(collect, &item(action, pk)),
                "{action} {pk} in the main table"
            );
        }
        for (action, pk) in [
            ("GetItem", "PRODUCT#rust-book"),
            ("UpdateItem", "TESTS"),
            ("PutItem", "TESTS"),
            ("PutItem", "VISIT#2026-11-28#abc"),
            ("PutItem", "ORDER#K1"),
            ("UpdateItem", "GRANT#x"),
            ("DeleteItem", "VIEWS#2026-11-28"),
            ("UpdateItem", "CHECKOUT#NET#192.0.2.1#1"),
            ("Scan", "SALT"),
        ] {
            assert!(
                !allowed(collect, &item(action, pk)),
                "collect may {action} {pk}"
            );
        }
        assert!(!collect.iter().any(|s| {
            s.actions
                .iter()
                .any(|a| a.starts_with("ses:") || a.starts_with("s3:") || a.starts_with("ssm:"))
        }));
    }

    /// The mail-events function reads the orders of an address and writes the bounce
    /// record on them: nothing else in the table, no mail, no files, no keys. Only the
    /// shop's topic may invoke it, and SES may publish to that topic only for the shop's
    /// configuration set.
    #[test]
    fn mail_events_touch_only_address_blocks_and_only_our_topic_invokes_them() {
        let v = values("shop@example.com", false);
        let p = policies(crate::TEMPLATE, &v).unwrap();
        let f = &p["MailEventsFunction"];
        assert!(allowed(f, &item("UpdateItem", "MAILBLOCK#a@example.com")));
        // It reads no order (no download link) and writes none.
        assert!(!allowed(
            f,
            &Request {
                action: "dynamodb:Query".into(),
                resource: format!("{TABLE}/index/OrdersByEmail"),
                context: vec![],
            }
        ));
        for (action, pk) in [
            ("UpdateItem", "ORDER#K20261121A1"),
            ("GetItem", "ORDER#K20261121A1"),
            ("GetItem", "MAILBLOCK#a@example.com"),
            ("UpdateItem", "GRANT#x"),
            ("UpdateItem", "PRODUCT#rust-book"),
            ("PutItem", "ORDER#K1"),
            ("DeleteItem", "ORDER#K1"),
            ("GetItem", "SECRET"),
        ] {
            assert!(
                !allowed(f, &item(action, pk)),
                "mail-events may {action} {pk}"
            );
        }
        for index in ["MailDue", "PendingByAge", "ByCreatedAt"] {
            assert!(
                !allowed(
                    f,
                    &Request {
                        action: "dynamodb:Query".into(),
                        resource: format!("{TABLE}/index/{index}"),
                        context: vec![],
                    }
                ),
                "{index}"
            );
        }
        assert!(
            !f.iter()
                .any(|s| s.actions.iter().any(|a| !a.starts_with("dynamodb:")))
        );

        let template = doc(crate::TEMPLATE).unwrap();
        let r = Resolver::new(&template, &v);
        let props = |name: &str| template["Resources"][name]["Properties"].clone();
        let resolved = |v: &Value, k: &str| r.resolve(&v[k]).unwrap();
        let permission = props("MailEventsInvokePermission");
        assert_eq!(resolved(&permission, "Principal"), "sns.amazonaws.com");
        assert_eq!(resolved(&permission, "SourceArn"), MAIL_TOPIC);
        assert_eq!(resolved(&permission, "Action"), "lambda:InvokeFunction");
        assert!(format!("{:?}", permission["FunctionName"]).contains("MailEventsFunction"));
        let subscription = props("MailEventsSubscription");
        assert_eq!(resolved(&subscription, "TopicArn"), MAIL_TOPIC);
        assert_eq!(resolved(&subscription, "Protocol"), "lambda");
        assert!(format!("{:?}", subscription["Endpoint"]).contains("MailEventsFunction"));
        let destination = props("MailEventDestination");
        assert_eq!(resolved(&destination, "ConfigurationSetName"), MAIL_SET);
        assert_eq!(
            resolved(
                &destination["EventDestination"]["SnsDestination"],
                "TopicARN"
            ),
            MAIL_TOPIC
        );
        let d = format!("{destination:?}");
        assert!(
            d.contains("MailEventsTopic") && d.contains("bounce") && d.contains("complaint"),
            "{d}"
        );
        let statement = &props("MailEventsTopicPolicy")["PolicyDocument"]["Statement"][0];
        assert_eq!(
            resolved(&statement["Principal"], "Service"),
            "ses.amazonaws.com"
        );
        assert_eq!(resolved(statement, "Action"), "sns:Publish");
        assert_eq!(
            resolved(&statement["Condition"]["StringEquals"], "AWS:SourceArn"),
            format!("arn:aws:ses:us-east-1:123456789012:configuration-set/{MAIL_SET}")
        );
        let fs = crate::functions::functions(crate::TEMPLATE, &v).unwrap();
        let me = fs.iter().find(|f| f.name == "MailEventsFunction").unwrap();
        let env = |k: &str| me.env.get(k).cloned();
        let c = kiosk::config::MailEventsConfig::from(&env).unwrap();
        assert_eq!(
            (c.topic_arn.as_str(), c.configuration_set.as_str()),
            (MAIL_TOPIC, MAIL_SET)
        );
    }

    /// The stamping function reads originals and grants with their orders, writes only
    /// stamped copies; the download function reads both, writes neither, and may ask
    /// for a copy on the stamp queue.
    #[test]
    fn stamping_reads_originals_and_writes_only_copies() {
        let p = policies(crate::TEMPLATE, &values("shop@example.com", false)).unwrap();
        let obj = |method: &str, key: &str| s3(method, &format!("/b/{key}")).unwrap();
        let original = "products/book/v1/My%20Book.pdf";
        let copy = "stamped/K1/v1/My%20Book.pdf";
        assert_eq!(
            obj("GET", original).resource,
            "arn:aws:s3:::b/products/book/v1/My Book.pdf"
        );
        let stamp = &p["StampFunction"];
        assert!(allowed(stamp, &obj("GET", original)));
        assert!(allowed(stamp, &obj("PUT", copy)));
        for denied in [
            obj("PUT", original),
            obj("GET", copy),
            obj("DELETE", original),
            obj("DELETE", copy),
        ] {
            assert!(!allowed(stamp, &denied), "{denied:?}");
        }
        for pk in ["GRANT#x", "ORDER#K1"] {
            assert!(allowed(stamp, &item("GetItem", pk)), "{pk}");
            assert!(!allowed(stamp, &item("UpdateItem", pk)), "{pk}");
        }
        assert!(!allowed(stamp, &item("GetItem", "PRODUCT#book")));
        let download = &p["DownloadFunction"];
        for r in [
            obj("GET", original),
            obj("HEAD", copy),
            s3("GET", "/b").unwrap(),
        ] {
            assert!(allowed(download, &r), "{r:?}");
        }
        for r in [obj("PUT", copy), obj("PUT", original)] {
            assert!(!allowed(download, &r), "{r:?}");
        }
        let send = Request {
            action: "sqs:SendMessage".into(),
            resource: STAMP_QUEUE.into(),
            context: vec![],
        };
        assert!(allowed(download, &send));
        assert!(!allowed(&p["CheckoutFunction"], &send));
    }

    /// Payment-notify writes orders, grants, event records and payment lookups, never a
    /// product.
    #[test]
    fn payment_notify_cannot_touch_products() {
        let p = policies(crate::TEMPLATE, &values("shop@example.com", false)).unwrap();
        let notify = &p["PaymentNotifyFunction"];
        for pk in ["ORDER#K1", "GRANT#x", "EVENT#alipay#1", "TXN#alipay#2"] {
            assert!(allowed(notify, &item("PutItem", pk)), "{pk}");
        }
        for action in ["PutItem", "UpdateItem", "GetItem"] {
            assert!(
                !allowed(notify, &item(action, "PRODUCT#rust-book")),
                "{action}"
            );
            assert!(
                !allowed(notify, &item(action, "RESEND#a@example.com")),
                "{action}"
            );
        }
    }

    /// Every function that mails sends from `SENDER_EMAIL` exactly as the template's
    /// `SenderEmail` gives it, and its policy (resource: the sender's identity; condition
    /// `ses:FromAddress`) allows that send and no other.
    #[test]
    fn mail_goes_out_only_from_the_sender_exactly_as_configured() {
        let sender = "Shop@Example.com";
        for sandbox in [false, true] {
            let v = values(sender, sandbox);
            let p = policies(crate::TEMPLATE, &v).unwrap();
            let fs = crate::functions::functions(crate::TEMPLATE, &v).unwrap();
            let mut mailing = 0;
            for f in &fs {
                let statements = &p[&f.name];
                if !statements
                    .iter()
                    .any(|s| s.actions.iter().any(|a| a == "ses:SendEmail"))
                {
                    continue;
                }
                mailing += 1;
                let env = |k: &str| f.env.get(k).cloned();
                let config = kiosk::Config::from(&env).unwrap();
                let from = config.sender_email.as_str().to_owned();
                let send = |identity: &str, from: &str| Request {
                    action: "ses:SendEmail".into(),
                    resource: format!("arn:aws:ses:us-east-1:123456789012:identity/{identity}"),
                    context: vec![("ses:FromAddress".into(), vec![from.into()])],
                };
                // Verified as an address or as a domain: either identity is allowed.
                assert!(
                    allowed(statements, &send(&from, &from)),
                    "{}: {from}",
                    f.name
                );
                assert!(
                    allowed(statements, &send("Example.com", &from)),
                    "{}",
                    f.name
                );
                assert!(!allowed(
                    statements,
                    &send("evil.example", "x@evil.example")
                ));
                assert!(!allowed(statements, &send(&from, "other@Example.com")));
                // Every mail names the stack's configuration set, which the policy allows
                // (and no other set).
                assert_eq!(
                    config.mail_configuration_set.as_deref(),
                    Some(MAIL_SET),
                    "{}",
                    f.name
                );
                let with_set = |set: &str| Request {
                    action: "ses:SendEmail".into(),
                    resource: format!("arn:aws:ses:us-east-1:123456789012:configuration-set/{set}"),
                    context: vec![("ses:FromAddress".into(), vec![from.clone()])],
                };
                assert!(allowed(statements, &with_set(MAIL_SET)), "{}", f.name);
                assert!(!allowed(statements, &with_set("other-set")), "{}", f.name);
                // In the sandbox SES also authorises the recipient's identity.
                assert_eq!(
                    allowed(statements, &send("buyer@example.net", &from)),
                    sandbox,
                    "{}",
                    f.name
                );
            }
            assert_eq!(
                mailing, 3,
                "payment-notify, download and reconcile mail (checkout no longer does)"
            );
        }
    }

    /// The author's own domain: with `DomainName` (and its certificate) the stack makes
    /// the custom domain and its mapping, and with `HostedZoneId` the alias records; every
    /// function's `PUBLIC_BASE_URL` and the `ApiUrl` output are on the domain. Without it,
    /// nothing of that exists and the execute-api address is used.
    #[test]
    fn the_shop_can_live_on_the_authors_domain() {
        let domain_parts = [
            ("ApiDomain", "AWS::ApiGatewayV2::DomainName"),
            ("ApiDomainMapping", "AWS::ApiGatewayV2::ApiMapping"),
        ];
        let plain = values("shop@example.com", false);
        let made = crate::functions::resources(crate::TEMPLATE, &plain).unwrap();
        for (name, _) in domain_parts {
            assert!(!made.contains_key(name), "{name} without a domain");
        }
        assert!(!made.contains_key("ApiDomainRecord"));
        let url = crate::functions::output(crate::TEMPLATE, &plain, "ApiUrl").unwrap();
        assert_eq!(
            url.as_deref(),
            Some("https://api.execute-api.us-east-1.amazonaws.com")
        );
        assert_eq!(
            crate::functions::output(crate::TEMPLATE, &plain, "ApiDomainTarget").unwrap(),
            None
        );

        let mut domain = values("shop@example.com", false);
        for (k, v) in [
            ("DomainName", "books.example.org"),
            (
                "CertificateArn",
                "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
            ),
        ] {
            domain.params.insert(k.to_owned(), v.to_owned());
        }
        domain.resources.insert(
            "ApiDomain.RegionalDomainName".to_owned(),
            "d-abc.execute-api.us-east-1.amazonaws.com".to_owned(),
        );
        let made = crate::functions::resources(crate::TEMPLATE, &domain).unwrap();
        for (name, kind) in domain_parts {
            assert_eq!(made.get(name).map(String::as_str), Some(kind), "{name}");
        }
        assert!(!made.contains_key("ApiDomainRecord"), "no zone, no record");
        assert_eq!(
            crate::functions::output(crate::TEMPLATE, &domain, "ApiUrl")
                .unwrap()
                .as_deref(),
            Some("https://books.example.org")
        );
        assert_eq!(
            crate::functions::output(crate::TEMPLATE, &domain, "ApiDomainTarget")
                .unwrap()
                .as_deref(),
            Some("d-abc.execute-api.us-east-1.amazonaws.com")
        );
        for f in crate::functions::functions(crate::TEMPLATE, &domain).unwrap() {
            assert_eq!(
                f.env.get("PUBLIC_BASE_URL").map(String::as_str),
                Some("https://books.example.org"),
                "{}",
                f.name
            );
        }
        assert!(
            !made.contains_key("MailIdentity"),
            "no MailDomain, no identity"
        );
        domain.params.insert(
            "HostedZoneId".to_owned(),
            "Z0123456789ABCDEFGHIJ".to_owned(),
        );
        let made = crate::functions::resources(crate::TEMPLATE, &domain).unwrap();
        assert_eq!(
            made.get("ApiDomainRecord").map(String::as_str),
            Some("AWS::Route53::RecordSetGroup")
        );
        assert!(!made.contains_key("MailIdentityRecords"));

        // The sender's domain as an SES identity with Easy DKIM and MAIL FROM: its records
        // are an output, and made in the zone when there is one.
        domain
            .params
            .insert("MailDomain".to_owned(), "example.org".to_owned());
        for n in 1..=3 {
            domain.resources.insert(
                format!("MailIdentity.DkimDNSTokenName{n}"),
                format!("key{n}._domainkey.example.org"),
            );
            domain.resources.insert(
                format!("MailIdentity.DkimDNSTokenValue{n}"),
                format!("key{n}.dkim.amazonses.com"),
            );
        }
        let made = crate::functions::resources(crate::TEMPLATE, &domain).unwrap();
        assert_eq!(
            made.get("MailIdentity").map(String::as_str),
            Some("AWS::SES::EmailIdentity")
        );
        assert!(made.contains_key("MailIdentityRecords"));
        let records = crate::functions::output(crate::TEMPLATE, &domain, "MailDnsRecords")
            .unwrap()
            .unwrap();
        for want in [
            "key2._domainkey.example.org CNAME key2.dkim.amazonses.com",
            "mail.example.org MX 10 feedback-smtp.us-east-1.amazonses.com",
            "mail.example.org TXT \"v=spf1 include:amazonses.com ~all\"",
        ] {
            assert!(records.contains(want), "{want}: {records}");
        }
        domain.params.remove("HostedZoneId");
        let made = crate::functions::resources(crate::TEMPLATE, &domain).unwrap();
        assert!(made.contains_key("MailIdentity") && !made.contains_key("MailIdentityRecords"));
    }
}
