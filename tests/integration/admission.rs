//! Bad specs are refused by the API server, with the built-in message wherever the built-in
//! kind refuses the same mistake.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Service;
use minik8s::api::{MiniDeployment, MiniReplicaSet, MiniService};
use serde_json::{Value, json};

use crate::common::TestNamespace;
use crate::fixtures;

#[derive(Clone, Copy, Debug)]
enum Base {
    Deployment,
    ReplicaSet,
    Service,
}

struct Case {
    what: &'static str,
    base: Base,
    mutate: fn(&mut Value),
    /// Part of the minik8s message.
    says: &'static str,
    /// Whether the built-in twin is refused with a message containing `says` as well.
    builtin_says_the_same: bool,
}

const CASES: &[Case] = &[
    Case {
        what: "selector does not match template labels",
        base: Base::Deployment,
        mutate: |d| d["spec"]["selector"] = json!({"matchLabels": {"app": "other"}}),
        says: "`selector` does not match template `labels`",
        builtin_says_the_same: true,
    },
    Case {
        what: "matchExpressions do not match template labels",
        base: Base::Deployment,
        mutate: |d| {
            d["spec"]["selector"] = json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]})
        },
        says: "`selector` does not match template `labels`",
        builtin_says_the_same: true,
    },
    Case {
        what: "replica set selector does not match template labels",
        base: Base::ReplicaSet,
        mutate: |d| d["spec"]["selector"] = json!({"matchLabels": {"tier": "db"}}),
        says: "`selector` does not match template `labels`",
        builtin_says_the_same: true,
    },
    Case {
        what: "empty selector",
        base: Base::Deployment,
        mutate: |d| d["spec"]["selector"] = json!({}),
        says: "empty selector is invalid for deployment",
        builtin_says_the_same: true,
    },
    Case {
        what: "empty replica set selector",
        base: Base::ReplicaSet,
        mutate: |d| d["spec"]["selector"] = json!({}),
        says: "empty selector is invalid for",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative replicas",
        base: Base::Deployment,
        mutate: |d| d["spec"]["replicas"] = json!(-1),
        says: "greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative replica set replicas",
        base: Base::ReplicaSet,
        mutate: |d| d["spec"]["replicas"] = json!(-3),
        says: "greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative minReadySeconds",
        base: Base::Deployment,
        mutate: |d| d["spec"]["minReadySeconds"] = json!(-1),
        says: "greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative replica set minReadySeconds",
        base: Base::ReplicaSet,
        mutate: |d| d["spec"]["minReadySeconds"] = json!(-5),
        says: "greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative revisionHistoryLimit",
        base: Base::Deployment,
        mutate: |d| d["spec"]["revisionHistoryLimit"] = json!(-1),
        says: "greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative progressDeadlineSeconds",
        base: Base::Deployment,
        mutate: |d| d["spec"]["progressDeadlineSeconds"] = json!(-1),
        says: "greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "unknown service type",
        base: Base::Service,
        mutate: |s| s["spec"]["type"] = json!("Foo"),
        says: "Unsupported value: \"Foo\"",
        builtin_says_the_same: true,
    },
    Case {
        what: "unknown port protocol",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][0]["protocol"] = json!("FOO"),
        says: "Unsupported value: \"FOO\"",
        builtin_says_the_same: true,
    },
    Case {
        what: "maxSurge and maxUnavailable both 0",
        base: Base::Deployment,
        mutate: |d| d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}),
        says: "may not be 0 when `maxSurge` is 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "maxUnavailable over 100%",
        base: Base::Deployment,
        mutate: |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": "150%"}}),
        says: "must not be greater than 100%",
        builtin_says_the_same: true,
    },
    Case {
        what: "maxSurge neither a number nor a percentage",
        base: Base::Deployment,
        mutate: |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "two"}}),
        says: "a valid percent string must be a numeric string followed by an ending '%'",
        builtin_says_the_same: true,
    },
    Case {
        what: "negative maxUnavailable",
        base: Base::Deployment,
        mutate: |d| d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": -1}}),
        says: "must be greater than or equal to 0",
        builtin_says_the_same: true,
    },
    Case {
        what: "rollingUpdate with the Recreate strategy",
        base: Base::Deployment,
        mutate: |d| {
            d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})
        },
        says: "may not be specified when strategy `type` is 'Recreate'",
        builtin_says_the_same: true,
    },
    Case {
        what: "unknown strategy type",
        base: Base::Deployment,
        mutate: |d| d["spec"]["strategy"] = json!({"type": "BlueGreen"}),
        says: "supported values: \"Recreate\", \"RollingUpdate\"",
        builtin_says_the_same: true,
    },
    Case {
        what: "progress deadline not after minReadySeconds",
        base: Base::Deployment,
        mutate: |d| {
            d["spec"]["minReadySeconds"] = json!(30);
            d["spec"]["progressDeadlineSeconds"] = json!(30);
        },
        says: "must be greater than minReadySeconds",
        builtin_says_the_same: true,
    },
    Case {
        what: "duplicate service port names",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][1]["name"] = json!("http"),
        says: "port names must be unique",
        builtin_says_the_same: false,
    },
    Case {
        what: "duplicate service port and protocol",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][1]["port"] = json!(80),
        says: "Duplicate value",
        builtin_says_the_same: true,
    },
    Case {
        what: "service port above 65535",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][1]["port"] = json!(70000),
        says: "less than or equal to 65535",
        builtin_says_the_same: false,
    },
    Case {
        what: "service port 0",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][1]["port"] = json!(0),
        says: "greater than or equal to 1",
        builtin_says_the_same: false,
    },
    Case {
        what: "numeric targetPort out of range",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][1]["targetPort"] = json!(65536),
        says: "must be between 1 and 65535, inclusive",
        builtin_says_the_same: true,
    },
    Case {
        what: "named targetPort with invalid characters",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][0]["targetPort"] = json!("Web_Port"),
        says: "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        builtin_says_the_same: true,
    },
    Case {
        what: "named targetPort without a letter",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][0]["targetPort"] = json!("8080"),
        says: "must contain at least one letter (a-z)",
        builtin_says_the_same: true,
    },
    Case {
        what: "named targetPort with consecutive hyphens",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][0]["targetPort"] = json!("web--port"),
        says: "must not contain consecutive hyphens",
        builtin_says_the_same: true,
    },
    Case {
        what: "named targetPort longer than 15 characters",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"][0]["targetPort"] = json!("a-very-long-port-name"),
        says: "15",
        builtin_says_the_same: true,
    },
    Case {
        what: "two ports, one without a name",
        base: Base::Service,
        mutate: |s| {
            s["spec"]["ports"][1]
                .as_object_mut()
                .unwrap()
                .remove("name");
        },
        says: "every port needs a name when a service has more than one port",
        builtin_says_the_same: false,
    },
    Case {
        what: "no ports on a service that is not headless",
        base: Base::Service,
        mutate: |s| s["spec"]["ports"] = json!([]),
        says: "a service needs at least one port unless it is headless",
        builtin_says_the_same: false,
    },
];

#[tokio::test]
async fn bad_specs_are_refused_with_a_clear_message() {
    let ns = TestNamespace::new("admission").await;
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let name = format!("case-{i}");
        let mut builtin = match case.base {
            Base::Deployment => fixtures::deployment(&name),
            Base::ReplicaSet => fixtures::replicaset(&name),
            Base::Service => fixtures::service(&name),
        };
        (case.mutate)(&mut builtin);
        let mini = fixtures::mini(builtin.clone());

        let (mini_result, builtin_result) = match case.base {
            Base::Deployment => (
                ns.create::<MiniDeployment>(mini).await,
                ns.create::<Deployment>(builtin).await,
            ),
            Base::ReplicaSet => (
                ns.create::<MiniReplicaSet>(mini).await,
                ns.create::<ReplicaSet>(builtin).await,
            ),
            Base::Service => (
                ns.create::<MiniService>(mini).await,
                ns.create::<Service>(builtin).await,
            ),
        };

        match &mini_result {
            Err(refusal) if refusal.code == 422 && refusal.message.contains(case.says) => {}
            Err(refusal) => failures.push(format!(
                "{}: refused, but the message does not say {:?}: {}",
                case.what, case.says, refusal.message
            )),
            Ok(_) => failures.push(format!("{}: accepted, should be refused", case.what)),
        }
        match &builtin_result {
            Err(refusal) if !case.builtin_says_the_same || refusal.message.contains(case.says) => {}
            Err(refusal) => failures.push(format!(
                "{}: the built-in {:?} says something else: {}",
                case.what, case.base, refusal.message
            )),
            Ok(_) => failures.push(format!(
                "{}: the built-in {:?} accepts it; this case does not mirror upstream",
                case.what, case.base
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    ns.cleanup().await;
}

#[tokio::test]
async fn valid_variants_are_accepted() {
    let ns = TestNamespace::new("admission-ok").await;
    let variants: [(&str, Value); 5] = [
        ("matchExpressions that match", {
            let mut d = fixtures::deployment("exprs");
            d["spec"]["selector"] = json!({"matchExpressions": [
                {"key": "app", "operator": "In", "values": ["exprs", "other"]},
                {"key": "tier", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "tier", "operator": "NotIn", "values": ["db"]}
            ]});
            d
        }),
        ("Recreate without rollingUpdate", {
            let mut d = fixtures::deployment("recreate");
            d["spec"]["strategy"] = json!({"type": "Recreate"});
            d
        }),
        ("integer surge and unavailability", {
            let mut d = fixtures::deployment("ints");
            d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}});
            d
        }),
        ("headless service without ports", {
            let mut s = fixtures::service("headless");
            s["spec"]["clusterIP"] = json!("None");
            s["spec"]["ports"] = json!([]);
            s
        }),
        ("zero replicas", {
            let mut d = fixtures::deployment("zero");
            d["spec"]["replicas"] = json!(0);
            d
        }),
    ];
    for (what, builtin) in variants {
        let mini = fixtures::mini(builtin);
        let result = if mini["kind"] == "MiniService" {
            ns.create::<MiniService>(mini).await
        } else {
            ns.create::<MiniDeployment>(mini).await
        };
        if let Err(refusal) = result {
            panic!("{what}: refused: {}", refusal.message);
        }
    }
    ns.cleanup().await;
}
