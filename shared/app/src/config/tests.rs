use super::*;
use lzstock_infra::nats::NatsCredentials;

#[test]
fn a_database_url_with_another_scheme_is_refused_without_echoing_it() {
    let env = [("DATABASE_URL", "mysql://root:hunter2@db/x")];
    let err = DatabaseConfig::from_source(&env).unwrap_err().to_string();
    assert!(err.contains("DATABASE_URL"));
    assert!(!err.contains("hunter2"));
}

#[test]
fn nats_accepts_several_servers() {
    let env = [("NATS_URL", "nats://a:4222, nats://b:4222,tls://c:4443")];
    let seeds = NatsConfig::from_source(&env).expect("three seeds").servers;
    let hosts: Vec<_> = seeds
        .iter()
        .map(|s| (s.host().to_owned(), s.port()))
        .collect();
    assert_eq!(
        hosts,
        [("a".into(), 4222), ("b".into(), 4222), ("c".into(), 4443)]
    );
    for malformed in [
        "http://a:4222",
        "nats://a:port",
        "nats://a:4222,nats://:4222x",
    ] {
        let err = NatsConfig::from_source(&[("NATS_URL", malformed)]).unwrap_err();
        assert!(err.to_string().contains("NATS_URL"), "{malformed}: {err}");
    }
    let err = NatsConfig::from_source(&[("NATS_URL", "nats://user:hunter2@a:port")])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn optional_services_may_be_absent() {
    let env: [(&str, &str); 0] = [];
    let services = OptionalServices::from_source(&env).unwrap();
    assert!(services.redis_url.is_none() && services.otlp_endpoint.is_none());
}

#[test]
fn outbox_settings_are_checked() {
    let env: [(&str, &str); 0] = [];
    assert_eq!(
        OutboxConfig::from_source(&env).unwrap().relay.max_attempts,
        10
    );
    let err = OutboxConfig::from_source(&[("OUTBOX_MAX_ATTEMPTS", "0")]).unwrap_err();
    assert!(err.to_string().contains("OUTBOX_MAX_ATTEMPTS"));
    let err = OutboxConfig::from_source(&[("OUTBOX_RETENTION_HOURS", "-1")]).unwrap_err();
    assert!(err.to_string().contains("OUTBOX_RETENTION_HOURS"));
}

#[test]
fn mail_needs_both_its_variables_and_refuses_a_malformed_one_by_name() {
    let both = [
        ("EMAIL_FROM", "notifications@example.com"),
        ("SMTP_URL", "smtp://127.0.0.1:2525"),
    ];
    let mail = MailConfig::optional_from_source(&both).unwrap().unwrap();
    assert_eq!(mail.from.as_str(), "notifications@example.com");
    let only_smtp = [("SMTP_URL", "smtp://127.0.0.1:2525")];
    assert!(MailConfig::optional_from_source(&only_smtp)
        .unwrap()
        .is_none());
    assert!(matches!(
        MailConfig::from_source(&only_smtp),
        Err(ConfigError::Missing {
            name: "EMAIL_FROM",
            ..
        })
    ));
    let header_injection = [("EMAIL_FROM", "a@example.com\r\nBcc: eve@example.com")];
    assert!(matches!(
        MailConfig::optional_from_source(&header_injection),
        Err(ConfigError::Malformed {
            name: "EMAIL_FROM",
            ..
        })
    ));
    let wrong_scheme = [("EMAIL_FROM", "a@example.com"), ("SMTP_URL", "http://x")];
    assert!(matches!(
        MailConfig::optional_from_source(&wrong_scheme),
        Err(ConfigError::Malformed {
            name: "SMTP_URL",
            ..
        }) | Err(ConfigError::Missing {
            name: "SMTP_URL",
            ..
        })
    ));
}

#[test]
fn nats_credentials_are_a_files_path_or_its_content() {
    let content = "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.sig\n------END NATS USER JWT------\n";
    let inline = [
        ("NATS_URL", "nats://127.0.0.1:4222"),
        ("NATS_CREDS", content),
    ];
    assert!(matches!(
        NatsConfig::from_source(&inline),
        Ok(NatsConfig {
            creds: Some(NatsCredentials::Inline(_)),
            ..
        })
    ));
    let missing = [
        ("NATS_URL", "nats://127.0.0.1:4222"),
        ("NATS_CREDS", "/nonexistent/user.creds"),
    ];
    let err = NatsConfig::from_source(&missing).unwrap_err().to_string();
    assert!(
        err.contains("NATS_CREDS") && err.contains("/nonexistent/user.creds"),
        "{err}"
    );
}
