//! Shared by the criterion bench and the `bench_ratio` example: the seed
//! payloads, built the way the device builds them (every value a string,
//! plus `iottimestamp`), and rule sets of a given size.

use weir_rules::RuleIndex;

/// The seed CSV shipped in the repository; `WEIR_SPEEDING_CSV` overrides it. Without the file,
/// synthetic rows are used.
pub fn seed_payloads() -> Vec<Vec<u8>> {
    // Included by weir-host's bench (host/) and weir-rules' example (host/rules/).
    let path = std::env::var("WEIR_SPEEDING_CSV").unwrap_or_else(|_| {
        [
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/speeding/data/speeding_data.csv"
            ),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/speeding/data/speeding_data.csv"
            ),
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or_default()
        .to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        let mut s = String::from("licensePlate,longitude,latitude,city,state,speed\n");
        for i in 0..1000 {
            s.push_str(&format!("P{i},-84.5,30.1,City{i},State,{}\n", 40 + i % 80));
        }
        s
    });
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .enumerate()
        .map(|(i, line)| {
            let mut m = serde_json::Map::new();
            let secs = 1_568_258_088 + i as i64;
            let ts = chrono::DateTime::from_timestamp(secs, 123_456_000)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
                .unwrap_or_default();
            m.insert("iottimestamp".into(), ts.into());
            for (k, v) in header.iter().zip(line.split(',')) {
                m.insert((*k).to_string(), v.to_string().into());
            }
            serde_json::to_vec(&serde_json::Value::Object(m)).unwrap_or_default()
        })
        .collect()
}

/// `n` rules on distinct filters, a mix of exact, `+` and `#` filters, with
/// one of them matching `rtr/iot/trafficdata`.
pub fn index_of(n: usize) -> RuleIndex<usize> {
    let mut idx = RuleIndex::new();
    for i in 0..n {
        let f = match i % 4 {
            0 => format!("fleet/{i}/speed"),
            1 => format!("fleet/{i}/+/position"),
            2 => format!("site/{i}/#"),
            _ => format!("rtr/{i}/trafficdata"),
        };
        let _ = idx.insert(i, &f);
    }
    let _ = idx.insert(n, "rtr/iot/trafficdata");
    idx
}
