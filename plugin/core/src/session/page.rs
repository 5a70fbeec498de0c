//! The small HTML pages a person sees from the gate itself: refused while signed in
//! (who they are, a sign-out link, the groups only if the operator opts in), and a
//! sign-in that could not finish. Everything from outside is HTML-escaped.

use crate::respond::LocalResponse;

/// Headers of every page: no caching, no framing, no scripts.
fn page_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "text/html; charset=utf-8".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
        ("content-security-policy".to_owned(), "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'".to_owned()),
        ("x-frame-options".to_owned(), "DENY".to_owned()),
    ]
}

/// What a refused, signed-in person reads.
pub struct Refusal<'a> {
    pub status: u16,
    pub reason: &'a str,
    pub email: &'a str,
    pub sign_out_path: &'a str,
    pub request_id: &'a str,
    /// The groups access here depends on, when the operator opted in.
    pub groups: Option<Vec<&'a str>>,
}

/// The 403 page for a signed-in person the policy refuses.
pub fn refused(page: &Refusal<'_>) -> LocalResponse {
    let groups = match &page.groups {
        Some(groups) if !groups.is_empty() => {
            let items: String = groups.iter().map(|g| format!("<li>{}</li>", escape(g))).collect();
            format!("<p>Access here depends on membership in:</p><ul>{items}</ul>")
        }
        _ => String::new(),
    };
    let body = format!(
        "<p>You are signed in as <strong>{email}</strong>, and this account may not open this page.</p>{groups}\
         <p><a href=\"{sign_out}\">Sign out</a> to use another account.</p>",
        email = escape(page.email),
        sign_out = escape(page.sign_out_path),
    );
    LocalResponse { status: page.status, headers: page_headers(), body: document("Access denied", &body, page.reason, page.request_id) }
}

/// A sign-in that did not finish: why, and a way to start again.
pub fn sign_in_failed(status: u16, reason: &str, description: &str, retry_path: &str, request_id: &str) -> LocalResponse {
    let body = format!("<p>The sign-in did not finish: {}.</p><p><a href=\"{}\">Try again</a></p>", escape(description), escape(retry_path));
    LocalResponse { status, headers: page_headers(), body: document("Sign-in failed", &body, reason, request_id) }
}

fn document(title: &str, body: &str, reason: &str, request_id: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:4em auto;padding:0 1em}}small{{color:#666}}</style></head>\
         <body><h1>{title}</h1>{body}<p><small>reason: <code id=\"reason\">{reason}</code> · request: {request_id}</small></p></body></html>",
        reason = escape(reason),
        request_id = escape(request_id),
    )
}

/// HTML text and attribute escaping.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_from_outside_is_escaped() {
        let page = Refusal { status: 403, reason: "not_allowed", email: "<script>@x", sign_out_path: "/o\"ut", request_id: "r<1>", groups: Some(vec!["a&b@x"]) };
        let body = refused(&page).body;
        assert!(body.contains("&lt;script&gt;@x") && body.contains("/o&quot;ut") && body.contains("a&amp;b@x") && body.contains("r&lt;1&gt;"));
        assert!(!body.contains("<script>"));
    }

    #[test]
    fn groups_are_named_only_when_given() {
        let page = Refusal { status: 403, reason: "not_allowed", email: "bob@x", sign_out_path: "/so", request_id: "", groups: None };
        assert!(!refused(&page).body.contains("membership"));
    }
}
