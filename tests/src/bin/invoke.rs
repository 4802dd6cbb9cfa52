//! `make invoke FN=... EVENT=...` (scripts/invoke.sh builds the binary, then runs this
//! under the local emulator):
//!
//!   invoke --binary-of FN            the cargo binary of template function FN
//!   invoke FN EVENT BOOTSTRAP        run EVENT through BOOTSTRAP under the RIE
//!   invoke --figures FN EVENT BOOTSTRAP HELLO RUNS
//!                                    `make rie-figures`: init, first and warm
//!                                    invocation of FN and of a hello-world bootstrap,
//!                                    RUNS fresh starts each, alternating; medians
//!
//! The second form seeds the events' stack on the emulator (kiosk_e2e::events), starts
//! the bootstrap under AWS's Runtime Interface Emulator with the environment the
//! template gives FN, runs the rows of events/README.md above EVENT that go to FN (so a
//! duplicate meets the paid order it is about), then EVENT, and prints the response,
//! the RIE's INIT REPORT and the bootstrap's peak RSS.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kiosk_e2e::events::{
    EventStack, HttpResult, events_dir, load_event, readme_rows, runs_before, workspace_root,
};
use kiosk_localaws::functions::function_named;
use kiosk_localaws::rie::{Rie, lambda_env, rie_binary};

fn usage() -> ! {
    eprintln!(
        "usage: invoke --binary-of FUNCTION | invoke FUNCTION EVENT_FILE BOOTSTRAP\n       invoke --figures FUNCTION EVENT_FILE BOOTSTRAP HELLO_BOOTSTRAP RUNS"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [flag, function] if flag == "--binary-of" => {
            kiosk_localaws::functions::binary_of(kiosk_localaws::TEMPLATE, function).map(|b| {
                println!("{b}");
            })
        }
        [function, event, bootstrap] => {
            invoke(function, Path::new(event), Path::new(bootstrap)).await
        }
        [flag, function, event, bootstrap, hello, runs] if flag == "--figures" => {
            match runs.parse::<usize>() {
                Ok(runs) if runs > 0 => {
                    figures(
                        function,
                        Path::new(event),
                        Path::new(bootstrap),
                        Path::new(hello),
                        runs,
                    )
                    .await
                }
                _ => usage(),
            }
        }
        _ => usage(),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make invoke: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn invoke(function: &str, event_path: &Path, bootstrap: &Path) -> Result<()> {
    let event = load_event(event_path)?;
    let stack = EventStack::start().await?;
    let f = function_named(&stack.functions()?, function)?;
    let rie = Rie::start(
        &rie_binary(&workspace_root())?,
        bootstrap,
        &lambda_env(&f, &stack.w.endpoint),
    )?;

    // The rows above this event for the same function, when it is one of events/.
    let rows = readme_rows()?;
    let in_events_dir = event_path
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        == events_dir().canonicalize().ok();
    let file = event_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let row = rows.iter().find(|r| in_events_dir && r.file == file);
    if let Some(row) = row
        && row.function != f.name
    {
        bail!(
            "{file} is an event for {}, not {} (events/README.md)",
            row.function,
            f.name
        );
    }
    if in_events_dir {
        for before in runs_before(&rows, &f.name, file) {
            let result = rie
                .invoke(&load_event(&events_dir().join(&before.file))?)
                .await
                .with_context(|| format!("{} (run first)", before.file))?;
            let status = HttpResult::from_json(&result)
                .map(|r| r.status.to_string())
                .unwrap_or_else(|_| "done".into());
            println!("first {} -> {status}", before.file);
        }
    }

    let result = rie.invoke(&event).await?;
    println!();
    match HttpResult::from_json(&result) {
        Ok(http) => {
            println!("HTTP {}", http.status);
            for (k, v) in &http.headers {
                println!("{k}: {}", v.as_str().unwrap_or_default());
            }
            println!("\n{}", http.body);
            if let Some(want) = row.and_then(|r| r.status)
                && want != http.status
            {
                println!("\nnote: events/README.md promises {want} for {file}");
            }
        }
        Err(_) => println!("{}", serde_json::to_string_pretty(&result)?),
    }
    println!("\n--- the RIE's and the function's output ---");
    print!("{}", rie.output());
    println!("---\n");
    println!(
        "{}",
        rie.init_report()
            .unwrap_or_else(|| "no INIT REPORT from the RIE".into())
    );
    if let Some(ms) = rie.init_ms() {
        println!("init: {ms:.1} ms ({})", bootstrap.display());
    }
    if let Some(kib) = rie.peak_rss_kib() {
        println!(
            "peak RSS: {:.1} MiB (MemorySize {} MB)",
            kib as f64 / 1024.0,
            f.memory_mb
        );
    }
    Ok(())
}

/// One fresh start of `bootstrap` under the RIE: its init, first and warm durations (ms,
/// as the RIE reports them).
async fn one_start(
    bootstrap: &Path,
    env: &[(String, String)],
    event: &serde_json::Value,
) -> Result<(f64, f64, f64)> {
    let rie = Rie::start(&rie_binary(&workspace_root())?, bootstrap, env)?;
    rie.invoke(event).await?;
    rie.invoke(event).await?;
    // The RIE writes its REPORT after answering.
    for _ in 0..50 {
        if rie.durations_ms().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let d = rie.durations_ms();
    let init = rie.init_ms().context("no init report")?;
    match d.as_slice() {
        [first, warm, ..] => Ok((init, *first, *warm)),
        _ => bail!("the RIE reported {} durations:\n{}", d.len(), rie.output()),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `make rie-figures`: FN with EVENT and the hello-world bootstrap, `runs` fresh starts
/// each, alternating so both see the same machine; the medians of init, first and warm.
async fn figures(
    function: &str,
    event_path: &Path,
    bootstrap: &Path,
    hello: &Path,
    runs: usize,
) -> Result<()> {
    let event = load_event(event_path)?;
    let stack = EventStack::start().await?;
    let f = function_named(&stack.functions()?, function)?;
    let mut env = lambda_env(&f, &stack.w.endpoint);
    // Every run checks out from the event's one network.
    env.push(("CHECKOUTS_PER_NETWORK_HOUR".into(), "10000".into()));
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(one_start(bootstrap, &env, &event).await?);
        base.push(one_start(hello, &[], &serde_json::json!({})).await?);
    }
    let row = |name: &str, v: &[(f64, f64, f64)]| {
        println!(
            "{name:<28} init {:>6.1} ms   first {:>6.1} ms   warm {:>6.1} ms",
            median(v.iter().map(|r| r.0).collect()),
            median(v.iter().map(|r| r.1).collect()),
            median(v.iter().map(|r| r.2).collect()),
        );
    };
    println!(
        "medians of {runs} fresh starts each, alternating ({}):",
        event_path.display()
    );
    row(function, &ours);
    row("hello-world lambda_runtime", &base);
    Ok(())
}
