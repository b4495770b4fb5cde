//! The benchmarks at their smoke size (`--quick`), as part of the test suite: every scenario
//! runs on both backends and checks what it counts (events applied exactly once, reports equal
//! to what was loaded), failing the run when a check fails. Timings are printed, never
//! asserted; figures worth keeping come from full runs, recorded in BENCHMARKS.md.
//!
//! Run here rather than as a `cargo run` of its own, the bench is built with the rest of the
//! suite's build (the same features), instead of once more.

use std::process::Command;

#[test]
fn every_scenario_runs_on_both_backends() {
    let mut bench = Command::new(env!("CARGO_BIN_EXE_tiepdan-bench"));
    bench.arg("--quick");
    // The suite's PostgreSQL, when it is given another one than the default.
    if let Ok(pg) = std::env::var("TIEPDAN_TEST_PG") {
        bench.env("TIEPDAN_BENCH_PG", pg);
    }
    let out = bench
        .output()
        .unwrap_or_else(|e| panic!("run tiepdan-bench: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tiepdan-bench --quick failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Each backend's section prints one line for each scenario (two ingest and two resume
    // lines, and the storage limit of the rows an apply keeps): a scenario that stopped printing, or a backend skipped, fails here.
    let sections: Vec<&str> = stdout.split("\n== town and city on ").skip(1).collect();
    let backends: Vec<&str> = sections
        .iter()
        .map(|s| s.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(backends, ["SQLite", "PostgreSQL"], "{stdout}");
    for section in sections {
        for (scenario, lines) in [
            ("1 storage limit", 1),
            ("  applied rows", 1),
            ("2 transport limit", 1),
            ("3 durable ingest", 2),
            ("4 propagation", 1),
            ("5 report latency", 1),
            ("6 fan-in", 1),
            ("7 catch-up", 1),
            ("8 resume", 2),
        ] {
            let printed = section.lines().filter(|l| l.starts_with(scenario)).count();
            assert_eq!(printed, lines, "{scenario:?} in:\n{section}");
        }
    }
}
