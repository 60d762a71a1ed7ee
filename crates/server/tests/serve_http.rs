//! The real binary: `token create` prints the token alone, and `serve --http` answers the API
//! beside the SIP server until SIGTERM stops both.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::serve::Server;
use support::{Sandbox, TestResult, stderr};

fn get(address: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect: {e}"));
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("send: {e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn token_create_prints_the_token_alone_and_rejects_bad_roles() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let token = sandbox.ok(&["token", "create", "--tenant", "acme", "--role", "viewer"]);
    assert_eq!(token.lines().count(), 1, "{token:?}");
    assert!(
        token.starts_with("onr_") && token.trim().len() == 4 + 12 + 1 + 64,
        "{token:?}"
    );
    let operator = sandbox.ok(&["token", "create", "--operator"]);
    assert_ne!(operator, token);
    for bad in [
        vec!["token", "create", "--tenant", "acme", "--role", "operator"],
        vec!["token", "create", "--tenant", "acme", "--role", "root"],
        vec!["token", "create", "--tenant", "nobody", "--role", "viewer"],
        vec!["token", "create", "--tenant", "acme"],
        vec!["token", "create", "--operator", "--tenant", "acme"],
    ] {
        let output = sandbox.run(&bad);
        assert!(!output.status.success(), "{bad:?} succeeded");
        assert!(output.stdout.is_empty(), "{bad:?} printed a token");
        assert!(!stderr(&output).is_empty(), "{bad:?} said nothing");
    }
    Ok(())
}

#[test]
fn serve_answers_the_api_beside_sip_until_stopped() -> TestResult {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme", "all-party");
    let file = sandbox.call("in", "call-1", 1, true);
    sandbox.ok(&["import", "--tenant", "acme", &file.display().to_string()]);
    let token = sandbox.ok(&["token", "create", "--tenant", "acme", "--role", "viewer"]);
    let token = token.trim();

    let mut server = Server::start(&sandbox, &["--http", "127.0.0.1:0"]);
    let line = server
        .wait_for("HTTP API and web UI on http://", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no HTTP line"));
    let address: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));

    assert_eq!(get(address, "/api/v1/recordings", None).0, 401);
    let (status, body) = get(address, "/api/v1/recordings", Some(token));
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(list["recordings"][0]["external_id"], "call-1");
    assert!(list["next"].is_null());
    assert_eq!(get(address, "/healthz", None), (200, "ok\n".to_owned()));

    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(TcpStream::connect(address).is_err(), "HTTP still listening");
    Ok(())
}
