//! The CloudWatch Embedded Metric Format specification, as a checker for the lines a
//! function prints: what CloudWatch would refuse or silently drop is an error here.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::Value;

/// The units CloudWatch accepts.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one line against the specification and returns it parsed: a JSON object whose
/// `_aws` has an integer `Timestamp` and a `CloudWatchMetrics` array of directives, each
/// with a `Namespace` (1–255 characters), `Dimensions` (arrays of at most 30 names, each a
/// string member at the root) and `Metrics` (at most 100, each named, with a known `Unit`
/// if any, and a number or an array of at most 100 numbers at the root).
///
/// # Errors
/// The first rule the line breaks.
pub fn check(line: &str) -> Result<Value, String> {
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let object = root.as_object().ok_or("not a JSON object")?;
    let aws = object.get("_aws").ok_or("no _aws member")?;
    if !aws["Timestamp"].is_i64() && !aws["Timestamp"].is_u64() {
        return Err("_aws.Timestamp is not an integer of milliseconds".into());
    }
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics is empty".into());
    }
    for directive in directives {
        let namespace = directive["Namespace"]
            .as_str()
            .ok_or("a directive without a Namespace string")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!("Namespace {namespace:?} is not 1-255 characters"));
        }
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or("a directive without a Dimensions array")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not an array")?;
            if names.len() > 30 {
                return Err("a dimension set of more than 30 dimensions".into());
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !object.get(name).is_some_and(Value::is_string) {
                    return Err(format!(
                        "dimension {name} is not a string member at the root"
                    ));
                }
            }
        }
        let metrics = directive["Metrics"]
            .as_array()
            .ok_or("a directive without a Metrics array")?;
        if metrics.len() > 100 {
            return Err("more than 100 metrics in a directive".into());
        }
        for metric in metrics {
            let name = metric["Name"].as_str().ok_or("a metric without a Name")?;
            if name.is_empty() || name.len() > 255 {
                return Err(format!("metric name {name:?} is not 1-255 characters"));
            }
            if let Some(unit) = metric.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!(
                        "metric {name} has unit {unit}, not a CloudWatch unit"
                    ));
                }
            }
            match object.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                _ => {
                    return Err(format!(
                        "metric {name} is not a number or at most 100 numbers at the root"
                    ))
                }
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn the_specifications_rules_hold() {
        let good = r#"{"_aws":{"Timestamp":1795000000000,"CloudWatchMetrics":[{"Namespace":"LZStock","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"n","Unit":"Count"}]}]},"FunctionName":"events","n":1}"#;
        assert!(check(good).is_ok());
        for (bad, why) in [
            (
                good.replace(r#""FunctionName":"events","#, r#""FunctionName":3,"#),
                "dimension",
            ),
            (good.replace(r#","n":1"#, ""), "metric n"),
            (good.replace("1795000000000", r#""now""#), "Timestamp"),
            (good.replace(r#""Count""#, r#""Things""#), "unit"),
            (good.replace(r#""Namespace":"LZStock","#, ""), "Namespace"),
        ] {
            let error = check(&bad).expect_err(why);
            assert!(error.contains(why), "{error} / {why}");
        }
    }
}
