//! Pod creates that are safe to repeat.
//!
//! Upstream lets the API server pick each pod's name from `generateName`. When the answer to
//! a create is lost (a connection cut, a timeout) the controller cannot tell whether the pod
//! exists, counts the create as failed, and creates another one on its next sync: one pod
//! more than the replicas until a scale-down removes it. minik8s picks the name itself,
//! exactly as the API server would (the same prefix, truncated the same way, and five
//! characters of the same alphabet), and sends a create whose answer was lost again under
//! the same name: AlreadyExists for a pod this set controls means the first one went through.
//! If the outcome is still unknown after the resends, the create counts as failed, as
//! upstream counts it.

use std::future::Future;
use std::time::Duration;

/// The characters of the API server's generated names (`utilrand.String`): no vowels, no
/// look-alikes.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const RANDOM_LENGTH: usize = 5;
/// The API server truncates the `generateName` base so that a generated name fits 63.
const MAX_BASE_LENGTH: usize = 63 - RANDOM_LENGTH;

/// How many times a create whose outcome is unknown is sent again, the first wait and the
/// longest: about 30 s in all, long enough for an API server to be restarted (one killed
/// mid-request, left down, and serving again took 15–25 s on the local control plane).
const RESENDS: u32 = 10;
const FIRST_WAIT: Duration = Duration::from_millis(200);
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// A name as the API server's `SimpleNameGenerator` makes one from `generate_name`.
pub fn generated_name(generate_name: &str, random: impl FnMut() -> usize) -> String {
    let mut base = generate_name;
    if base.len() > MAX_BASE_LENGTH {
        let mut end = MAX_BASE_LENGTH;
        while !base.is_char_boundary(end) {
            end -= 1;
        }
        base = &base[..end];
    }
    let mut random = random;
    let suffix: String = (0..RANDOM_LENGTH)
        .map(|_| ALPHABET[random() % ALPHABET.len()] as char)
        .collect();
    format!("{base}{suffix}")
}

/// What the API server said about a name that already exists.
pub enum Existing<T> {
    /// A pod this set controls: an earlier send of this create went through.
    Ours(T),
    /// Someone else's pod (or gone again): the name must change.
    NotOurs,
    /// The pod could not be read: asked again after a wait, as for a lost answer.
    Unknown,
}

/// True when a create may have been carried out although no answer says so: the connection
/// failed, or the API server answered 5xx (a timeout, a failed storage write).
fn outcome_unknown(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500,
        // Refused before it was sent: the lease fence (crate::runtime::fence).
        kube::Error::Service(error) => !error.is::<crate::runtime::fence::NotLeader>(),
        _ => true,
    }
}

fn already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

/// Creates one pod named by `name()`: `create(name)` sends it, `existing(name)` says whose
/// pod a name already holds, `wait` sleeps between resends. The error is the API server's
/// refusal, or the last error when the outcome stayed unknown after every resend.
pub async fn create_once<T, C, CF, E, EF, W, WF>(
    mut name: impl FnMut() -> String,
    mut create: C,
    mut existing: E,
    mut wait: W,
) -> Result<T, kube::Error>
where
    C: FnMut(String) -> CF,
    CF: Future<Output = Result<T, kube::Error>>,
    E: FnMut(String) -> EF,
    EF: Future<Output = Existing<T>>,
    W: FnMut(Duration) -> WF,
    WF: Future<Output = ()>,
{
    let mut current = name();
    let mut pause = FIRST_WAIT;
    let mut resends = 0;
    loop {
        let error = match create(current.clone()).await {
            Ok(created) => return Ok(created),
            // Ours: an earlier send went through, this one's or the client's own retry of it
            // (kube's client resends a create answered 503 or 504). That the name was already
            // one of this set's pods is a 1 in 27^5 chance per pod, and costs only a pod less
            // until the expectations time out.
            Err(error) if already_exists(&error) => match existing(current.clone()).await {
                Existing::Ours(pod) => return Ok(pod),
                // A name someone else's pod holds: another name.
                Existing::NotOurs => {
                    current = name();
                    continue;
                }
                Existing::Unknown => error,
            },
            Err(error) if outcome_unknown(&error) => error,
            Err(error) => return Err(error),
        };
        if resends == RESENDS {
            return Err(error);
        }
        tracing::debug!(pod = %current, %error, "create outcome unknown; sending it again");
        resends += 1;
        wait(pause).await;
        pause = (pause * 2).min(LONGEST_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use kube::core::Status;

    use super::*;

    fn api_error(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: format!("{code} {reason}"),
            ..Status::default()
        }))
    }

    fn cut() -> kube::Error {
        kube::Error::Service("connection reset by peer".into())
    }

    /// Runs create_once against scripted answers; returns the outcome and the names sent.
    /// Whose pod a taken name holds, as the scripted reads answer.
    #[derive(Clone, Copy)]
    enum Read {
        Ours,
        NotOurs,
        Fails,
    }

    fn run(
        answers: Vec<Result<&'static str, kube::Error>>,
        ours: bool,
    ) -> (Result<String, kube::Error>, Vec<String>) {
        let read = if ours { Read::Ours } else { Read::NotOurs };
        run_reading(answers, vec![read; 8])
    }

    fn run_reading(
        answers: Vec<Result<&'static str, kube::Error>>,
        reads: Vec<Read>,
    ) -> (Result<String, kube::Error>, Vec<String>) {
        let answers = RefCell::new(answers.into_iter());
        let reads = RefCell::new(reads.into_iter());
        let sent = RefCell::new(Vec::new());
        let mut n = 0;
        let outcome = futures::executor::block_on(create_once(
            || {
                n += 1;
                format!("web-{n}")
            },
            |name| {
                sent.borrow_mut().push(name.clone());
                let answer = answers.borrow_mut().next().expect("an answer per send");
                async move { answer.map(|_| name) }
            },
            |name| {
                let read = reads.borrow_mut().next().expect("a read per taken name");
                async move {
                    match read {
                        Read::Ours => Existing::Ours(name),
                        Read::NotOurs => Existing::NotOurs,
                        Read::Fails => Existing::Unknown,
                    }
                }
            },
            |_| async {},
        ));
        (outcome, sent.into_inner())
    }

    #[test]
    fn names_are_made_as_the_api_server_makes_them() {
        let mut calls = 0;
        let name = generated_name("web-", || {
            calls += 1;
            calls
        });
        assert_eq!(name, "web-cdfgh");
        let long = generated_name(&format!("{}-", "x".repeat(100)), || 0);
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("xbbbbb"));
        assert!(
            generated_name("web-", || fastrand::usize(..))
                .bytes()
                .skip(4)
                .all(|b| ALPHABET.contains(&b))
        );
    }

    #[test]
    fn a_create_whose_answer_was_lost_is_sent_again_under_the_same_name() {
        // Cut, then AlreadyExists for our own pod: the first send went through, once.
        let (outcome, sent) = run(vec![Err(cut()), Err(api_error(409, "AlreadyExists"))], true);
        assert!(matches!(outcome, Ok(name) if name == "web-1"));
        assert_eq!(sent, ["web-1", "web-1"]);
        // A 504 and then success under the same name.
        let (outcome, sent) = run(vec![Err(api_error(504, "Timeout")), Ok("")], true);
        assert!(matches!(outcome, Ok(name) if name == "web-1"));
        assert_eq!(sent, ["web-1", "web-1"]);
    }

    #[test]
    fn a_name_taken_by_another_pod_is_replaced() {
        let (outcome, sent) = run(vec![Err(api_error(409, "AlreadyExists")), Ok("")], false);
        assert!(matches!(outcome, Ok(name) if name == "web-2"));
        assert_eq!(sent, ["web-1", "web-2"]);
    }

    #[test]
    fn a_taken_name_that_cannot_be_read_is_sent_again_not_renamed() {
        // The read after AlreadyExists is cut too: renaming would make a second pod.
        let (outcome, sent) = run_reading(
            vec![
                Err(cut()),
                Err(api_error(409, "AlreadyExists")),
                Err(api_error(409, "AlreadyExists")),
            ],
            vec![Read::Fails, Read::Ours],
        );
        assert!(matches!(outcome, Ok(name) if name == "web-1"));
        assert_eq!(sent, ["web-1", "web-1", "web-1"]);
    }

    #[test]
    fn already_existing_as_ours_on_the_first_answer_is_the_clients_own_resend() {
        // kube's client retried a 504ed create itself: the second send found the first's pod.
        let (outcome, sent) = run(vec![Err(api_error(409, "AlreadyExists"))], true);
        assert!(matches!(outcome, Ok(name) if name == "web-1"));
        assert_eq!(sent, ["web-1"]);
    }

    #[test]
    fn refusals_are_final_and_unknown_outcomes_are_bounded() {
        let (outcome, sent) = run(vec![Err(api_error(403, "Forbidden"))], true);
        assert!(matches!(outcome, Err(kube::Error::Api(s)) if s.code == 403));
        assert_eq!(sent.len(), 1);
        let (outcome, sent) = run((0..=RESENDS).map(|_| Err(cut())).collect(), true);
        assert!(matches!(outcome, Err(kube::Error::Service(_))));
        assert_eq!(sent.len(), RESENDS as usize + 1);
    }
}
