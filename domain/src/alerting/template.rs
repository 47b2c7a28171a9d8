//! Annotation templates: the subset of Prometheus' `{{ … }}` syntax that alert messages use
//! — `{{ $value }}`, `{{ $threshold }}`, `{{ $labels.name }}` (spaces inside the braces are
//! optional). Anything else between braces is an error at save time, not a surprise in a
//! page at 3 a.m.

use super::Labels;

enum Part<'a> {
    Text(&'a str),
    Value,
    Threshold,
    Label(&'a str),
}

fn parse(t: &str) -> Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        out.push(Part::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close =
            after.find("}}").ok_or_else(|| "has a `{{` without a closing `}}`".to_owned())?;
        let inner = after[..close].trim();
        out.push(match inner {
            "$value" => Part::Value,
            "$threshold" => Part::Threshold,
            _ => match inner.strip_prefix("$labels.") {
                Some(name) if super::rule::valid_label_name(name) => Part::Label(name),
                _ => {
                    return Err(format!(
                        "unknown placeholder {{{{ {inner} }}}}; use $value, $threshold or $labels.<name>"
                    ))
                }
            },
        });
        rest = &after[close + 2..];
    }
    out.push(Part::Text(rest));
    Ok(out)
}

/// `Ok` when every placeholder is known.
pub fn check(t: &str) -> Result<(), String> {
    parse(t).map(|_| ())
}

/// Formats a value for a message: integers without decimals, others with up to 4
/// significant decimals.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Expands a template; an invalid one is returned as written (it was validated at save).
pub fn expand(t: &str, value: Option<f64>, threshold: Option<f64>, labels: &Labels) -> String {
    let Ok(parts) = parse(t) else {
        return t.to_owned();
    };
    let mut out = String::with_capacity(t.len() + 16);
    for p in parts {
        match p {
            Part::Text(s) => out.push_str(s),
            Part::Value => out.push_str(&value.map(format_value).unwrap_or_default()),
            Part::Threshold => out.push_str(&threshold.map(format_value).unwrap_or_default()),
            Part::Label(n) => out.push_str(labels.get(n).map(String::as_str).unwrap_or("")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_value_threshold_and_labels() {
        let mut l = Labels::new();
        l.insert("service".into(), "chat".into());
        assert_eq!(
            expand(
                "{{$labels.service}}: success {{ $value }} < {{ $threshold }} ({{ $labels.team }})",
                Some(0.8512345),
                Some(0.9),
                &l
            ),
            "chat: success 0.8512 < 0.9 ()"
        );
        assert_eq!(expand("no placeholders", None, None, &l), "no placeholders");
        assert_eq!(expand("{{ $value }}", Some(1200.0), None, &l), "1200");
    }

    #[test]
    fn rejects_unknown_or_unclosed_placeholders() {
        assert!(check("{{ $value }} and {{ $labels.x }}").is_ok());
        assert!(check("{{ $values }}").unwrap_err().contains("$values"));
        assert!(check("{{ $labels. }}").is_err());
        assert!(check("open {{ $value").unwrap_err().contains("closing"));
    }
}
