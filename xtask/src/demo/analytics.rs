//! The demo's analytics step: the speeding scenario's Kinesis Data Analytics SQL application
//! (`examples/speeding/analytics/speeding.sql`, its input mapped by `schema.json`) made and
//! started through the application API on the demo's `[api]` address, over stream
//! `speeding-alerts`, its two outputs read back from the streams it writes.
//!
//! Everything goes through the public APIs a user would call (Kinesis `CreateStream`,
//! `KinesisAnalytics_20150814` `CreateApplication` and `StartApplication` from TRIM_HORIZON,
//! Kinesis `GetRecords`), so the demo shows, and the test command checks, the path a user's
//! application takes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};

/// The application's name in the demo.
pub const APPLICATION: &str = "speeding";
/// The stream the application reads: the `speeding` rule's kinesis action writes it.
pub const INPUT: &str = "speeding-alerts";
/// Where the per-city tumbling-window rows go (`DESTINATION_SQL_STREAM`).
pub const PER_CITY: &str = "speeding-per-city";
/// Where the sliding averages go (`AVERAGE_SPEED_STREAM`).
pub const AVERAGES: &str = "speeding-average-speed";

/// The longest wait for the application's output. ROWTIME is the host's clock when the
/// application reads a record (as the service stamps it), so a one-minute window closes at
/// the next full minute of that clock: up to 60 s after the records were read. The rest is
/// margin for a loaded machine.
const WAIT: Duration = Duration::from_secs(90);
/// Rows shown per table in the report.
const SHOWN: usize = 8;

/// A city's speeding cars, summed over the one-minute windows it appears in.
pub struct CityCount {
    pub cars: u64,
    pub max_speed: i64,
}

/// A state's sliding average at its fullest window: the most cars of that state within one
/// minute, and their average speed.
pub struct StateAverage {
    pub cars: u64,
    pub avg_speed: f64,
}

/// What the application wrote.
pub struct AnalyticsOutcome {
    pub cities: BTreeMap<String, CityCount>,
    /// Window start (`2026-12-06 18:43:00.000`) -> speeding cars in it.
    pub windows: BTreeMap<String, u64>,
    pub per_city_rows: usize,
    pub states: BTreeMap<String, StateAverage>,
    pub average_rows: usize,
    /// Records in the input stream when the application started.
    pub input_records: u64,
    /// From StartApplication until every window with those records had been written.
    pub waited: Duration,
}

/// POSTs a JSON 1.1 request to `target` on `api`; an answer other than 200 is an error
/// naming the call and AWS's error type and message.
fn call(api: &str, target: &str, body: &Value) -> Result<Value> {
    let payload = serde_json::to_vec(body)?;
    let mut s = TcpStream::connect(api).with_context(|| format!("connecting to {api}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\nX-Amz-Date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=DEMO/20260101/us-east-1/kinesis/aws4_request, \
         SignedHeaders=host, Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )?;
    s.write_all(&payload)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("reading the answer to {target} from {api}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{target}: a truncated HTTP answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let body = &raw[split + 4..];
    let v: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).with_context(|| {
            format!(
                "{target}: HTTP {status} with a body that is not JSON: {}",
                String::from_utf8_lossy(body)
            )
        })?
    };
    if status != "200" {
        bail!(
            "{target} answered HTTP {status}: {} {}",
            v["__type"].as_str().unwrap_or_default(),
            v["message"]
                .as_str()
                .or(v["Message"].as_str())
                .unwrap_or_default()
        );
    }
    Ok(v)
}

fn kinesis(api: &str, op: &str, body: Value) -> Result<Value> {
    call(api, &format!("Kinesis_20131202.{op}"), &body)
}

fn kda(api: &str, op: &str, body: Value) -> Result<Value> {
    call(api, &format!("KinesisAnalytics_20150814.{op}"), &body)
}

/// The stream's ARN once it is ACTIVE.
fn active_arn(api: &str, stream: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = kinesis(api, "DescribeStreamSummary", json!({"StreamName": stream}))?;
        let s = &d["StreamDescriptionSummary"];
        if s["StreamStatus"] == "ACTIVE" {
            return s["StreamARN"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("DescribeStreamSummary {stream}: no StreamARN: {d}"));
        }
        if Instant::now() > deadline {
            bail!("stream {stream} is not ACTIVE after 10 s: {d}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a one-shard stream from TRIM_HORIZON, a page at a time, decoding each record as
/// JSON.
struct StreamReader {
    stream: &'static str,
    iterator: Option<String>,
    rows: Vec<Value>,
}

impl StreamReader {
    fn new(stream: &'static str) -> StreamReader {
        StreamReader {
            stream,
            iterator: None,
            rows: Vec::new(),
        }
    }

    /// Reads what was written since the last call.
    fn poll(&mut self, api: &str) -> Result<()> {
        let stream = self.stream;
        if self.iterator.is_none() {
            let shards = kinesis(api, "ListShards", json!({"StreamName": stream}))?;
            let shard = shards["Shards"][0]["ShardId"]
                .as_str()
                .with_context(|| format!("ListShards {stream}: no shard: {shards}"))?
                .to_owned();
            let it = kinesis(
                api,
                "GetShardIterator",
                json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
            )?;
            self.iterator = it["ShardIterator"].as_str().map(str::to_owned);
        }
        while let Some(it) = self.iterator.clone() {
            let page = kinesis(
                api,
                "GetRecords",
                json!({"ShardIterator": it, "Limit": 1000}),
            )?;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(r["Data"].as_str().unwrap_or_default())
                    .with_context(|| format!("{stream}: a record's Data is not base64"))?;
                let row: Value = serde_json::from_slice(&data).with_context(|| {
                    format!(
                        "{stream}: a record that is not JSON: {}",
                        String::from_utf8_lossy(&data)
                    )
                })?;
                self.rows.push(row);
            }
            self.iterator = page["NextShardIterator"].as_str().map(str::to_owned);
            if records.is_empty() || page["MillisBehindLatest"].as_i64() == Some(0) {
                break;
            }
        }
        Ok(())
    }
}

/// Creates the output streams and the application over `speeding-alerts`, starts it from
/// TRIM_HORIZON and waits (at most [`WAIT`]) until its per-city windows account for every one
/// of the `records` the stream holds and a sliding-average row came out for each.
pub fn run(api: &str, dir: &Path, records: u64) -> Result<AnalyticsOutcome> {
    let read = |f: &str| {
        let p = dir.join(f);
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
    };
    let code = read("speeding.sql")?;
    let schema: Value = serde_json::from_str(&read("schema.json")?)
        .with_context(|| format!("{}: not JSON", dir.join("schema.json").display()))?;

    let input_arn = active_arn(api, INPUT)?;
    // arn:aws:kinesis:REGION:ACCOUNT:stream/NAME: the role lives in the same account.
    let account = input_arn.split(':').nth(4).unwrap_or("000000000000");
    let role = format!("arn:aws:iam::{account}:role/weir-demo-analytics");
    let mut outputs = Vec::new();
    for (stream, from) in [
        (PER_CITY, "DESTINATION_SQL_STREAM"),
        (AVERAGES, "AVERAGE_SPEED_STREAM"),
    ] {
        kinesis(
            api,
            "CreateStream",
            json!({"StreamName": stream, "ShardCount": 1}),
        )?;
        outputs.push(json!({
            "Name": from,
            "KinesisStreamsOutput": {"ResourceARN": active_arn(api, stream)?, "RoleARN": role},
            "DestinationSchema": {"RecordFormatType": "JSON"},
        }));
        println!("   created stream {stream} (1 shard) for {from}");
    }
    kda(
        api,
        "CreateApplication",
        json!({
            "ApplicationName": APPLICATION,
            "ApplicationDescription": "Speeding cars per city per minute, and the average speed per state over the last minute",
            "ApplicationCode": code,
            "Inputs": [{
                "NamePrefix": "SOURCE_SQL_STREAM",
                "KinesisStreamsInput": {"ResourceARN": input_arn, "RoleARN": role},
                "InputSchema": schema,
            }],
            "Outputs": outputs,
        }),
    )?;
    let detail = kda(
        api,
        "DescribeApplication",
        json!({"ApplicationName": APPLICATION}),
    )?;
    let input_id = detail["ApplicationDetail"]["InputDescriptions"][0]["InputId"]
        .as_str()
        .with_context(|| format!("DescribeApplication {APPLICATION}: no InputId: {detail}"))?
        .to_owned();
    let started = Instant::now();
    kda(
        api,
        "StartApplication",
        json!({"ApplicationName": APPLICATION, "InputConfigurations": [{"Id": input_id,
            "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]}),
    )?;
    println!(
        "   created application {APPLICATION} (input {input_id} = {input_arn}) and started it \
         from TRIM_HORIZON"
    );

    let mut per_city = StreamReader::new(PER_CITY);
    let mut averages = StreamReader::new(AVERAGES);
    let mut announced = false;
    loop {
        per_city.poll(api)?;
        averages.poll(api)?;
        let cars: u64 = per_city
            .rows
            .iter()
            .filter_map(|r| r["SPEEDING_CARS"].as_u64())
            .sum();
        if cars >= records && averages.rows.len() as u64 >= records {
            break;
        }
        if !announced && averages.rows.len() as u64 >= records {
            println!(
                "   all {records} records read ({} sliding-average rows out); waiting for the \
                 one-minute window to close: ROWTIME is the host's clock when the application \
                 reads a record, so it closes at the next full minute (at most 60 s, bounded \
                 at {} s)",
                averages.rows.len(),
                WAIT.as_secs()
            );
            announced = true;
        }
        if started.elapsed() > WAIT {
            let status = kda(
                api,
                "DescribeApplication",
                json!({"ApplicationName": APPLICATION}),
            )
            .map(|d| d["ApplicationDetail"]["ApplicationStatus"].to_string())
            .unwrap_or_else(|e| format!("unknown ({e:#})"));
            bail!(
                "the analytics application {APPLICATION} did not write its output within {} s \
                 of its start: stream {PER_CITY} holds {} per-city rows counting {cars} of the \
                 {records} speeding cars in {INPUT}, stream {AVERAGES} {} of {records} \
                 sliding-average rows; the application is {status} (weir's log above says why \
                 a record or an output failed)",
                WAIT.as_secs(),
                per_city.rows.len(),
                averages.rows.len()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let waited = started.elapsed();
    Ok(outcome(&per_city.rows, &averages.rows, records, waited))
}

/// Sums the output rows by city, window and state.
fn outcome(
    per_city: &[Value],
    averages: &[Value],
    input_records: u64,
    waited: Duration,
) -> AnalyticsOutcome {
    let mut cities: BTreeMap<String, CityCount> = BTreeMap::new();
    let mut windows: BTreeMap<String, u64> = BTreeMap::new();
    for r in per_city {
        let cars = r["SPEEDING_CARS"].as_u64().unwrap_or(0);
        let city = cities
            .entry(r["CITY"].as_str().unwrap_or_default().to_owned())
            .or_insert(CityCount {
                cars: 0,
                max_speed: i64::MIN,
            });
        city.cars += cars;
        city.max_speed = city
            .max_speed
            .max(r["MAX_SPEED"].as_i64().unwrap_or(i64::MIN));
        *windows
            .entry(r["WINDOW_START"].as_str().unwrap_or_default().to_owned())
            .or_default() += cars;
    }
    let mut states: BTreeMap<String, StateAverage> = BTreeMap::new();
    for r in averages {
        let cars = r["STATE_CARS_1MIN"].as_u64().unwrap_or(0);
        let avg = r["AVG_SPEED_1MIN"].as_f64().unwrap_or(f64::NAN);
        let state = states
            .entry(r["STATE"].as_str().unwrap_or_default().to_owned())
            .or_insert(StateAverage {
                cars: 0,
                avg_speed: f64::NAN,
            });
        if cars >= state.cars {
            *state = StateAverage {
                cars,
                avg_speed: avg,
            };
        }
    }
    AnalyticsOutcome {
        cities,
        windows,
        per_city_rows: per_city.len(),
        states,
        average_rows: averages.len(),
        input_records,
        waited,
    }
}

/// `2026-12-06 18:43:00.000` -> `18:43`.
fn minute(ts: &str) -> &str {
    ts.split(' ').nth(1).and_then(|t| t.get(..5)).unwrap_or(ts)
}

pub fn print(a: &AnalyticsOutcome) {
    println!(
        "\n   analytics application {APPLICATION} (examples/speeding/analytics/speeding.sql), \
         started from TRIM_HORIZON over stream {INPUT} ({} records):",
        a.input_records
    );
    println!(
        "     {} per-city rows in stream {PER_CITY}, {} cities, in {} one-minute window(s) \
         starting {}; the last window closed {:.1} s after the start (a window closes at the \
         next full minute of the host's clock)",
        a.per_city_rows,
        a.cities.len(),
        a.windows.len(),
        a.windows
            .iter()
            .map(|(w, n)| format!("{} ({n} cars)", minute(w)))
            .collect::<Vec<_>>()
            .join(", "),
        a.waited.as_secs_f64()
    );
    let mut cities: Vec<(&String, &CityCount)> = a.cities.iter().collect();
    cities.sort_by(|x, y| y.1.cars.cmp(&x.1.cars).then(x.0.cmp(y.0)));
    println!(
        "     speeding cars per city (the {SHOWN} with the most; all in {PER_CITY}):\n       \
         {:<24} {:>5} {:>10}",
        "city", "cars", "max speed"
    );
    for (city, c) in cities.iter().take(SHOWN) {
        println!("       {city:<24} {:>5} {:>10}", c.cars, c.max_speed);
    }
    let mut states: Vec<(&String, &StateAverage)> = a.states.iter().collect();
    states.sort_by(|x, y| y.1.cars.cmp(&x.1.cars).then(x.0.cmp(y.0)));
    println!(
        "     sliding average speed per state over the last minute, at its fullest window \
         ({} rows in {AVERAGES}, one per record; the {SHOWN} states with the most cars of {}):\n       \
         {:<24} {:>5} {:>10}",
        a.average_rows,
        a.states.len(),
        "state",
        "cars",
        "avg speed"
    );
    for (state, s) in states.iter().take(SHOWN) {
        println!("       {state:<24} {:>5} {:>10.1}", s.cars, s.avg_speed);
    }
}

/// What the application must have computed, from the seed CSV alone: per city and per state,
/// the speeding rows (speed > 75) of cars whose owner is known (the stream holds those; the
/// strangers went to the error action), and each state's mean speed.
pub struct SeedCounts {
    pub cities: BTreeMap<String, u64>,
    pub states: BTreeMap<String, (u64, f64)>,
}

pub fn seed_counts(speeding_csv: &Path, owners: &BTreeSet<String>) -> Result<SeedCounts> {
    let mut reader = csv::Reader::from_path(speeding_csv)
        .with_context(|| format!("cannot read {}", speeding_csv.display()))?;
    let header = reader.headers()?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no {name} column", speeding_csv.display()))
    };
    let (plate, city, state, speed) = (
        col("licensePlate")?,
        col("city")?,
        col("state")?,
        col("speed")?,
    );
    let mut cities: BTreeMap<String, u64> = BTreeMap::new();
    let mut sums: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{} row {}", speeding_csv.display(), i + 2))?;
        let field = |c: usize| row.get(c).unwrap_or_default();
        let Ok(s) = field(speed).trim().parse::<f64>() else {
            continue;
        };
        if s <= 75.0 || !owners.contains(field(plate)) {
            continue;
        }
        *cities.entry(field(city).to_owned()).or_default() += 1;
        let e = sums.entry(field(state).to_owned()).or_default();
        e.0 += 1;
        e.1 += s;
    }
    Ok(SeedCounts {
        cities,
        states: sums
            .into_iter()
            .map(|(k, (n, sum))| (k, (n, sum / n as f64)))
            .collect(),
    })
}

/// The differences between what the application wrote and the seed's counts. Every record
/// is read within a second of the start, far inside one minute, so each state's fullest
/// sliding window holds all of its cars.
pub fn problems(a: &AnalyticsOutcome, seed: &SeedCounts) -> Vec<String> {
    let mut out = Vec::new();
    let got: BTreeMap<&String, u64> = a.cities.iter().map(|(k, c)| (k, c.cars)).collect();
    let want: BTreeMap<&String, u64> = seed.cities.iter().map(|(k, n)| (k, *n)).collect();
    let cities: BTreeSet<&String> = got.keys().chain(want.keys()).copied().collect();
    let differing: Vec<&String> = cities
        .into_iter()
        .filter(|c| got.get(c) != want.get(c))
        .collect();
    if !differing.is_empty() {
        let shown: Vec<String> = differing
            .iter()
            .take(5)
            .map(|c| {
                format!(
                    "{c}: {} (expected {})",
                    got.get(c).copied().unwrap_or(0),
                    want.get(c).copied().unwrap_or(0)
                )
            })
            .collect();
        out.push(format!(
            "analytics speeding cars per city differ from the seed's count in {} of {} cities, \
             e.g. {}",
            differing.len(),
            want.len(),
            shown.join("; ")
        ));
    }
    let total: u64 = seed.cities.values().sum();
    if a.average_rows as u64 != total {
        out.push(format!(
            "analytics sliding-average rows: {}, expected one per record, {total}",
            a.average_rows
        ));
    }
    for (state, (n, mean)) in &seed.states {
        match a.states.get(state) {
            Some(s) if s.cars == *n && (s.avg_speed - mean).abs() < 1e-6 => {}
            Some(s) => out.push(format!(
                "analytics state {state}: {} cars averaging {} in its fullest minute, expected \
                 {n} averaging {mean}",
                s.cars, s.avg_speed
            )),
            None => out.push(format!("analytics state {state}: no sliding-average row")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    /// Two windows (the records straddled a minute) count a city once per window; the
    /// sums and each state's fullest window are what the check compares.
    #[test]
    fn per_city_rows_sum_over_windows_and_states_keep_their_fullest_window() {
        let per_city = rows(
            r#"{"WINDOW_START":"2026-12-06 18:42:00.000","CITY":"Ames","SPEEDING_CARS":2,"MAX_SPEED":90}
{"WINDOW_START":"2026-12-06 18:43:00.000","CITY":"Ames","SPEEDING_CARS":1,"MAX_SPEED":99}
{"WINDOW_START":"2026-12-06 18:43:00.000","CITY":"Dubuque","SPEEDING_CARS":1,"MAX_SPEED":80}"#,
        );
        let averages = rows(
            r#"{"STATE":"Iowa","AVG_SPEED_1MIN":90.0,"STATE_CARS_1MIN":1}
{"STATE":"Iowa","AVG_SPEED_1MIN":89.0,"STATE_CARS_1MIN":3}
{"STATE":"Iowa","AVG_SPEED_1MIN":85.0,"STATE_CARS_1MIN":2}"#,
        );
        let a = outcome(&per_city, &averages, 4, Duration::ZERO);
        assert_eq!(a.cities["Ames"].cars, 3);
        assert_eq!(a.cities["Ames"].max_speed, 99);
        assert_eq!(a.windows["2026-12-06 18:43:00.000"], 2);
        assert_eq!(a.states["Iowa"].cars, 3);
        assert_eq!(a.states["Iowa"].avg_speed, 89.0);
        assert_eq!(minute("2026-12-06 18:43:00.000"), "18:43");

        let mut seed = SeedCounts {
            cities: [("Ames".to_owned(), 3), ("Dubuque".to_owned(), 1)].into(),
            states: [("Iowa".to_owned(), (3, 89.0))].into(),
        };
        // Three sliding rows for four records: one missing.
        assert_eq!(problems(&a, &seed).len(), 1, "{:?}", problems(&a, &seed));
        seed.cities.insert("Dubuque".to_owned(), 2);
        seed.states.insert("Ohio".to_owned(), (1, 80.0));
        let p = problems(&a, &seed).join("\n");
        assert!(p.contains("Dubuque: 1 (expected 2)"), "{p}");
        assert!(p.contains("state Ohio: no sliding-average row"), "{p}");
    }

    #[test]
    fn seed_counts_keep_speeding_cars_with_known_owners() {
        let dir = tempfile::tempdir().expect("tmp");
        let csv = dir.path().join("speeding.csv");
        std::fs::write(
            &csv,
            "licensePlate,longitude,latitude,city,state,speed\n\
             A,1,2,\"Ames, North\",Iowa,80\n\
             B,1,2,Ames,Iowa,75\n\
             C,1,2,\"Ames, North\",Iowa,100\n\
             D,1,2,Ames,Iowa,120\n",
        )
        .expect("write");
        let owners: BTreeSet<String> = ["A", "B", "C"].map(String::from).into();
        let s = seed_counts(&csv, &owners).expect("counts");
        assert_eq!(s.cities.len(), 1);
        assert_eq!(s.cities["Ames, North"], 2);
        assert_eq!(s.states["Iowa"], (2, 90.0));
    }
}
