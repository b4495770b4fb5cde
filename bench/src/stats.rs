//! Percentiles of a sample of durations.

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    pub fn of(mut sample: Vec<Duration>) -> Percentiles {
        sample.sort_unstable();
        let at = |q: f64| -> Duration {
            if sample.is_empty() {
                return Duration::ZERO;
            }
            let i = ((sample.len() as f64 * q).ceil() as usize).clamp(1, sample.len()) - 1;
            sample[i]
        };
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            max: sample.last().copied().unwrap_or_default(),
        }
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
