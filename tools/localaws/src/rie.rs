//! A function's real `bootstrap`, run as Lambda runs it, without Docker: under AWS's
//! Lambda Runtime Interface Emulator (RIE), the program `sam local invoke` runs inside
//! its container. The aws-sam-cli wheel in `.venv-sam` carries it
//! (`samcli/local/rapid/aws-lambda-rie-{x86_64,arm64}`).
//!
//! The process gets a clean environment: what Lambda itself sets for a function
//! (region, credentials, `AWS_LAMBDA_*`), the function's variables from template.yaml,
//! and `AWS_ENDPOINT_URL`, the one local addition, pointing the SDK at the emulator.
//! RIE starts the bootstrap at the first invocation and reports the init duration; the
//! bootstrap's peak RSS is read from `/proc` while it runs.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::functions::FunctionDef;

/// The RIE binary for this machine inside the project's `.venv-sam`.
pub fn rie_binary(project_root: &Path) -> Result<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "arm64",
        other => bail!("the Lambda Runtime Interface Emulator has no build for {other}"),
    };
    let lib = project_root.join(".venv-sam").join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| {
                d.path()
                    .join("site-packages/samcli/local/rapid")
                    .join(format!("aws-lambda-rie-{arch}"))
            })
            .find(|p| p.is_file())
    });
    found.ok_or_else(|| {
        anyhow!(
            "no aws-lambda-rie-{arch} under {}: run `scripts/venv.sh sam` (make test and make invoke do)",
            lib.display()
        )
    })
}

/// The environment Lambda gives `f`'s process, plus the emulator endpoint.
pub fn lambda_env(f: &FunctionDef, endpoint: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_rapid"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), f.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            f.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_TIMEOUT".to_owned(),
            f.timeout_s.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
            format!("/aws/lambda/{}", f.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".to_owned(),
            "2026/11/22/[$LATEST]local".to_owned(),
        ),
    ]);
    if let Some(format) = &f.log_format {
        env.push(("AWS_LAMBDA_LOG_FORMAT".to_owned(), format.clone()));
    }
    env.extend(f.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// One function under the RIE, until dropped (which kills it and its bootstrap).
/// What an asynchronous invocation ([`Rie::invoke_async`]) came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AsyncOutcome {
    /// Attempt `attempt` (1 = the first) succeeded with `result`.
    Succeeded { attempt: u64, result: Value },
    /// Every attempt failed and the event went to the dead-letter queue at `queue_url`.
    DeadLettered { attempts: u64, queue_url: String },
    /// Every attempt failed and the function has no dead-letter queue: the event is lost.
    Dropped { attempts: u64 },
}

pub struct Rie {
    child: Child,
    url: String,
    output: Arc<Mutex<String>>,
    http: reqwest::Client,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Rie {
    /// Start `bootstrap` under `rie` with exactly `env`, listening on free loopback ports.
    /// A port found free can be taken by another process before the RIE binds it (the
    /// tests run beside each other); the RIE then dies at once with "address already in
    /// use", and it is started again on other ports, up to three times.
    pub fn start(rie: &Path, bootstrap: &Path, env: &[(String, String)]) -> Result<Rie> {
        if !bootstrap.is_file() {
            bail!("no bootstrap at {}", bootstrap.display());
        }
        let mut attempt = 1;
        loop {
            match Self::start_on(rie, bootstrap, env, free_port()?, free_port()?) {
                Err(e) if attempt < 3 && format!("{e:#}").contains("address already in use") => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn start_on(
        rie: &Path,
        bootstrap: &Path,
        env: &[(String, String)],
        invoke_port: u16,
        runtime_port: u16,
    ) -> Result<Rie> {
        let mut child = Command::new(rie)
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{invoke_port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{runtime_port}"))
            .arg(bootstrap)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so dropping it kills the bootstrap too.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", rie.display()))?;
        let output: Arc<Mutex<String>> = Arc::default();
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?),
            Box::new(child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?),
        ];
        for pipe in pipes {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut o) = output.lock() {
                        o.push_str(&line);
                        o.push('\n');
                    }
                }
            });
        }
        let mut rie = Rie {
            child,
            url: format!(
                "http://127.0.0.1:{invoke_port}/2015-03-31/functions/function/invocations"
            ),
            output,
            http: reqwest::Client::new(),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], invoke_port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if rie.child.try_wait()?.is_some() {
                // Let the readers take its last words (the reason) first.
                std::thread::sleep(Duration::from_millis(100));
                bail!("the RIE exited before it listened:\n{}", rie.output());
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the RIE did not listen within 10 s:\n{}", rie.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(rie)
    }

    /// Invoke with `event`; the function's JSON result. A function error (failed init, a
    /// panic, an `Err` from the handler) is an error carrying the process output.
    pub async fn invoke(&self, event: &Value) -> Result<Value> {
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(event)?)
            .timeout(Duration::from_secs(90))
            .send()
            .await
            .context("invoking through the RIE")?;
        let status = resp.status();
        let text = resp.text().await?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        if !status.is_success() || value.get("errorType").is_some() {
            bail!(
                "the function failed ({status}): {text}\n--- its output ---\n{}",
                self.settled_output().await
            );
        }
        Ok(value)
    }

    /// The output once it stops growing (up to a second): the RIE answers a failed
    /// invocation before the dead bootstrap's last words (its error) reach our readers.
    async fn settled_output(&self) -> String {
        let mut last = self.output();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.output();
            if now.len() == last.len() {
                break;
            }
            last = now;
        }
        last
    }

    /// Invoke with `event` as Lambda runs an asynchronous invocation (what SNS makes):
    /// on a function error it tries again, `def.async_retries` more times (Lambda waits a
    /// minute, then two; here no time passes), and when every attempt failed it sends the
    /// event to `def.dead_letter` (an SQS queue's ARN) as Lambda's dead-letter queue does:
    /// the event as the body, `ErrorMessage` among the attributes. A stand-in for
    /// Lambda's own retry machinery, which the emulator does not run; everything it
    /// invokes and writes is real.
    pub async fn invoke_async(
        &self,
        def: &crate::functions::FunctionDef,
        event: &Value,
        sqs: &aws_sdk_sqs::Client,
    ) -> Result<AsyncOutcome> {
        let mut last_error = String::new();
        for attempt in 1..=1 + def.async_retries {
            match self.invoke(event).await {
                Ok(v) => return Ok(AsyncOutcome::Succeeded { attempt, result: v }),
                Err(e) => last_error = format!("{e:#}"),
            }
        }
        let attempts = 1 + def.async_retries;
        let Some(arn) = &def.dead_letter else {
            return Ok(AsyncOutcome::Dropped { attempts });
        };
        // arn:aws:sqs:REGION:ACCOUNT:NAME
        let name = arn
            .rsplit(':')
            .next()
            .ok_or_else(|| anyhow::anyhow!("{arn} is not a queue ARN"))?;
        let url = sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .with_context(|| format!("GetQueueUrl {name}"))?
            .queue_url
            .ok_or_else(|| anyhow::anyhow!("no URL for queue {name}"))?;
        let message: String = last_error.chars().take(1000).collect();
        sqs.send_message()
            .queue_url(&url)
            .message_body(serde_json::to_string(event)?)
            .message_attributes(
                "ErrorMessage",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(message)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("SendMessage to {name}"))?;
        Ok(AsyncOutcome::DeadLettered {
            attempts,
            queue_url: url,
        })
    }

    /// Everything the RIE and the bootstrap printed so far.
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The init duration RIE reported (`INIT REPORT` or `Init Duration:`), in ms.
    pub fn init_ms(&self) -> Option<f64> {
        parse_init_ms(&self.output())
    }

    /// Each invocation's `Duration` from the RIE's `REPORT` lines, in order (ms): the
    /// time the function took, without the client's round trip.
    pub fn durations_ms(&self) -> Vec<f64> {
        parse_durations_ms(&self.output())
    }

    /// The `INIT REPORT` line as RIE printed it.
    pub fn init_report(&self) -> Option<String> {
        self.output()
            .lines()
            .find(|l| l.contains("INIT REPORT"))
            .map(str::to_owned)
    }

    /// Peak resident set size of the bootstrap process so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = child_of(self.child.id())?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Rie {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals our own child's process group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// The first process whose parent is `parent` (the RIE runs one bootstrap).
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// The `Duration: X ms` of each `REPORT` line (not its `Init Duration` or `Billed
/// Duration`).
fn parse_durations_ms(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter(|l| l.contains("REPORT RequestId"))
        .filter_map(|l| {
            let mut rest = l;
            loop {
                let (before, after) = rest.split_once("Duration:")?;
                if !(before.ends_with("Init ") || before.ends_with("Billed ")) {
                    return after
                        .trim_start()
                        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .next()?
                        .parse()
                        .ok();
                }
                rest = after;
            }
        })
        .collect()
}

/// RIE's `INIT REPORT(... durationMs: X ...)`; else a `REPORT` line's `Init Duration: X`.
/// The first INIT REPORT is the real init (a second one follows a failed init).
fn parse_init_ms(output: &str) -> Option<f64> {
    let number = |rest: &str| -> Option<f64> {
        rest.trim_start()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?
            .parse()
            .ok()
    };
    output
        .lines()
        .filter(|l| l.contains("INIT REPORT"))
        .find_map(|l| number(l.split_once("durationMs:")?.1))
        .or_else(|| {
            output
                .lines()
                .find_map(|l| number(l.split_once("Init Duration:")?.1))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_invocations_duration_from_its_report() {
        let out = "START RequestId: a\nREPORT RequestId: a\tInit Duration: 2.10 ms\tDuration: 13.80 ms\tBilled Duration: 14 ms\n\
                   REPORT RequestId: b\tDuration: 0.31 ms\tBilled Duration: 1 ms\tMax Memory Used: 9 MB\n";
        assert_eq!(parse_durations_ms(out), vec![13.8, 0.31]);
        assert_eq!(parse_durations_ms("no reports"), Vec::<f64>::new());
    }

    #[test]
    fn init_duration_from_either_report_format() {
        assert_eq!(
            parse_init_ms("x\nINIT REPORT(durationMs: 36.61)\n"),
            Some(36.61)
        );
        assert_eq!(
            parse_init_ms(
                "INIT REPORT(initType: on-demand, durationMs: 12.50, status: success, phase: init, errorType: )"
            ),
            Some(12.5)
        );
        assert_eq!(
            parse_init_ms("REPORT RequestId: 1\tInit Duration: 7.25 ms\tDuration: 1 ms"),
            Some(7.25)
        );
        assert_eq!(
            parse_init_ms(
                "REPORT RequestId: 1\tInit Duration: 0.02 ms\nINIT REPORT(durationMs: 31.6)"
            ),
            Some(31.6),
            "the INIT REPORT wins"
        );
        assert_eq!(parse_init_ms("START RequestId: 1\n"), None);
    }
}
