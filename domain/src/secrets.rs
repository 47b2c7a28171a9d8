//! Secrets inside configured URLs (a database password, a Prometheus behind basic auth, a
//! token in a query string) are hidden before a URL reaches a log line or an error text.

/// The URL with its secrets replaced by `***`: the password of `user:password@`, the
/// whole user part of an http(s) URL (`https://TOKEN@host`), and the values of query
/// parameters whose names look secret (`token`, `key`, `secret`, `password`, `auth`,
/// `sig`…). Everything else is kept, so the URL still says where it points.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let authority_end =
        url[rest_start..].find(['/', '?', '#']).map_or(url.len(), |i| rest_start + i);
    let authority = &url[rest_start..authority_end];
    let http = url[..scheme_end].eq_ignore_ascii_case("http")
        || url[..scheme_end].eq_ignore_ascii_case("https");
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    match authority.rsplit_once('@') {
        Some((creds, host)) => {
            match creds.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None if http => out.push_str("***"),
                None => out.push_str(creds),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    let tail = &url[authority_end..];
    let (before_fragment, fragment) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let parts: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if secret_name(k) => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&parts.join("&"));
        }
        None => out.push_str(before_fragment),
    }
    out.push_str(fragment);
    out
}

fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["token", "key", "secret", "pass", "auth", "sig", "credential"].iter().any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn hides_passwords_tokens_and_secret_parameters() {
        for (url, want) in [
            ("postgres://vigil:s3cret@db:5432/vigil", "postgres://vigil:***@db:5432/vigil"),
            ("postgres://vigil@db/vigil", "postgres://vigil@db/vigil"),
            ("sqlite://data/vigil.db", "sqlite://data/vigil.db"),
            (
                "https://admin:hunter2@prom.example/api?x=1",
                "https://admin:***@prom.example/api?x=1",
            ),
            ("https://ghp_TOKEN@prom.example/", "https://***@prom.example/"),
            (
                "http://prom:9090/api/v1/query?query=up&access_token=abc&apiKey=k#frag",
                "http://prom:9090/api/v1/query?query=up&access_token=***&apiKey=***#frag",
            ),
            ("http://h/p@q?x=1", "http://h/p@q?x=1"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
