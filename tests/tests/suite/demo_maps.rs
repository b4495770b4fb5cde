//! The demo's maps: today's is the default, the seed's tree is kept for `--year 2019`, any
//! other year is refused; today's demo runs to the end, which includes its own check that the
//! city reports what the generator recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tiepdan_server::demo::{self, DemoOptions};

#[test]
fn maps_by_year() {
    let today = demo::map_of(2026).unwrap();
    assert!(std::ptr::eq(today, demo::map_of(2025).unwrap()));
    assert_eq!(
        today.tiers.iter().map(|t| t.code).collect::<Vec<_>>(),
        ["01"]
    );
    let first: Vec<&str> = today.communes.iter().take(3).map(|c| c.1).collect();
    assert_eq!(
        first,
        ["Phường Sơn Tây", "Phường Tùng Thiện", "Xã Đoài Phương"]
    );
    let seed = demo::map_of(2019).unwrap();
    assert_eq!(
        seed.tiers.iter().map(|t| t.code).collect::<Vec<_>>(),
        ["01", "269"]
    );
    let refused = demo::map_of(2020).unwrap_err().to_string();
    assert!(
        refused.contains("2019") && refused.contains("2026"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn today_runs_and_checks() {
    demo::run(DemoOptions {
        data_dir: None,
        communes: 3,
        seed: 5,
        http_listen: None,
        year: 2026,
        reorganise: false,
    })
    .await
    .unwrap();
}

/// The seed's tree through the 1 July 2025 reorganisation: the demo's own check (earlier
/// reports unmoved, every visit counted once) must pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reorganisation_runs_and_checks() {
    demo::run(DemoOptions {
        data_dir: None,
        communes: 4,
        seed: 7,
        http_listen: None,
        year: 2019,
        reorganise: true,
    })
    .await
    .unwrap();
}
