//! The stamping budget (README, "Speed budgets"): a 300-page, 20 MB PDF stamped for one
//! buyer in under 2 s and under 256 MB.
//!
//! Time: criterion, stamping the whole file (parse, one footer per page, the document
//! information, write). Memory: the bench runs itself once more as a child process that
//! does only what the stamping function does with one file (hold the original, stamp,
//! hold the copy) and prints that process's peak resident size (`VmHWM`), so the figure
//! is the stamp's alone, not criterion's or the generator's.

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use kiosk::stamp::{line, sample_pdf, stamp};

const PAGES: usize = 300;
const BYTES: usize = 20_000_000;
const CHILD: &str = "KIOSK_STAMP_BENCH_FILE";

fn book() -> Vec<u8> {
    let pdf = sample_pdf(PAGES, BYTES / PAGES);
    assert!(pdf.len() >= BYTES, "the sample is {} bytes", pdf.len());
    pdf
}

fn benches(c: &mut Criterion) {
    let pdf = book();
    let text = line("reader@example.com", "K7Q2M4X9");
    let mut group = c.benchmark_group("stamp");
    group.sample_size(10);
    group.bench_function("stamp_300_pages_20mb", |b| {
        b.iter(|| stamp(black_box(&pdf), &text, "K7Q2M4X9").unwrap())
    });
    group.finish();
}

/// Peak resident size of this process, in MiB: `VmHWM` (unlike `getrusage`'s
/// `ru_maxrss`, which Linux carries across `execve` from the parent's copy, it starts
/// afresh in the child).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The child: read the file, stamp it once, report the peak.
fn child(path: &str) {
    let before = peak_mib();
    let pdf = std::fs::read(path).unwrap();
    let out = stamp(&pdf, &line("reader@example.com", "K7Q2M4X9"), "K7Q2M4X9").unwrap();
    println!(
        "stamp memory: {PAGES} pages, {:.1} MB in, {:.1} MB out: peak resident {:.0} MiB \
         (the process before reading: {before:.0} MiB)",
        pdf.len() as f64 / 1e6,
        out.len() as f64 / 1e6,
        peak_mib(),
    );
}

fn main() {
    if let Ok(path) = std::env::var(CHILD) {
        child(&path);
        return;
    }
    let dir = std::env::temp_dir().join(format!("kiosk-stamp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("book.pdf");
    std::fs::write(&path, book()).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &path)
        .status()
        .unwrap();
    assert!(status.success(), "the memory child failed");
    let _ = std::fs::remove_dir_all(&dir);
    stamp_group();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(stamp_group, benches);
