//! Load generators: `wrk` in a closed loop, an open loop scheduled from this process (latency
//! from the scheduled time, so no coordinated omission), and the bare SQL baseline.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use mintwatch_protocol::Point;
use mintwatch_store::Store;

/// One kind of request, with the paths (GET) or bodies (POST) it picks from.
pub(crate) struct Route {
    pub(crate) name: &'static str,
    pub(crate) post: Option<&'static str>,
    pub(crate) lines: Vec<String>,
}

pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) max: f64,
}

pub(crate) fn percentiles(mut us: Vec<u64>) -> Percentiles {
    us.sort_unstable();
    let at = |q: f64| {
        let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        us[i] as f64 / 1000.0
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: us.last().map_or(0.0, |m| *m as f64 / 1000.0),
    }
}

const WRK_LUA: &str = r#"
local lines = {}
local method = nil
local counter = 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  for l in io.lines(args[1]) do lines[#lines + 1] = l end
  method = args[2]
  math.randomseed(os.time() * 7 + id)
end
request = function()
  local l = lines[math.random(#lines)]
  if method == "GET" then
    return wrk.format("GET", l)
  end
  return wrk.format("POST", method, {["Content-Type"] = "application/json"}, l)
end
"#;

pub(crate) struct Closed {
    pub(crate) rps: f64,
    pub(crate) p50: String,
    pub(crate) p99: String,
    pub(crate) errors: u64,
}

/// wrk, 2 threads, 32 connections, 10 s.
pub(crate) fn wrk(base: &str, route: &Route, dir: &Path) -> Option<Closed> {
    let bin = std::env::var("MW_BENCH_WRK").unwrap_or_else(|_| "/usr/bin/wrk".into());
    if !Path::new(&bin).exists() {
        return None;
    }
    let script = dir.join("pick.lua");
    std::fs::write(&script, WRK_LUA).expect("lua");
    let lines = dir.join(format!(
        "{}.txt",
        route.name.replace(['/', ' ', '?', '{', '}'], "_")
    ));
    std::fs::write(&lines, route.lines.join("\n") + "\n").expect("lines");
    let out = Command::new(bin)
        .args(["-t2", "-c32", "-d10s", "--latency", "-s"])
        .arg(&script)
        .arg(base)
        .arg("--")
        .arg(&lines)
        .arg(route.post.unwrap_or("GET"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let rps = field("Requests/sec:").parse().unwrap_or(0.0);
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Some(Closed {
        rps,
        p50: field("50%"),
        p99: field("99%"),
        errors,
    })
}

pub(crate) struct Open {
    pub(crate) sent: usize,
    pub(crate) achieved: f64,
    pub(crate) latency: Percentiles,
    /// How late the generator sent, against the schedule.
    pub(crate) lag: Percentiles,
    pub(crate) errors: usize,
}

/// `rate` requests a second for `secs`, each at its scheduled time whatever happened to the ones
/// before; latency from the scheduled time to the whole body received.
pub(crate) async fn open_loop(
    client: &reqwest::Client,
    base: &str,
    route: &Route,
    rate: f64,
    secs: f64,
) -> Open {
    let n = (rate * secs) as usize;
    let mut rng = StdRng::seed_from_u64(rate as u64);
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, u64, bool)>();
    let t0 = tokio::time::Instant::now() + Duration::from_millis(20);
    let start = Instant::now();
    for i in 0..n {
        let at = t0 + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at).await;
        let line = &route.lines[rng.gen_range(0..route.lines.len())];
        let request = match route.post {
            None => client.get(format!("{base}{line}")),
            Some(path) => client
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(line.clone()),
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let sent = tokio::time::Instant::now();
            let ok = match request.send().await {
                Ok(r) => {
                    let ok = r.status().is_success();
                    r.bytes().await.is_ok() && ok
                }
                Err(_) => false,
            };
            let done = tokio::time::Instant::now();
            let _ = tx.send((
                (done - at).as_micros() as u64,
                sent.saturating_duration_since(at).as_micros() as u64,
                ok,
            ));
        });
    }
    drop(tx);
    let (mut latency, mut lag, mut errors) = (Vec::with_capacity(n), Vec::with_capacity(n), 0);
    while let Some((l, g, ok)) = rx.recv().await {
        latency.push(l);
        lag.push(g);
        errors += usize::from(!ok);
    }
    Open {
        sent: n,
        achieved: n as f64 / start.elapsed().as_secs_f64(),
        latency: percentiles(latency),
        lag: percentiles(lag),
        errors,
    }
}

/// The bare SQL of a one-`Y` lookup through sqlx, 8 connections in a closed loop for `secs`.
pub(crate) async fn sql_baseline(store: &Store, ys: &[Point], secs: f64) -> (f64, Percentiles) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let (pool, ys) = (store.pool().clone(), ys.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut us = Vec::new();
            let mut i = t;
            while Instant::now() < deadline {
                let y = ys[i % ys.len()].as_bytes().to_vec();
                i += 8;
                let s = Instant::now();
                let _rows: Vec<(Vec<u8>, Vec<u8>, i64)> =
                    sqlx::query_as("SELECT mint, event_id, amount FROM burns WHERE y = $1")
                        .bind(y)
                        .fetch_all(&pool)
                        .await
                        .expect("lookup");
                us.push(s.elapsed().as_micros() as u64);
            }
            us
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    (all.len() as f64 / secs, percentiles(all))
}
