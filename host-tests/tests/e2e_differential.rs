//! The differential: the adversarial corpus, in one run, through real Envoy + wsgate and
//! through the same Envoy with its native `jwt_authn` + `rbac` configured to the
//! equivalent policy (`envoy/native-equivalent.yaml`). Every case where one admits and
//! the other refuses must be a row of the README's differential table, listed below
//! with the reason wsgate's answer is the right one; any other disagreement fails.
//! Run with `make e2e`.

mod support;

use std::path::PathBuf;
use support::*;
use wsgate_host_tests::attack::run::send_all;
use wsgate_host_tests::attack::{corpus, native, plugin_config};
use wsgate_host_tests::envoy::{Envoy, Ports};
use wsgate_host_tests::ports::free_port;
use wsgate_host_tests::upstream::EchoUpstream;

/// Cases where wsgate and the native pair disagree, by name prefix, and why wsgate is
/// right (the README's differential table says the same).
const KNOWN: &[(&str, &str)] = &[
    ("no kid", "Google's ID tokens and IAP assertions always name their key; trying every key of the set (jwt_authn) lets any key in it vouch (RFC 8725 §3.1)"),
    ("crit names an unknown extension", "RFC 7515 §4.1.11: a JWS whose crit lists an extension the recipient does not understand is invalid"),
    ("non-canonical last base64 character", "RFC 4648 §3.5 lets decoders refuse non-zero pad bits; one token, one spelling (token cache, logs)"),
    ("oversize group claim", "wsgate's max_token_bytes (8192 by default) bounds work per token; jwt_authn has no such bound"),
    ("iat in the future", "wsgate bounds a token's lifetime from iat (Google: ID tokens live one hour); jwt_authn does not read iat"),
    ("lifetime beyond an hour", "max_lifetime_seconds: Google's ID tokens live exactly one hour"),
    ("iat zero", "max_lifetime_seconds: a lifetime counted from 1970"),
    ("no exp", "RFC 7519 §4.1.4 and Google's validation steps: exp must be checked, so it must be present"),
    ("no iat", "without iat the lifetime cannot be bounded (OpenID Connect Core §2: iat is REQUIRED in ID tokens)"),
    ("no sub", "OpenID Connect Core §2: sub is REQUIRED; wsgate has no one to vouch for"),
    ("empty sub", "OpenID Connect Core §2: sub is a non-empty identifier"),
    ("aud with a trailing slash", "RFC 7519 §4.1.3 / OIDC Core §3.1.3.7: aud is compared as a string; jwt_authn ignores a trailing slash"),
    ("email_verified", "Google's 'Authenticate with a backend server': trust email only when email_verified is true; the native pair has no such check"),
    ("email as a number", "OpenID Connect Core §5.1: email is a string; wsgate refuses a token that breaks the claim types"),
    ("groups claim in upper case", "group emails compare case-insensitively in wsgate (as Google's directory does); rbac's exact match misses them"),
    ("groups claim naming a nested group", "wsgate expands a claimed group through the directory; rbac has no directory"),
    ("Basic then Bearer in two authorization headers", "RFC 9110 §5.3: Authorization is not a list field, so it may not repeat; RFC 6750 §3.1: invalid_request"),
    ("two x-serverless-authorization headers", "RFC 6750 §3.1: more than one token is an invalid_request; upstreams disagree about which counts"),
    ("bearer scheme in lower case", "RFC 9110 §11.1: authentication schemes are case-insensitive; jwt_authn's value_prefix is not"),
    ("token cookie twice", "RFC 6265 §5.4 leaves the order to the server: frameworks take the first or the last"),
    ("token cookie in two cookie headers", "RFC 6265 §5.4 leaves the order to the server: frameworks take the first or the last"),
    ("POST /api;v=2/admin/users", "path table: Tomcat, Jetty and Spring drop ;parameters, so this is /api/admin/users to them"),
    ("POST /api/ADMIN/Users", "path table: Express and ASP.NET Core route without regard to case"),
    ("POST /app/%2e%2e;/api/admin/users", "path table: Tomcat reads ..; as .. (a traversal)"),
    ("POST /app/%252e%252e/api/admin/users", "path table: double encoding"),
    ("POST /app/%25%32%65%25%32%65/api/admin/users", "path table: double encoding"),
    ("POST /app/%e2%84%aaeys", "path table: the Kelvin sign is k to Java's equalsIgnoreCase"),
    ("GET /api/admin/users as intern with x-", "path table (methods): Express's method-override, Symfony and Google's APIs route by the override header, so this is a DELETE to them"),
    ("POST /app/%E2%80%A5/api/admin/users", "path table: NFKC folds the two dot leader into .. (a traversal)"),
    ("POST /app/%EF%B8%B0/api/admin/users", "path table: NFKC folds the vertical two dot leader into .."),
    ("POST /api/%EF%BD%81dmin/users", "path table: NFKC folds the fullwidth a into a"),
    ("POST /api/%F0%9D%90%9Admin/users", "path table: NFKC folds the mathematical bold a into a"),
    ("PUT /employees/7/salary/ on hr", "path table: Express (non-strict), Rails and Spring ≤ 5 ignore the trailing slash"),
    ("PUT /employees/7/salary;v=1 on hr", "path table: Tomcat, Jetty and Spring drop ;parameters"),
    ("PUT /Employees/7/SALARY on hr", "path table: case-insensitive routers"),
    ("PUT /employees/7/salary%3Bv=1 on hr", "path table: Spring drops ;parameters after decoding %3B"),
    ("intern in upper case is still denied", "emails compare in canonical form: RFC 5321 §2.4 (domains are case-insensitive) and Google accounts are case-insensitive"),
    ("intern with a trailing dot is still denied", "emails compare in canonical form: a trailing dot names the same DNS domain (RFC 1034 §3.1)"),
    ("hd EXAMPLE.COM is example.com", "domains compare in canonical form: DNS names are case-insensitive (RFC 4343)"),
    ("hd example.com. is example.com", "domains compare in canonical form: the trailing dot is the DNS root (RFC 1034 §3.1)"),
    ("root with upper case is an admin", "emails compare in canonical form (as Google's directory does)"),
];

#[test]
#[ignore = "needs real Envoy and the built .wasm: run `make e2e`"]
fn wsgate_and_native_jwt_authn_rbac_agree_except_where_the_readme_says_why() {
    let cases = corpus::cases(now());
    let wsgate = start("differential_wsgate", plugin_config());
    let upstream = EchoUpstream::start(0).unwrap();
    let ports = Ports { listen: free_port().unwrap(), admin: free_port().unwrap(), upstream: upstream.port };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e").join("differential_native");
    let mut envoy = Envoy::start(&PathBuf::from(std::env::var("WSGATE_ENVOY").unwrap()), &native::render(&repo_file("envoy/native-equivalent.yaml"), ports), &dir, ports).unwrap();
    envoy.wait_ready(std::time::Duration::from_secs(30)).unwrap();
    let ours = send_all(wsgate.port(), &wsgate.upstream, &cases);
    let theirs = send_all(ports.listen, &upstream, &cases);
    let mut unexplained = Vec::new();
    let mut explained = 0;
    for ((case, ours), theirs) in cases.iter().zip(&ours).zip(&theirs) {
        if ours.forwarded() == theirs.forwarded() {
            continue;
        }
        let line = format!("{}: wsgate {} ({:?}), native {}", case.name, if ours.forwarded() { "admits" } else { "refuses" }, ours.reason, theirs.status);
        match KNOWN.iter().find(|(prefix, _)| case.name.starts_with(prefix)) {
            Some((_, why)) => {
                explained += 1;
                println!("differential: {line} — {why}");
            }
            None => unexplained.push(line),
        }
    }
    println!("differential: {} cases, {} agree, {explained} explained disagreements", cases.len(), cases.len() - explained - unexplained.len());
    assert!(unexplained.is_empty(), "disagreements without a reason:\n{}", unexplained.join("\n"));
}
