//! Configuration: the only place that reads the environment or the TOML file. Parsed once
//! at start into [`Config`]; secrets are redacted in `Debug`.
//!
//! Precedence: built-in defaults < TOML file (`--config` or `VIGIL_CONFIG`) < `VIGIL_*`
//! environment variables.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the server needs to start.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Address to listen on (`VIGIL_ADDR`).
    pub addr: SocketAddr,
    /// Folder for the embedded database and other state (`VIGIL_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` (`VIGIL_DATABASE_URL`); default: SQLite in `data_dir`.
    pub database_url: String,
    /// Maximum pooled database connections (`VIGIL_DATABASE_MAX_CONNECTIONS`).
    pub database_max_connections: u32,
    /// URL users reach Vigil at (`VIGIL_PUBLIC_URL`); `https://` turns on Secure cookies.
    pub public_url: String,
    /// Where the built site (wasm, js, css, assets) is (`VIGIL_SITE_ROOT`).
    pub site_root: PathBuf,
    /// `text` or `json` (`VIGIL_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info,sqlx=warn` (`VIGIL_LOG`).
    pub log_filter: String,
    /// Session lifetime after last use, hours (`VIGIL_SESSION_TTL_HOURS`).
    pub session_ttl_hours: i64,
    /// Failed sign-ins per account and IP per minute before 429 (`VIGIL_LOGIN_MAX_FAILURES`).
    pub login_max_failures: usize,
    /// Email of the admin created on first start (`VIGIL_ADMIN_EMAIL`).
    pub admin_email: String,
    /// Its password; generated and printed when unset (`VIGIL_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
    /// Request body limit for the REST API, bytes (`VIGIL_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Time zone whose calendar days KPIs use (`VIGIL_REPORTING_TZ`).
    pub reporting_tz: String,
    /// Currency money KPIs lead with, ISO 4217; empty: the one most payments use
    /// (`VIGIL_REPORTING_CURRENCY`).
    pub reporting_currency: String,
    /// Raw product events are kept this many days (`VIGIL_RAW_RETENTION_DAYS`).
    pub raw_retention_days: i64,
    /// Rollups are kept this many days (`VIGIL_ROLLUP_RETENTION_DAYS`).
    pub rollup_retention_days: i64,
    /// How often the alerting engine looks for due rules, seconds; 0 turns the engine off
    /// on this replica (`VIGIL_ENGINE_TICK_SECS`).
    pub engine_tick_secs: u64,
    /// Prometheus base URL for PromQL rules (`VIGIL_PROMETHEUS_URL`), e.g.
    /// `http://prometheus:9090`.
    pub prometheus_url: Option<String>,
    /// Metric and label names of the Technical dashboard's API traffic panel
    /// (`VIGIL_TRAFFIC_REQUESTS_METRIC`, `VIGIL_TRAFFIC_DURATION_METRIC`,
    /// `VIGIL_TRAFFIC_SERVICE_LABEL`, `VIGIL_TRAFFIC_STATUS_LABEL`).
    pub traffic: services::traffic::TrafficSettings,
    /// Proxies whose `X-Forwarded-For` is believed, CIDRs (`VIGIL_TRUSTED_PROXIES`,
    /// comma-separated; default none: the TCP peer is the client).
    pub trusted_proxies: Vec<crate::edge::Cidr>,
    /// Bearer token `/metrics` asks for (`VIGIL_METRICS_TOKEN`; unset: public).
    pub metrics_token: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &domain::secrets::redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("public_url", &self.public_url)
            .field("site_root", &self.site_root)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("session_ttl_hours", &self.session_ttl_hours)
            .field("login_max_failures", &self.login_max_failures)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "***"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("reporting_tz", &self.reporting_tz)
            .field("reporting_currency", &self.reporting_currency)
            .field("raw_retention_days", &self.raw_retention_days)
            .field("rollup_retention_days", &self.rollup_retention_days)
            .field("engine_tick_secs", &self.engine_tick_secs)
            .field(
                "prometheus_url",
                &self.prometheus_url.as_deref().map(domain::secrets::redact_url),
            )
            .field(
                "trusted_proxies",
                &self.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            )
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The TOML file: every key optional, same names as the fields of [`Config`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    public_url: Option<String>,
    site_root: Option<PathBuf>,
    log_format: Option<LogFormat>,
    log_filter: Option<String>,
    session_ttl_hours: Option<i64>,
    login_max_failures: Option<usize>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    max_body_bytes: Option<usize>,
    reporting_tz: Option<String>,
    reporting_currency: Option<String>,
    raw_retention_days: Option<i64>,
    rollup_retention_days: Option<i64>,
    engine_tick_secs: Option<u64>,
    prometheus_url: Option<String>,
    traffic_requests_metric: Option<String>,
    traffic_duration_metric: Option<String>,
    traffic_service_label: Option<String>,
    traffic_status_label: Option<String>,
    trusted_proxies: Option<String>,
    metrics_token: Option<String>,
}

/// A configuration error naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

fn err(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_owned(), message: message.into() }
}

impl Config {
    /// Reads the optional TOML file and the process environment.
    pub fn load(file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::from_sources(file, &vars)
    }

    /// Builds a config from a TOML file path and explicit `(name, value)` variables.
    pub fn from_sources(
        file: Option<PathBuf>,
        vars: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let env = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let file = file.or_else(|| env("VIGIL_CONFIG").map(PathBuf::from));
        let fc: FileConfig = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| err("config file", format!("{}: {e}", path.display())))?;
                toml::from_str(&text)
                    .map_err(|e| err("config file", format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };

        fn parse<T: std::str::FromStr>(name: &str, v: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.trim().parse().map_err(|e| err(name, format!("`{v}`: {e}")))
        }

        let addr: SocketAddr = match env("VIGIL_ADDR").or(fc.addr) {
            Some(v) => parse("VIGIL_ADDR", v)?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let data_dir = env("VIGIL_DATA_DIR")
            .map(PathBuf::from)
            .or(fc.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = env("VIGIL_DATABASE_URL")
            .or(fc.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/vigil.db", data_dir.display()));
        services::check_database_url(&database_url).map_err(|e| err("VIGIL_DATABASE_URL", e))?;
        let database_max_connections = match env("VIGIL_DATABASE_MAX_CONNECTIONS") {
            Some(v) => parse("VIGIL_DATABASE_MAX_CONNECTIONS", v)?,
            None => fc.database_max_connections.unwrap_or(10),
        };
        if database_max_connections == 0 {
            return Err(err("VIGIL_DATABASE_MAX_CONNECTIONS", "must be at least 1"));
        }
        let public_url =
            env("VIGIL_PUBLIC_URL").or(fc.public_url).unwrap_or_else(|| format!("http://{addr}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(err(
                "VIGIL_PUBLIC_URL",
                format!("`{public_url}` must start with http:// or https://"),
            ));
        }
        let site_root = env("VIGIL_SITE_ROOT")
            .or_else(|| env("LEPTOS_SITE_ROOT"))
            .map(PathBuf::from)
            .or(fc.site_root)
            .unwrap_or_else(|| PathBuf::from("target/site"));
        let log_format = match env("VIGIL_LOG_FORMAT") {
            Some(v) => match v.trim() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                other => {
                    return Err(err(
                        "VIGIL_LOG_FORMAT",
                        format!("`{other}`: expected text or json"),
                    ))
                }
            },
            None => fc.log_format.unwrap_or(LogFormat::Text),
        };
        let log_filter =
            env("VIGIL_LOG").or(fc.log_filter).unwrap_or_else(|| "info,sqlx=warn".into());
        let session_ttl_hours = match env("VIGIL_SESSION_TTL_HOURS") {
            Some(v) => parse("VIGIL_SESSION_TTL_HOURS", v)?,
            None => fc.session_ttl_hours.unwrap_or(168),
        };
        if !(1..=24 * 365).contains(&session_ttl_hours) {
            return Err(err("VIGIL_SESSION_TTL_HOURS", "must be between 1 and 8760"));
        }
        let login_max_failures = match env("VIGIL_LOGIN_MAX_FAILURES") {
            Some(v) => parse("VIGIL_LOGIN_MAX_FAILURES", v)?,
            None => fc.login_max_failures.unwrap_or(5),
        };
        if login_max_failures == 0 {
            return Err(err("VIGIL_LOGIN_MAX_FAILURES", "must be at least 1"));
        }
        let admin_email = env("VIGIL_ADMIN_EMAIL")
            .or(fc.admin_email)
            .unwrap_or_else(|| "admin@vigil.local".into());
        let admin_password =
            env("VIGIL_ADMIN_PASSWORD").or(fc.admin_password).filter(|p| !p.is_empty());
        let max_body_bytes = match env("VIGIL_MAX_BODY_BYTES") {
            Some(v) => parse("VIGIL_MAX_BODY_BYTES", v)?,
            None => fc.max_body_bytes.unwrap_or(5 * 1024 * 1024),
        };
        let reporting_tz =
            env("VIGIL_REPORTING_TZ").or(fc.reporting_tz).unwrap_or_else(|| "UTC".into());
        if reporting_tz.parse::<chrono_tz::Tz>().is_err() {
            return Err(err(
                "VIGIL_REPORTING_TZ",
                format!("`{reporting_tz}` is not an IANA time zone (e.g. UTC, Asia/Shanghai)"),
            ));
        }
        let reporting_currency =
            env("VIGIL_REPORTING_CURRENCY").or(fc.reporting_currency).unwrap_or_default();
        let reporting_currency = match reporting_currency.trim() {
            "" => String::new(),
            c => domain::kpi::subscriptions::currency_code(c).ok_or_else(|| {
                err(
                    "VIGIL_REPORTING_CURRENCY",
                    format!("`{c}` is not a three-letter ISO 4217 code (e.g. CNY, USD)"),
                )
            })?,
        };
        let raw_retention_days = match env("VIGIL_RAW_RETENTION_DAYS") {
            Some(v) => parse("VIGIL_RAW_RETENTION_DAYS", v)?,
            None => fc.raw_retention_days.unwrap_or(30),
        };
        if !(1..=3650).contains(&raw_retention_days) {
            return Err(err("VIGIL_RAW_RETENTION_DAYS", "must be between 1 and 3650"));
        }
        let rollup_retention_days = match env("VIGIL_ROLLUP_RETENTION_DAYS") {
            Some(v) => parse("VIGIL_ROLLUP_RETENTION_DAYS", v)?,
            None => fc.rollup_retention_days.unwrap_or(365),
        };
        if !(raw_retention_days..=36_500).contains(&rollup_retention_days) {
            return Err(err(
                "VIGIL_ROLLUP_RETENTION_DAYS",
                "must be at least the raw-event retention",
            ));
        }
        let engine_tick_secs = match env("VIGIL_ENGINE_TICK_SECS") {
            Some(v) => parse("VIGIL_ENGINE_TICK_SECS", v)?,
            None => fc.engine_tick_secs.unwrap_or(5),
        };
        if engine_tick_secs > 3600 {
            return Err(err("VIGIL_ENGINE_TICK_SECS", "must be between 0 (engine off) and 3600"));
        }
        let prometheus_url = env("VIGIL_PROMETHEUS_URL")
            .or(fc.prometheus_url)
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        if let Some(u) = &prometheus_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err(
                    "VIGIL_PROMETHEUS_URL",
                    format!("`{u}` must start with http:// or https://"),
                ));
            }
        }
        let traffic = {
            use services::traffic::{is_label_name, is_metric_name, TrafficSettings};
            let d = TrafficSettings::default();
            let pick = |var: &str,
                        file: Option<String>,
                        default: String,
                        ok: fn(&str) -> bool,
                        what: &str| {
                let v = env(var).or(file).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
                match v {
                    None => Ok(default),
                    Some(v) if ok(&v) => Ok(v),
                    Some(v) => Err(err(var, format!("`{v}` is not a Prometheus {what} name"))),
                }
            };
            TrafficSettings {
                requests_metric: pick(
                    "VIGIL_TRAFFIC_REQUESTS_METRIC",
                    fc.traffic_requests_metric,
                    d.requests_metric,
                    is_metric_name,
                    "metric",
                )?,
                duration_metric: pick(
                    "VIGIL_TRAFFIC_DURATION_METRIC",
                    fc.traffic_duration_metric,
                    d.duration_metric,
                    is_metric_name,
                    "metric",
                )?,
                service_label: pick(
                    "VIGIL_TRAFFIC_SERVICE_LABEL",
                    fc.traffic_service_label,
                    d.service_label,
                    is_label_name,
                    "label",
                )?,
                status_label: pick(
                    "VIGIL_TRAFFIC_STATUS_LABEL",
                    fc.traffic_status_label,
                    d.status_label,
                    is_label_name,
                    "label",
                )?,
            }
        };
        let trusted_proxies = match env("VIGIL_TRUSTED_PROXIES").or(fc.trusted_proxies) {
            Some(v) => crate::edge::parse_cidrs(&v).map_err(|m| err("VIGIL_TRUSTED_PROXIES", m))?,
            None => Vec::new(),
        };
        let metrics_token = env("VIGIL_METRICS_TOKEN")
            .or(fc.metrics_token)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(err("VIGIL_METRICS_TOKEN", "must be at least 16 characters"));
        }
        Ok(Config {
            addr,
            data_dir,
            database_url,
            database_max_connections,
            public_url,
            site_root,
            log_format,
            log_filter,
            session_ttl_hours,
            login_max_failures,
            admin_email,
            admin_password,
            max_body_bytes,
            reporting_tz,
            reporting_currency,
            raw_retention_days,
            rollup_retention_days,
            engine_tick_secs,
            prometheus_url,
            traffic,
            trusted_proxies,
            metrics_token,
        })
    }

    /// Cookies get `Secure` when Vigil is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The edge layers' settings.
    pub fn edge_policy(&self) -> crate::edge::EdgePolicy {
        crate::edge::EdgePolicy {
            trusted_proxies: self.trusted_proxies.clone(),
            metrics_token: self.metrics_token.clone(),
            hsts: self.secure_cookies(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_embedded_sqlite_on_localhost() {
        let c = Config::from_sources(None, &[]).expect("defaults");
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/vigil.db");
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(!c.secure_cookies());
    }

    #[test]
    fn env_overrides_file_and_secrets_are_redacted() {
        let dir = std::env::temp_dir().join(format!("vigil-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("vigil.toml");
        std::fs::write(&file, "addr = \"0.0.0.0:8080\"\nlog_format = \"json\"\nadmin_password = \"from-file-secret\"\n")
            .expect("write");
        let c = Config::from_sources(
            Some(file),
            &vars(&[
                ("VIGIL_ADDR", "127.0.0.1:9000"),
                ("VIGIL_DATABASE_URL", "postgres://vigil:hunter2@db/vigil"),
                ("VIGIL_PUBLIC_URL", "https://vigil.example.com"),
            ]),
        )
        .expect("config");
        assert_eq!(c.addr.to_string(), "127.0.0.1:9000", "env wins over file");
        assert_eq!(c.log_format, LogFormat::Json, "file wins over default");
        assert!(c.secure_cookies());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("from-file-secret"), "{dbg}");
        assert!(dbg.contains("postgres://vigil:***@db/vigil"));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases = [
            ("VIGIL_ADDR", "not-an-addr"),
            ("VIGIL_DATABASE_URL", "mysql://x/y"),
            ("VIGIL_LOG_FORMAT", "xml"),
            ("VIGIL_SESSION_TTL_HOURS", "0"),
            ("VIGIL_PUBLIC_URL", "vigil.example.com"),
            ("VIGIL_LOGIN_MAX_FAILURES", "many"),
            ("VIGIL_REPORTING_TZ", "Mars/Olympus"),
            ("VIGIL_RAW_RETENTION_DAYS", "0"),
        ];
        for (k, v) in cases {
            let e = Config::from_sources(None, &vars(&[(k, v)])).expect_err(k);
            assert_eq!(e.setting, k, "{e}");
        }
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("vigil-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bad.toml");
        std::fs::write(&file, "adress = \"x\"\n").expect("write");
        let e = Config::from_sources(Some(file), &[]).expect_err("unknown key");
        assert!(e.message.contains("adress"), "{e}");
    }
}
