//! Editing the routing tree one route at a time, as the routing editor's forms do: a
//! route is addressed by its path (`0` the root, `0.2.1` the second child of the third
//! child), the same path the dispatcher puts in group keys and the tester shows.

use super::policy::{parse_matchers, Policy, Route};
pub use domain::alerting::routing::{RouteForm, RouteOp, RouteRow};
use domain::alerting::{format_duration, parse_duration};
use domain::FieldErrors;

fn indices(path: &str) -> Option<Vec<usize>> {
    let mut parts = path.split('.');
    if parts.next()? != "0" {
        return None;
    }
    parts.map(|p| p.parse().ok()).collect()
}

fn no_route(path: &str) -> FieldErrors {
    let mut e = FieldErrors::new();
    e.add("path", format!("there is no route {path:?} (reload: the tree may have changed)"));
    e
}

impl Policy {
    pub fn route_at(&self, path: &str) -> Option<&Route> {
        indices(path)?.into_iter().try_fold(&self.route, |r, i| r.routes.get(i))
    }

    fn route_at_mut(&mut self, path: &str) -> Option<&mut Route> {
        indices(path)?.into_iter().try_fold(&mut self.route, |r, i| r.routes.get_mut(i))
    }

    /// The tree flattened depth-first, each route with its form.
    pub fn rows(&self) -> Vec<RouteRow> {
        fn walk(
            r: &Route,
            path: String,
            depth: usize,
            first: bool,
            last: bool,
            out: &mut Vec<RouteRow>,
        ) {
            out.push(RouteRow { path: path.clone(), depth, first, last, form: r.form() });
            let n = r.routes.len();
            for (i, c) in r.routes.iter().enumerate() {
                walk(c, format!("{path}.{i}"), depth + 1, i == 0, i + 1 == n, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.route, "0".into(), 0, true, true, &mut out);
        out
    }

    /// Replaces the route at `path` with the form's settings (its children stay). Errors
    /// name the form's fields.
    pub fn apply_form(&mut self, path: &str, form: &RouteForm) -> Result<(), FieldErrors> {
        let root = path == "0";
        let mut e = FieldErrors::new();
        let matchers = match parse_matchers(&form.matchers) {
            Ok(ms) if root && !ms.is_empty() => {
                e.add("matchers", "the root route takes every alert: it has no matchers");
                Vec::new()
            }
            Ok(ms) => ms,
            Err(m) => {
                e.add("matchers", m);
                Vec::new()
            }
        };
        if root && form.continue_ {
            e.add("continue", "the root route has no siblings to continue to");
        }
        let mut group_by = None;
        let names: Vec<String> = form
            .group_by
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match names.iter().find(|n| !domain::alerting::rule::valid_label_name(n)) {
            Some(bad) => e.add("group_by", format!("{bad:?} is not a label name")),
            None if !names.is_empty() => group_by = Some(names),
            None => {}
        }
        let mut timing = |field: &str, text: &str| -> Option<i64> {
            if text.trim().is_empty() {
                return None;
            }
            match parse_duration(text) {
                Ok(ms) if (0..=7 * 86_400_000).contains(&ms) => Some(ms),
                Ok(_) => {
                    e.add(field, "must be between 0 and 7d");
                    None
                }
                Err(m) => {
                    e.add(field, m);
                    None
                }
            }
        };
        let group_wait_ms = timing("group_wait", &form.group_wait);
        let group_interval_ms = timing("group_interval", &form.group_interval);
        let repeat_interval_ms = timing("repeat_interval", &form.repeat_interval);
        let mut channels: Vec<String> = Vec::new();
        for c in form.channels.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            if !channels.iter().any(|x| x == c) {
                channels.push(c.to_owned());
            }
        }
        e.into_result()?;
        let r = self.route_at_mut(path).ok_or_else(|| no_route(path))?;
        *r = Route {
            matchers,
            channels,
            group_by,
            group_wait_ms,
            group_interval_ms,
            repeat_interval_ms,
            continue_: form.continue_,
            escalation_policy_id: form.escalation_policy_id,
            digest: form.digest,
            routes: std::mem::take(&mut r.routes),
        };
        Ok(())
    }

    /// Adds, deletes or moves a route; returns the path of the route afterwards (the new
    /// child's, the moved route's, the deleted one's parent).
    pub fn apply_op(&mut self, path: &str, op: RouteOp) -> Result<String, FieldErrors> {
        self.route_at(path).ok_or_else(|| no_route(path))?;
        if op == RouteOp::AddChild {
            let r = self.route_at_mut(path).ok_or_else(|| no_route(path))?;
            r.routes.push(Route::default());
            return Ok(format!("{path}.{}", r.routes.len() - 1));
        }
        let Some((parent, i)) = path.rsplit_once('.') else {
            let mut e = FieldErrors::new();
            e.add("path", "the root route cannot be deleted or moved");
            return Err(e);
        };
        let i: usize = i.parse().map_err(|_| no_route(path))?;
        let siblings = &mut self.route_at_mut(parent).ok_or_else(|| no_route(path))?.routes;
        let to = match op {
            RouteOp::Delete => {
                siblings.remove(i);
                return Ok(parent.to_owned());
            }
            RouteOp::Up => i.checked_sub(1),
            _ => Some(i + 1).filter(|j| *j < siblings.len()),
        };
        let Some(j) = to else {
            let mut e = FieldErrors::new();
            e.add("path", "already at that end of its siblings");
            return Err(e);
        };
        siblings.swap(i, j);
        Ok(format!("{parent}.{j}"))
    }
}

impl Route {
    pub fn form(&self) -> RouteForm {
        let ms = |v: Option<i64>| v.map(format_duration).unwrap_or_default();
        RouteForm {
            matchers: self.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            channels: self.channels.clone(),
            escalation_policy_id: self.escalation_policy_id,
            group_by: self.group_by.as_ref().map(|g| g.join(", ")).unwrap_or_default(),
            group_wait: ms(self.group_wait_ms),
            group_interval: ms(self.group_interval_ms),
            repeat_interval: ms(self.repeat_interval_ms),
            continue_: self.continue_,
            digest: self.digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_and_errors_name_the_field() {
        let mut p = Policy::default();
        let rows = p.rows();
        assert_eq!(rows.len(), 6, "root, incident route and four levels");
        assert_eq!(rows[2].path, "0.1");
        assert_eq!(rows[2].form.matchers, "severity=\"P0\"");
        assert_eq!(rows[2].form.channels, vec!["phone", "feishu"]);
        assert!(rows[1].first && !rows[1].last && rows[5].last);
        // Writing every row's own form back changes nothing.
        let before = p.clone();
        for r in &rows {
            p.apply_form(&r.path, &r.form).expect("own form");
        }
        assert_eq!(p, before);

        let mut f = rows[2].form.clone();
        f.matchers = "severity=\"P0\", team=~\"(\"".into();
        f.group_by = "alertname, 9bad".into();
        f.group_wait = "soon".into();
        f.repeat_interval = "30d".into();
        let e = p.apply_form("0.1", &f).expect_err("bad form");
        for field in ["matchers", "group_by", "group_wait", "repeat_interval"] {
            assert!(e.0.iter().any(|x| x.field == field), "{field}: {e:?}");
        }
        assert_eq!(p, before, "nothing partial");
        let mut root = rows[0].form.clone();
        root.matchers = "team=db".into();
        root.continue_ = true;
        let e = p.apply_form("0", &root).expect_err("root");
        assert!(
            e.0.iter().any(|x| x.field == "matchers") && e.0.iter().any(|x| x.field == "continue")
        );
        assert!(p.apply_form("0.9", &rows[1].form).is_err(), "no such route");

        f = rows[3].form.clone();
        f.channels = vec!["feishu-db".into(), " feishu-db ".into(), "".into()];
        f.escalation_policy_id = Some(4);
        f.group_wait = "10s".into();
        p.apply_form("0.2", &f).expect("edit");
        let r = p.route_at("0.2").expect("route");
        assert_eq!(
            (r.channels.clone(), r.escalation_policy_id, r.group_wait_ms),
            (vec!["feishu-db".to_owned()], Some(4), Some(10_000))
        );
    }

    #[test]
    fn add_move_delete_keep_the_tree_whole() {
        let mut p = Policy::default();
        assert_eq!(p.apply_op("0.4", RouteOp::AddChild), Ok("0.4.0".into()));
        assert_eq!(p.route_at("0.4.0"), Some(&Route::default()));
        assert_eq!(p.apply_op("0.4", RouteOp::Up), Ok("0.3".into()));
        assert_eq!(p.route_at("0.3").map(|r| r.routes.len()), Some(1), "moved with its child");
        assert!(p.apply_op("0.1", RouteOp::Down).is_ok());
        assert_eq!(p.route_at("0.2").map(|r| r.form().matchers), Some("severity=\"P0\"".into()));
        assert!(p.apply_op("0.0", RouteOp::Up).is_err(), "already first");
        assert!(p.apply_op("0.4", RouteOp::Down).is_err(), "already last");
        assert!(p.apply_op("0", RouteOp::Delete).is_err(), "the root stays");
        assert!(p.apply_op("x.1", RouteOp::Delete).is_err());
        assert_eq!(p.apply_op("0.3", RouteOp::Delete), Ok("0".into()));
        assert_eq!(p.route.routes.len(), 4);
        assert!(p.route.routes.iter().all(|r| r.routes.is_empty()), "the child went with it");
        assert_eq!(RouteOp::parse("add_child"), Some(RouteOp::AddChild));
        assert_eq!(RouteOp::parse("drop"), None);
    }
}
