use std::sync::Mutex;

use super::*;
use crate::common::{OwnerId, Page, PageRequest, ProcessedEvent, StoreError};

#[test]
fn addresses_are_plain_local_at_domain() {
    for good in [
        "ada@example.com",
        "a.b+tag@mail.example.co.uk",
        "x_y-z@a-b.io",
        "o'neil@ex.org",
    ] {
        assert!(EmailAddress::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada@exa mple.com",
        "ada@example.com\r\nBcc: eve@example.com",
        "Ada <ada@example.com>",
        "\"ada\"@example.com",
        "ada@-example.com",
        "ada@example.123",
        "ada@example.c0m",
        "ada@ex_ample.com",
        "adä@example.com",
    ] {
        assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
    }
    let long = format!("{}@example.com", "a".repeat(65));
    assert!(EmailAddress::parse(&long).is_err());
}

#[test]
fn recipients_name_the_element_refused() {
    let error = Recipients::parse(&["ada@example.com", "nope"]).unwrap_err();
    assert_eq!(error.field, "to[1]");
    let repeated = Recipients::parse(&["ada@example.com", "ada@example.com"]).unwrap_err();
    assert_eq!(repeated.field, "to[1]");
    assert_eq!(Recipients::parse::<&str>(&[]).unwrap_err().field, "to");
    let many: Vec<String> = (0..51).map(|n| format!("u{n}@example.com")).collect();
    assert_eq!(Recipients::parse(&many).unwrap_err().field, "to");
}

#[test]
fn subjects_and_bodies_have_their_limits() {
    assert!(Subject::parse("Hello").is_ok());
    assert!(Subject::parse(&"é".repeat(998)).is_ok());
    assert!(Subject::parse(&"é".repeat(999)).is_err());
    assert!(Subject::parse("Hi\r\nBcc: eve@example.com").is_err());
    assert!(Subject::parse("   ").is_err());
    assert!(Body::parse("line one\r\nline two\ttabbed").is_ok());
    assert!(Body::parse(&"x".repeat(Body::MAX_BYTES)).is_ok());
    assert!(Body::parse(&"x".repeat(Body::MAX_BYTES + 1)).is_err());
    assert!(Body::parse("nul\0").is_err());
    assert!(SearchText::parse(&"q".repeat(201)).is_err());
    assert_eq!(
        SearchText::parse("  a & b | !c (  ").unwrap().as_str(),
        "a & b | !c ("
    );
}

/// Storage, a mail server and a cache, in memory.
#[derive(Default)]
struct World {
    emails: Mutex<Vec<Email>>,
    processed: Mutex<Vec<String>>,
    /// Answers the mail server gives, in order; then acceptance.
    answers: Mutex<Vec<SendFailure>>,
    delivered: Mutex<Vec<EmailId>>,
    cached: Mutex<Vec<Email>>,
}

impl World {
    fn set_status(&self, id: EmailId, status: EmailStatus, error: Option<&str>) {
        let mut emails = self.emails.lock().unwrap();
        let email = emails.iter_mut().find(|e| e.id == id).unwrap();
        email.status = status;
        email.last_error = error.map(str::to_owned);
    }
}

impl EmailStore for &World {
    async fn create(&self, email: &Email, _event: &EmailCreated) -> Result<(), StoreError> {
        self.emails.lock().unwrap().push(email.clone());
        Ok(())
    }

    async fn create_once(
        &self,
        email: &Email,
        event: &EmailCreated,
        processed: &ProcessedEvent,
    ) -> Result<bool, StoreError> {
        {
            let mut seen = self.processed.lock().unwrap();
            if seen.contains(&processed.event_id) {
                return Ok(false);
            }
            seen.push(processed.event_id.clone());
        }
        self.create(email, event).await?;
        Ok(true)
    }

    async fn get(&self, id: EmailId) -> Result<Option<Email>, StoreError> {
        Ok(self
            .emails
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.id == id)
            .cloned())
    }

    async fn search(
        &self,
        owner: &OwnerId,
        _search: &SearchText,
        page: PageRequest,
    ) -> Result<Page<Email>, StoreError> {
        let items: Vec<Email> = self
            .emails
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.owner == *owner)
            .cloned()
            .collect();
        Ok(Page {
            total: items.len() as u64,
            items,
            request: page,
        })
    }

    async fn claim(&self, id: EmailId, lease: std::time::Duration) -> Result<Claim, StoreError> {
        let mut emails = self.emails.lock().unwrap();
        let Some(email) = emails.iter_mut().find(|e| e.id == id) else {
            return Ok(Claim::Missing);
        };
        Ok(match email.status {
            EmailStatus::Queued => {
                email.status = EmailStatus::Sending;
                Claim::Claimed(email.clone())
            }
            // The other sender's lease is as long as this one would be.
            EmailStatus::Sending => Claim::Busy(lease),
            settled => Claim::Settled(settled),
        })
    }

    async fn mark_sent(&self, id: EmailId) -> Result<(), StoreError> {
        self.set_status(id, EmailStatus::Sent, None);
        Ok(())
    }

    async fn mark_failed(&self, id: EmailId, reason: &str) -> Result<(), StoreError> {
        self.set_status(id, EmailStatus::Failed, Some(reason));
        Ok(())
    }

    async fn release(&self, id: EmailId, reason: &str) -> Result<(), StoreError> {
        self.set_status(id, EmailStatus::Queued, Some(reason));
        Ok(())
    }
}

impl Mailer for &World {
    async fn send(&self, email: &Email) -> Result<(), SendFailure> {
        let answer = {
            let mut answers = self.answers.lock().unwrap();
            (!answers.is_empty()).then(|| answers.remove(0))
        };
        match answer {
            Some(failure) => Err(failure),
            None => {
                self.delivered.lock().unwrap().push(email.id);
                Ok(())
            }
        }
    }
}

impl EmailCache for &World {
    async fn get(&self, id: EmailId) -> Option<Email> {
        self.cached
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.id == id)
            .cloned()
    }

    async fn put(&self, email: &Email) {
        self.cached.lock().unwrap().push(email.clone());
    }

    async fn invalidate(&self, id: EmailId) {
        self.cached.lock().unwrap().retain(|e| e.id != id);
    }
}

fn owner(name: &str) -> OwnerId {
    OwnerId::parse(name).unwrap()
}

fn request() -> NewEmail {
    NewEmail {
        from: None,
        to: Recipients::parse(&["bob@example.com"]).unwrap(),
        subject: Subject::parse("Quarterly numbers").unwrap(),
        body: Body::parse("Revenue is up.").unwrap(),
    }
}

fn create(world: &World) -> CreateEmail<&World> {
    CreateEmail::new(world, EmailAddress::parse("noreply@lzstock.test").unwrap())
}

fn send(world: &World) -> SendEmail<&World, &World, &World> {
    SendEmail::new(world, world, world, std::time::Duration::from_secs(60))
}

#[tokio::test]
async fn an_email_is_queued_from_the_default_sender_then_sent_once() {
    let world = World::default();
    let email = create(&world)
        .execute(owner("ada"), request(), None)
        .await
        .unwrap();
    assert_eq!(email.status, EmailStatus::Queued);
    assert_eq!(email.from.as_str(), "noreply@lzstock.test");
    assert_eq!(
        send(&world).execute(email.id).await.unwrap(),
        SendOutcome::Sent
    );
    // A redelivered emails.created sends nothing.
    assert_eq!(
        send(&world).execute(email.id).await.unwrap(),
        SendOutcome::AlreadySettled(EmailStatus::Sent)
    );
    assert_eq!(world.delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_transient_refusal_gives_the_email_back_and_a_permanent_one_fails_it() {
    let world = World::default();
    world
        .answers
        .lock()
        .unwrap()
        .push(SendFailure::Transient("451 try later".into()));
    let email = create(&world)
        .execute(owner("ada"), request(), None)
        .await
        .unwrap();
    assert!(matches!(
        send(&world).execute(email.id).await,
        Err(SendEmailError::Retry(reason)) if reason.contains("451")
    ));
    assert_eq!(world.emails.lock().unwrap()[0].status, EmailStatus::Queued);
    assert_eq!(
        send(&world).execute(email.id).await.unwrap(),
        SendOutcome::Sent
    );

    let refused = create(&world)
        .execute(owner("ada"), request(), None)
        .await
        .unwrap();
    world
        .answers
        .lock()
        .unwrap()
        .push(SendFailure::Permanent("550 no such user".into()));
    assert_eq!(
        send(&world).execute(refused.id).await.unwrap(),
        SendOutcome::Failed("550 no such user".into())
    );
    let stored = GetEmail::new(&world, ())
        .execute(&owner("ada"), refused.id)
        .await
        .unwrap();
    assert_eq!(stored.status, EmailStatus::Failed);
    assert_eq!(stored.last_error.as_deref(), Some("550 no such user"));
}

/// A sender that died holding its claim: the next attempt learns how long the lease has
/// left (so its event can wait that out) and sends nothing meanwhile.
#[tokio::test]
async fn an_email_another_sender_holds_is_left_alone_for_the_rest_of_its_lease() {
    let world = World::default();
    let email = create(&world)
        .execute(owner("ada"), request(), None)
        .await
        .unwrap();
    world.emails.lock().unwrap()[0].status = EmailStatus::Sending;
    assert!(matches!(
        send(&world).execute(email.id).await,
        Err(SendEmailError::Busy(left)) if left == std::time::Duration::from_secs(60)
    ));
    assert!(world.delivered.lock().unwrap().is_empty());
}

/// The usecase's part of exactly-once: it hands the store the event's claim and reports
/// what the store says. (That the claim holds is the store's: tested against PostgreSQL.)
#[tokio::test]
async fn an_email_request_the_store_has_processed_gives_nothing_and_a_new_one_its_email() {
    let world = World::default();
    world.processed.lock().unwrap().push("evt-1".into());
    let event = |id: &str| ProcessedEvent {
        handler: "emails.requested".into(),
        event_id: id.into(),
        subject: "lzstock.emails.requested".into(),
    };
    let usecase = create(&world);
    assert!(usecase
        .execute_once(owner("ada"), request(), None, &event("evt-1"))
        .await
        .unwrap()
        .is_none());
    assert!(world.emails.lock().unwrap().is_empty());
    let new = usecase
        .execute_once(owner("ada"), request(), None, &event("evt-2"))
        .await
        .unwrap()
        .expect("a new request's email");
    assert_eq!(world.emails.lock().unwrap().as_slice(), [new]);
    assert_eq!(
        world.processed.lock().unwrap().as_slice(),
        ["evt-1", "evt-2"]
    );
}

#[tokio::test]
async fn reads_go_through_the_cache_and_only_the_owner_sees_an_email() {
    let world = World::default();
    let email = create(&world)
        .execute(owner("ada"), request(), None)
        .await
        .unwrap();
    let get = GetEmail::new(&world, &world);
    assert_eq!(get.execute(&owner("ada"), email.id).await.unwrap(), email);
    assert_eq!(world.cached.lock().unwrap().len(), 1, "cached on the miss");
    assert!(matches!(
        get.execute(&owner("bob"), email.id).await,
        Err(GetEmailError::NotFound)
    ));
    send(&world).execute(email.id).await.unwrap();
    assert!(
        world.cached.lock().unwrap().is_empty(),
        "the status change invalidated it"
    );
    assert_eq!(
        get.execute(&owner("ada"), email.id).await.unwrap().status,
        EmailStatus::Sent
    );
}
