//! kubectl's describe layout for a pod template (`describe.DescribePodTemplate`), which
//! `kubectl rollout history --revision N` prints. It reads the template as stored: a built-in
//! template has been defaulted by the API server, a MiniDeployment's is kept as written, so
//! the defaults describe shows (port protocol, probe timings, HTTP scheme, canonical
//! quantities) are filled in here to print what kubectl prints for the built-in twin.
//!
//! Like kubectl's prefix writer, the output separates a field from its value with a tab and
//! does not align columns.

use serde_json::{Map, Value};

use crate::api::quantity::Quantity;

/// kubectl's annotations printer shows a longer annotation on lines of its own.
const MAX_ANNOTATION_LEN: usize = 140;

/// `Pod Template:` and what follows, as kubectl describes `template`.
pub fn pod_template(template: &Map<String, Value>) -> String {
    let mut w = Writer::default();
    let empty = Map::new();
    let meta = object(template.get("metadata")).unwrap_or(&empty);
    let spec = object(template.get("spec")).unwrap_or(&empty);
    w.line(0, "Pod Template:");
    labels(&mut w, "  Labels", object(meta.get("labels")));
    if let Some(annotations) = object(meta.get("annotations")).filter(|a| !a.is_empty()) {
        self::annotations(&mut w, "  Annotations", annotations);
    }
    if let Some(account) = string(spec.get("serviceAccountName")).filter(|s| !s.is_empty()) {
        w.line(1, &format!("Service Account:\t{account}"));
    }
    let init = array(spec.get("initContainers"));
    if !init.is_empty() {
        containers(&mut w, "Init Containers", init);
    }
    containers(&mut w, "Containers", array(spec.get("containers")));
    volumes(&mut w, array(spec.get("volumes")));
    topology_spread(&mut w, array(spec.get("topologySpreadConstraints")));
    if let Some(class) = string(spec.get("priorityClassName")).filter(|s| !s.is_empty()) {
        w.line(1, &format!("Priority Class Name:\t{class}"));
    }
    labels(&mut w, "  Node-Selectors", object(spec.get("nodeSelector")));
    tolerations(&mut w, array(spec.get("tolerations")));
    if let Some(group) = object(spec.get("schedulingGroup")) {
        w.line(0, "  SchedulingGroup:");
        w.line(
            1,
            &format!("PodGroupName:\t{}", text(group.get("podGroupName"))),
        );
    }
    w.out
}

/// kubectl's prefix writer: two spaces per level, terminal escapes made harmless.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn write(&mut self, level: usize, s: &str) {
        self.out.push_str(&"  ".repeat(level));
        // printers.WriteEscaped
        self.out
            .push_str(&s.replace('\x1b', "^[").replace('\r', "\\r"));
    }

    fn line(&mut self, level: usize, s: &str) {
        self.write(level, s);
        self.out.push('\n');
    }
}

fn object(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn string(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// A scalar as Go's `%v` prints it; missing is empty.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn int(v: Option<&Value>, default: i64) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(default)
}

fn flag(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

fn sorted_keys(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys
}

/// `printLabelsMultiline`: `title:\tk=v`, further pairs on lines starting with a tab.
fn labels(w: &mut Writer, title: &str, labels: Option<&Map<String, Value>>) {
    w.write(0, &format!("{title}:\t"));
    let labels = labels.filter(|l| !l.is_empty());
    let Some(labels) = labels else {
        w.line(0, "<none>");
        return;
    };
    for (i, key) in sorted_keys(labels).into_iter().enumerate() {
        if i != 0 {
            w.write(0, "\t");
        }
        w.line(0, &format!("{key}={}", text(labels.get(key))));
    }
}

/// `printAnnotationsMultiline`, which leaves out kubectl's last-applied configuration.
fn annotations(w: &mut Writer, title: &str, annotations: &Map<String, Value>) {
    w.write(0, &format!("{title}:\t"));
    let keys: Vec<&String> = sorted_keys(annotations)
        .into_iter()
        .filter(|k| *k != "kubectl.kubernetes.io/last-applied-configuration")
        .collect();
    if keys.is_empty() {
        w.line(0, "<none>");
        return;
    }
    for (i, key) in keys.into_iter().enumerate() {
        if i != 0 {
            w.write(0, "\t");
        }
        let value = text(annotations.get(key));
        let value = value.strip_suffix('\n').unwrap_or(&value);
        if value.len() + key.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
            w.line(0, &format!("{key}:"));
            for part in value.split('\n') {
                let short = if part.len() > MAX_ANNOTATION_LEN - 2 {
                    let mut end = MAX_ANNOTATION_LEN - 2;
                    while !part.is_char_boundary(end) {
                        end -= 1;
                    }
                    format!("{}...", &part[..end])
                } else {
                    part.to_owned()
                };
                w.line(0, &format!("\t  {short}"));
            }
        } else {
            w.line(0, &format!("{key}: {value}"));
        }
    }
}

fn containers(w: &mut Writer, label: &str, containers: &[Value]) {
    let none = if containers.is_empty() { " <none>" } else { "" };
    w.line(0, &format!("  {label}:{none}"));
    for c in containers.iter().filter_map(Value::as_object) {
        w.line(1, &format!(" {}:", text(c.get("name"))));
        w.line(2, &format!("Image:\t{}", text(c.get("image"))));
        let ports = array(c.get("ports"));
        let (port, host_port) = (
            describe_ports(ports, "containerPort"),
            describe_ports(ports, "hostPort"),
        );
        let plural = |s: &str| if s.contains(',') { "s" } else { "" };
        let or_none = |s: String| if s.is_empty() { "<none>".into() } else { s };
        w.line(
            2,
            &format!("Port{}:\t{}", plural(&port), or_none(port.clone())),
        );
        w.line(
            2,
            &format!(
                "Host Port{}:\t{}",
                plural(&host_port),
                or_none(host_port.clone())
            ),
        );
        if let Some(seccomp) =
            object(c.get("securityContext")).and_then(|s| object(s.get("seccompProfile")))
        {
            let kind = text(seccomp.get("type"));
            w.line(2, &format!("SeccompProfile:\t{kind}"));
            if kind == "Localhost" {
                w.line(
                    3,
                    &format!(
                        "LocalhostProfile:\t{}",
                        text(seccomp.get("localhostProfile"))
                    ),
                );
            }
        }
        for (key, title) in [("command", "Command:"), ("args", "Args:")] {
            let items = array(c.get(key));
            if !items.is_empty() {
                w.line(2, title);
                for item in items {
                    for part in text(Some(item)).split('\n') {
                        w.line(3, part);
                    }
                }
            }
        }
        if let Some(resources) = object(c.get("resources")) {
            for (key, title) in [("limits", "Limits:"), ("requests", "Requests:")] {
                let Some(list) = object(resources.get(key)).filter(|l| !l.is_empty()) else {
                    continue;
                };
                w.line(2, title);
                for name in sorted_keys(list) {
                    w.line(
                        3,
                        &format!("{name}:\t{}", canonical_quantity(&text(list.get(name)))),
                    );
                }
            }
        }
        for (key, title) in [
            ("livenessProbe", "Liveness"),
            ("readinessProbe", "Readiness"),
            ("startupProbe", "Startup"),
        ] {
            if let Some(probe) = object(c.get(key)) {
                w.line(2, &format!("{title}:\t{}", describe_probe(probe)));
            }
        }
        env_from(w, array(c.get("envFrom")));
        env(w, c, array(c.get("env")));
        mounts(
            w,
            array(c.get("volumeMounts")),
            array(c.get("volumeDevices")),
        );
    }
}

/// `80/TCP (http), 443/TCP`: the port (or host port, 0 when unset) of each, with its name.
fn describe_ports(ports: &[Value], field: &str) -> String {
    ports
        .iter()
        .map(|p| {
            let protocol = string(p.get("protocol")).unwrap_or("TCP");
            let mut s = format!("{}/{protocol}", int(p.get(field), 0));
            if let Some(name) = string(p.get("name")).filter(|n| !n.is_empty()) {
                s.push_str(&format!(" ({name})"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `describe.DescribeProbe`, with the API server's defaults for unset timings.
fn describe_probe(probe: &Map<String, Value>) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        int(probe.get("initialDelaySeconds"), 0),
        int(probe.get("timeoutSeconds"), 1),
        int(probe.get("periodSeconds"), 10),
        int(probe.get("successThreshold"), 1),
        int(probe.get("failureThreshold"), 3),
    );
    if let Some(exec) = object(probe.get("exec")) {
        let command: Vec<String> = array(exec.get("command"))
            .iter()
            .map(|c| text(Some(c)))
            .collect();
        return format!("exec [{}] {attrs}", command.join(" "));
    }
    if let Some(get) = object(probe.get("httpGet")) {
        let scheme = string(get.get("scheme")).unwrap_or("HTTP").to_lowercase();
        let (host, port, mut path) = (
            text(get.get("host")),
            text(get.get("port")),
            text(get.get("path")),
        );
        let host = match (host.contains(':'), port.is_empty()) {
            (_, true) => host,
            (true, false) => format!("[{host}]:{port}"),
            (false, false) => format!("{host}:{port}"),
        };
        // Go's URL printing puts a slash between a host and a relative path.
        if !host.is_empty() && !path.is_empty() && !path.starts_with('/') {
            path.insert(0, '/');
        }
        return format!("http-get {scheme}://{host}{path} {attrs}");
    }
    if let Some(tcp) = object(probe.get("tcpSocket")) {
        return format!(
            "tcp-socket {}:{} {attrs}",
            text(tcp.get("host")),
            text(tcp.get("port"))
        );
    }
    if let Some(grpc) = object(probe.get("grpc")) {
        return format!(
            "grpc <pod>:{} {} {attrs}",
            int(grpc.get("port"), 0),
            text(grpc.get("service"))
        );
    }
    format!("unknown {attrs}")
}

fn env_from(w: &mut Writer, sources: &[Value]) {
    if sources.is_empty() {
        return;
    }
    w.line(2, "Environment Variables from:");
    for source in sources.iter().filter_map(Value::as_object) {
        let (from, reference) = match (
            object(source.get("configMapRef")),
            object(source.get("secretRef")),
        ) {
            (Some(r), _) => ("ConfigMap", Some(r)),
            (None, Some(r)) => ("Secret", Some(r)),
            (None, None) => ("", None),
        };
        let name = reference.map(|r| text(r.get("name"))).unwrap_or_default();
        let optional = reference.is_some_and(|r| flag(r.get("optional")));
        match string(source.get("prefix")).filter(|p| !p.is_empty()) {
            None => w.line(3, &format!("{name}\t{from}\tOptional: {optional}")),
            Some(prefix) => w.line(
                3,
                &format!("{name}\t{from} with prefix '{prefix}'\tOptional: {optional}"),
            ),
        }
    }
}

fn env(w: &mut Writer, container: &Map<String, Value>, vars: &[Value]) {
    let none = if vars.is_empty() { "\t<none>" } else { "" };
    w.line(2, &format!("Environment:{none}"));
    for var in vars.iter().filter_map(Value::as_object) {
        let name = text(var.get("name"));
        let Some(from) = object(var.get("valueFrom")) else {
            for (i, part) in text(var.get("value")).split('\n').enumerate() {
                if i == 0 {
                    w.line(3, &format!("{name}:\t{part}"));
                } else {
                    w.line(3, &format!("\t{part}"));
                }
            }
            continue;
        };
        if let Some(field) = object(from.get("fieldRef")) {
            // Without a pod there is no value to resolve; the API version defaults to v1.
            let version = string(field.get("apiVersion")).unwrap_or("v1");
            w.line(
                3,
                &format!("{name}:\t ({version}:{})", text(field.get("fieldPath"))),
            );
        } else if let Some(field) = object(from.get("resourceFieldRef")) {
            let value = container_resource(container, field);
            let resource = text(field.get("resource"));
            w.line(3, &format!("{name}:\t{value} ({resource})"));
        } else if let Some(key) = object(from.get("secretKeyRef")) {
            w.line(
                3,
                &format!(
                    "{name}:\t<set to the key '{}' in secret '{}'>\tOptional: {}",
                    text(key.get("key")),
                    text(key.get("name")),
                    flag(key.get("optional"))
                ),
            );
        } else if let Some(key) = object(from.get("configMapKeyRef")) {
            w.line(
                3,
                &format!(
                    "{name}:\t<set to the key '{}' of config map '{}'>\tOptional: {}",
                    text(key.get("key")),
                    text(key.get("name")),
                    flag(key.get("optional"))
                ),
            );
        }
    }
}

/// The value a `resourceFieldRef` reads from the container's own resources, as kubectl's
/// `ExtractContainerResourceValue` computes it: in units of the divisor, rounded up (CPU in
/// millicores first); `node allocatable` for an unset CPU or memory limit; empty for a
/// resource it does not know.
fn container_resource(container: &Map<String, Value>, field: &Map<String, Value>) -> String {
    let resource = text(field.get("resource"));
    let Some((list, name)) = resource.split_once('.') else {
        return String::new();
    };
    let standard =
        ["cpu", "memory", "ephemeral-storage"].contains(&name) || name.starts_with("hugepages-");
    if !["limits", "requests"].contains(&list) || !standard {
        return String::new();
    }
    let read = |v: Option<&Value>| v.and_then(|v| Quantity::parse(&text(Some(v))));
    let zero = Quantity::parse("0").expect("0 is a quantity");
    let one = Quantity::parse("1").expect("1 is a quantity");
    let value = read(
        object(container.get("resources"))
            .and_then(|r| object(r.get(list)))
            .and_then(|l| l.get(name)),
    )
    .unwrap_or(zero);
    let divisor = read(field.get("divisor"))
        .filter(|d| *d != zero)
        .unwrap_or(one);
    // CPU counts millicores, the rest whole units, each rounded up before dividing.
    let shift = if name == "cpu" { 3 } else { 0 };
    let units = |q: Quantity| whole_units(q, shift);
    let shown = match (units(value), units(divisor)) {
        (Some(v), Some(d)) if d != 0 => ceil_div(v, d).to_string(),
        _ => String::new(),
    };
    if shown == "0" && (resource == "limits.cpu" || resource == "limits.memory") {
        "node allocatable".into()
    } else {
        shown
    }
}

fn mounts(w: &mut Writer, mounts: &[Value], devices: &[Value]) {
    let none = if mounts.is_empty() { "\t<none>" } else { "" };
    w.line(2, &format!("Mounts:{none}"));
    let mut mounts: Vec<&Map<String, Value>> = mounts.iter().filter_map(Value::as_object).collect();
    mounts.sort_by_key(|m| text(m.get("mountPath")));
    for m in mounts {
        let mut flags = vec![if flag(m.get("readOnly")) { "ro" } else { "rw" }.to_owned()];
        if let Some(sub) = string(m.get("subPath")).filter(|s| !s.is_empty()) {
            flags.push(format!("path={sub:?}"));
        }
        w.line(
            3,
            &format!(
                "{} from {} ({})",
                text(m.get("mountPath")),
                text(m.get("name")),
                flags.join(",")
            ),
        );
    }
    if !devices.is_empty() {
        w.line(2, &format!("Devices:{none}"));
        let mut devices: Vec<&Map<String, Value>> =
            devices.iter().filter_map(Value::as_object).collect();
        devices.sort_by_key(|d| text(d.get("devicePath")));
        for d in devices {
            w.line(
                3,
                &format!("{} from {}", text(d.get("devicePath")), text(d.get("name"))),
            );
        }
    }
}

/// The volume sources templates use most; others print as kubectl prints a source it does not
/// know (`<unknown>`), where kubectl shows the source's fields.
fn volumes(w: &mut Writer, volumes: &[Value]) {
    if volumes.is_empty() {
        w.line(0, "  Volumes:\t<none>");
        return;
    }
    w.line(0, "  Volumes:");
    for v in volumes.iter().filter_map(Value::as_object) {
        w.line(1, &format!(" {}:", text(v.get("name"))));
        let lines: Vec<(&str, String)> = if let Some(s) = object(v.get("hostPath")) {
            vec![
                ("Type", "HostPath (bare host directory volume)".into()),
                ("Path", text(s.get("path"))),
                // The API server defaults the type to "".
                ("HostPathType", text(s.get("type"))),
            ]
        } else if let Some(s) = object(v.get("emptyDir")) {
            let limit = s
                .get("sizeLimit")
                .map(|l| canonical_quantity(&text(Some(l))))
                .filter(|l| l != "0" && !l.starts_with('-'))
                .unwrap_or_else(|| "<unset>".into());
            vec![
                (
                    "Type",
                    "EmptyDir (a temporary directory that shares a pod's lifetime)".into(),
                ),
                ("Medium", text(s.get("medium"))),
                ("SizeLimit", limit),
            ]
        } else if let Some(s) = object(v.get("secret")) {
            vec![
                ("Type", "Secret (a volume populated by a Secret)".into()),
                ("SecretName", text(s.get("secretName"))),
                ("Optional", flag(s.get("optional")).to_string()),
            ]
        } else if let Some(s) = object(v.get("configMap")) {
            vec![
                (
                    "Type",
                    "ConfigMap (a volume populated by a ConfigMap)".into(),
                ),
                ("Name", text(s.get("name"))),
                ("Optional", flag(s.get("optional")).to_string()),
            ]
        } else if let Some(s) = object(v.get("persistentVolumeClaim")) {
            vec![
                (
                    "Type",
                    "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)"
                        .into(),
                ),
                ("ClaimName", text(s.get("claimName"))),
                ("ReadOnly", flag(s.get("readOnly")).to_string()),
            ]
        } else if let Some(s) = object(v.get("projected")) {
            projected(w, s);
            continue;
        } else if let Some(s) = object(v.get("downwardAPI")) {
            w.line(
                2,
                "Type:\tDownwardAPI (a volume populated by information about the pod)",
            );
            w.line(0, "    Items:");
            for item in array(s.get("items")).iter().filter_map(Value::as_object) {
                let path = text(item.get("path"));
                if let Some(field) = object(item.get("fieldRef")) {
                    w.line(3, &format!("{} -> {path}", text(field.get("fieldPath"))));
                }
                if let Some(field) = object(item.get("resourceFieldRef")) {
                    w.line(3, &format!("{} -> {path}", text(field.get("resource"))));
                }
            }
            continue;
        } else {
            w.line(1, "<unknown>");
            continue;
        };
        for (i, (field, value)) in lines.iter().enumerate() {
            let level = if i == 0 { 2 } else { 0 };
            let indent = if i == 0 { "" } else { "    " };
            w.line(level, &format!("{indent}{field}:\t{value}"));
        }
    }
}

fn projected(w: &mut Writer, projected: &Map<String, Value>) {
    w.line(
        2,
        "Type:\tProjected (a volume that contains injected data from multiple sources)",
    );
    for source in array(projected.get("sources"))
        .iter()
        .filter_map(Value::as_object)
    {
        let named = |s: &Map<String, Value>| (text(s.get("name")), flag(s.get("optional")));
        if let Some((name, optional)) = object(source.get("secret")).map(named) {
            w.line(2, &format!("SecretName:\t{name}"));
            w.line(0, &format!("    Optional:\t{optional}"));
        } else if source.contains_key("downwardAPI") {
            w.line(2, "DownwardAPI:\ttrue");
        } else if let Some((name, optional)) = object(source.get("configMap")).map(named) {
            w.line(2, &format!("ConfigMapName:\t{name}"));
            w.line(0, &format!("    Optional:\t{optional}"));
        } else if let Some(token) = object(source.get("serviceAccountToken")) {
            // The API server defaults the expiration to an hour.
            w.line(
                2,
                &format!(
                    "TokenExpirationSeconds:\t{}",
                    int(token.get("expirationSeconds"), 3600)
                ),
            );
        }
    }
}

fn topology_spread(w: &mut Writer, constraints: &[Value]) {
    if constraints.is_empty() {
        return;
    }
    let mut constraints: Vec<&Map<String, Value>> =
        constraints.iter().filter_map(Value::as_object).collect();
    constraints.sort_by_key(|c| text(c.get("topologyKey")));
    w.write(0, "  Topology Spread Constraints:\t");
    for (i, c) in constraints.into_iter().enumerate() {
        if i != 0 {
            w.write(0, "  \t");
        }
        let mut s = format!(
            "{}:{} when max skew {} is exceeded",
            text(c.get("topologyKey")),
            text(c.get("whenUnsatisfiable")),
            int(c.get("maxSkew"), 0)
        );
        if let Some(selector) = object(c.get("labelSelector")) {
            s.push_str(&format!(" for selector {}", format_selector(selector)));
        }
        w.line(0, &s);
    }
}

/// `metav1.FormatLabelSelector`.
fn format_selector(selector: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = object(selector.get("matchLabels"))
        .map(|l| {
            sorted_keys(l)
                .into_iter()
                .map(|k| format!("{k}={}", text(l.get(k))))
                .collect()
        })
        .unwrap_or_default();
    for e in array(selector.get("matchExpressions"))
        .iter()
        .filter_map(Value::as_object)
    {
        let key = text(e.get("key"));
        let mut values: Vec<String> = array(e.get("values"))
            .iter()
            .map(|v| text(Some(v)))
            .collect();
        values.sort();
        parts.push(match text(e.get("operator")).as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key,
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn tolerations(w: &mut Writer, tolerations: &[Value]) {
    w.write(0, "  Tolerations:\t");
    if tolerations.is_empty() {
        w.line(0, "<none>");
        return;
    }
    let mut tolerations: Vec<&Map<String, Value>> =
        tolerations.iter().filter_map(Value::as_object).collect();
    tolerations.sort_by_key(|t| text(t.get("key")));
    for (i, t) in tolerations.into_iter().enumerate() {
        if i != 0 {
            w.write(0, "\t");
        }
        let (key, value, effect) = (
            text(t.get("key")),
            text(t.get("value")),
            text(t.get("effect")),
        );
        let mut s = key.clone();
        if !value.is_empty() {
            s.push_str(&format!("={value}"));
        }
        if !effect.is_empty() {
            s.push_str(&format!(":{effect}"));
        }
        if text(t.get("operator")) == "Exists" && value.is_empty() {
            s.push_str(if key.is_empty() && effect.is_empty() {
                "op=Exists"
            } else {
                " op=Exists"
            });
        }
        if let Some(seconds) = t.get("tolerationSeconds").and_then(Value::as_i64) {
            s.push_str(&format!(" for {seconds}s"));
        }
        w.line(0, &s);
    }
}

/// A quantity as the API server stores and prints it; anything that does not parse as written.
fn canonical_quantity(s: &str) -> String {
    Quantity::parse(s).map_or_else(|| s.to_owned(), Quantity::canonical)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b) + i128::from(a.rem_euclid(b) != 0)
}

/// The quantity's value × 10^shift, rounded up to a whole number.
fn whole_units(quantity: Quantity, shift: i32) -> Option<i128> {
    let (mantissa, exponent) = quantity.value();
    let exponent = exponent + shift;
    let power = 10i128.checked_pow(exponent.unsigned_abs())?;
    if exponent >= 0 {
        mantissa.checked_mul(power)
    } else {
        Some(ceil_div(mantissa, power))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_field_references_show_the_value_in_divisor_units() {
        let container =
            json!({"resources": {"limits": {"memory": "0.5Gi"}, "requests": {"cpu": "1.5"}}});
        let container = container.as_object().unwrap();
        let value = |field: Value| container_resource(container, field.as_object().unwrap());
        assert_eq!(value(json!({"resource": "limits.memory"})), "536870912");
        assert_eq!(
            value(json!({"resource": "limits.memory", "divisor": "1Mi"})),
            "512"
        );
        assert_eq!(value(json!({"resource": "requests.cpu"})), "2");
        assert_eq!(
            value(json!({"resource": "requests.cpu", "divisor": "1m"})),
            "1500"
        );
        assert_eq!(value(json!({"resource": "limits.cpu"})), "node allocatable");
        assert_eq!(value(json!({"resource": "requests.memory"})), "0");
        assert_eq!(value(json!({"resource": "limits.gpu"})), "");
    }

    #[test]
    fn a_template_is_described_as_kubectl_describes_it() {
        let template = json!({
            "metadata": {"labels": {"tier": "web", "app": "web"},
                         "annotations": {"kubernetes.io/change-cause": "first"}},
            "spec": {"containers": [{
                "name": "web", "image": "nginx:1",
                "ports": [{"name": "http", "containerPort": 80}],
                "resources": {"limits": {"memory": "128Mi", "cpu": 1}, "requests": {"cpu": "100m"}},
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                "env": [{"name": "MODE", "value": "demo"},
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}]
            }],
            "volumes": [{"name": "data", "emptyDir": {}}]}
        });
        let described = pod_template(template.as_object().unwrap());
        assert_eq!(
            described,
            "Pod Template:\n\
             \x20 Labels:\tapp=web\n\
             \ttier=web\n\
             \x20 Annotations:\tkubernetes.io/change-cause: first\n\
             \x20 Containers:\n\
             \x20  web:\n\
             \x20   Image:\tnginx:1\n\
             \x20   Port:\t80/TCP (http)\n\
             \x20   Host Port:\t0/TCP (http)\n\
             \x20   Limits:\n\
             \x20     cpu:\t1\n\
             \x20     memory:\t128Mi\n\
             \x20   Requests:\n\
             \x20     cpu:\t100m\n\
             \x20   Readiness:\thttp-get http://:http/ delay=0s timeout=1s period=10s #success=1 #failure=3\n\
             \x20   Environment:\n\
             \x20     MODE:\tdemo\n\
             \x20     TOKEN:\t<set to the key 'k' in secret 's'>\tOptional: false\n\
             \x20   Mounts:\n\
             \x20     /data from data (ro)\n\
             \x20 Volumes:\n\
             \x20  data:\n\
             \x20   Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n\
             \x20   Medium:\t\n\
             \x20   SizeLimit:\t<unset>\n\
             \x20 Node-Selectors:\t<none>\n\
             \x20 Tolerations:\t<none>\n"
        );
    }
}
