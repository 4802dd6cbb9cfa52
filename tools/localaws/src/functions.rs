//! The template's Lambda functions as the local runner needs them: the binary each one
//! is built from, its timeout and memory, and its environment with every `!Ref`,
//! `!Sub`, `!GetAtt`, `!If` and `!Join` resolved against local values (the emulator's table and
//! bucket, a stand-in gateway's URL, ...) instead of a deployed stack's; and which
//! resources and outputs a deploy with those values makes (the template's `Conditions`
//! evaluated: `!Equals`, `!Not`, `!And`, `!Or`, `!Condition`).
//!
//! Resolution is strict: a reference with no local value is an error naming it, so a
//! variable added to the template cannot silently reach a function empty.
//!
//! Over 400 lines: the template resolver (`!Ref`, `!Sub`, `!GetAtt`, `!If`, `!Select`,
//! `!Split`, conditions) and its tests, one concern.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use serde_norway::{Mapping, Value};

/// What `!Ref`/`!Sub`/`!GetAtt` resolve to locally.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// Parameter values; a parameter not given here takes the template's `Default`.
    pub params: BTreeMap<String, String>,
    /// Resource logical ids (`Table`) and attributes (`Table.Arn`) to their local values.
    pub resources: BTreeMap<String, String>,
}

/// The pseudo parameters, as for a stack in us-east-1 of a made-up account.
fn pseudo(name: &str) -> Option<&'static str> {
    Some(match name {
        "AWS::Region" => "us-east-1",
        "AWS::URLSuffix" => "amazonaws.com",
        "AWS::AccountId" => "123456789012",
        "AWS::Partition" => "aws",
        "AWS::StackName" => "kiosk-local",
        _ => return None,
    })
}

/// One `AWS::Serverless::Function`, with `Globals.Function` applied.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    /// The logical id (`CheckoutFunction`).
    pub name: String,
    /// `Metadata.BuildProperties.Binary`: the cargo binary `sam build` packages.
    pub binary: String,
    pub timeout_s: u64,
    pub memory_mb: u64,
    /// `LoggingConfig.LogFormat` (`JSON`), which Lambda passes as `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// The function's environment variables, resolved.
    pub env: BTreeMap<String, String>,
    /// How often Lambda retries an asynchronous invocation that failed
    /// (`EventInvokeConfig.MaximumRetryAttempts`; Lambda's default is 2).
    pub async_retries: u64,
    /// Where an asynchronous invocation that failed every attempt goes
    /// (`DeadLetterQueue.TargetArn`, resolved), if anywhere.
    pub dead_letter: Option<String>,
}

pub(crate) fn doc(template: &str) -> Result<Value> {
    serde_norway::from_str(template).context("template.yaml does not parse")
}

/// The names of the template's functions, without resolving anything (for messages).
pub fn function_names(template: &str) -> Result<Vec<String>> {
    let doc = doc(template)?;
    Ok(serverless_functions(&doc)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// The cargo binary `sam build` packages for function `name`, or an error listing the
/// template's functions.
pub fn binary_of(template: &str, name: &str) -> Result<String> {
    let doc = doc(template)?;
    let functions = serverless_functions(&doc)?;
    let Some((_, res)) = functions.iter().find(|(n, _)| n == name) else {
        return Err(no_such_function(
            name,
            functions.iter().map(|(n, _)| n.as_str()),
        ));
    };
    binary(name, res)
}

/// The function `name` among the resolved `functions`, or an error listing them.
pub fn function_named(functions: &[FunctionDef], name: &str) -> Result<FunctionDef> {
    functions
        .iter()
        .find(|f| f.name == name)
        .cloned()
        .ok_or_else(|| no_such_function(name, functions.iter().map(|f| f.name.as_str())))
}

fn no_such_function<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> anyhow::Error {
    anyhow!(
        "template.yaml has no function {name:?}; it has: {}",
        names.collect::<Vec<_>>().join(", ")
    )
}

fn binary(name: &str, res: &Value) -> Result<String> {
    Ok(res
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{name}: no Metadata.BuildProperties.Binary"))?
        .to_owned())
}

fn serverless_functions(doc: &Value) -> Result<Vec<(String, &Value)>> {
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("template has no Resources"))?;
    Ok(resources
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function"))
        .filter_map(|(k, r)| Some((k.as_str()?.to_owned(), r)))
        .collect())
}

/// Every function of the template, resolved with `values`.
pub fn functions(template: &str, values: &Values) -> Result<Vec<FunctionDef>> {
    let doc = doc(template)?;
    let r = Resolver::new(&doc, values);
    let empty = Value::Mapping(Mapping::new());
    let globals = doc
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .unwrap_or(&empty);
    serverless_functions(&doc)?
        .into_iter()
        .map(|(name, res)| {
            let props = res.get("Properties").unwrap_or(&empty);
            let prop = |key: &str| props.get(key).or_else(|| globals.get(key));
            let binary = binary(&name, res)?;
            let number = |key: &str, default: u64| -> Result<u64> {
                match prop(key) {
                    None => Ok(default),
                    Some(v) => r
                        .resolve(v)?
                        .parse()
                        .with_context(|| format!("{name}: {key} is not a number")),
                }
            };
            let mut env = BTreeMap::new();
            // Globals first, the function's own variables override them (as SAM merges).
            for source in [globals, props] {
                let vars = source
                    .get("Environment")
                    .and_then(|e| e.get("Variables"))
                    .and_then(Value::as_mapping);
                for (k, v) in vars.into_iter().flatten() {
                    let k = k
                        .as_str()
                        .ok_or_else(|| anyhow!("{name}: a variable name is not a string"))?;
                    let v = r
                        .resolve(v)
                        .with_context(|| format!("{name}: environment variable {k}"))?;
                    env.insert(k.to_owned(), v);
                }
            }
            let dead_letter = match prop("DeadLetterQueue").and_then(|d| d.get("TargetArn")) {
                Some(v) => Some(
                    r.resolve(v)
                        .with_context(|| format!("{name}: DeadLetterQueue.TargetArn"))?,
                ),
                None => None,
            };
            let async_retries =
                match prop("EventInvokeConfig").and_then(|c| c.get("MaximumRetryAttempts")) {
                    Some(v) => r
                        .resolve(v)?
                        .parse()
                        .with_context(|| format!("{name}: MaximumRetryAttempts is not a number"))?,
                    None => 2,
                };
            Ok(FunctionDef {
                async_retries,
                dead_letter,
                timeout_s: number("Timeout", 3)?,
                memory_mb: number("MemorySize", 128)?,
                log_format: prop("LoggingConfig")
                    .and_then(|l| l.get("LogFormat"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                binary,
                env,
                name,
            })
        })
        .collect()
}

/// The template's resources as a deploy with `values` creates them: the logical ids whose
/// `Condition` holds (or that have none), each with its type.
pub fn resources(template: &str, values: &Values) -> Result<BTreeMap<String, String>> {
    let doc = doc(template)?;
    let r = Resolver::new(&doc, values);
    let mut out = BTreeMap::new();
    for (name, res) in doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("template has no Resources"))?
    {
        let name = name.as_str().unwrap_or_default().to_owned();
        let made = match res.get("Condition").and_then(Value::as_str) {
            Some(c) => r.holds(c)?,
            None => true,
        };
        if made {
            let kind = res.get("Type").and_then(Value::as_str).unwrap_or_default();
            out.insert(name, kind.to_owned());
        }
    }
    Ok(out)
}

/// One output's value as a deploy with `values` gives it (`None`: the output's
/// condition does not hold).
pub fn output(template: &str, values: &Values, name: &str) -> Result<Option<String>> {
    let doc = doc(template)?;
    let r = Resolver::new(&doc, values);
    let o = doc
        .get("Outputs")
        .and_then(|o| o.get(name))
        .ok_or_else(|| anyhow!("no output {name}"))?;
    if let Some(c) = o.get("Condition").and_then(Value::as_str)
        && !r.holds(c)?
    {
        return Ok(None);
    }
    let v = o
        .get("Value")
        .ok_or_else(|| anyhow!("output {name} has no Value"))?;
    r.resolve(v).map(Some)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) struct Resolver<'a> {
    values: &'a Values,
    defaults: BTreeMap<String, Option<String>>,
    /// The template's `Conditions`, by name, evaluated on demand.
    conditions: BTreeMap<String, Value>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(doc: &Value, values: &'a Values) -> Self {
        let defaults = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let default = v.get("Default").and_then(scalar);
                        Some((k.as_str()?.to_owned(), default))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let conditions = doc
            .get("Conditions")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Resolver {
            values,
            defaults,
            conditions,
        }
    }

    /// Whether the template's condition `name` holds with these values.
    pub(crate) fn holds(&self, name: &str) -> Result<bool> {
        let c = self
            .conditions
            .get(name)
            .ok_or_else(|| anyhow!("no condition {name}"))?;
        self.condition(c)
    }

    /// A condition function: `!Equals`, `!Not`, `!And`, `!Or` and `!Condition`.
    fn condition(&self, c: &Value) -> Result<bool> {
        let Value::Tagged(t) = c else {
            bail!("condition {c:?} is not supported");
        };
        let args = t.value.as_sequence().map(Vec::as_slice);
        match (t.tag.to_string().trim_start_matches('!'), args) {
            ("Not", Some([inner])) => Ok(!self.condition(inner)?),
            ("Equals", Some([a, b])) => Ok(self.resolve(a)? == self.resolve(b)?),
            ("And", Some(all)) => {
                for c in all {
                    if !self.condition(c)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ("Or", Some(any)) => {
                for c in any {
                    if self.condition(c)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            ("Condition", None) => self.holds(t.value.as_str().unwrap_or_default()),
            (f, _) => {
                bail!("condition !{f} is not supported (only Equals, Not, And, Or, Condition)")
            }
        }
    }

    pub(crate) fn resolve(&self, v: &Value) -> Result<String> {
        if let Some(s) = scalar(v) {
            return Ok(s);
        }
        let (function, arg) = match v {
            Value::Tagged(t) => (
                t.tag.to_string().trim_start_matches('!').to_owned(),
                &t.value,
            ),
            Value::Mapping(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().ok_or_else(|| anyhow!("empty mapping"))?;
                let k = k.as_str().unwrap_or_default();
                (k.strip_prefix("Fn::").unwrap_or(k).to_owned(), arg)
            }
            other => bail!("cannot resolve {other:?}"),
        };
        match (function.as_str(), arg) {
            ("Ref", Value::String(name)) => self.reference(name),
            ("Sub", Value::String(text)) => self.sub(text, &BTreeMap::new()),
            ("Sub", Value::Sequence(parts)) if parts.len() == 2 => {
                let text = parts[0]
                    .as_str()
                    .ok_or_else(|| anyhow!("!Sub [text, vars]: text is not a string"))?;
                let mut vars = BTreeMap::new();
                for (k, v) in parts[1].as_mapping().into_iter().flatten() {
                    let k = k.as_str().ok_or_else(|| anyhow!("!Sub: a variable name"))?;
                    vars.insert(k.to_owned(), self.resolve(v)?);
                }
                self.sub(text, &vars)
            }
            ("If", Value::Sequence(parts)) if parts.len() == 3 => {
                let name = parts[0]
                    .as_str()
                    .ok_or_else(|| anyhow!("!If: the condition is not a name"))?;
                self.resolve(if self.holds(name)? {
                    &parts[1]
                } else {
                    &parts[2]
                })
            }
            ("Join", Value::Sequence(parts)) if parts.len() == 2 => {
                let delimiter = scalar(&parts[0])
                    .ok_or_else(|| anyhow!("!Join: the delimiter is not a string"))?;
                let items = parts[1]
                    .as_sequence()
                    .ok_or_else(|| anyhow!("!Join: the values are not a list"))?;
                Ok(items
                    .iter()
                    .map(|v| self.resolve(v))
                    .collect::<Result<Vec<_>>>()?
                    .join(&delimiter))
            }
            ("GetAtt", Value::String(path)) => self.attribute(path),
            ("GetAtt", Value::Sequence(parts)) => {
                let parts: Vec<String> = parts.iter().filter_map(scalar).collect();
                self.attribute(&parts.join("."))
            }
            ("Select", Value::Sequence(parts)) if parts.len() == 2 => {
                let index: usize = scalar(&parts[0])
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| anyhow!("!Select: the index is not a number"))?;
                let list = self.list(&parts[1])?;
                list.get(index)
                    .cloned()
                    .ok_or_else(|| anyhow!("!Select {index}: the list has {} items", list.len()))
            }
            (f, _) => {
                bail!(
                    "{f} is not supported locally (only Ref, Sub, GetAtt, If, Join, Select of Split)"
                )
            }
        }
    }

    /// A list-valued function: only `!Split [delimiter, value]`.
    fn list(&self, v: &Value) -> Result<Vec<String>> {
        let arg = match v {
            Value::Tagged(t) if t.tag == "Split" => &t.value,
            Value::Mapping(m) if m.len() == 1 && m.contains_key("Fn::Split") => &m["Fn::Split"],
            other => bail!("cannot make a list of {other:?} (only !Split)"),
        };
        match arg.as_sequence().map(Vec::as_slice) {
            Some([delimiter, value]) => {
                let delimiter = scalar(delimiter)
                    .ok_or_else(|| anyhow!("!Split: the delimiter is not a string"))?;
                Ok(self
                    .resolve(value)?
                    .split(&delimiter)
                    .map(str::to_owned)
                    .collect())
            }
            _ => bail!("!Split takes [delimiter, value]"),
        }
    }

    pub(crate) fn reference(&self, name: &str) -> Result<String> {
        if let Some(v) = pseudo(name) {
            return Ok(v.to_owned());
        }
        if let Some(v) = self.values.params.get(name) {
            return Ok(v.clone());
        }
        if let Some(default) = self.defaults.get(name) {
            return default.clone().ok_or_else(|| {
                anyhow!("parameter {name} has no Default and no local value was given")
            });
        }
        self.values
            .resources
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("!Ref {name}: no local value for this resource"))
    }

    fn attribute(&self, path: &str) -> Result<String> {
        self.values
            .resources
            .get(path)
            .cloned()
            .ok_or_else(|| anyhow!("!GetAtt {path}: no local value"))
    }

    /// `${Name}`, `${Resource.Attr}` and `${!Literal}` (which stays `${Literal}`).
    fn sub(&self, text: &str, vars: &BTreeMap<String, String>) -> Result<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| anyhow!("!Sub {text:?}: unclosed ${{"))?;
            let name = &after[..end];
            if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if name.contains('.') && pseudo(name).is_none() {
                out.push_str(&self.attribute(name)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
Parameters:
  Sender: { Type: String }
  Limit: { Type: Number, Default: 5 }
Globals:
  Function:
    Timeout: 15
    MemorySize: 128
    LoggingConfig: { LogFormat: JSON }
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        SENDER: !Ref Sender
        LIMIT: !Ref Limit
        URL: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${!kept}"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: fn-bin } }
    Properties:
      Timeout: 60
      Environment:
        Variables:
          LIMIT: "7"
          ARN: !GetAtt Table.Arn
  Table: { Type: AWS::DynamoDB::Table }
"#;

    fn values() -> Values {
        Values {
            params: [("Sender".into(), "shop@example.com".into())].into(),
            resources: [
                ("Table".into(), "local-table".into()),
                ("Table.Arn".into(), "arn:local-table".into()),
                ("Api".into(), "api-id".into()),
            ]
            .into(),
        }
    }

    #[test]
    fn globals_apply_and_the_function_overrides_them() -> Result<()> {
        let [f] = functions(T, &values())?
            .try_into()
            .map_err(|_| anyhow!("one"))?;
        assert_eq!((f.name.as_str(), f.binary.as_str()), ("Fn", "fn-bin"));
        assert_eq!((f.timeout_s, f.memory_mb), (60, 128));
        assert_eq!(f.log_format.as_deref(), Some("JSON"));
        let env: Vec<(&str, &str)> = f
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("ARN", "arn:local-table"),
                ("LIMIT", "7"),
                ("SENDER", "shop@example.com"),
                ("TABLE_NAME", "local-table"),
                (
                    "URL",
                    "https://api-id.execute-api.us-east-1.amazonaws.com/${kept}"
                ),
            ]
        );
        Ok(())
    }

    #[test]
    fn a_reference_without_a_local_value_is_an_error_naming_it() {
        let mut v = values();
        v.params.clear();
        let e = format!("{:#}", functions(T, &v).unwrap_err());
        assert!(e.contains("SENDER") && e.contains("Sender"), "{e}");
        let mut v = values();
        v.resources.remove("Api");
        let e = format!("{:#}", functions(T, &v).unwrap_err());
        assert!(e.contains("URL") && e.contains("Api"), "{e}");
    }

    #[test]
    fn the_real_template_resolves_for_every_function() -> Result<()> {
        let v = Values {
            params: [
                ("SenderEmail".into(), "shop@example.com".into()),
                ("ShopUrl".into(), "https://example.com/".into()),
                ("AlipayAppId".into(), "2021000000000001".into()),
            ]
            .into(),
            resources: [
                ("Table".into(), "t".into()),
                ("VisitsTable".into(), "t-visits".into()),
                (
                    "MailEventsDeadLetters.Arn".into(),
                    "arn:aws:sqs:us-east-1:123456789012:dlq".into(),
                ),
                (
                    "FreeOrdersQueue".into(),
                    "http://localhost/123456789012/free-orders".into(),
                ),
                (
                    "StampQueue".into(),
                    "http://localhost/123456789012/stamp".into(),
                ),
                ("FilesBucket".into(), "b".into()),
                ("HttpApi".into(), "api-id".into()),
                ("MailConfigurationSet".into(), "kiosk-mail".into()),
                (
                    "MailEventsTopic".into(),
                    "arn:aws:sns:us-east-1:123456789012:kiosk-MailEventsTopic".into(),
                ),
            ]
            .into(),
        };
        let fs = functions(crate::TEMPLATE, &v)?;
        assert_eq!(binary_of(crate::TEMPLATE, "DownloadFunction")?, "download");
        let e = binary_of(crate::TEMPLATE, "Download")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("CheckoutFunction, CollectFunction, PaymentNotifyFunction"),
            "{e}"
        );
        assert_eq!(
            fs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            function_names(crate::TEMPLATE)?
        );
        assert!(fs.len() >= 4, "{fs:?}");
        for f in &fs {
            assert_eq!(f.env["TABLE_NAME"], "t", "{}", f.name);
            // Stripe's parameters default to empty: Stripe is off unless configured.
            assert_eq!(f.env["STRIPE_SECRET_KEY_PARAM"], "", "{}", f.name);
        }
        Ok(())
    }
}
