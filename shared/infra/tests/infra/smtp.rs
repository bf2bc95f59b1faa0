//! The SMTP mailer against a real SMTP server of the test's own.

use chrono::Utc;
use lzstock_domain::common::OwnerId;
use lzstock_domain::email::{
    Body, Email, EmailAddress, EmailId, EmailStatus, Mailer, Recipients, SendFailure, Subject,
};
use lzstock_harness::smtp_sink::SmtpSink;
use lzstock_infra::smtp::SmtpMailer;

fn email() -> Email {
    Email {
        id: EmailId::new(),
        owner: OwnerId::parse("ada").expect("owner"),
        from: EmailAddress::parse("noreply@lzstock.test").expect("from"),
        to: Recipients::parse(&["bob@example.com", "carol@example.org"]).expect("to"),
        subject: Subject::parse("Quarterly numbers: up 12%").expect("subject"),
        body: Body::parse("Revenue grew.\r\n.A line starting with a dot.\r\n").expect("body"),
        status: EmailStatus::Sending,
        last_error: None,
        created_at: Utc::now(),
        sent_at: None,
    }
}

#[tokio::test]
async fn an_email_arrives_with_its_headers_and_a_stable_message_id() {
    let sink = SmtpSink::start().await;
    let mailer = SmtpMailer::from_url(&sink.url(), "lzstock.test").expect("mailer");
    let email = email();
    mailer.send(&email).await.expect("sent");
    mailer.send(&email).await.expect("sent again");
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let mail = &received[0];
    assert_eq!(mail.envelope_from, "noreply@lzstock.test");
    assert_eq!(mail.envelope_to, ["bob@example.com", "carol@example.org"]);
    assert_eq!(mail.header("From").as_deref(), Some("noreply@lzstock.test"));
    assert_eq!(
        mail.header("To").as_deref(),
        Some("bob@example.com, carol@example.org")
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Quarterly numbers: up 12%")
    );
    let message_id = format!("<{}@lzstock.test>", email.id);
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some(message_id.as_str())
    );
    assert_eq!(received[1].header("Message-ID"), mail.header("Message-ID"));
    assert!(
        mail.body().contains(".A line starting with a dot."),
        "{}",
        mail.data
    );
}

#[tokio::test]
async fn refusals_and_an_absent_server_are_told_apart() {
    let mut sink = SmtpSink::start().await;
    let mailer = SmtpMailer::from_url(&sink.url(), "lzstock.test").expect("mailer");
    sink.answer_next(&[(451, "4.3.0 try again later"), (550, "5.1.1 no such user")]);
    let temporary = mailer.send(&email()).await;
    assert!(
        matches!(&temporary, Err(SendFailure::Transient(r)) if r.contains("try again")),
        "{temporary:?}"
    );
    let permanent = mailer.send(&email()).await;
    assert!(
        matches!(&permanent, Err(SendFailure::Permanent(r)) if r.contains("no such user")),
        "{permanent:?}"
    );
    sink.stop().await;
    let down = SmtpMailer::from_url(&sink.url(), "lzstock.test")
        .expect("mailer")
        .send(&email())
        .await;
    assert!(matches!(down, Err(SendFailure::Transient(_))), "{down:?}");
    sink.resume().await;
    mailer
        .send(&email())
        .await
        .expect("sent once the server is back");
    assert_eq!(sink.received().len(), 1);
}
