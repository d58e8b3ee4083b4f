//! What a user sees of a failed API request, and what kind of failure it was.
//!
//! The built-in controllers put `err.Error()` into events and conditions. For an error the API
//! server answered, client-go's `StatusError.Error()` is the Status message alone
//! (`pods "web-x2b9k" is forbidden: exceeded quota: ...`); kube-rs's `Display` adds its own
//! prefix and a debug dump of the Status, which must not reach users.

use std::error::Error as _;

/// `metav1.StatusCause` reason of a create refused because its namespace is being deleted
/// (upstream `v1.NamespaceTerminatingCause`).
pub const NAMESPACE_TERMINATING: &str = "NamespaceTerminating";

/// The message of `error` as client-go's `err.Error()` reads: the API server's message when it
/// answered; otherwise the chain of causes, innermost last, without kube-rs's variant prefix.
pub fn message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        // An answer without a message (rare): what client-go falls back to, the reason.
        kube::Error::Api(status) => status.reason.clone(),
        other => match other.source() {
            Some(source) => causes(source),
            None => other.to_string(),
        },
    }
}

/// `error` and its sources, joined as Go wraps errors (`outer: inner`).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(source) = next {
        let text = source.to_string();
        // Some errors repeat their source in their own message; say it once.
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = source.source();
    }
    parts.join(": ")
}

/// True when the API server refused the request with a cause of this reason (upstream
/// `apierrors.HasStatusCause`).
pub fn has_cause(error: &kube::Error, cause: &str) -> bool {
    matches!(error, kube::Error::Api(status)
        if status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == cause)))
}

/// True when the request failed because its namespace is being deleted: the built-in
/// controllers stay silent then (no event, no condition, no retry), since every create there
/// will fail until the namespace is gone.
pub fn is_namespace_terminating(error: &kube::Error) -> bool {
    has_cause(error, NAMESPACE_TERMINATING)
}

#[cfg(test)]
mod tests {
    use kube::core::Status;
    use kube::core::response::{StatusCause, StatusDetails};

    use super::*;

    fn forbidden() -> kube::Error {
        kube::Error::Api(Box::new(Status {
            message: r#"pods "web-x2b9k" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"#.into(),
            reason: "Forbidden".into(),
            code: 403,
            ..Status::failure("", "")
        }))
    }

    #[test]
    fn an_api_error_reads_as_the_servers_message() {
        assert_eq!(
            message(&forbidden()),
            r#"pods "web-x2b9k" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"#
        );
        // What kube-rs's Display gives, and what users must not see.
        assert!(forbidden().to_string().starts_with("ApiError: "));
    }

    #[test]
    fn an_answer_without_message_reads_as_its_reason() {
        let error = kube::Error::Api(Box::new(Status::failure("", "Conflict")));
        assert_eq!(message(&error), "Conflict");
    }

    #[test]
    fn other_errors_read_as_their_causes_without_the_variant_prefix() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "stream closed");
        let error = kube::Error::ReadEvents(io);
        assert_eq!(message(&error), "stream closed");
    }

    #[test]
    fn namespace_terminating_is_recognised_by_its_cause() {
        let mut status = Status::failure(
            r#"pods "web-1" is forbidden: unable to create new content in namespace t because it is being terminated"#,
            "Forbidden",
        );
        status.details = Some(StatusDetails {
            name: "web-1".into(),
            group: String::new(),
            kind: "pods".into(),
            uid: String::new(),
            causes: vec![StatusCause {
                reason: NAMESPACE_TERMINATING.into(),
                message: "namespace t is being terminated".into(),
                field: "metadata.namespace".into(),
            }],
            retry_after_seconds: 0,
        });
        assert!(is_namespace_terminating(&kube::Error::Api(Box::new(
            status
        ))));
        assert!(!is_namespace_terminating(&forbidden()));
    }
}
