//! Emails in PostgreSQL: claims under a lease, and stalled emails announced again.

use std::time::Duration;

use lzstock_domain::common::OwnerId;
use lzstock_domain::email::{
    Body, Claim, CreateEmail, EmailAddress, EmailStatus, EmailStore, NewEmail, Recipients, Subject,
};
use lzstock_harness::database;
use lzstock_infra::emails::PgEmailStore;

fn request() -> NewEmail {
    NewEmail {
        from: None,
        to: Recipients::parse(&["bob@example.com"]).expect("to"),
        subject: Subject::parse("Hello").expect("subject"),
        body: Body::parse("Hi").expect("body"),
    }
}

async fn announcements(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'lzstock.emails.created'")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn one_sender_holds_a_claim_until_its_lease_lapses() {
    let db = database().await;
    let store = PgEmailStore::new(db.pool.clone(), "lzstock");
    let from = EmailAddress::parse("noreply@lzstock.test").expect("from");
    let email = CreateEmail::new(store.clone(), from)
        .execute(OwnerId::parse("ada").expect("owner"), request(), None)
        .await
        .expect("created");
    let lease = Duration::from_millis(300);
    assert!(matches!(
        store.claim(email.id, lease).await,
        Ok(Claim::Claimed(_))
    ));
    // The second sender learns how long the first one's lease has left, so its event
    // can wait that out instead of spending deliveries.
    assert!(matches!(
        store.claim(email.id, lease).await,
        Ok(Claim::Busy(left)) if left > Duration::ZERO && left <= lease
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        matches!(store.claim(email.id, lease).await, Ok(Claim::Claimed(_))),
        "a dead sender's claim lapses"
    );
    store.mark_sent(email.id).await.expect("sent");
    assert_eq!(
        store.claim(email.id, lease).await.expect("claim"),
        Claim::Settled(EmailStatus::Sent)
    );
}

#[tokio::test]
async fn a_stalled_email_is_announced_again_once_per_period() {
    let db = database().await;
    let store = PgEmailStore::new(db.pool.clone(), "lzstock");
    let from = EmailAddress::parse("noreply@lzstock.test").expect("from");
    let email = CreateEmail::new(store.clone(), from)
        .execute(OwnerId::parse("ada").expect("owner"), request(), None)
        .await
        .expect("created");
    // Never attempted: its first announcement is still on its way.
    assert_eq!(
        store
            .announce_stalled(Duration::ZERO, 10)
            .await
            .expect("pass"),
        0
    );
    store
        .claim(email.id, Duration::from_secs(60))
        .await
        .expect("claim");
    store
        .release(email.id, "451 try later")
        .await
        .expect("released");
    sqlx::query("UPDATE emails SET attempted_at = now() - interval '5 minutes'")
        .execute(&db.pool)
        .await
        .expect("age it");
    let stalled_for = Duration::from_secs(60);
    assert_eq!(
        store.announce_stalled(stalled_for, 10).await.expect("pass"),
        1
    );
    assert_eq!(
        store.announce_stalled(stalled_for, 10).await.expect("pass"),
        0
    );
    assert_eq!(
        announcements(&db.pool).await,
        2,
        "the creation's, then one more"
    );
}
