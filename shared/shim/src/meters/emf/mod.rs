//! A `metrics` recorder that writes CloudWatch Embedded Metric Format: what was counted
//! since the last flush, one JSON line per label set, each declaring its namespace,
//! dimensions (the function's name, then the labels) and metrics, with every referenced
//! member at the root and every dimension value a string.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use serde_json::{json, Map, Value};

use crate::config::ConfigError;

/// Where EMF lines go in CloudWatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfSettings {
    /// `METRICS_NAMESPACE` (default `LZStock`).
    pub namespace: String,
    /// The `FunctionName` dimension on every line (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// `METRICS_DIMENSIONS`: constant dimensions on every line after `FunctionName`, e.g.
    /// `Stage=prod,Service=lzstock`.
    pub dimensions: Vec<(String, String)>,
}

impl Default for EmfSettings {
    fn default() -> Self {
        Self {
            namespace: "LZStock".into(),
            function_name: "unknown".into(),
            dimensions: Vec::new(),
        }
    }
}

/// CloudWatch allows 30 dimensions a set: `FunctionName`, these, and the metric's labels.
const MAX_CONSTANT_DIMENSIONS: usize = 10;

impl EmfSettings {
    /// Reads `METRICS_NAMESPACE`, `METRICS_DIMENSIONS` and `AWS_LAMBDA_FUNCTION_NAME`.
    ///
    /// # Errors
    /// When the namespace is longer than CloudWatch's 255 characters, or the dimensions are
    /// not `Name=value` pairs (names distinct, at most 10, neither part blank or over 255
    /// characters).
    pub fn from_source(source: &dyn crate::config::Source) -> Result<Self, ConfigError> {
        let namespace = crate::config::optional(source, "METRICS_NAMESPACE")
            .unwrap_or_else(|| "LZStock".into());
        if namespace.len() > 255 {
            return Err(ConfigError::Malformed {
                name: "METRICS_NAMESPACE",
                reason: "longer than CloudWatch's 255 characters".into(),
            });
        }
        let dimensions = crate::config::optional(source, "METRICS_DIMENSIONS")
            .map(|raw| parse_dimensions(&raw))
            .transpose()
            .map_err(|reason| ConfigError::Malformed {
                name: "METRICS_DIMENSIONS",
                reason,
            })?
            .unwrap_or_default();
        Ok(Self {
            namespace,
            function_name: crate::config::optional(source, "AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "unknown".into()),
            dimensions,
        })
    }
}

fn parse_dimensions(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut dimensions: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not Name=value"));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || value.is_empty() || name.len() > 255 || value.len() > 255 {
            return Err(format!("{pair:?}: a name and a value of 1-255 characters"));
        }
        if name == "FunctionName" || dimensions.iter().any(|(n, _)| n == name) {
            return Err(format!("{name} is named twice"));
        }
        dimensions.push((name.to_owned(), value.to_owned()));
    }
    if dimensions.len() > MAX_CONSTANT_DIMENSIONS {
        return Err(format!("at most {MAX_CONSTANT_DIMENSIONS} dimensions"));
    }
    Ok(dimensions)
}

enum Cell {
    Counter(AtomicU64),
    Gauge(AtomicU64),
    Histogram(Mutex<Vec<f64>>),
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        if let Self::Counter(count) = self {
            count.fetch_add(value, Ordering::Relaxed);
        }
    }

    fn absolute(&self, value: u64) {
        if let Self::Counter(count) = self {
            count.store(value, Ordering::Relaxed);
        }
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.set(self.gauge() + value);
    }

    fn decrement(&self, value: f64) {
        self.set(self.gauge() - value);
    }

    fn set(&self, value: f64) {
        if let Self::Gauge(bits) = self {
            bits.store(value.to_bits(), Ordering::Relaxed);
        }
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        if let Self::Histogram(values) = self {
            if let Ok(mut values) = values.lock() {
                values.push(value);
            }
        }
    }
}

impl Cell {
    fn gauge(&self) -> f64 {
        match self {
            Self::Gauge(bits) => f64::from_bits(bits.load(Ordering::Relaxed)),
            _ => 0.0,
        }
    }
}

/// The recorder; see the module's documentation.
pub struct EmfRecorder {
    settings: EmfSettings,
    cells: Mutex<HashMap<Key, Arc<Cell>>>,
}

impl std::fmt::Debug for EmfRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfRecorder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A line's labels, sorted.
type LabelSet = Vec<(String, String)>;

/// A line's metrics: name → (value, unit).
type Members = BTreeMap<String, (Value, &'static str)>;

/// CloudWatch takes at most 100 values of one metric in one line.
const MAX_VALUES: usize = 100;

impl EmfRecorder {
    /// A recorder writing lines for `settings`.
    #[must_use]
    pub fn new(settings: EmfSettings) -> Self {
        Self {
            settings,
            cells: Mutex::default(),
        }
    }

    fn cell(&self, key: &Key, make: impl FnOnce() -> Cell) -> Arc<Cell> {
        let Ok(mut cells) = self.cells.lock() else {
            return Arc::new(make());
        };
        Arc::clone(cells.entry(key.clone()).or_insert_with(|| Arc::new(make())))
    }

    /// The EMF lines for what was counted since the last call (counters and histograms
    /// start again from nothing; gauges keep their value), stamped `timestamp_ms`.
    #[must_use]
    pub fn take_lines(&self, timestamp_ms: i64) -> Vec<String> {
        let Ok(cells) = self.cells.lock() else {
            return Vec::new();
        };
        // Per label set, the members of each of its lines: counters, gauges and a
        // histogram's first hundred values on the first; a histogram's next hundred on the
        // next, and so on, so no value is dropped.
        let mut lines: BTreeMap<LabelSet, Vec<Members>> = BTreeMap::new();
        for (key, cell) in cells.iter() {
            let (values, unit): (Vec<Value>, &'static str) = match cell.as_ref() {
                Cell::Counter(count) => match count.swap(0, Ordering::Relaxed) {
                    0 => continue,
                    n => (vec![json!(n)], "Count"),
                },
                Cell::Gauge(_) => (vec![json!(cell.gauge())], "None"),
                Cell::Histogram(values) => {
                    let taken: Vec<f64> = match values.lock() {
                        Ok(mut values) => std::mem::take(&mut *values),
                        Err(_) => continue,
                    };
                    if taken.is_empty() {
                        continue;
                    }
                    let unit = if key.name().ends_with("_seconds") {
                        "Seconds"
                    } else {
                        "None"
                    };
                    (
                        taken.chunks(MAX_VALUES).map(|chunk| json!(chunk)).collect(),
                        unit,
                    )
                }
            };
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let set = lines.entry(labels).or_default();
            for (index, value) in values.into_iter().enumerate() {
                if set.len() <= index {
                    set.push(Members::new());
                }
                set[index].insert(key.name().to_owned(), (value, unit));
            }
        }
        lines
            .into_iter()
            .flat_map(|(labels, sets)| {
                sets.into_iter()
                    .map(|metrics| self.line(timestamp_ms, &labels, &metrics))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn line(&self, timestamp_ms: i64, labels: &[(String, String)], metrics: &Members) -> String {
        let mut root = Map::new();
        let mut dimensions = vec!["FunctionName".to_owned()];
        root.insert(
            "FunctionName".into(),
            Value::String(self.settings.function_name.clone()),
        );
        for (key, value) in &self.settings.dimensions {
            dimensions.push(key.clone());
            root.insert(key.clone(), Value::String(value.clone()));
        }
        for (key, value) in labels {
            // A label that collides with a metric's name or the function's dimension is
            // dropped rather than overwrite a member CloudWatch reads.
            if key == "FunctionName" || metrics.contains_key(key) || root.contains_key(key) {
                continue;
            }
            dimensions.push(key.clone());
            root.insert(key.clone(), Value::String(value.clone()));
        }
        let declared: Vec<Value> = metrics
            .iter()
            .map(|(name, (_, unit))| json!({"Name": name, "Unit": unit}))
            .collect();
        for (name, (value, _)) in metrics {
            root.insert(name.clone(), value.clone());
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.settings.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": declared,
                }],
            }),
        );
        Value::Object(root).to_string()
    }

    /// Writes [`EmfRecorder::take_lines`] to stdout, where Lambda sends it to CloudWatch.
    pub fn flush_to_stdout(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        for line in self.take_lines(now) {
            println!("{line}");
        }
    }
}

/// The recorder as installed globally.
pub(super) struct Shared(pub(super) Arc<EmfRecorder>);

impl Recorder for Shared {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.cell(key, || Cell::Counter(AtomicU64::new(0))))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.cell(key, || Cell::Gauge(AtomicU64::new(0))))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.cell(key, || Cell::Histogram(Mutex::default())))
    }
}

#[cfg(test)]
mod tests;
