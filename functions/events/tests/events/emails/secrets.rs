//! The events function with its database and mail server named by Secrets Manager secrets
//! (`*_SECRET`), as on AWS: each read once at init, and the mail server's read again when it
//! refuses the login (a rotated password).

use serde_json::json;

use super::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn the_events_function_sends_through_the_mail_server_its_secret_names() {
    let stack = Stack::start_reading_secrets(true).await;
    let email = stack.post("From a secret").await;
    stack.wait_settled_emails(1).await;
    let received = stack.sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("Message-ID"),
        Some(format!(
            "<{}@lzstock.test>",
            email["id"].as_str().expect("id")
        ))
    );
    assert_eq!(
        stack.get(email["id"].as_str().expect("id")).await["status"],
        "sent"
    );
    let secrets = stack.secrets.as_ref().expect("the stand-in");
    // Read once each, at init, and kept: not once per email.
    assert_eq!(secrets.reads("lzstock/database"), 1);
    assert_eq!(secrets.reads("lzstock/smtp"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_smtp_password_is_read_again_when_the_mail_server_refuses_the_login() {
    let mut stack = Stack::start_reading_secrets(true).await;
    stack.post("Before the rotation").await;
    stack.wait_settled_emails(1).await;

    // The password is rotated: the secret holds the new one, the server takes only it, and
    // the sessions logged in with the old one are gone.
    let secrets = stack.secrets.as_ref().expect("the stand-in");
    secrets.set(
        "lzstock/smtp",
        &json!({"url": stack.sink.url_with_login("lzstock", "second")}).to_string(),
    );
    stack.sink.require_login("lzstock", "second");
    stack.sink.stop().await;
    stack.sink.resume().await;

    let after = stack.post("After the rotation").await;
    stack.wait_settled_emails(2).await;
    let read = stack.get(after["id"].as_str().expect("id")).await;
    // Refused once with the old password (not this email's fault: it waits, it does not
    // fail), then sent with the new one.
    assert_eq!(read["status"], "sent", "{read}");
    assert!(stack.sink.logins_refused() >= 1);
    assert_eq!(stack.sink.received().len(), 2);
    let secrets = stack.secrets.as_ref().expect("the stand-in");
    assert_eq!(
        secrets.reads("lzstock/smtp"),
        2,
        "read again once, on the refusal"
    );
    assert_eq!(secrets.reads("lzstock/database"), 1);
}
