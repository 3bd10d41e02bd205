//! `tls_config` against a real TLS server (rustls on a thread, certificates made by the
//! `openssl` CLI at test time): a CA file is trusted and nothing else is, an unrelated CA
//! fails with the certificate error, `insecure_skip_verify` accepts anything, `server_name`
//! replaces the URL's host in the check, a client certificate passes a server requiring
//! one, versions are honoured, and unreadable or broken files are named in errors.

use std::path::Path;

use strata_httpclient::testing::{serve, Pki, ServeOptions};
use strata_httpclient::{TlsConfig, TlsError, TlsVersion};

/// GETs `url` with `tls`; the body, or the error chain.
async fn get(tls: &TlsConfig, url: &str) -> Result<String, String> {
    let client = strata_httpclient::builder(tls)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(url).send().await {
        Ok(r) => r.text().await.map_err(|e| e.to_string()),
        Err(e) => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(x) = src {
                s.push_str(": ");
                s.push_str(&x.to_string());
                src = x.source();
            }
            Err(s)
        }
    }
}

fn file(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[tokio::test]
async fn server_verification_follows_tls_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pki = Pki::generate(d).expect("certificates");
    let port = serve(&pki, ServeOptions::default()).expect("serve");
    let by_name = format!("https://localhost:{port}/");
    let by_ip = format!("https://127.0.0.1:{port}/");
    let ca = TlsConfig {
        ca_file: file(d, "ca.crt"),
        ..TlsConfig::default()
    };

    assert_eq!(get(&ca, &by_name).await.as_deref(), Ok("ok"), "ca_file");
    let inline = TlsConfig {
        ca: std::fs::read_to_string(d.join("ca.crt")).expect("ca"),
        ..TlsConfig::default()
    };
    assert_eq!(
        get(&inline, &by_name).await.as_deref(),
        Ok("ok"),
        "inline ca"
    );

    let other = TlsConfig {
        ca_file: file(d, "other-ca.crt"),
        ..TlsConfig::default()
    };
    let e = get(&other, &by_name).await.expect_err("an unrelated CA");
    assert!(e.contains("invalid peer certificate: UnknownIssuer"), "{e}");
    let e = get(&TlsConfig::default(), &by_name)
        .await
        .expect_err("system roots do not hold the test CA");
    assert!(e.contains("invalid peer certificate"), "{e}");

    let insecure = TlsConfig {
        insecure_skip_verify: true,
        ..other.clone()
    };
    assert_eq!(
        get(&insecure, &by_ip).await.as_deref(),
        Ok("ok"),
        "insecure"
    );

    // server_name is the name checked, not the URL's host: a name the certificate lacks
    // fails even where the host would pass, and the right one passes from an IP URL.
    let wrong_name = TlsConfig {
        server_name: "strata.invalid".into(),
        ..ca.clone()
    };
    let e = get(&wrong_name, &by_name)
        .await
        .expect_err("server_name checked");
    assert!(e.contains(r#"not valid for name "strata.invalid""#), "{e}");
    let renamed = TlsConfig {
        server_name: "localhost".into(),
        ..ca.clone()
    };
    assert_eq!(
        get(&renamed, &by_ip).await.as_deref(),
        Ok("ok"),
        "server_name"
    );
}

#[tokio::test]
async fn client_certificates_and_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pki = Pki::generate(d).expect("certificates");
    let mtls = serve(
        &pki,
        ServeOptions {
            require_client_cert: true,
            ..ServeOptions::default()
        },
    )
    .expect("serve");
    let url = format!("https://localhost:{mtls}/");
    let ca = TlsConfig {
        ca_file: file(d, "ca.crt"),
        ..TlsConfig::default()
    };
    assert!(get(&ca, &url).await.is_err(), "no client certificate");
    let with_cert = TlsConfig {
        cert_file: file(d, "client.crt"),
        key_file: file(d, "client.key"),
        ..ca.clone()
    };
    assert_eq!(
        get(&with_cert, &url).await.as_deref(),
        Ok("ok"),
        "client cert"
    );

    let tls12 = serve(
        &pki,
        ServeOptions {
            tls12_only: true,
            ..ServeOptions::default()
        },
    )
    .expect("serve");
    let url12 = format!("https://localhost:{tls12}/");
    assert_eq!(get(&ca, &url12).await.as_deref(), Ok("ok"), "TLS 1.2");
    let min13 = TlsConfig {
        min_version: Some(TlsVersion::Tls13),
        ..ca.clone()
    };
    assert!(get(&min13, &url12).await.is_err(), "min_version TLS13");
    let max11 = TlsConfig {
        max_version: Some(TlsVersion::Tls11),
        ..ca.clone()
    };
    let e = strata_httpclient::rustls_config(&max11).expect_err("TLS 1.1 only");
    assert!(matches!(e, TlsError::Invalid(_)), "{e}");
    assert_eq!(
        e.to_string(),
        "tls_config: no TLS version between min_version TLS12 and max_version TLS11 is \
         supported (TLS 1.2 and 1.3 are)"
    );
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = file(dir.path(), "missing.pem");
    let e = strata_httpclient::rustls_config(&TlsConfig {
        ca_file: missing.clone(),
        ..TlsConfig::default()
    })
    .expect_err("missing file");
    assert!(
        e.to_string()
            .starts_with(&format!("tls_config: read ca_file {missing}: ")),
        "{e}"
    );

    let junk = file(dir.path(), "junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("write");
    let e = strata_httpclient::rustls_config(&TlsConfig {
        ca_file: junk.clone(),
        ..TlsConfig::default()
    })
    .expect_err("no PEM");
    assert_eq!(
        e.to_string(),
        format!("tls_config: ca_file {junk}: no PEM certificate found")
    );
    let e = strata_httpclient::rustls_config(&TlsConfig {
        cert: "junk".into(),
        key_file: junk.clone(),
        ..TlsConfig::default()
    })
    .expect_err("no PEM");
    assert!(e.to_string().starts_with("tls_config: cert: "), "{e}");
}
