//! The guard in front of every route (the README's "Security of the local server"): Host
//! allow-list against DNS rebinding, the per-install token (URL once → HttpOnly cookie,
//! or a Bearer header), the Origin check on state-changing requests and WebSocket
//! upgrades, and a body size limit — in that order, before any handler runs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::ApiError;
use crate::server::BODY_LIMIT;

/// Routes that answer without the token; they reveal nothing but status.
const PUBLIC_PATHS: &[&str] = &["/api/health"];

/// The MCP endpoint, the one route an agent run's token opens (M2).
pub const MCP_PATH: &str = "/api/mcp";

#[derive(Debug, Clone)]
pub struct Security {
    token: String,
    /// Accepted like the token; required to bind a non-loopback address (S1).
    password: Option<String>,
    /// Host names accepted besides the loopback ones.
    extra_hosts: Vec<String>,
    cookie_name: String,
    /// Agent runs' tokens, accepted at [`MCP_PATH`] only.
    run_tokens: Option<crate::agents::access::RunTokens>,
}

impl Security {
    pub fn new(token: String, password: Option<String>, extra_hosts: Vec<String>, port: u16) -> Self {
        let extra_hosts = extra_hosts.into_iter().map(|host| host.to_ascii_lowercase()).collect();
        // Cookies ignore ports: one name per port keeps two viban homes apart.
        Self { token, password, extra_hosts, cookie_name: format!("viban-{port}"), run_tokens: None }
    }

    /// Also accepts agent runs' tokens at [`MCP_PATH`].
    pub fn with_run_tokens(mut self, tokens: crate::agents::access::RunTokens) -> Self {
        self.run_tokens = Some(tokens);
        self
    }

    /// Every Host name accepted, for a server behind this guard that checks them again.
    pub fn host_names(&self) -> Vec<String> {
        let loopback = ["localhost", "127.0.0.1", "::1", "[::1]"].map(String::from);
        loopback.into_iter().chain(self.extra_hosts.iter().cloned()).collect()
    }

    /// The run a Bearer token was issued to, at the MCP endpoint.
    fn run_grant(&self, headers: &HeaderMap) -> Option<crate::agents::access::RunGrant> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))?;
        self.run_tokens.as_ref()?.check(token.trim())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]") || self.extra_hosts.contains(&name)
    }

    fn is_secret(&self, candidate: &str) -> bool {
        constant_time_eq(candidate.as_bytes(), self.token.as_bytes())
            || self
                .password
                .as_deref()
                .is_some_and(|password| constant_time_eq(candidate.as_bytes(), password.as_bytes()))
    }

    fn bearer(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|token| self.is_secret(token.trim()))
    }

    fn cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && self.is_secret(value))
    }

    fn session_cookie(&self) -> String {
        format!("{}={}; HttpOnly; SameSite=Strict; Path=/", self.cookie_name, self.token)
    }
}

pub async fn guard(State(security): State<Arc<Security>>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let path = request.uri().path().to_string();
    let is_api = path == "/api" || path.starts_with("/api/");

    let Some(host) = headers.get(header::HOST).and_then(|value| value.to_str().ok()) else {
        return ApiError::forbidden("a Host header is required").into_response();
    };
    if !security.host_allowed(host) {
        return ApiError::forbidden(format!(
            "Host '{}' is not allowed; use http://127.0.0.1 or http://localhost, or start viban with --allow-host",
            host_name(host)
        ))
        .into_response();
    }
    let own_origin = format!("http://{}", host.to_ascii_lowercase());

    if let Some(token) = query_param(request.uri().query(), "token") {
        if !security.is_secret(&token) {
            return unauthorized(is_api);
        }
        // Swap the one-time URL for a cookie, and drop the token from the address bar.
        let rest = remove_query_param(request.uri().query(), "token");
        let location = if rest.is_empty() { path } else { format!("{path}?{rest}") };
        let mut response = Redirect::to(&location).into_response();
        if let Ok(cookie) = HeaderValue::from_str(&security.session_cookie()) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }

    let read_only = matches!(*request.method(), Method::GET | Method::HEAD);
    if PUBLIC_PATHS.contains(&path.as_str()) && read_only {
        return next.run(request).await;
    }

    let mut bearer = security.bearer(headers);
    let principal = if bearer || security.cookie(headers) {
        crate::mcp::Principal::Owner
    } else if path == MCP_PATH
        && let Some(grant) = security.run_grant(headers)
    {
        bearer = true;
        crate::mcp::Principal::Run { task_id: grant.task_id }
    } else {
        return unauthorized(is_api);
    };

    let upgrade = headers.get(header::UPGRADE).is_some();
    if !read_only || upgrade {
        match headers.get(header::ORIGIN).map(|value| value.to_str().unwrap_or("")) {
            Some(origin) if origin.eq_ignore_ascii_case(&own_origin) => {}
            Some(origin) => {
                return ApiError::forbidden(format!(
                    "Origin '{origin}' may not change anything here; requests must come from {own_origin}"
                ))
                .into_response();
            }
            // Scripts send no Origin; they must prove themselves with the Bearer token.
            None if bearer => {}
            None => {
                return ApiError::forbidden(
                    "state-changing requests need an Origin header or a Bearer token",
                )
                .into_response();
            }
        }
    }

    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > BODY_LIMIT) {
        return ApiError::payload_too_large(BODY_LIMIT).into_response();
    }

    request.extensions_mut().insert(principal);
    let response = next.run(request).await;
    // Axum's own body-limit rejection (chunked bodies) is plain text: make it a problem.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem(&response) {
        return ApiError::payload_too_large(BODY_LIMIT).into_response();
    }
    response
}

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == crate::error::PROBLEM_JSON.as_bytes())
}

fn unauthorized(is_api: bool) -> Response {
    if is_api {
        // What MCP clients (and RFC 9110) expect with a 401: the scheme to use.
        let mut response = ApiError::unauthorized().into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"viban\""));
        return response;
    }
    (StatusCode::UNAUTHORIZED, Html(UNAUTHORIZED_PAGE)).into_response()
}

const UNAUTHORIZED_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>viban — sign in</title>
<meta name="color-scheme" content="light dark">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}code{background:#8882;padding:.1rem .3rem;border-radius:.2rem}</style>
</head><body><h1>Open viban from its launcher</h1>
<p>This viban only answers the browser that its launcher opened, so that no other web page can drive it.</p>
<p>Run <code>viban open</code> in a terminal (or use the tray icon's <em>Open</em>) to get back in.</p>
</body></html>"#;

/// The host part of a Host header, lower-cased, without the port.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or_default().to_string();
    }
    host.rsplit_once(':').map_or(host.clone(), |(name, _port)| name.to_string())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn remove_query_param(query: Option<&str>, name: &str) -> String {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(name))
        .collect::<Vec<_>>()
        .join("&")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("LOCALHOST:7777"), "localhost");
        assert_eq!(host_name("[::1]:7777"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn rebinding_hosts_are_refused() {
        let security = Security::new("t".into(), None, vec!["box.lan".into()], 7777);
        assert!(security.host_allowed("127.0.0.1:7777"));
        assert!(security.host_allowed("Box.LAN:7777"));
        assert!(!security.host_allowed("attacker.example:7777"));
        assert!(!security.host_allowed("127.0.0.1.attacker.example"));
    }

    #[test]
    fn the_token_is_removed_from_the_query() {
        assert_eq!(remove_query_param(Some("a=1&token=x&b=2"), "token"), "a=1&b=2");
        assert_eq!(remove_query_param(Some("token=x"), "token"), "");
    }
}
