//! Certificates made for one test with the `openssl` command: a CA, a server certificate
//! for 127.0.0.1 and a client certificate, each signed by the CA, as PEM files.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PEM files, in a temporary directory removed on drop.
#[derive(Debug)]
pub struct TestCertificates {
    dir: tempfile::TempDir,
}

impl TestCertificates {
    /// Makes a CA and a server and a client certificate signed by it (P-256 keys, one day).
    ///
    /// # Errors
    /// When `openssl` is missing or fails.
    pub fn generate() -> io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let at = dir.path();
        std::fs::write(
            at.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )?;
        std::fs::write(at.join("client.ext"), "extendedKeyUsage=clientAuth\n")?;
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            at,
            &[
                &["req", "-x509"],
                &key[..],
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat(),
            &["-days", "1", "-subj", "/CN=LZStock test CA"],
        )?;
        for (name, subject) in [("server", "/CN=127.0.0.1"), ("client", "/CN=lzstock-test")] {
            let (key_file, csr) = (format!("{name}.key"), format!("{name}.csr"));
            openssl(
                at,
                &[&["req"], &key[..], &["-keyout", &key_file, "-out", &csr]].concat(),
                &["-subj", subject],
            )?;
            let (pem, ext) = (format!("{name}.pem"), format!("{name}.ext"));
            openssl(
                at,
                &[
                    "x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key",
                ],
                &[
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "1",
                    "-extfile",
                    &ext,
                ],
            )?;
        }
        Ok(Self { dir })
    }

    /// A file of the set: `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`.
    #[must_use]
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// The arguments that make `nats-server` serve TLS with the server certificate and
    /// require a client certificate signed by the CA.
    #[must_use]
    pub fn nats_server_args(&self) -> Vec<String> {
        let path = |file: &str| self.path(file).display().to_string();
        vec![
            "--tls".into(),
            "--tlscert".into(),
            path("server.pem"),
            "--tlskey".into(),
            path("server.key"),
            "--tlscacert".into(),
            path("ca.pem"),
            "--tlsverify".into(),
        ]
    }
}

fn openssl(dir: &Path, args: &[&str], more: &[&str]) -> io::Result<()> {
    let output = Command::new("openssl")
        .args(args)
        .args(more)
        .current_dir(dir)
        .output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}
