//! Unit tests of the registry client's parsing and limits.

use super::*;

#[test]
fn challenges_parse() {
    assert_eq!(
        Challenge::parse("Basic realm=\"Registry Realm\""),
        Challenge::Basic
    );
    assert_eq!(
        Challenge::parse(
            "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\""
        ),
        Challenge::Bearer {
            realm: "https://auth.example/token".to_owned(),
            service: Some("registry.example".to_owned()),
        }
    );
    assert_eq!(
        Challenge::parse("bearer service=x, realm=https://t.example/a"),
        Challenge::Bearer {
            realm: "https://t.example/a".to_owned(),
            service: Some("x".to_owned()),
        }
    );
    assert_eq!(
        Challenge::parse("Bearer service=\"x\""),
        Challenge::Other("Bearer without a realm".to_owned())
    );
    // The fuzzer's `www_authenticate` find: an empty realm is no realm.
    assert_eq!(
        Challenge::parse("bearer servicce=x, reaLm=\"\"h\"io/to/"),
        Challenge::Other("Bearer without a realm".to_owned())
    );
    assert_eq!(
        Challenge::parse("Negotiate abc"),
        Challenge::Other("Negotiate".to_owned())
    );
}

#[test]
fn plain_http_token_services_only_on_loopback() {
    for (realm, allowed) in [
        ("https://auth.example/token", true),
        ("http://127.0.0.1:5000/token", true),
        ("http://localhost/token", true),
        ("http://[::1]:8080/token", true),
        ("http://auth.example/token", false),
        ("http://10.0.0.1/token", false),
        ("http://127.0.0.1.example/token", false),
        ("ftp://127.0.0.1/token", false),
    ] {
        let url = reqwest::Url::parse(realm).expect("url");
        assert_eq!(realm_allowed(&url), allowed, "{realm}");
    }
}

#[test]
fn loopback_means_a_loopback_address() {
    for host in [
        "127.0.0.1:5000",
        "127.1.2.3",
        "localhost",
        "localhost:5000",
        "[::1]:5000",
        "[::1]",
    ] {
        assert!(is_loopback(host), "{host}");
    }
    for host in [
        "127.attacker.example",
        "127.0.0.1.nip.io:5000",
        "localhost.example",
        "10.0.0.1:5000",
    ] {
        assert!(!is_loopback(host), "{host}");
    }
}

#[test]
fn only_digests_and_tags_reach_a_url() {
    let r = Registry::new(
        "127.0.0.1:1",
        "team/app",
        Credentials::Anonymous,
        "/nonexistent".into(),
    )
    .expect("client");
    let hex = "a".repeat(64);
    assert!(r.url("blobs", &format!("sha256:{hex}")).is_ok());
    assert!(r.url("manifests", "v1.2_rc-3").is_ok());
    for bad in [
        "sha256:../../v2/other/manifests/x".to_owned(),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha512:{hex}"),
        "a/b".to_owned(),
        "x?y".to_owned(),
        String::new(),
        "t".repeat(129),
    ] {
        assert!(r.url("blobs", &bad).is_err(), "{bad}");
    }
}

#[test]
fn quoted_values_keep_commas_and_escapes() {
    assert_eq!(
        auth_params(r#"a="x,y", b="q\"r",c=plain"#),
        vec![
            ("a".to_owned(), "x,y".to_owned()),
            ("b".to_owned(), "q\"r".to_owned()),
            ("c".to_owned(), "plain".to_owned())
        ]
    );
}

#[test]
fn credentials_never_print_the_password() {
    let c = Credentials::Basic {
        username: "alice".to_owned(),
        password: Zeroizing::new("hunter2".to_owned()),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    let header = c.basic_header().expect("header");
    assert!(header.is_sensitive());
    assert!(!format!("{header:?}").contains("aHVudGVy"));
}
