//! The steps `minik8s compare` drives both twins through, and how they are written:
//! `create, wait, scale 8, image web=nginx:1.28, wait, undo, wait`, separated by commas,
//! semicolons or new lines (a steps file may have `#` comments).

use std::fmt;

use super::twin::Workload;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Create both objects.
    Create,
    /// Wait until both have rolled out completely (a paused deployment: until its change is
    /// observed).
    Wait,
    /// Set `spec.replicas`.
    Scale {
        replicas: i32,
    },
    /// Set one container's image, as `kubectl set image`.
    Image {
        container: String,
        image: String,
    },
    /// Set `spec.paused`.
    Pause,
    Resume,
    /// Roll back to a revision (none: the previous one), as `kubectl rollout undo`.
    Undo {
        revision: Option<i64>,
    },
    /// Delete this many of each side's pods.
    DeletePods {
        count: usize,
    },
    /// Existing objects recorded while the user changes them (not a step one can give).
    Observe,
}

impl Step {
    /// Whether the step can be taken with `workload`: sets have no rollouts, and a pod is
    /// only created and waited for (until it is bound, or found unschedulable).
    pub fn check(&self, workload: Workload) -> Result<(), String> {
        let refused = match workload {
            Workload::Deployment => false,
            Workload::ReplicaSet => matches!(self, Step::Pause | Step::Resume | Step::Undo { .. }),
            Workload::Pod => !matches!(self, Step::Create | Step::Wait),
            Workload::Service => matches!(self, Step::Pause | Step::Resume | Step::Undo { .. }),
        };
        match refused {
            false => Ok(()),
            true => Err(format!(
                "{self}: a {} cannot take this step",
                match workload {
                    Workload::Deployment => "deployment",
                    Workload::ReplicaSet => "set (it has no rollouts)",
                    Workload::Pod => "pod (only create and wait)",
                    Workload::Service => "service (its pods are scaled, re-imaged or deleted)",
                }
            )),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Create => f.write_str("create"),
            Step::Wait => f.write_str("wait"),
            Step::Scale { replicas } => write!(f, "scale {replicas}"),
            Step::Image { container, image } => write!(f, "image {container}={image}"),
            Step::Pause => f.write_str("pause"),
            Step::Resume => f.write_str("resume"),
            Step::Undo { revision: None } => f.write_str("undo"),
            Step::Undo { revision: Some(r) } => write!(f, "undo {r}"),
            Step::DeletePods { count } => write!(f, "delete-pods {count}"),
            Step::Observe => f.write_str("observe"),
        }
    }
}

const USAGE: &str = "steps are: create, wait, scale N, image CONTAINER=IMAGE, pause, resume, \
                     undo [REVISION], delete-pods N";

/// Parses a list of steps; an error names the step (by its position and text) and says what
/// was expected.
pub fn parse_steps(text: &str) -> Result<Vec<Step>, String> {
    let steps: Vec<Step> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split([',', ';']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| parse_step(s).map_err(|why| format!("step {} {s:?}: {why}", i + 1)))
        .collect::<Result<_, _>>()?;
    if steps.is_empty() {
        return Err(format!("no steps given; {USAGE}"));
    }
    if steps.iter().skip(1).any(|s| *s == Step::Create) {
        return Err("create can only be the first step".to_owned());
    }
    Ok(steps)
}

fn parse_step(text: &str) -> Result<Step, String> {
    let mut words = text.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    let no_args = |step: Step| match args.as_slice() {
        [] => Ok(step),
        _ => Err(format!("{verb} takes no argument")),
    };
    match verb {
        "create" => no_args(Step::Create),
        "wait" => no_args(Step::Wait),
        "pause" => no_args(Step::Pause),
        "resume" => no_args(Step::Resume),
        "scale" => match args.as_slice() {
            [n] => n
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .map(|replicas| Step::Scale { replicas })
                .ok_or_else(|| format!("replicas must be a whole number ≥ 0, not {n:?}")),
            _ => Err("expected `scale N`".to_owned()),
        },
        "image" => match args.as_slice() {
            [assignment] => match assignment.split_once('=') {
                Some((container, image)) if !container.is_empty() && !image.is_empty() => {
                    Ok(Step::Image {
                        container: container.to_owned(),
                        image: image.to_owned(),
                    })
                }
                _ => Err("expected `image CONTAINER=IMAGE`".to_owned()),
            },
            _ => Err("expected `image CONTAINER=IMAGE`".to_owned()),
        },
        "undo" => match args.as_slice() {
            [] => Ok(Step::Undo { revision: None }),
            [r] => r
                .parse::<i64>()
                .ok()
                .filter(|r| *r > 0)
                .map(|r| Step::Undo { revision: Some(r) })
                .ok_or_else(|| format!("the revision must be a number ≥ 1, not {r:?}")),
            _ => Err("expected `undo` or `undo REVISION`".to_owned()),
        },
        "delete-pods" => match args.as_slice() {
            [n] => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .map(|count| Step::DeletePods { count })
                .ok_or_else(|| format!("the count must be a whole number ≥ 1, not {n:?}")),
            _ => Err("expected `delete-pods N`".to_owned()),
        },
        other => Err(format!("unknown step {other:?}; {USAGE}")),
    }
}

/// The default steps: create → wait → scale → set image → wait → undo → wait. A deployment
/// is scaled up by two and rolled to `next_image`; a set (no rollouts) is scaled up by two,
/// loses two pods, and is scaled back; so are a service's pods (`replicas` of its backend,
/// if it has one). A pod is created and waited for.
pub fn default_steps(
    workload: Workload,
    replicas: i32,
    rollout: Option<(String, String)>,
) -> Vec<Step> {
    if workload == Workload::Pod || (workload == Workload::Service && replicas == 0) {
        return vec![Step::Create, Step::Wait];
    }
    let up = Step::Scale {
        replicas: replicas + 2,
    };
    match rollout {
        Some((container, image)) => vec![
            Step::Create,
            Step::Wait,
            up,
            Step::Image { container, image },
            Step::Wait,
            Step::Undo { revision: None },
            Step::Wait,
        ],
        None => vec![
            Step::Create,
            Step::Wait,
            up,
            Step::Wait,
            Step::DeletePods { count: 2 },
            Step::Wait,
            Step::Scale { replicas },
            Step::Wait,
        ],
    }
}

/// The image a default rollout goes to: the tag's last number plus one (`nginx:1.27` →
/// `nginx:1.28`), so that on a real cluster the new image usually exists. None when the tag
/// has no number (pass `--image` then).
pub fn next_image(image: &str) -> Option<String> {
    let (name, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/'))?;
    let end = tag.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = tag[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let number: u64 = tag[start..end].parse().ok()?;
    Some(format!(
        "{name}:{}{}{}",
        &tag[..start],
        number + 1,
        &tag[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_from_one_line_or_a_file() {
        let steps = parse_steps("create, wait; scale 8,image web=nginx:1.28, undo 2").unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Create,
                Step::Wait,
                Step::Scale { replicas: 8 },
                Step::Image {
                    container: "web".into(),
                    image: "nginx:1.28".into()
                },
                Step::Undo { revision: Some(2) },
            ]
        );
        let file = "# a rollout, paused half-way\ncreate\nwait\npause # hold\nimage web=a:2\nresume\ndelete-pods 3\nwait\n";
        assert_eq!(parse_steps(file).unwrap().len(), 7);
        let text: Vec<String> = steps.iter().map(Step::to_string).collect();
        assert_eq!(parse_steps(&text.join(",")).unwrap(), steps);
    }

    #[test]
    fn bad_steps_are_named_in_the_error() {
        let err = |s: &str| parse_steps(s).unwrap_err();
        assert_eq!(
            err("create, scale x"),
            "step 2 \"scale x\": replicas must be a whole number ≥ 0, not \"x\""
        );
        assert_eq!(
            err("create, image nginx"),
            "step 2 \"image nginx\": expected `image CONTAINER=IMAGE`"
        );
        assert!(
            err("create, jump").starts_with("step 2 \"jump\": unknown step \"jump\"; steps are")
        );
        assert_eq!(
            err("create, wait 5"),
            "step 2 \"wait 5\": wait takes no argument"
        );
        assert_eq!(
            err("undo 0"),
            "step 1 \"undo 0\": the revision must be a number ≥ 1, not \"0\""
        );
        assert_eq!(
            err("create, delete-pods 0"),
            "step 2 \"delete-pods 0\": the count must be a whole number ≥ 1, not \"0\""
        );
        assert_eq!(err("wait, create"), "create can only be the first step");
        assert!(err(" , # nothing").starts_with("no steps given"));
    }

    #[test]
    fn default_rollouts_go_to_the_next_tag() {
        assert_eq!(next_image("nginx:1.27").as_deref(), Some("nginx:1.28"));
        assert_eq!(next_image("app:v1").as_deref(), Some("app:v2"));
        assert_eq!(
            next_image("registry:5000/app:1.9-alpine").as_deref(),
            Some("registry:5000/app:1.10-alpine")
        );
        assert_eq!(next_image("nginx"), None);
        assert_eq!(next_image("registry:5000/app"), None);
        assert_eq!(next_image("nginx:latest"), None);
        let steps = default_steps(
            Workload::Deployment,
            6,
            Some(("web".into(), "nginx:1.28".into())),
        );
        let text: Vec<String> = steps.iter().map(Step::to_string).collect();
        assert_eq!(
            text.join(", "),
            "create, wait, scale 8, image web=nginx:1.28, wait, undo, wait"
        );
        for workload in [Workload::ReplicaSet, Workload::Pod] {
            let steps = default_steps(workload, 3, None);
            assert!(steps.iter().all(|s| s.check(workload).is_ok()));
        }
        assert_eq!(
            Step::Pause.check(Workload::ReplicaSet).unwrap_err(),
            "pause: a set (it has no rollouts) cannot take this step"
        );
        assert_eq!(
            Step::Scale { replicas: 2 }
                .check(Workload::Pod)
                .unwrap_err(),
            "scale 2: a pod (only create and wait) cannot take this step"
        );
    }
}
