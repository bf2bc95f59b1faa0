use super::*;

#[test]
fn the_projects_template_has_the_nightly_sync_and_its_input() {
    let template = include_str!("../../../../template.yaml");
    let rules = rules_of(template).expect("rules");
    let nightly = rules
        .iter()
        .find(|r| r.name == "ScraperFunction/Nightly")
        .expect("the nightly rule");
    assert_eq!(nightly.binary, "scraper");
    assert!(nightly.scheduler && nightly.enabled);
    let at: DateTime<Utc> = "2026-11-24T03:00:00Z".parse().expect("time");
    assert_eq!(
        nightly.event_at(at).expect("input")["scheduled_time"],
        "2026-11-24T03:00:00Z"
    );
}

#[test]
fn a_rule_without_input_sends_the_scheduled_event() {
    let template = r"
Parameters:
  Every:
    Type: String
    Default: rate(5 minutes)
Resources:
  Job:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Often:
          Type: Schedule
          Properties:
            Schedule: !Ref Every
            Enabled: false
";
    let rules = rules_of(template).expect("rules");
    assert_eq!(rules.len(), 1);
    assert!(!rules[0].enabled);
    assert_eq!(rules[0].expression.to_string(), "rate(5 minutes)");
    let event = rules[0]
        .event_at("2026-11-24T03:00:00Z".parse().expect("time"))
        .expect("event");
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["time"], "2026-11-24T03:00:00Z");
}

#[test]
fn an_expression_aws_refuses_is_named() {
    let template = r"
Resources:
  Job:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Bad:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * *)
";
    let error = rules_of(template).expect_err("refused").to_string();
    assert!(error.contains("Job/Bad"), "{error}");
}
