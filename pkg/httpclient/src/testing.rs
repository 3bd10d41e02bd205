//! For tests only: certificates made by the `openssl` CLI (Debian's `openssl` package) and a
//! small TLS server on threads, so TLS clients are tested against real handshakes. Shared by
//! this crate's, strata-discovery's and strata-tests' tests; nothing else uses it.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Test certificates, all in one directory: two unrelated CAs, a server certificate for
/// `localhost` and `127.0.0.1` and a client certificate (CN `strata-agent`), both signed by
/// the first CA. P-256 keys in PKCS#8 PEM, valid two days.
#[derive(Clone, Debug)]
pub struct Pki {
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// Another CA, that signed nothing here: trusting it alone must fail.
    pub other_ca_cert: PathBuf,
    /// The server certificate (SAN `DNS:localhost`, `IP:127.0.0.1`).
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// The client certificate (client auth).
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

/// Runs `openssl` in `dir` with a space-separated argument line (no argument holds a space).
fn openssl(dir: &Path, args: &str) -> std::io::Result<()> {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "openssl {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

const P256: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

impl Pki {
    /// Makes the certificates in `dir`.
    pub fn generate(dir: &Path) -> std::io::Result<Self> {
        for ca in ["ca", "other-ca"] {
            openssl(
                dir,
                &format!("req -x509 {P256} -days 2 -subj /CN={ca} -keyout {ca}.key -out {ca}.crt"),
            )?;
        }
        for (name, cn, ext) in [
            (
                "server",
                "localhost",
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "strata-agent", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), ext)?;
            openssl(
                dir,
                &format!("req {P256} -subj /CN={cn} -keyout {name}.key -out {name}.csr"),
            )?;
            openssl(
                dir,
                &format!(
                    "x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                     -extfile {name}.ext -out {name}.crt"
                ),
            )?;
        }
        Ok(Self {
            ca_cert: dir.join("ca.crt"),
            other_ca_cert: dir.join("other-ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        })
    }
}

/// How [`serve`] answers.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Require a client certificate signed by the PKI's CA.
    pub require_client_cert: bool,
    /// Speak TLS 1.2 only (else 1.2 and 1.3).
    pub tls12_only: bool,
    /// The `Content-Type` of every answer.
    pub content_type: String,
    /// The body of every answer (status 200, whatever the path).
    pub body: String,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            require_client_cert: false,
            tls12_only: false,
            content_type: "text/plain".into(),
            body: "ok".into(),
        }
    }
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Serves HTTPS with the PKI's server certificate on `127.0.0.1` at a free port, one thread
/// per connection, for the rest of the process; returns the port.
pub fn serve(pki: &Pki, opts: ServeOptions) -> std::io::Result<u16> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_file_iter(&pki.server_cert)
        .map_err(io_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err)?;
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).map_err(io_err)?;
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let b = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(io_err)?;
    let b = if opts.require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&pki.ca_cert).map_err(io_err)? {
            roots.add(c.map_err(io_err)?).map_err(io_err)?;
        }
        let v =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(io_err)?;
        b.with_client_cert_verifier(v)
    } else {
        b.with_no_client_auth()
    };
    let config = Arc::new(b.with_single_cert(chain, key).map_err(io_err)?);
    let answer = Arc::new(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        opts.content_type,
        opts.body.len(),
        opts.body
    ));
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    std::thread::spawn(move || {
        for tcp in l.incoming().flatten() {
            let (config, answer) = (Arc::clone(&config), Arc::clone(&answer));
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(conn, tcp);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s.write_all(answer.as_bytes());
                s.conn.send_close_notify();
                let _ = s.flush();
            });
        }
    });
    Ok(port)
}
