//! Output: rates, latencies and PASS/FAIL lines.

use super::*;

pub(super) fn fmt_rate(r: f64) -> String {
    if r <= 0.0 {
        return "max".into();
    }
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn fmt_ms(us: Option<u64>) -> String {
    us.map_or_else(|| "-".into(), |v| format!("{:.2}", v as f64 / 1000.0))
}

pub(super) fn print_row(m: &Measured) {
    let l = m.latency;
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8} {:>5.0}% {:>5.0}%",
        m.name,
        fmt_rate(m.target_rate),
        fmt_rate(m.report.sent_per_sec),
        m.report.acknowledged,
        m.delivered,
        m.diff(),
        fmt_rate(m.rate),
        fmt_ms(l.map(|p| p.p50_us)),
        fmt_ms(l.map(|p| p.p99_us)),
        fmt_ms(l.map(|p| p.max_us)),
        m.cpu_pct,
        m.foreign_pct,
    );
}

pub(super) fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}
