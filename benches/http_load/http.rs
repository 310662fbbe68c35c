//! The HTTP part: the server child, every route in a closed loop then in an open loop at fixed
//! rates, then the bare SQL lookup as the baseline.

use std::collections::HashMap;

use mintwatch_protocol::Point;
use mintwatch_store::Store;
use mintwatch_testkit::{bench, machine, server_url};

use crate::load::{open_loop, sql_baseline, wrk, Open, Route};
use crate::samples::Samples;

fn print_open(name: &str, rate: f64, o: &Open) {
    println!(
        "  {name:<26} {rate:>6.0}/s open loop: achieved {:>6.0}/s, p50 {:>6.2} p99 {:>7.2} p99.9 {:>7.2} max {:>7.2} ms; send lag p99 {:.2} ms; {} of {} failed",
        o.achieved, o.latency.p50, o.latency.p99, o.latency.p999, o.latency.max, o.lag.p99, o.errors, o.sent
    );
}

pub(crate) async fn http_load(store: &Store, s: &Samples, routes: &[Route], db: &str, secs: f64) {
    {
        let (mut child, f) = bench::spawn_role(
            "server",
            &[("MW_BENCH_DB_URL", format!("{}/{db}", server_url()))],
        );
        let port: u16 = f
            .first()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("server child said READY {f:?}"));
        let base = format!("http://127.0.0.1:{port}");
        println!("server: child process pid {}, {base}", child.id());

        let dir = tempfile::tempdir().expect("temp dir");
        println!("\nclosed loop (wrk -t2 -c32 -d10s; latency is wrk's, closed loop):");
        let mut max: HashMap<&str, f64> = HashMap::new();
        for r in routes {
            match wrk(&base, r, dir.path()) {
                Some(c) => {
                    println!(
                        "  {:<26} {:>8.0} req/s  p50 {:>8} p99 {:>8}  non-2xx {}  (load {})",
                        r.name,
                        c.rps,
                        c.p50,
                        c.p99,
                        c.errors,
                        machine::load()
                    );
                    assert_eq!(c.errors, 0, "{}: wrk saw error answers", r.name);
                    max.insert(r.name, c.rps);
                }
                None => println!("  wrk not found: closed-loop figures skipped"),
            }
        }

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .expect("client");
        println!(
            "\nopen loop ({secs} s each after 2 s of warm-up; latency from the scheduled time):"
        );
        for r in routes {
            let target = match r.name {
                "GET /healthz (baseline)" | "GET /v1/spent/{Y}" => vec![1_000.0, 5_000.0],
                _ => {
                    let m = max.get(r.name).copied().unwrap_or(1_000.0);
                    // 50 % of the closed-loop maximum, and a fixed 100/s everyone can compare.
                    vec![100.0, (m * 0.5).round().max(50.0)]
                }
            };
            for rate in target {
                open_loop(&client, &base, r, rate, 2.0).await;
                let o = open_loop(&client, &base, r, rate, secs).await;
                print_open(r.name, rate, &o);
            }
            println!("    (load {})", machine::load());
        }

        let ys: Vec<Point> = s
            .known
            .iter()
            .zip(&s.unknown)
            .flat_map(|(a, b)| [*a, *b])
            .collect();
        let (qps, p) = sql_baseline(store, &ys, secs).await;
        println!(
            "\nbare SQL one-Y lookup (sqlx, this process, 8 connections, closed loop): {qps:.0}/s, p50 {:.2} p99 {:.2} ms",
            p.p50, p.p99
        );

        drop(child.stdin.take());
        let _ = child.wait();
    }
}
