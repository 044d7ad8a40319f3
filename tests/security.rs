//! The README's "Security of the local server", item by item, with real requests against
//! the running binary. Headers are set by hand, as a hostile page or a DNS-rebinding
//! attack would set them.

mod common;

use common::{Viban, temp_home};

fn started() -> (tempfile::TempDir, Viban) {
    let home = temp_home();
    let viban = Viban::start(home.path(), &[]);
    (home, viban)
}

fn assert_problem(response: &common::Response, status: u16) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/problem+json"), "{}", response.text());
    let body = response.json();
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
}

#[test]
fn the_server_listens_on_loopback_only() {
    let (_home, viban) = started();
    assert!(viban.addr().ip().is_loopback());
    assert!(viban.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn a_foreign_host_header_is_refused_before_routing() {
    let (_home, viban) = started();
    let auth = format!("Bearer {}", viban.token());
    for host in ["attacker.example", "attacker.example:7777", "127.0.0.1.nip.io", "0.0.0.0"] {
        let response = viban.request("GET", "/api/version", &[("Host", host), ("Authorization", &auth)], b"");
        assert_problem(&response, 403);
        // Not even the public health route or the page answers a rebinding host.
        assert_eq!(viban.request("GET", "/api/health", &[("Host", host)], b"").status, 403);
        assert_eq!(viban.request("GET", "/", &[("Host", host)], b"").status, 403);
    }
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let host = format!("{host}:{}", viban.addr().port());
        assert_eq!(
            viban.request("GET", "/api/version", &[("Host", &host), ("Authorization", &auth)], b"").status,
            200
        );
    }
}

#[test]
fn a_request_without_a_host_header_is_refused() {
    let (_home, viban) = started();
    let raw = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(viban.addr()).unwrap();
        // HTTP/1.0 lets a client omit Host; the server must still refuse.
        stream.write_all(b"GET /api/health HTTP/1.0\r\n\r\n").unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    };
    assert!(raw.starts_with("HTTP/1.0 403") || raw.starts_with("HTTP/1.1 403"), "{raw}");
}

#[test]
fn without_the_token_the_api_answers_401_and_the_page_explains_how_to_get_in() {
    let (_home, viban) = started();
    assert_problem(&viban.request("GET", "/api/version", &[], b""), 401);
    assert_problem(&viban.request("GET", "/api/version", &[("Authorization", "Bearer wrong")], b""), 401);
    assert_problem(&viban.request("GET", "/api/version", &[("Cookie", "viban-7777=wrong")], b""), 401);

    let page = viban.request("GET", "/", &[], b"");
    assert_eq!(page.status, 401);
    assert!(page.header("content-type").unwrap_or_default().starts_with("text/html"));
    assert!(page.text().contains("viban open"), "{}", page.text());
    // Static files are behind the token too.
    assert_eq!(viban.request("GET", "/favicon.svg", &[], b"").status, 401);
}

#[test]
fn health_answers_without_the_token_but_reveals_only_status() {
    let (_home, viban) = started();
    let response = viban.request("GET", "/api/health", &[], b"");
    assert_eq!(response.status, 200);
    let body = response.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["database", "status"], "nothing but status: {body}");
}

#[test]
fn the_token_url_becomes_an_httponly_strict_cookie_and_a_clean_redirect() {
    let (_home, viban) = started();
    let token = viban.token();
    let response = viban.request("GET", &format!("/boards/1?tab=x&token={token}"), &[], b"");
    assert_eq!(response.status, 303);
    assert_eq!(response.header("location"), Some("/boards/1?tab=x"), "token removed, rest kept");
    let cookie = response.header("set-cookie").expect("a cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap();

    // The cookie alone now opens the page and the API.
    assert_eq!(viban.request("GET", "/boards/1", &[("Cookie", pair)], b"").status, 200);
    assert_eq!(viban.request("GET", "/api/version", &[("Cookie", pair)], b"").status, 200);

    // A wrong token in the URL sets nothing.
    let wrong = viban.request("GET", "/?token=not-the-token", &[], b"");
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
}

#[test]
fn scripts_authenticate_with_a_bearer_token_and_no_origin() {
    let (_home, viban) = started();
    let auth = format!("Bearer {}", viban.token());
    let response = viban.request("GET", "/api/version", &[("Authorization", &auth)], b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_state_changing_request_from_a_foreign_origin_is_refused() {
    let (_home, viban) = started();
    let cookie = format!("viban-{}={}", viban.addr().port(), viban.token());
    let auth = format!("Bearer {}", viban.token());
    for origin in ["http://attacker.example", "http://localhost:9999", "https://127.0.0.1", "null"] {
        let with_cookie =
            viban.request("POST", "/api/shutdown", &[("Cookie", &cookie), ("Origin", origin)], b"");
        assert_problem(&with_cookie, 403);
        // A stolen-looking Origin is refused even next to the Bearer token.
        let with_bearer =
            viban.request("POST", "/api/shutdown", &[("Authorization", &auth), ("Origin", origin)], b"");
        assert_problem(&with_bearer, 403);
    }
    // A cookie-only request with no Origin at all is what a browser never sends: refused.
    assert_problem(&viban.request("POST", "/api/shutdown", &[("Cookie", &cookie)], b""), 403);
    assert!(viban.exit_status().is_none(), "viban must still be running");
    assert_eq!(viban.request("GET", "/api/health", &[], b"").status, 200);
}

#[test]
fn a_state_changing_request_from_the_own_origin_is_accepted() {
    let (_home, mut viban) = started();
    let cookie = format!("viban-{}={}", viban.addr().port(), viban.token());
    let origin = format!("http://{}", viban.addr());
    let response = viban.request("POST", "/api/shutdown", &[("Cookie", &cookie), ("Origin", &origin)], b"");
    assert_eq!(response.status, 202, "{}", response.text());
    assert!(viban.wait_exit(std::time::Duration::from_secs(15)).is_some_and(|status| status.success()));
}

fn upgrade_headers<'a>(origin: &'a str, cookie: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Origin", origin),
        ("Cookie", cookie),
    ]
}

#[test]
fn a_websocket_upgrade_from_a_foreign_origin_is_refused() {
    let (_home, viban) = started();
    let cookie = format!("viban-{}={}", viban.addr().port(), viban.token());
    for origin in ["http://attacker.example", "null"] {
        let response = viban.request("GET", "/api/ws", &upgrade_headers(origin, &cookie), b"");
        assert_problem(&response, 403);
    }
}

#[test]
fn a_websocket_upgrade_from_the_own_origin_is_accepted_and_greeted() {
    use std::io::{Read, Write};
    let (_home, viban) = started();
    let cookie = format!("viban-{}={}", viban.addr().port(), viban.token());
    let origin = format!("http://{}", viban.addr());
    let mut stream = std::net::TcpStream::connect(viban.addr()).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut request = format!("GET /api/ws HTTP/1.1\r\nHost: {}\r\n", viban.addr());
    for (name, value) in upgrade_headers(&origin, &cookie) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains("hello") {
        let read = stream.read(&mut buffer).unwrap();
        assert!(read > 0, "closed early: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(text.contains(r#""type":"hello""#), "{text}");
}

#[test]
fn an_oversized_body_is_refused_with_413_and_the_server_carries_on() {
    let (_home, viban) = started();
    let auth = format!("Bearer {}", viban.token());
    let body = vec![b'x'; 2 * 1024 * 1024];
    let response = viban.request("POST", "/api/shutdown", &[("Authorization", &auth)], &body);
    assert_problem(&response, 413);
    assert!(viban.exit_status().is_none(), "the oversized request must not have reached the handler");
    assert_eq!(viban.request("GET", "/api/health", &[], b"").status, 200);
}

#[test]
fn a_non_loopback_address_needs_a_password() {
    let home = temp_home();
    let output = common::run_cli(home.path(), &["serve", "--no-browser", "--host", "0.0.0.0", "--port", "0"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VIBAN_PASSWORD"), "{stderr}");
    assert!(!home.path().join("data").exists(), "refused before starting anything");
}

#[test]
fn secrets_stay_out_of_the_logs() {
    let (home, viban) = started();
    let token = viban.token();
    let _ = viban.request("GET", &format!("/?token={token}"), &[], b"");
    drop(viban);
    let password = std::fs::read_to_string(home.path().join("postgres.password")).unwrap();
    for entry in std::fs::read_dir(home.path().join("logs")).unwrap().flatten() {
        let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
        assert!(!text.contains(&token), "token in {:?}", entry.file_name());
        assert!(!text.contains(password.trim()), "password in {:?}", entry.file_name());
    }
}

#[test]
fn with_a_password_a_non_loopback_bind_starts_and_the_password_signs_in() {
    let home = temp_home();
    let viban =
        Viban::spawn(home.path(), &["--host", "0.0.0.0"], &[("VIBAN_PASSWORD", "correct horse battery")]);
    viban.wait_healthy(common::START_TIMEOUT);
    assert!(viban.stderr().contains("anyone who can reach it"), "a warning is printed\n{}", viban.output());
    let response =
        viban.request("GET", "/api/version", &[("Authorization", "Bearer correct horse battery")], b"");
    assert_eq!(response.status, 200);
    assert_eq!(viban.request("GET", "/api/version", &[("Authorization", "Bearer wrong")], b"").status, 401);
    // The password never reaches the logs or the process list.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", viban.pid)).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("correct horse"));
}
