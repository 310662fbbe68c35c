//! The server child: the real router over the bench database, on 127.0.0.1 with its own
//! 2-worker runtime, stopped when its stdin closes.

use std::io::{Read, Write};

use mintwatch_api::{metrics_recorder, serve, ApiState};
use mintwatch_store::Store;
use mintwatch_testkit::bench;

pub(crate) fn server_child() {
    let url = std::env::var("MW_BENCH_DB_URL").expect("MW_BENCH_DB_URL");
    let rt = bench::runtime();
    rt.block_on(async {
        let store = Store::connect(&url).await.expect("connect");
        let state = ApiState::new(store, metrics_recorder().expect("recorder"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        println!("READY {port}");
        std::io::stdout().flush().expect("flush");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
            let _ = stop_tx.send(());
        });
        serve(listener, state, async {
            let _ = stop_rx.await;
        })
        .await
        .expect("serve");
    });
}
