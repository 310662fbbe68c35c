//! A metrics recorder for benches that sums each histogram, so a bench can say where the
//! pipeline's time went (verification, each store phase, each analyze phase).

/// A metrics recorder that keeps, per histogram name, the sum and count of what was recorded
/// (the pipeline records the seconds each batch spent in the store and in analyze), so a bench
/// can say where the time went. Counters and gauges are dropped.
#[derive(Default, Clone)]
pub struct Sums(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, (f64, u64)>>>);

struct SumOne {
    name: String,
    sums: Sums,
}

impl metrics::HistogramFn for SumOne {
    fn record(&self, value: f64) {
        let mut m = self.sums.0.lock().expect("sums lock");
        let e = m.entry(self.name.clone()).or_default();
        e.0 += value;
        e.1 += 1;
    }
}

impl metrics::Recorder for Sums {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::noop()
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        let labels: Vec<&str> = key.labels().map(|l| l.value()).collect();
        let name = if labels.is_empty() {
            key.name().to_string()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        metrics::Histogram::from_arc(std::sync::Arc::new(SumOne {
            name,
            sums: self.clone(),
        }))
    }
}

impl Sums {
    /// Installs a fresh recorder as the global one and returns a handle on its sums.
    pub fn install() -> Sums {
        let sums = Sums::default();
        metrics::set_global_recorder(sums.clone()).expect("first recorder");
        sums
    }

    /// Forgets everything recorded so far.
    pub fn reset(&self) {
        self.0.lock().expect("sums lock").clear();
    }

    /// `label s, ...` for every labelled series of histogram `name` (e.g. the seconds of each
    /// phase of the store), in label order.
    pub fn breakdown(&self, name: &str) -> String {
        let prefix = format!("{name}{{");
        self.0
            .lock()
            .expect("sums lock")
            .iter()
            .filter_map(|(k, (sum, _))| {
                k.strip_prefix(&prefix)
                    .map(|label| format!("{} {sum:.2} s", label.trim_end_matches('}')))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Prints where the pipeline's time went: the verification pool, each store phase, each
    /// analyze phase (sums over batches).
    pub fn print_stages(&self) {
        let (verify_s, _) = self.get("mintwatch_verify_batch_seconds");
        println!(
            "    verify (decode, dedup, verify, parse) {verify_s:.2} s of batches, on the pool"
        );
        println!(
            "    store phases: {}",
            self.breakdown("mintwatch_store_phase_seconds")
        );
        println!(
            "    analyze phases: {}",
            self.breakdown("mintwatch_analyze_phase_seconds")
        );
    }

    /// (sum, count) for a histogram.
    pub fn get(&self, name: &str) -> (f64, u64) {
        self.0
            .lock()
            .expect("sums lock")
            .get(name)
            .copied()
            .unwrap_or_default()
    }
}
