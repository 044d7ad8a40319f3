//! One webhook delivery (N3): the body in the shape the receiver reads (`json`,
//! `slack`, `discord`, `ntfy`) and one blocking POST through `ureq` (call it on
//! `spawn_blocking`). Retries and recording the outcome are [`super::Notifier`]'s and
//! `board::webhooks::test`'s.

use std::time::Duration;

use serde_json::{Value, json};

use super::Notice;

/// The body shapes a webhook may ask for.
pub const FORMATS: &[&str] = &["json", "slack", "discord", "ntfy"];
/// How long one attempt may take, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of the receiver's answer is kept to show.
const ANSWER_MAX: usize = 500;

/// What the receiver said to one attempt.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Delivery {
    /// The HTTP status, when the receiver answered at all.
    pub status: Option<i32>,
    /// Why the delivery failed (a refused connection, a 5xx); absent when it succeeded.
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub answer: String,
}

impl Delivery {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The URL to POST to and the body, for a webhook of `format` at `url`.
pub(crate) fn request(format: &str, url: &str, notice: &Notice) -> (String, Value) {
    let line = notice.text.clone();
    match format {
        "slack" => (url.to_string(), json!({ "text": line })),
        "discord" => (url.to_string(), json!({ "content": line })),
        // ntfy's JSON publishing: POST to the server's root, the topic in the body
        // (the URL the user gives is the topic's, `https://ntfy.sh/my-topic`).
        "ntfy" => {
            let trimmed = url.trim_end_matches('/');
            let (server, topic) = trimmed.rsplit_once('/').unwrap_or((trimmed, ""));
            let title = match &notice.task {
                Some(task) => format!("#{} {}", task.number, task.title),
                None => "viban".to_string(),
            };
            let tags = if notice.event == "run.failed" { json!(["warning"]) } else { json!(["kanban"]) };
            (format!("{server}/"), json!({ "topic": topic, "title": title, "message": line, "tags": tags }))
        }
        _ => (url.to_string(), json!(notice)),
    }
}

/// POSTs `body` to `url` once; blocking.
pub(crate) fn post(url: &str, body: &Value) -> Delivery {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("viban/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent.post(url).header("Content-Type", "application/json").send(body.to_string());
    match response {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let answer = response
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default()
                .chars()
                .take(ANSWER_MAX)
                .collect::<String>();
            let error = (!(200..300).contains(&status)).then(|| {
                let reason = response.status().canonical_reason().unwrap_or("error");
                if answer.trim().is_empty() {
                    format!("the receiver answered {status} {reason}")
                } else {
                    format!("the receiver answered {status} {reason}: {}", answer.trim())
                }
            });
            Delivery { status: Some(i32::from(status)), error, answer }
        }
        Err(error) => Delivery { status: None, error: Some(describe(&error)), answer: String::new() },
    }
}

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("no answer within {}s", TIMEOUT.as_secs()),
        ureq::Error::Io(io) => format!("could not reach the receiver: {io}"),
        ureq::Error::HostNotFound => "the receiver's host name was not found".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Named, TaskRef};

    fn notice() -> Notice {
        Notice {
            event: "needs_you",
            board: Named { id: uuid::Uuid::nil(), name: "Agents".into() },
            task: Some(TaskRef { id: uuid::Uuid::nil(), number: 7, title: "Fix login".into() }),
            column: None,
            text: "#7 Fix login needs you".into(),
            at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn each_format_has_its_receivers_shape() {
        let (url, body) = request("slack", "https://hooks.example/a", &notice());
        assert_eq!(
            (url.as_str(), body),
            ("https://hooks.example/a", json!({ "text": "#7 Fix login needs you" }))
        );
        let (_, body) = request("discord", "https://hooks.example/a", &notice());
        assert_eq!(body, json!({ "content": "#7 Fix login needs you" }));
        let (url, body) = request("ntfy", "http://127.0.0.1:8080/viban-alerts", &notice());
        assert_eq!(url, "http://127.0.0.1:8080/");
        assert_eq!(body["topic"], "viban-alerts");
        assert_eq!(body["title"], "#7 Fix login");
        let (_, body) = request("json", "https://hooks.example/a", &notice());
        assert_eq!(body["event"], "needs_you");
        assert_eq!(body["task"]["number"], 7);
    }
}
