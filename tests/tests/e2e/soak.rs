//! The short soak inside `make test` (issue 36; `kiosk_e2e::soak`, README "The soak"):
//! 200 buyers, by Alipay and by card, through the real handlers while 5 % of their AWS
//! calls are throttled, 5 % fail with a 500, 5 % are applied with their answer past the
//! SDK's timeout and 5 % applied with their answer lost; the stand-in gateway is
//! unavailable for 5 % of its requests and loses 5 % of its answers; 5 % of notification
//! deliveries and reconcile runs are stopped part-way; a new edition goes out mid-run.
//! Then the audit. A failing run prints its seed; `make soak SEED=… N=…`
//! (`KIOSK_SOAK_SEED=… KIOSK_SOAK_BUYERS=…`) runs the same buyers and fault rates again.

use kiosk_e2e::soak::{Rates, Soak, run};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyers_through_injected_faults_are_served_once() {
    let seed = env_or("KIOSK_SOAK_SEED", 20261207);
    let buyers = env_or("KIOSK_SOAK_BUYERS", 200) as usize;
    let report = Box::pin(run(Soak {
        seed,
        buyers,
        rates: Rates::each(0.05),
        concurrency: env_or("KIOSK_SOAK_CONCURRENCY", 12) as usize,
    }))
    .await
    .unwrap_or_else(|e| panic!("soak seed {seed}: {e:#}"));
    eprintln!("{report}");
    assert!(
        report.faults.values().all(|n| *n > 0),
        "every kind of fault was injected: {report}"
    );
    assert!(report.problems.is_empty(), "{report}");
}
