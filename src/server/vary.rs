//! One `Vary` header however many fairings add to it: CORS varies on `Origin`, gzip on
//! `Accept-Encoding`, and a cache must hear both. Setting the header outright would keep only
//! whichever fairing ran last.

use rocket::http::Header;
use rocket::Response;

/// Adds `name` to the answer's `Vary`, keeping what is there and naming nothing twice.
pub fn vary_on(res: &mut Response<'_>, name: &str) {
    let mut names: Vec<String> = res
        .headers()
        .get("Vary")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name) || n == "*")
    {
        return;
    }
    names.push(name.to_string());
    res.set_header(Header::new("Vary", names.join(", ")));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary_after(existing: &[&str], added: &[&str]) -> Vec<String> {
        let mut res = Response::new();
        for v in existing {
            res.adjoin_header(Header::new("Vary", v.to_string()));
        }
        for name in added {
            vary_on(&mut res, name);
        }
        res.headers().get("Vary").map(str::to_string).collect()
    }

    #[test]
    fn each_name_is_added_once_to_one_header() {
        assert_eq!(vary_after(&[], &["Origin"]), ["Origin"]);
        assert_eq!(
            vary_after(&[], &["Origin", "Accept-Encoding", "origin"]),
            ["Origin, Accept-Encoding"]
        );
        assert_eq!(
            vary_after(&["Accept-Encoding", "Cookie"], &["Origin"]),
            ["Accept-Encoding, Cookie, Origin"]
        );
        assert_eq!(vary_after(&["*"], &["Origin"]), ["*"]);
    }
}
