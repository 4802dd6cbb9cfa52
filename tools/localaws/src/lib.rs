//! Local AWS for tests and the devstack: SDK config pointed at the emulator, the
//! DynamoDB table created from the definition in `template.yaml` -- the same text that
//! `sam deploy` uses, compiled in, so the emulator table and the deployed one cannot
//! drift apart -- and the one reader of the mail SES accepted there. Also the template's
//! functions with their environment resolved locally ([`functions`]) and the runner for
//! their real binaries under AWS's Runtime Interface Emulator ([`rie`]).

pub mod functions;
pub mod iam;
pub mod rie;
pub mod ses;

use anyhow::{Context, Result, anyhow, bail};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde::Deserialize;
use serde_norway::Value;

/// The deployment template, as committed.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// SDK config for the emulator started by `scripts/with-emulator.sh`. Refuses to run
/// without `AWS_ENDPOINT_URL` on loopback, so a test can never touch a real account.
pub async fn emulator_config() -> Result<SdkConfig> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        anyhow!("AWS_ENDPOINT_URL is not set: run the tests with `make test` (scripts/with-emulator.sh starts the local emulator)")
    })?;
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) {
        bail!(
            "AWS_ENDPOINT_URL={endpoint} is not a loopback emulator; refusing to run tests against it"
        );
    }
    Ok(aws_config::defaults(BehaviorVersion::latest()).load().await)
}

/// `sdk` as a shop's handles use it in a test or the soak: sending `app` as its app id
/// (the emulator's faults pick their requests by it) and with `timeouts` (the soak's
/// compressed ones); `None` keeps `sdk`'s own.
pub fn handles_config(
    sdk: &SdkConfig,
    app: Option<&str>,
    timeouts: Option<aws_config::timeout::TimeoutConfig>,
) -> Result<SdkConfig> {
    let mut handles = sdk.to_builder();
    if let Some(app) = app {
        handles.set_app_name(Some(aws_config::AppName::new(app.to_owned())?));
    }
    if timeouts.is_some() {
        handles.set_timeout_config(timeouts);
    }
    Ok(handles.build())
}

/// A mail SES accepted in the emulator, as `scripts/moto_locked.py` reports it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SentMail {
    pub id: String,
    pub source: String,
    pub to: Vec<String>,
    pub subject: String,
    /// The HTML part when the mail has one, else the text part (as moto keeps it).
    pub body: String,
    /// The SES configuration set the mail was sent with.
    #[serde(default)]
    pub configuration_set: Option<String>,
}

/// Make the SES configuration set `name` in the emulator unless it exists (every test
/// and the devstack share one emulator). Sends naming a set that does not exist are
/// refused, as SES refuses them (`scripts/moto_locked.py`).
pub async fn ensure_configuration_set(sdk: &SdkConfig, name: &str) -> Result<()> {
    use aws_sdk_ses::error::ProvideErrorMetadata;
    let ses = aws_sdk_ses::Client::new(sdk);
    let set = aws_sdk_ses::types::ConfigurationSet::builder()
        .name(name)
        .build()
        .context("a configuration set")?;
    match ses
        .create_configuration_set()
        .configuration_set(set)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ConfigurationSetAlreadyExists") => Ok(()),
        Err(e) => Err(anyhow!(e).context(format!("CreateConfigurationSet {name}"))),
    }
}

/// The locked emulator's sent-mail endpoint (see `scripts/moto_locked.py`).
pub const MAIL_PATH: &str = "/_kiosk/mail";

/// Mails SES accepted in the emulator at `endpoint`, oldest first: all of them, or only
/// those addressed to `to`. One small request whose cost is the number of mails sent,
/// not the size of everything the emulator holds.
pub async fn sent_mail(
    http: &reqwest::Client,
    endpoint: &str,
    to: Option<&str>,
) -> Result<Vec<SentMail>> {
    match to {
        Some(to) => mail_where(http, endpoint, &[("to", to)]).await,
        None => mail_where(http, endpoint, &[]).await,
    }
}

/// The mails SES accepted for any address containing `text` (a test's own tag), oldest
/// first: one request, however many addresses.
pub async fn sent_mail_containing(
    http: &reqwest::Client,
    endpoint: &str,
    text: &str,
) -> Result<Vec<SentMail>> {
    mail_where(http, endpoint, &[("to_contains", text)]).await
}

async fn mail_where(
    http: &reqwest::Client,
    endpoint: &str,
    query: &[(&str, &str)],
) -> Result<Vec<SentMail>> {
    let base = format!("{endpoint}{MAIL_PATH}");
    let url = reqwest::Url::parse_with_params(&base, query)
        .with_context(|| format!("{base} is not a URL"))?;
    let resp = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {endpoint}{MAIL_PATH}"))?;
    if !resp.status().is_success() {
        bail!(
            "GET {endpoint}{MAIL_PATH}: {} (is the emulator scripts/moto_locked.py?)",
            resp.status()
        );
    }
    let text = resp.text().await.context("reading the sent-mail list")?;
    serde_json::from_str(&text).context("the sent-mail list is not the expected JSON")
}

/// The table resource's properties from the template.
#[derive(Debug, Clone)]
pub struct TableDef {
    pub attributes: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub indexes: Vec<GlobalSecondaryIndex>,
    pub billing_mode: BillingMode,
    pub ttl_attribute: Option<String>,
}

fn str_at<'a>(v: &'a Value, key: &str, ctx: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{ctx}: {key} is missing or not a plain string"))
}

fn seq_at<'a>(v: &'a Value, key: &str, ctx: &str) -> Result<&'a Vec<Value>> {
    v.get(key)
        .and_then(Value::as_sequence)
        .ok_or_else(|| anyhow!("{ctx}: {key} is missing or not a list"))
}

fn key_schema(v: &Value, ctx: &str) -> Result<Vec<KeySchemaElement>> {
    seq_at(v, "KeySchema", ctx)?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(str_at(k, "AttributeName", ctx)?)
                .key_type(KeyType::from(str_at(k, "KeyType", ctx)?))
                .build()?)
        })
        .collect()
}

/// The shop's tables in template.yaml, by logical id: the main one and the second one
/// without backups (`kiosk::store::visits_table_of`).
pub const TABLES: [&str; 2] = ["Table", "VisitsTable"];

/// The second table of main table `name`, as the template names it and
/// `kiosk::store::visits_table_of` finds it (a test checks the two agree).
pub fn visits_table_of(name: &str) -> String {
    format!("{name}-visits")
}

/// Read the main table (`Table`) of a SAM/CloudFormation template.
pub fn table_definition(template: &str) -> Result<TableDef> {
    table_definition_of(template, "Table")
}

/// Read the `AWS::DynamoDB::Table` resource `logical_id` of a template.
pub fn table_definition_of(template: &str, logical_id: &str) -> Result<TableDef> {
    let doc: Value = serde_norway::from_str(template).context("template.yaml does not parse")?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("template has no Resources"))?;
    let table = resources
        .get(logical_id)
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"))
        .ok_or_else(|| anyhow!("template has no AWS::DynamoDB::Table {logical_id}"))?;
    let props = table
        .get("Properties")
        .ok_or_else(|| anyhow!("table has no Properties"))?;
    let ctx = "table";
    let attributes = seq_at(props, "AttributeDefinitions", ctx)?
        .iter()
        .map(|a| {
            Ok(AttributeDefinition::builder()
                .attribute_name(str_at(a, "AttributeName", ctx)?)
                .attribute_type(ScalarAttributeType::from(str_at(a, "AttributeType", ctx)?))
                .build()?)
        })
        .collect::<Result<Vec<_>>>()?;
    let indexes =
        match props.get("GlobalSecondaryIndexes") {
            None => vec![],
            Some(_) => seq_at(props, "GlobalSecondaryIndexes", ctx)?
                .iter()
                .map(|g| {
                    let name = str_at(g, "IndexName", "index")?;
                    let projection = g
                        .get("Projection")
                        .ok_or_else(|| anyhow!("index {name}: no Projection"))?;
                    let mut p = Projection::builder().projection_type(ProjectionType::from(
                        str_at(projection, "ProjectionType", name)?,
                    ));
                    if let Some(attrs) = projection
                        .get("NonKeyAttributes")
                        .and_then(Value::as_sequence)
                    {
                        for a in attrs {
                            p = p
                                .non_key_attributes(a.as_str().ok_or_else(|| {
                                    anyhow!("index {name}: bad NonKeyAttributes")
                                })?);
                        }
                    }
                    Ok(GlobalSecondaryIndex::builder()
                        .index_name(name)
                        .set_key_schema(Some(key_schema(g, name)?))
                        .projection(p.build())
                        .build()?)
                })
                .collect::<Result<Vec<_>>>()?,
        };
    let billing_mode = BillingMode::from(str_at(props, "BillingMode", ctx)?);
    if billing_mode != BillingMode::PayPerRequest {
        bail!("table BillingMode must be PAY_PER_REQUEST (the emulator setup assumes it)");
    }
    let ttl_attribute = match props.get("TimeToLiveSpecification") {
        Some(t) if t.get("Enabled").and_then(Value::as_bool) == Some(true) => {
            Some(str_at(t, "AttributeName", "TimeToLiveSpecification")?.to_owned())
        }
        _ => None,
    };
    Ok(TableDef {
        attributes,
        key_schema: key_schema(props, ctx)?,
        indexes,
        billing_mode,
        ttl_attribute,
    })
}

/// The log message each `AWS::Logs::MetricFilter` of the template counts (its pattern
/// must be `{ $.fields.message = "..." }`), by resource name.
pub fn metric_filter_messages(template: &str) -> Result<Vec<(String, String)>> {
    let doc: Value = serde_norway::from_str(template).context("template.yaml does not parse")?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("template has no Resources"))?;
    let mut out = Vec::new();
    for (name, r) in resources {
        if r.get("Type").and_then(Value::as_str) != Some("AWS::Logs::MetricFilter") {
            continue;
        }
        let name = name.as_str().unwrap_or_default().to_owned();
        let pattern = r
            .get("Properties")
            .and_then(|p| p.get("FilterPattern"))
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{name}: no FilterPattern"))?;
        let message = pattern
            .trim()
            .strip_prefix("{ $.fields.message = \"")
            .and_then(|p| p.strip_suffix("\" }"))
            .ok_or_else(|| {
                anyhow!("{name}: pattern {pattern:?} is not {{ $.fields.message = \"...\" }}")
            })?;
        out.push((name, message.to_owned()));
    }
    Ok(out)
}

/// Create `name` in the emulator exactly as the template defines the table.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<TableDef> {
    let visits = visits_table_of(name);
    create_one(
        client,
        &visits,
        &table_definition_of(TEMPLATE, "VisitsTable")?,
    )
    .await?;
    let def = table_definition(TEMPLATE)?;
    create_one(client, name, &def).await?;
    Ok(def)
}

/// Create table `name` as `def` defines it (with its TTL).
async fn create_one(client: &aws_sdk_dynamodb::Client, name: &str, def: &TableDef) -> Result<()> {
    client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(def.attributes.clone()))
        .set_key_schema(Some(def.key_schema.clone()))
        .set_global_secondary_indexes((!def.indexes.is_empty()).then(|| def.indexes.clone()))
        .billing_mode(def.billing_mode.clone())
        .send()
        .await
        .with_context(|| format!("CreateTable {name}"))?;
    if let Some(attr) = &def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("UpdateTimeToLive {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_committed_template() {
        let def = table_definition(TEMPLATE).unwrap();
        let names: Vec<&str> = def.indexes.iter().map(|i| i.index_name()).collect();
        assert_eq!(
            names,
            [
                "BuyersByProduct",
                "PendingByAge",
                "MailDue",
                "OrdersByEmail",
                "ByCreatedAt"
            ]
        );
        assert_eq!(def.ttl_attribute.as_deref(), Some("ttl"));
        assert_eq!(def.key_schema.len(), 2);
    }

    /// Every route has a throttle of its own on the stage, so a flood of page views
    /// cannot use up the allowance of notifications or checkouts, and the page-view
    /// route takes a launch (1,000 a second).
    #[test]
    fn every_route_is_throttled_for_its_own_traffic() {
        let doc: serde_norway::Value = serde_norway::from_str(TEMPLATE).unwrap();
        let resources = doc["Resources"].as_mapping().unwrap();
        let routes: Vec<String> = resources
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
            .map(|r| r["Properties"]["RouteKey"].as_str().unwrap().to_owned())
            .collect();
        assert!(routes.len() >= 9, "{routes:?}");
        let settings = doc["Resources"]["HttpApiStage"]["Properties"]["RouteSettings"]
            .as_mapping()
            .expect("per-route settings on the stage");
        let rate = |route: &str| {
            settings
                .get(route)
                .and_then(|s| s["ThrottlingRateLimit"].as_u64())
                .unwrap_or_else(|| panic!("{route} has no throttle of its own"))
        };
        for route in &routes {
            let burst = settings[route.as_str()]["ThrottlingBurstLimit"]
                .as_u64()
                .unwrap();
            assert!(burst >= rate(route), "{route}: burst below rate");
        }
        assert!(rate("POST /t") >= 1000, "a launch's page views");
        assert!(rate("POST /notify/{channel}") >= 50);
        assert!(rate("POST /checkout") >= 50);
        // Together within API Gateway's regional 10,000 a second.
        assert!(routes.iter().map(|r| rate(r)).sum::<u64>() <= 10_000);
    }

    #[test]
    fn every_alarm_filter_counts_a_message_the_code_logs() {
        let filters = metric_filter_messages(TEMPLATE).unwrap();
        assert_eq!(filters.len(), 9, "{filters:?}");
        for (name, message) in &filters {
            assert!(
                kiosk::alarm::ALL.contains(&message.as_str()),
                "{name} counts {message:?}, which nothing logs (see shared/src/alarm.rs)"
            );
        }
        for m in kiosk::alarm::ALL {
            assert!(filters.iter().any(|(_, f)| f == m), "no alarm counts {m:?}");
        }
        assert!(metric_filter_messages(
            "Resources:\n  F: {Type: AWS::Logs::MetricFilter, Properties: {FilterPattern: ERROR}}"
        )
        .is_err());
    }

    #[test]
    fn refuses_templates_without_the_table() {
        assert!(table_definition("Resources: {}").is_err());
        assert!(table_definition("Resources:\n  A: {Type: AWS::DynamoDB::Table}").is_err());
        assert!(table_definition("Resources:\n  Table: {Type: AWS::S3::Bucket}").is_err());
    }

    /// The second table holds what may be known of a visitor or a network for a day:
    /// it keeps no point-in-time recovery (so a deleted salt cannot be restored), its
    /// items expire by TTL, it has no index, and it is named after the main table, as
    /// the functions find it; the main table keeps its recovery.
    #[test]
    fn the_visits_table_keeps_no_backups() {
        let doc: Value = serde_norway::from_str(TEMPLATE).unwrap();
        let visits = &doc["Resources"]["VisitsTable"];
        let props = &visits["Properties"];
        assert_eq!(
            props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(false)
        );
        assert_eq!(visits["DeletionPolicy"].as_str(), Some("Delete"));
        assert!(props.get("GlobalSecondaryIndexes").is_none());
        let def = table_definition_of(TEMPLATE, "VisitsTable").unwrap();
        assert_eq!(def.ttl_attribute.as_deref(), Some("ttl"));
        let name = serde_norway::to_string(&props["TableName"]).unwrap();
        assert!(name.contains("${Table}-visits"), "{name}");
        assert_eq!(kiosk::store::visits_table_of("T"), visits_table_of("T"));
        assert_eq!(
            doc["Resources"]["Table"]["Properties"]["PointInTimeRecoverySpecification"]
                ["PointInTimeRecoveryEnabled"]
                .as_bool(),
            Some(true)
        );
    }

    /// `kiosk::secrets::read_all` makes one `GetParameters` call; IAM names that action
    /// separately from `GetParameter`, so a policy granting only the latter would fail
    /// every cold start in AWS (the emulator checks no IAM).
    #[test]
    fn every_ssm_grant_is_the_getparameters_the_code_calls() {
        fn actions(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Mapping(m) => {
                    for (k, v) in m {
                        if k.as_str() == Some("Action") {
                            match v {
                                Value::String(a) => out.push(a.clone()),
                                Value::Sequence(s) => out
                                    .extend(s.iter().filter_map(|a| a.as_str().map(str::to_owned))),
                                _ => {}
                            }
                        } else {
                            actions(v, out);
                        }
                    }
                }
                Value::Sequence(s) => s.iter().for_each(|v| actions(v, out)),
                Value::Tagged(t) => actions(&t.value, out),
                _ => {}
            }
        }
        let doc: Value = serde_norway::from_str(TEMPLATE).unwrap();
        let mut all = Vec::new();
        actions(&doc, &mut all);
        let ssm: Vec<&String> = all.iter().filter(|a| a.starts_with("ssm:")).collect();
        let (reads, others): (Vec<&String>, Vec<&String>) =
            ssm.iter().partition(|a| **a == "ssm:GetParameters");
        assert_eq!(
            reads.len(),
            5,
            "checkout, payment-notify, reconcile, license, the kiosk command line: {ssm:?}"
        );
        // Only the command line's `kiosk license keygen` (PutParameter) and `public-key`
        // (GetParameter, the call it makes) do anything else.
        assert_eq!(others, ["ssm:PutParameter", "ssm:GetParameter"], "{ssm:?}");
    }

    /// The Lambda binaries are built with the workspace's release profile (cargo-lambda
    /// passes `--release`); it must unwind, or lambda_runtime cannot turn a panic into one
    /// failed invocation and the process dies with it.
    #[test]
    fn release_profile_unwinds() {
        let manifest = include_str!("../../../Cargo.toml");
        let release: Vec<&str> = manifest
            .lines()
            .skip_while(|l| l.trim() != "[profile.release]")
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect();
        assert!(
            release.contains(&"lto = true"),
            "not the release profile: {release:?}"
        );
        let panic: Vec<&&str> = release.iter().filter(|l| l.starts_with("panic")).collect();
        assert!(
            panic
                .iter()
                .all(|l| l.replace(' ', "") == "panic=\"unwind\""),
            "the release profile must unwind: {panic:?}"
        );
    }
}
