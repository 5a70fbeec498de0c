//! The cases, by class. Each line is a request and the answer it must get under
//! [`super::plugin_config`]; the answers were written from the policy, RFC 8725, RFC
//! 6750 and the README's path table before the cases were first run.

use super::forge::{Forge, noncanonical_signature, padded, swap_payload};
use super::{Case, Class, Expect};
use serde_json::json;
use wsgate_fixtures::patched;

use Expect::{Forwarded, Refused, RefusedByEnvoy};

const APP: &str = "app.example.com";
const HR: &str = "hr.example.com";

struct Corpus {
    forge: Forge,
    cases: Vec<Case>,
}

impl Corpus {
    fn add(&mut self, class: Class, name: &str, method: &str, target: &str, headers: &[(&str, &str)], expect: Expect) {
        let mut all: Vec<(String, String)> = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        if !all.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            all.insert(0, ("host".to_owned(), APP.to_owned()));
        }
        self.cases.push(Case { class, name: name.to_owned(), method: method.to_owned(), target: target.to_owned(), headers: all, expect });
    }

    /// A GET of `/app` with `authorization: Bearer <token>`.
    fn bearer(&mut self, class: Class, name: &str, token: &str, expect: Expect) {
        self.add(class, name, "GET", "/app/home", &[("authorization", &format!("Bearer {token}"))], expect);
    }
}

/// Every case of the corpus, minted at `now` (Unix seconds).
pub fn cases(now: u64) -> Vec<Case> {
    let mut corpus = Corpus { forge: Forge { now }, cases: Vec::new() };
    jwt_attacks(&mut corpus);
    claim_edges(&mut corpus);
    token_locations(&mut corpus);
    identity_headers(&mut corpus);
    path_confusion(&mut corpus);
    name_matching(&mut corpus);
    cache_cross_use(&mut corpus);
    corpus.cases
}

fn jwt_attacks(c: &mut Corpus) {
    use Class::JwtAttack as K;
    let f = Forge { now: c.forge.now };
    let alice = f.id_token("alice@example.com");
    let root = f.claims("root@example.com");
    c.bearer(K, "valid RS256 ID token (control)", &alice, Forwarded(Some("alice@example.com")));
    c.bearer(K, "alg none, empty signature", &f.unsigned("none", "root@example.com", ""), Refused(401, "malformed_token"));
    c.bearer(K, "alg none, some signature", &f.unsigned("none", "root@example.com", "AAAA"), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "alg None", &f.unsigned("None", "root@example.com", "AAAA"), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "alg NONE", &f.unsigned("NONE", "root@example.com", "AAAA"), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "alg rs256 (lower case)", &f.unsigned("rs256", "root@example.com", "AAAA"), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "HS256 keyed with the RSA public key", &f.hs256_with_public_key("root@example.com"), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "ES256 header on an RS256-only provider", &f.raw(r#"{"alg":"ES256","kid":"ec-1"}"#, &root.to_string()), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "RS256 header naming the EC key", &f.raw(r#"{"alg":"RS256","kid":"ec-1"}"#, &root.to_string()), Refused(401, "algorithm_key_mismatch"));
    c.bearer(K, "PS256 header", &f.raw(r#"{"alg":"PS256","kid":"rsa-1"}"#, &root.to_string()), Refused(401, "algorithm_not_allowed"));
    c.bearer(K, "no kid", &f.raw(r#"{"alg":"RS256"}"#, &root.to_string()), Refused(401, "missing_kid"));
    c.bearer(K, "unknown kid", &f.raw(r#"{"alg":"RS256","kid":"rsa-9"}"#, &root.to_string()), Refused(401, "unknown_kid"));
    c.bearer(K, "kid path traversal", &f.raw(r#"{"alg":"RS256","kid":"../../../../dev/null"}"#, &root.to_string()), Refused(401, "unknown_kid"));
    c.bearer(K, "kid SQL injection", &f.raw(r#"{"alg":"RS256","kid":"x' OR '1'='1"}"#, &root.to_string()), Refused(401, "unknown_kid"));
    c.bearer(K, "kid as a number", &f.raw(r#"{"alg":"RS256","kid":1}"#, &root.to_string()), Refused(401, "malformed_token"));
    c.bearer(K, "jku to an attacker's keys (ignored: real key signed)", &f.raw(r#"{"alg":"RS256","kid":"rsa-1","jku":"https://evil.example/jwks"}"#, &f.claims("alice@example.com").to_string()), Forwarded(Some("alice@example.com")));
    c.bearer(K, "x5u to an attacker's cert (ignored: real key signed)", &f.raw(r#"{"alg":"RS256","kid":"rsa-1","x5u":"https://evil.example/cert"}"#, &f.claims("alice@example.com").to_string()), Forwarded(Some("alice@example.com")));
    c.bearer(K, "embedded jwk with a rogue signature", &swap_header(&f.rogue("root@example.com"), r#"{"alg":"RS256","kid":"rsa-1","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}"#), Refused(401, "malformed_token"));
    c.bearer(K, "signed by a rogue key claiming the real kid", &f.rogue("root@example.com"), Refused(401, "bad_signature"));
    c.bearer(K, "crit names an unknown extension", &f.raw(r#"{"alg":"RS256","kid":"rsa-1","crit":["x-evil"],"x-evil":1}"#, &root.to_string()), Refused(401, "malformed_token"));
    c.bearer(K, "duplicate alg in the header", &f.raw(r#"{"alg":"RS256","alg":"none","kid":"rsa-1"}"#, &root.to_string()), Refused(401, "malformed_token"));
    let dup_email = format!(r#"{{"iss":"https://accounts.google.com","aud":"{}","sub":"s","email":"alice@example.com","email":"root@example.com","email_verified":true,"hd":"example.com","iat":{},"exp":{}}}"#, super::forge::AUDIENCE, f.now - 10, f.now + 3590);
    c.bearer(K, "duplicate email member in the payload", &f.raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &dup_email), Refused(401, "malformed_token"));
    let dup_sub = dup_email.replace(r#""email":"root@example.com","#, r#""sub":"other","#);
    c.bearer(K, "duplicate sub member in the payload", &f.raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &dup_sub), Refused(401, "malformed_token"));
    c.bearer(K, "payload swapped under a valid signature", &swap_payload(&alice, &root), Refused(401, "bad_signature"));
    c.bearer(K, "signature stripped", &alice[..alice.rfind('.').unwrap_or(0) + 1], Refused(401, "malformed_token"));
    c.bearer(K, "signature of another token", &format!("{}.{}", &alice[..alice.rfind('.').unwrap_or(0)], f.id_token("bob@example.com").rsplit('.').next().unwrap_or("")), Refused(401, "bad_signature"));
    c.bearer(K, "base64 padding on every segment", &padded(&alice), Refused(401, "malformed_token"));
    c.bearer(K, "non-canonical last base64 character", &noncanonical_signature(&alice), Refused(401, "malformed_token"));
    c.bearer(K, "standard base64 alphabet (+ and /)", &alice.replace('-', "+").replace('_', "/"), Refused(401, "malformed_token"));
    c.bearer(K, "four segments", &format!("{alice}.AAAA"), Refused(401, "malformed_token"));
    c.bearer(K, "two segments", &alice[..alice.rfind('.').unwrap_or(0)], Refused(401, "malformed_token"));
    c.bearer(K, "not a JWT at all", "hello", Refused(401, "malformed_token"));
    c.bearer(K, "header segment is not JSON", &format!("bm90IGpzb24.{}", &alice[alice.find('.').unwrap_or(0) + 1..]), Refused(401, "malformed_token"));
    c.bearer(K, "oversize token (9 KiB)", &format!("{alice}{}", "A".repeat(9 * 1024)), Refused(401, "token_too_large"));
    c.bearer(K, "oversize group claim inside a signed token", &f.id_token_with("alice@example.com", json!({"groups": vec!["g@example.com"; 600]})), Refused(401, "token_too_large"));
    c.bearer(K, "JWE-shaped (five segments)", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", Refused(401, "malformed_token"));
    c.bearer(K, "IAP assertion in the bearer header (issuer picks IAP)", &f.iap_assertion("alice@example.com", json!({})), Forwarded(Some("alice@example.com")));
    c.bearer(K, "IAP assertion signed as RS256 (provider is ES256 only)", &f.raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &patched(f.iap_claims("root@example.com"), &json!({"hd": null})).to_string()), Refused(401, "algorithm_not_allowed"));
}

fn claim_edges(c: &mut Corpus) {
    use Class::ClaimEdge as K;
    let f = Forge { now: c.forge.now };
    let now = f.now;
    let raw = |changes: serde_json::Value| f.raw_claims("alice@example.com", changes);
    c.bearer(K, "expired", &f.id_token_with("alice@example.com", json!({"iat": now - 7200, "exp": now - 3600})), Refused(401, "token_expired"));
    c.bearer(K, "expired within the clock skew", &f.id_token_with("alice@example.com", json!({"iat": now - 3000, "exp": now - 30})), Forwarded(Some("alice@example.com")));
    c.bearer(K, "nbf in the future", &f.id_token_with("alice@example.com", json!({"nbf": now + 600})), Refused(401, "token_not_yet_valid"));
    c.bearer(K, "iat in the future", &f.id_token_with("alice@example.com", json!({"iat": now + 600, "exp": now + 1200})), Refused(401, "issued_in_future"));
    c.bearer(K, "lifetime beyond an hour", &f.id_token_with("alice@example.com", json!({"exp": now + 86_400})), Refused(401, "lifetime_too_long"));
    c.bearer(K, "no exp", &f.id_token_with("alice@example.com", json!({"exp": null})), Refused(401, "missing_exp"));
    c.bearer(K, "no iat", &f.id_token_with("alice@example.com", json!({"iat": null})), Refused(401, "missing_iat"));
    c.bearer(K, "no sub", &f.id_token_with("alice@example.com", json!({"sub": null})), Refused(401, "missing_sub"));
    c.bearer(K, "empty sub", &raw(json!({"sub": ""})), Refused(401, "missing_sub"));
    c.bearer(K, "sub as a number", &raw(json!({"sub": 12345})), Refused(401, "malformed_token"));
    // RFC 7519 §2: a NumericDate may be non-integer.
    c.bearer(K, "exp as a float (a NumericDate may be non-integer)", &raw(json!({"exp": (now + 3590) as f64 + 0.5})), Forwarded(Some("alice@example.com")));
    c.bearer(K, "exp as a string", &raw(json!({"exp": (now + 3590).to_string()})), Refused(401, "malformed_token"));
    c.bearer(K, "exp negative", &raw(json!({"exp": -1})), Refused(401, "malformed_token"));
    c.bearer(K, "exp 1e30", &raw(json!({"exp": 1e30})), Refused(401, "lifetime_too_long"));
    c.bearer(K, "exp u64::MAX", &raw(json!({"exp": u64::MAX})), Refused(401, "lifetime_too_long"));
    c.bearer(K, "iat negative", &raw(json!({"iat": -10})), Refused(401, "malformed_token"));
    c.bearer(K, "iat zero (lifetime from 1970)", &raw(json!({"iat": 0})), Refused(401, "lifetime_too_long"));
    c.bearer(K, "aud of another service", &f.id_token_with("alice@example.com", json!({"aud": "https://other-abc123-uc.a.run.app"})), Refused(401, "audience_not_allowed"));
    c.bearer(K, "aud array holding ours and another", &raw(json!({"aud": ["https://other.example", super::forge::AUDIENCE]})), Forwarded(Some("alice@example.com")));
    c.bearer(K, "aud as a number", &raw(json!({"aud": 7})), Refused(401, "malformed_token"));
    c.bearer(K, "aud with a trailing slash", &f.id_token_with("alice@example.com", json!({"aud": format!("{}/", super::forge::AUDIENCE)})), Refused(401, "audience_not_allowed"));
    c.bearer(K, "iss without https (not configured here)", &f.id_token_with("alice@example.com", json!({"iss": "accounts.google.com"})), Refused(401, "issuer_not_allowed"));
    c.bearer(K, "iss with a trailing slash", &f.id_token_with("alice@example.com", json!({"iss": "https://accounts.google.com/"})), Refused(401, "issuer_not_allowed"));
    c.bearer(K, "iss as an array", &raw(json!({"iss": [super::forge::GOOGLE]})), Refused(401, "malformed_token"));
    c.bearer(K, "email_verified false", &f.id_token_with("alice@example.com", json!({"email_verified": false})), Refused(401, "email_not_verified"));
    c.bearer(K, "email_verified \"false\"", &f.id_token_with("alice@example.com", json!({"email_verified": "false"})), Refused(401, "email_not_verified"));
    c.bearer(K, "email_verified 1", &raw(json!({"email_verified": 1})), Refused(401, "email_not_verified"));
    c.bearer(K, "email_verified missing", &f.id_token_with("alice@example.com", json!({"email_verified": null})), Refused(401, "email_not_verified"));
    c.bearer(K, "email as a number", &raw(json!({"email": 42})), Refused(401, "malformed_token"));
    c.bearer(K, "hd as an object", &raw(json!({"hd": {"domain": "example.com"}})), Refused(401, "malformed_token"));
    let admin_console = |c: &mut Corpus, name: &str, token: String, expect: Expect| {
        c.add(K, name, "GET", "/admin/console", &[("authorization", &format!("Bearer {token}"))], expect);
    };
    admin_console(c, "groups claim as a list (control)", f.id_token_with("eve@other.example", json!({"groups": ["admins@example.com"]})), Forwarded(Some("eve@other.example")));
    admin_console(c, "groups claim as a string, not a list, counts as none", f.id_token_with("eve@other.example", json!({"groups": "admins@example.com"})), Refused(403, "not_allowed"));
    admin_console(c, "groups claim with non-strings", f.id_token_with("eve@other.example", json!({"groups": [1, null, {"g": "admins@example.com"}]})), Refused(403, "not_allowed"));
    admin_console(c, "groups claim in upper case", f.id_token_with("eve@other.example", json!({"groups": ["ADMINS@EXAMPLE.COM"]})), Forwarded(Some("eve@other.example")));
    c.add(K, "groups claim naming a member's email grants nothing", "GET", "/admin/console", &[("authorization", &format!("Bearer {}", f.id_token_with("carol@example.com", json!({"groups": ["root@example.com"]}))))], Refused(403, "not_allowed"));
    c.add(K, "groups claim naming a nested group grants its parents", "GET", "/admin/console", &[("authorization", &format!("Bearer {}", f.id_token_with("carol@example.com", json!({"groups": ["it-ops@example.com"]}))))], Forwarded(Some("carol@example.com")));
    c.add(K, "no email, domain rule: the subject is forwarded, no email header", "GET", "/app/home", &[("authorization", &format!("Bearer {}", f.id_token_with("alice@example.com", json!({"email": null, "email_verified": null}))))], Forwarded(None));
    c.bearer(K, "null claims everywhere", &raw(json!({"email": null, "hd": null, "azp": null})), Refused(403, "not_allowed"));
}

fn token_locations(c: &mut Corpus) {
    use Class::TokenLocation as K;
    let f = Forge { now: c.forge.now };
    let alice = f.id_token("alice@example.com");
    let eve = f.id_token("eve@other.example");
    let intern = f.id_token("intern@example.com");
    let b = |t: &str| format!("Bearer {t}");
    c.add(K, "two authorization headers", "GET", "/app/home", &[("authorization", &b(&alice)), ("authorization", &b(&eve))], Refused(400, "ambiguous_token"));
    c.add(K, "two authorization headers, same token", "GET", "/app/home", &[("authorization", &b(&alice)), ("authorization", &b(&alice))], Refused(400, "ambiguous_token"));
    c.add(K, "Basic then Bearer in two authorization headers", "GET", "/app/home", &[("authorization", "Basic YTpi"), ("authorization", &b(&alice))], Refused(400, "ambiguous_token"));
    c.add(K, "authorization and x-serverless-authorization: the first source wins", "POST", "/api/admin/users", &[("authorization", &b(&intern)), ("x-serverless-authorization", &b(&alice))], Refused(403, "denied_by_rule"));
    c.add(K, "x-serverless-authorization alone (Cloud Run)", "GET", "/app/home", &[("x-serverless-authorization", &b(&alice))], Forwarded(Some("alice@example.com")));
    c.add(K, "Basic in authorization falls through to x-serverless", "GET", "/app/home", &[("authorization", "Basic YTpi"), ("x-serverless-authorization", &b(&alice))], Forwarded(Some("alice@example.com")));
    c.add(K, "two x-serverless-authorization headers", "GET", "/app/home", &[("x-serverless-authorization", &b(&alice)), ("x-serverless-authorization", &b(&eve))], Refused(400, "ambiguous_token"));
    c.add(K, "bearer scheme in lower case", "GET", "/app/home", &[("authorization", &format!("bearer {alice}"))], Forwarded(Some("alice@example.com")));
    c.add(K, "bearer with extra spaces", "GET", "/app/home", &[("authorization", &format!("Bearer    {alice}"))], Forwarded(Some("alice@example.com")));
    c.add(K, "empty bearer", "GET", "/app/home", &[("authorization", "Bearer")], Refused(401, "missing_token"));
    c.add(K, "token scheme Bearerx", "GET", "/app/home", &[("authorization", &format!("Bearerx{alice}"))], Refused(401, "missing_token"));
    c.add(K, "IAP assertion header", "GET", "/app/home", &[("x-goog-iap-jwt-assertion", &f.iap_assertion("alice@example.com", json!({})))], Forwarded(Some("alice@example.com")));
    c.add(K, "IAP assertion for another backend", "GET", "/app/home", &[("x-goog-iap-jwt-assertion", &f.iap_assertion("alice@example.com", json!({"aud": "/projects/1/global/backendServices/2"})))], Refused(401, "audience_not_allowed"));
    c.add(K, "token cookie", "GET", "/app/home", &[("cookie", &format!("a=1; wsgate_token={alice}"))], Forwarded(Some("alice@example.com")));
    c.add(K, "token cookie twice in one header", "GET", "/app/home", &[("cookie", &format!("wsgate_token={alice}; wsgate_token={eve}"))], Refused(400, "ambiguous_token"));
    c.add(K, "token cookie in two cookie headers", "GET", "/app/home", &[("cookie", &format!("wsgate_token={alice}")), ("cookie", &format!("wsgate_token={eve}"))], Refused(400, "ambiguous_token"));
    c.add(K, "token cookie with another name case", "GET", "/app/home", &[("cookie", &format!("WSGATE_TOKEN={alice}"))], Refused(401, "missing_token"));
    c.add(K, "token in the query string is not a source", "GET", &format!("/app/home?access_token={alice}"), &[], Refused(401, "missing_token"));
    c.add(K, "quoted token cookie", "GET", "/app/home", &[("cookie", &format!("wsgate_token=\"{alice}\""))], Forwarded(Some("alice@example.com")));
}

fn identity_headers(c: &mut Corpus) {
    use Class::IdentityHeader as K;
    let f = Forge { now: c.forge.now };
    let alice = format!("Bearer {}", f.id_token("alice@example.com"));
    for (name, value) in [
        ("x-workspace-email", "forged-root@example.com"),
        ("X-Workspace-Email", "forged-root@example.com"),
        ("x-workspace-groups", "forged-admins@example.com"),
        ("x-workspace-subject", "forged-root"),
        ("x-workspace-domain", "forged.example.com"),
        ("x-workspace.email", "forged-root@example.com"),
        ("X-WORKSPACE-EMAIL", "forged-root@example.com"),
    ] {
        c.add(K, &format!("forged {name} on a public path"), "GET", "/healthz", &[(name, value)], Forwarded(None));
        c.add(K, &format!("forged {name} beside a valid token"), "GET", "/app/home", &[(name, value), ("authorization", &alice)], Forwarded(Some("alice@example.com")));
    }
    for name in ["x_workspace_email", "X_Workspace_Email", "x-workspace_email", "x_workspace_groups"] {
        c.add(K, &format!("{name} on a public path (Envoy refuses underscores)"), "GET", "/healthz", &[(name, "forged-root@example.com")], RefusedByEnvoy(400));
        c.add(K, &format!("{name} beside a valid token (Envoy refuses underscores)"), "GET", "/app/home", &[(name, "forged-root@example.com"), ("authorization", &alice)], RefusedByEnvoy(400));
    }
    c.add(K, "x-workspace-email twice beside a valid token", "GET", "/app/home", &[("x-workspace-email", "forged-a@x"), ("x-workspace-email", "forged-b@x"), ("authorization", &alice)], Forwarded(Some("alice@example.com")));
}

fn path_confusion(c: &mut Corpus) {
    use Class::PathConfusion as K;
    let f = Forge { now: c.forge.now };
    let intern = format!("Bearer {}", f.id_token("intern@example.com"));
    let petra = format!("Bearer {}", f.id_token("petra@example.com"));
    let denied = || Refused(403, "denied_by_rule");
    // The admin write deny, in every spelling a framework routes to /api/admin/users.
    for (target, family) in [
        ("/api/admin/users", "control"),
        ("/api/admin;x=1/users", "Tomcat/Spring/Jetty path parameter"),
        ("/api/admin;/users", "Tomcat empty parameter"),
        ("/api/admin%3Bx=1/users", "Spring decoded %3B parameter"),
        ("/api/admin%3b/users", "lower-case %3b"),
        ("/api;v=2/admin/users", "parameter on the first segment"),
        ("/api/admin/users;jsessionid=ABC", "Java session id"),
        ("/api/admin/users/", "trailing slash (Express non-strict, Rails, Spring ≤ 5)"),
        ("/API/admin/users", "case-insensitive routing (Express, ASP.NET)"),
        ("/api/ADMIN/Users", "mixed case"),
        ("/api/%61dmin/users", "escaped unreserved character"),
        ("/api/admin/users?next=/app", "query string"),
        ("/api/admin/users/?", "trailing slash and empty query"),
    ] {
        c.add(K, &format!("POST {target} as intern ({family})"), "POST", target, &[("authorization", &intern)], denied());
    }
    // Envoy's normalize_path and merge_slashes resolve these before wsgate: the deny holds.
    for target in ["/api//admin/users", "/app/../api/admin/users", "/api/./admin/users", "/api/admin/./users"] {
        c.add(K, &format!("POST {target} as intern (Envoy normalises)"), "POST", target, &[("authorization", &intern)], denied());
    }
    for (target, family) in [
        ("/app/%2e%2e;/api/admin/users", "escaped ..;"),
        ("/app/%252e%252e/api/admin/users", "double-encoded dots"),
        ("/app/%25%32%65%25%32%65/api/admin/users", "double-encoded escapes"),
        ("/api/admin%c0%afusers", "overlong UTF-8 slash"),
        ("/api/admin%ef%bc%8fusers", "fullwidth solidus (best-fit mapping)"),
        ("/api/admin%e2%88%95users", "division slash"),
        ("/app/%e2%84%aaeys", "Kelvin sign (Java equalsIgnoreCase)"),
        ("/api/admin%zz/users", "malformed escape"),
        ("/api/admin%ff/users", "invalid UTF-8"),
    ] {
        c.add(K, &format!("POST {target} ({family})"), "POST", target, &[("authorization", &intern)], Refused(400, "ambiguous_path"));
    }
    // Envoy's normalize_path reads `..;` and `.;` as Tomcat does, before wsgate.
    c.add(K, "POST /app/..;/api/admin/users (Tomcat ..; traversal: Envoy resolves it)", "POST", "/app/..;/api/admin/users", &[("authorization", &intern)], denied());
    c.add(K, "POST /app/.;/api/admin/users (Tomcat .; segment: Envoy resolves it, the service gets /app/api/admin/users)", "POST", "/app/.;/api/admin/users", &[("authorization", &intern)], Forwarded(Some("intern@example.com")));
    c.add(K, "POST /api/admin%00/users (escaped NUL: Envoy refuses)", "POST", "/api/admin%00/users", &[("authorization", &intern)], RefusedByEnvoy(400));
    c.add(K, "POST /api/admin%2Fusers (escaped slash: Envoy redirects)", "POST", "/api/admin%2Fusers", &[("authorization", &intern)], RefusedByEnvoy(307));
    c.add(K, "POST /api/admin%5Cusers (escaped backslash: Envoy redirects)", "POST", "/api/admin%5Cusers", &[("authorization", &intern)], RefusedByEnvoy(307));
    c.add(K, "POST /api\\admin\\users (raw backslash: Envoy reads it as /)", "POST", "/api\\admin\\users", &[("authorization", &intern)], denied());
    // Methods: the same write in another case, or tunnelled through an override header.
    // Envoy's HTTP/1 codec refuses a method in lower case; over HTTP/2 any token passes
    // and wsgate reads it as the method frameworks route it as (the core tests show it).
    for method in ["post", "Post", "delete"] {
        c.add(K, &format!("{method} /api/admin/users as intern (method case: Envoy's HTTP/1 codec refuses)"), method, "/api/admin/users", &[("authorization", &intern)], RefusedByEnvoy(400));
    }
    for header in ["x-http-method-override", "x-http-method", "x-method-override"] {
        c.add(K, &format!("GET /api/admin/users as intern with {header}: DELETE"), "GET", "/api/admin/users", &[("authorization", &intern), (header, "DELETE")], denied());
    }
    // What NFKC or full case folding turns into ASCII, and decoded ? and #.
    for (target, what) in [
        ("/app/%E2%80%A5/api/admin/users", "two dot leader (NFKC ..)"),
        ("/app/%EF%B8%B0/api/admin/users", "vertical two dot leader"),
        ("/api/%EF%BD%81dmin/users", "fullwidth a"),
        ("/api/%F0%9D%90%9Admin/users", "mathematical bold a"),
        ("/api/admin/users%3F", "decoded ?"),
        ("/api/admin/users%23x", "decoded #"),
        ("/api/admin/u%C3%9Fers", "sharp s (full case folding: ss)"),
    ] {
        c.add(K, &format!("POST {target} ({what})"), "POST", target, &[("authorization", &intern)], Refused(400, "ambiguous_path"));
    }
    // The hr salary deny: parameters, trailing slashes, case, host spellings.
    for target in ["/employees/7/salary", "/employees/7/salary/", "/employees/7/salary;v=1", "/employees/7;x/salary", "/Employees/7/SALARY", "/employees/7/salary%3Bv=1"] {
        c.add(K, &format!("PUT {target} on hr as petra"), "PUT", target, &[("host", HR), ("authorization", &petra)], Refused(403, "denied_by_rule"));
    }
    c.add(K, "GET /employees/7/salary/ on hr as petra (reads stay allowed)", "GET", "/employees/7/salary/", &[("host", HR), ("authorization", &petra)], Forwarded(Some("petra@example.com")));
    c.add(K, "PUT absolute-form target on hr", "PUT", "http://hr.example.com/employees/7/salary", &[("host", HR), ("authorization", &petra)], Refused(403, "denied_by_rule"));
    // An allow needs every reading: a strict upstream routes these away from /healthz.
    for target in ["/healthz/", "/healthz;x", "/HEALTHZ", "/healthz%3B"] {
        c.add(K, &format!("anonymous GET {target} (not the public exact path)"), "GET", target, &[], Refused(401, "missing_token"));
    }
    c.add(K, "anonymous GET /healthz (control)", "GET", "/healthz", &[], Forwarded(None));
    c.add(K, "anonymous GET /healthz?x (query)", "GET", "/healthz?x=1", &[], Forwarded(None));
}

fn name_matching(c: &mut Corpus) {
    use Class::NameMatching as K;
    let f = Forge { now: c.forge.now };
    let b = |t: String| format!("Bearer {t}");
    let petra = b(f.id_token("petra@example.com"));
    c.add(K, "intern in upper case is still denied", "POST", "/api/admin/users", &[("authorization", &b(f.id_token_with("intern@example.com", json!({"email": "Intern@Example.COM"}))))], Refused(403, "denied_by_rule"));
    c.add(K, "intern with a trailing dot is still denied", "POST", "/api/admin/users", &[("authorization", &b(f.id_token_with("intern@example.com", json!({"email": "intern@example.com."}))))], Refused(403, "denied_by_rule"));
    c.add(K, "Cyrillic lookalike of intern is another account (staff, not denied)", "POST", "/api/admin/users", &[("authorization", &b(f.id_token_with("intern@example.com", json!({"email": "\u{456}ntern@example.com"}))))], Forwarded(Some("\u{456}ntern@example.com")));
    c.add(K, "Cyrillic lookalike of root is not an admin", "GET", "/admin/console", &[("authorization", &b(f.id_token_with("root@example.com", json!({"email": "r\u{43e}ot@example.com"}))))], Refused(403, "not_allowed"));
    c.add(K, "hd EXAMPLE.COM is example.com", "GET", "/app/home", &[("authorization", &b(f.id_token_with("alice@example.com", json!({"hd": "EXAMPLE.COM"}))))], Forwarded(Some("alice@example.com")));
    c.add(K, "hd example.com. is example.com", "GET", "/app/home", &[("authorization", &b(f.id_token_with("alice@example.com", json!({"hd": "example.com."}))))], Forwarded(Some("alice@example.com")));
    c.add(K, "hd lookalike ex\u{430}mple.com is not example.com", "GET", "/app/home", &[("authorization", &b(f.id_token_with("alice@example.com", json!({"hd": "ex\u{430}mple.com"}))))], Refused(403, "not_allowed"));
    c.add(K, "hd sub.example.com is not example.com", "GET", "/app/home", &[("authorization", &b(f.id_token_with("alice@example.com", json!({"hd": "sub.example.com"}))))], Refused(403, "not_allowed"));
    c.add(K, "hd example.com.evil is not example.com", "GET", "/app/home", &[("authorization", &b(f.id_token_with("alice@example.com", json!({"hd": "example.com.evil"}))))], Refused(403, "not_allowed"));
    c.add(K, "root with upper case is an admin", "GET", "/admin/console", &[("authorization", &b(f.id_token_with("root@example.com", json!({"email": "ROOT@example.com"}))))], Forwarded(Some("root@example.com")));
    for host in ["HR.EXAMPLE.COM", "hr.example.com.", "hr.example.com:443", "Hr.Example.Com.:8443"] {
        c.add(K, &format!("PUT salary on host {host}"), "PUT", "/employees/7/salary", &[("host", host), ("authorization", &petra)], Refused(403, "denied_by_rule"));
    }
    c.add(K, "host hr.example.com.. (Envoy strips one dot, wsgate the other)", "PUT", "/employees/7/salary", &[("host", "hr.example.com.."), ("authorization", &petra)], Refused(403, "denied_by_rule"));
    for host in ["hr.example.com...", "hr.example.com:443:", "u@hr.example.com", "[hr.example.com]", "hr.example.com%2e"] {
        c.add(K, &format!("malformed host {host}"), "PUT", "/employees/7/salary", &[("host", host), ("authorization", &petra)], Refused(400, "ambiguous_host"));
    }
    c.add(K, "host hr.example.com.evil is not hr", "GET", "/employees/7", &[("host", "hr.example.com.evil"), ("authorization", &petra)], Refused(403, "not_allowed"));
    c.add(K, "host xhr.example.com is not hr", "GET", "/employees/7", &[("host", "xhr.example.com"), ("authorization", &petra)], Refused(403, "not_allowed"));
}

fn cache_cross_use(c: &mut Corpus) {
    use Class::CacheCrossUse as K;
    let f = Forge { now: c.forge.now };
    let intern = f.id_token("intern@example.com");
    let b = format!("Bearer {intern}");
    c.add(K, "intern reads /app (token now cached)", "GET", "/app/home", &[("authorization", &b)], Forwarded(Some("intern@example.com")));
    c.add(K, "the cached token is still denied the admin write", "POST", "/api/admin/users", &[("authorization", &b)], Refused(403, "denied_by_rule"));
    c.add(K, "the cached token on another host is judged for that host", "GET", "/employees/7", &[("host", HR), ("authorization", &b)], Refused(403, "not_allowed"));
    c.add(K, "the cached token from another source is the same caller", "GET", "/app/home", &[("x-serverless-authorization", &b)], Forwarded(Some("intern@example.com")));
    c.add(K, "the cached token's payload under another signature is refused", "GET", "/app/home", &[("authorization", &format!("Bearer {}", swap_payload(&f.id_token("alice@example.com"), &f.claims("intern@example.com"))))], Refused(401, "bad_signature"));
    c.add(K, "the cached token plus one byte is another token", "GET", "/app/home", &[("authorization", &format!("Bearer {intern}A"))], Refused(401, "bad_signature"));
    c.add(K, "the cached token with forged identity headers", "GET", "/app/home", &[("authorization", &b), ("x-workspace-email", "forged-root@example.com"), ("x-workspace-groups", "forged-admins@example.com")], Forwarded(Some("intern@example.com")));
    c.add(K, "a refused token then the valid one", "GET", "/app/home", &[("authorization", &format!("Bearer {}", f.id_token("alice@example.com")))], Forwarded(Some("alice@example.com")));
}

/// `token` with its header replaced by `header` (the signature no longer covers it).
fn swap_header(token: &str, header: &str) -> String {
    let rest = &token[token.find('.').unwrap_or(0)..];
    format!("{}{rest}", super::forge::b64(header.as_bytes()))
}
