//! `vouch admission`, run as a real HTTPS server with a self-signed
//! certificate, fed AdmissionReview requests (as the API server sends
//! them) with curl, against a real docker-registry holding a signed and an
//! unsigned image.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::common::notary::{free_port, openssl};
use crate::common::proxy::spawn_server;
use crate::common::registry::{Registry, push};
use crate::common::{Env, publisher};

/// A little over the time a gate reuses the upstream's answer about its
/// trust tag.
const TRUST_TAG_REUSE: Duration = Duration::from_millis(1300);

struct Scene {
    env: Env,
    reg: Option<Registry>,
    registry: String,
    repo: String,
    signed: String,
    unsigned: String,
}

fn scene() -> Scene {
    let env = publisher();
    let reg = Registry::start();
    let registry = reg.addr.clone();
    let repo = format!("{registry}/demo/app");
    let signed = push(&env, &reg, "demo/app", "v1", "signed one\n");
    let unsigned = push(&env, &reg, "demo/app", "v2", "never signed\n");
    env.run(&["init", &repo]).ok();
    env.run(&["sign", &format!("{repo}:v1")]).ok();
    Scene {
        env,
        reg: Some(reg),
        registry,
        repo,
        signed,
        unsigned,
    }
}

/// A self-signed certificate for 127.0.0.1: (certificate, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let (c, k) = (cert.to_str().expect("utf8"), key.to_str().expect("utf8"));
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", k]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        k,
        "-out",
        c,
        "-days",
        "2",
        "-subj",
        "/CN=vouch admission",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
    ]);
    (cert, key)
}

/// A running `vouch admission`, killed on drop.
struct Webhook {
    child: Child,
    addr: String,
    ca: PathBuf,
    log: PathBuf,
}

impl Webhook {
    fn start(env: &Env, registries: &[&str], vars: &[(&str, &str)], extra: &[&str]) -> Webhook {
        let addr = format!("127.0.0.1:{}", free_port());
        let (cert, key) = certificate(&env.home().join(format!("tls-{}", addr.replace(':', "-"))));
        let mut args: Vec<std::ffi::OsString> =
            vec!["admission".into(), "--listen".into(), addr.clone().into()];
        args.extend(["--tls-cert".into(), cert.clone().into_os_string()]);
        args.extend(["--tls-key".into(), key.into_os_string()]);
        for r in registries {
            args.extend(["--registry".into(), (*r).into()]);
        }
        args.extend(extra.iter().map(Into::into));
        let (child, log) = spawn_server(env, "admission", &addr, &args, vars);
        Webhook {
            child,
            addr,
            ca: cert,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// curl, verifying the server's certificate: the command.
    fn curl(&self, path: &str, body: &[u8], dir: &Path) -> Command {
        std::fs::create_dir_all(dir).expect("mkdir");
        // A name of its own for each request: concurrent requests must
        // never share a body file (a free port number can come back).
        let file = dir.join(format!("body-{}", crate::common::unique()));
        std::fs::write(&file, body).expect("body");
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(&self.ca)
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(format!("@{}", file.display()))
            .arg(format!("https://{}{path}", self.addr));
        cmd
    }

    /// POSTs `body` to `path`: (HTTP status, body).
    fn post(&self, path: &str, body: &[u8], dir: &Path) -> (u16, String) {
        let out = self.curl(path, body, dir).output().expect("curl");
        split_status(&String::from_utf8_lossy(&out.stdout))
    }

    /// Sends a review to `/mutate` or `/validate`: the response object.
    fn review(&self, path: &str, review: &Value, dir: &Path) -> Value {
        let (status, body) = self.post(path, review.to_string().as_bytes(), dir);
        assert_eq!(status, 200, "{body}\n{}", self.log());
        let answer: Value = serde_json::from_str(&body).expect("AdmissionReview");
        assert_eq!(answer["kind"], "AdmissionReview");
        assert_eq!(
            answer["response"]["uid"], review["request"]["uid"],
            "the answer names the request"
        );
        answer["response"].clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn split_status(out: &str) -> (u16, String) {
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", out));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

/// A pod spec with these images in containers (and the first also as an
/// init container and an ephemeral container).
fn pod_spec(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({
        "initContainers": [{"name": "init", "image": images[0]}],
        "containers": containers,
        "ephemeralContainers": [{"name": "debug", "image": images[0]}],
    })
}

/// The workload kinds, their API group and resource, and the object.
fn workload(kind: &str, spec: &Value) -> (String, String, Value) {
    let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": spec});
    let (group, resource, body) = match kind {
        "Pod" => ("", "pods", json!({"spec": spec})),
        "Deployment" => ("apps", "deployments", json!({"spec": {"template": template}})),
        "StatefulSet" => ("apps", "statefulsets", json!({"spec": {"template": template}})),
        "DaemonSet" => ("apps", "daemonsets", json!({"spec": {"template": template}})),
        "ReplicaSet" => ("apps", "replicasets", json!({"spec": {"template": template}})),
        "Job" => ("batch", "jobs", json!({"spec": {"template": template}})),
        "CronJob" => (
            "batch",
            "cronjobs",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
        ),
        other => panic!("{other}"),
    };
    let mut object = body;
    object["apiVersion"] = json!(if group.is_empty() {
        "v1".to_owned()
    } else {
        format!("{group}/v1")
    });
    object["kind"] = json!(kind);
    object["metadata"] = json!({"name": "x", "namespace": "default"});
    (group.to_owned(), resource.to_owned(), object)
}

const KINDS: [&str; 7] = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// An AdmissionReview request, as the API server sends it.
fn review_of(kind: &str, spec: &Value) -> Value {
    let (group, resource, object) = workload(kind, spec);
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{kind}-{}", crate::common::unique()),
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "name": "x",
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": null,
            "dryRun": false,
        }
    })
}

/// The object of `review` with the response's JSON Patch applied.
fn patched(review: &Value, response: &Value) -> Value {
    let mut object = review["request"]["object"].clone();
    if let Some(p) = response["patch"].as_str() {
        assert_eq!(response["patchType"], "JSONPatch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p)
            .expect("base64");
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("JSON Patch");
        json_patch::patch(&mut object, &patch).expect("the patch applies");
    }
    object
}

/// Every image of an object, wherever its kind keeps them.
fn all_images(object: &Value) -> Vec<String> {
    let mut found = Vec::new();
    fn walk(v: &Value, found: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "image" {
                        found.extend(x.as_str().map(str::to_owned));
                    } else {
                        walk(x, found);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, found)),
            _ => {}
        }
    }
    walk(object, &mut found);
    found
}

#[test]
fn each_workload_kind_is_pinned_to_signed_digests_and_unsigned_images_are_denied() {
    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[], &[]);
    let dir = s.env.home().join("reviews");
    let tagged = format!("{}:v1", s.repo);
    let by_digest = format!("{}@{}", s.repo, s.signed);
    let pinned = format!("{tagged}@{}", s.signed);
    for kind in KINDS {
        let review = review_of(kind, &pod_spec(&[&tagged, &by_digest]));
        let response = hook.review("/mutate", &review, &dir);
        assert_eq!(response["allowed"], true, "{kind}: {response}");
        let object = patched(&review, &response);
        let images = all_images(&object);
        assert_eq!(images.len(), 4, "{kind}: {object}");
        for image in &images {
            assert!(
                image == &pinned || image == &by_digest,
                "{kind}: every image names the signed digest: {image}"
            );
        }
        // What the mutating webhook made passes the validating one; the
        // tag alone does not (the node could pull anything it names).
        let mut pinned_review = review.clone();
        pinned_review["request"]["object"] = object;
        let response = hook.review("/validate", &pinned_review, &dir);
        assert_eq!(response["allowed"], true, "{kind}: {response}");
        let response = hook.review("/validate", &review, &dir);
        assert_eq!(response["allowed"], false, "{kind}");
        assert!(
            response["status"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("named by tag") && m.contains(&pinned)),
            "{response}"
        );

        let unsigned_by_digest = format!("{}@{}", s.repo, s.unsigned);
        let evil = "evil.example/demo/app:v1".to_owned();
        let unsigned = format!("{}:v2", s.repo);
        for path in ["/mutate", "/validate"] {
            let review = review_of(kind, &pod_spec(&[&tagged, &unsigned, &unsigned_by_digest, &evil]));
            let response = hook.review(path, &review, &dir);
            assert_eq!(response["allowed"], false, "{kind} {path}");
            assert_eq!(response["status"]["code"], 403);
            assert!(response["patch"].is_null(), "a denial patches nothing");
            let message = response["status"]["message"].as_str().unwrap_or_default();
            for (image, why) in [
                (&unsigned, "is not signed"),
                (&unsigned_by_digest, &s.unsigned[..]),
                (&evil, "not a registry this gate checks"),
            ] {
                assert!(
                    message.contains(image.as_str()) && message.contains(why),
                    "{kind} {path}: names {image} and why: {message}"
                );
            }
        }
    }
    assert!(hook.log().contains("pinned"), "{}", hook.log());
}

#[test]
fn audit_admits_with_warnings_naming_each_image() {
    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[("VOUCH_CONTENT_TRUST", "audit")], &[]);
    let dir = s.env.home().join("reviews");
    let unsigned = format!("{}:v2", s.repo);
    let review = review_of("Deployment", &pod_spec(&[&format!("{}:v1", s.repo), &unsigned]));
    let response = hook.review("/mutate", &review, &dir);
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = response["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains(&unsigned) && w.contains("not signed"))),
        "{warnings:?}"
    );
    let object = patched(&review, &response);
    assert!(
        all_images(&object).contains(&format!("{}:v1@{}", s.repo, s.signed)),
        "what is signed is still pinned: {object}"
    );
    assert!(
        all_images(&object).contains(&unsigned),
        "the rest is left as it was"
    );
}

/// A registry that accepts connections and never answers.
fn stalled_registry() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    (listener, addr)
}

#[test]
fn a_registry_down_or_stalled_follows_the_failure_policy_within_the_deadline() {
    let mut s = scene();
    let (_stalled, stalled) = stalled_registry();
    let registries = [s.registry.as_str(), stalled.as_str()];
    let closed = Webhook::start(&s.env, &registries, &[], &["--deadline", "2s"]);
    let open = Webhook::start(
        &s.env,
        &registries,
        &[],
        &["--deadline", "2s", "--failure-policy", "open"],
    );
    let dir = s.env.home().join("reviews");
    let image = format!("{stalled}/demo/app:v1");
    let review = review_of("Pod", &pod_spec(&[&image]));
    let started = Instant::now();
    let response = closed.review("/mutate", &review, &dir);
    let took = started.elapsed();
    assert_eq!(response["allowed"], false, "closed: {response}");
    assert!(
        response["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not decide") && m.contains(&image)),
        "{response}"
    );
    assert!(
        took < Duration::from_secs(6),
        "answered by the deadline, not the registry's timeouts: {took:?}"
    );
    let response = open.review("/validate", &review, &dir);
    assert_eq!(response["allowed"], true, "open: {response}");
    assert!(
        response["warnings"].to_string().contains("failure policy open"),
        "{response}"
    );

    // The real registry stops: could not decide, never "not signed".
    drop(s.reg.take());
    let review = review_of("Pod", &pod_spec(&[&format!("{}:v1", s.repo)]));
    let response = closed.review("/mutate", &review, &dir);
    assert_eq!(response["allowed"], false);
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not decide") && !message.contains("not signed"),
        "{message}"
    );
    assert_eq!(open.review("/mutate", &review, &dir)["allowed"], true);
}

#[test]
fn a_revoked_tag_is_denied_on_the_next_review() {
    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[], &[]);
    let dir = s.env.home().join("reviews");
    let review = review_of("Pod", &pod_spec(&[&format!("{}:v1", s.repo)]));
    assert_eq!(hook.review("/mutate", &review, &dir)["allowed"], true);
    let by_digest = review_of("Pod", &pod_spec(&[&format!("{}@{}", s.repo, s.signed)]));
    assert_eq!(hook.review("/validate", &by_digest, &dir)["allowed"], true);
    s.env.run(&["revoke", &format!("{}:v1", s.repo)]).ok();
    std::thread::sleep(TRUST_TAG_REUSE);
    for (path, review) in [("/mutate", &review), ("/validate", &by_digest)] {
        let response = hook.review(path, review, &dir);
        assert_eq!(response["allowed"], false, "{path}: {response}");
    }
}

#[test]
fn a_hundred_concurrent_reviews_are_all_answered() {
    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[], &[]);
    let dir = s.env.home().join("reviews");
    let children: Vec<(bool, String, Child)> = (0..100)
        .map(|i| {
            let signed = i % 2 == 0;
            let tag = if signed { "v1" } else { "v2" };
            let review = review_of(KINDS[i % KINDS.len()], &pod_spec(&[&format!("{}:{tag}", s.repo)]));
            let uid = review["request"]["uid"].as_str().expect("uid").to_owned();
            let child = hook
                .curl("/mutate", review.to_string().as_bytes(), &dir)
                .stdout(Stdio::piped())
                .spawn()
                .expect("curl");
            (signed, uid, child)
        })
        .collect();
    for (signed, uid, child) in children {
        let out = child.wait_with_output().expect("curl");
        let (status, body) = split_status(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).expect("review");
        assert_eq!(answer["response"]["uid"], uid.as_str());
        assert_eq!(answer["response"]["allowed"], signed, "{answer}");
    }
}

#[test]
fn the_gatekeeper_provider_gives_signed_digests_or_errors() {
    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[], &[]);
    let dir = s.env.home().join("reviews");
    let keys = [
        format!("{}:v1", s.repo),
        format!("{}:v2", s.repo),
        format!("{}@{}", s.repo, s.signed),
        "evil.example/demo/app:v1".to_owned(),
    ];
    let request = json!({
        "apiVersion": "externaldata.gatekeeper.sh/v1beta1",
        "kind": "ProviderRequest",
        "request": {"keys": keys},
    });
    let (status, body) = hook.post("/gatekeeper", request.to_string().as_bytes(), &dir);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("ProviderResponse");
    assert_eq!(answer["kind"], "ProviderResponse");
    assert_eq!(answer["response"]["systemError"], "");
    let items = answer["response"]["items"].as_array().expect("items");
    let item = |key: &str| items.iter().find(|i| i["key"] == key).expect(key).clone();
    assert_eq!(item(&keys[0])["value"], format!("{}@{}", keys[0], s.signed));
    assert_eq!(item(&keys[0])["error"], "");
    assert!(
        item(&keys[1])["error"]
            .as_str()
            .is_some_and(|e| e.contains("not signed"))
    );
    assert_eq!(item(&keys[1])["value"], "");
    assert_eq!(item(&keys[2])["value"], keys[2]);
    assert!(item(&keys[3])["error"].as_str().is_some_and(|e| !e.is_empty()));

    let (status, body) = hook.post("/gatekeeper", b"{\"kind\": 3}", &dir);
    assert_eq!(status, 200);
    assert!(body.contains("not a ProviderRequest"), "{body}");
}

/// Reads every YAML document of deploy/kubernetes as JSON (python-yaml).
fn manifests() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let script = "import json, sys, yaml\nprint(json.dumps([d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]))";
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let out = Command::new(crate::common::py::python())
        .args(["-c", script])
        .args(&files)
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_kubernetes_manifests_parse_and_name_what_the_server_serves() {
    let docs = manifests();
    let find = |kind: &str| -> Value {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
            .clone()
    };
    let deployment = find("Deployment");
    let service = find("Service");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"admission"), "{args:?}");
    let listen = args
        .iter()
        .find_map(|a| a.strip_prefix("--listen="))
        .expect("--listen");
    let port: u64 = listen.rsplit_once(':').expect("port").1.parse().expect("port");
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(
        service_port["targetPort"], port,
        "the Service sends to where vouch listens"
    );
    assert_eq!(container["ports"][0]["containerPort"], port);
    assert_eq!(
        service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"],
        "the Service selects the pods"
    );
    let mut paths = Vec::new();
    for kind in ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"] {
        let hook = &find(kind)["webhooks"][0];
        let to = &hook["clientConfig"]["service"];
        assert_eq!(to["name"], service["metadata"]["name"]);
        assert_eq!(to["namespace"], service["metadata"]["namespace"]);
        assert_eq!(to["port"], service_port["port"]);
        assert_eq!(hook["failurePolicy"], "Fail", "closed by default");
        assert!(hook["timeoutSeconds"].as_u64().is_some_and(|t| t <= 10));
        let rules = hook["rules"].to_string();
        for resource in [
            "pods",
            "pods/ephemeralcontainers",
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "jobs",
            "cronjobs",
        ] {
            assert!(rules.contains(&format!("\"{resource}\"")), "{kind}: {resource}");
        }
        paths.push(to["path"].as_str().expect("path").to_owned());
    }
    assert_eq!(paths, ["/mutate", "/validate"]);
    let provider = find("Provider");
    let url = provider["spec"]["url"].as_str().expect("url");
    assert!(url.ends_with(":443/gatekeeper"), "{url}");

    // The server answers on exactly those paths, with the ConfigMap's
    // policy: the cluster's own images (switched off there) are admitted
    // without asking their registry.
    let env = Env::new();
    std::fs::create_dir_all(env.trust()).expect("trust dir");
    let mut perms = std::fs::metadata(env.trust()).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(env.trust(), perms).expect("chmod");
    let policy = find("ConfigMap")["data"]["policy.toml"]
        .as_str()
        .expect("policy.toml")
        .to_owned();
    std::fs::write(env.trust().join("policy.toml"), policy).expect("policy");
    let hook = Webhook::start(&env, &["registry.example"], &[], &[]);
    let dir = env.home().join("reviews");
    let review = review_of("Pod", &pod_spec(&["registry.k8s.io/pause:3.10"]));
    for path in &paths {
        let response = hook.review(path, &review, &dir);
        assert_eq!(response["allowed"], true, "{path}: {response}");
    }
    let (status, _) = hook.post("/healthz", b"", &dir);
    assert_eq!(status, 405, "healthz is a GET");
    let out = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&hook.ca)
        .arg(format!("https://{}/healthz", hook.addr))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn a_network_client_of_the_webhook_cannot_get_unsigned_images_admitted_or_stall_it() {
    use std::io::Write;

    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[], &[]);
    let dir = s.env.home().join("reviews");

    // Clients that open connections and send nothing, or half a request,
    // hold no one else up.
    let idle: Vec<std::net::TcpStream> = (0..50)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(&hook.addr).expect("connect");
            if i % 2 == 0 {
                let _ = c.write_all(b"\x16\x03\x01");
            }
            c
        })
        .collect();
    let signed = review_of("Pod", &pod_spec(&[&format!("{}:v1", s.repo)]));
    assert_eq!(hook.review("/mutate", &signed, &dir)["allowed"], true);

    // Malformed, oversized, or tricked-out requests: refused, never admitted.
    let (status, body) = hook.post("/mutate", b"{not json", &dir);
    assert_eq!(status, 400, "{body}");
    let (status, _) = hook.post("/mutate", &vec![b' '; 5 << 20], &dir);
    assert_eq!(status, 413);
    let mut many = review_of("Pod", &pod_spec(&[&format!("{}:v1", s.repo)]));
    many["request"]["object"]["spec"]["containers"] = Value::Array(
        (0..300)
            .map(|i| json!({"name": format!("c{i}"), "image": format!("{}/made-up-{i}:v1", s.registry)}))
            .collect(),
    );
    let response = hook.review("/mutate", &many, &dir);
    assert_eq!(
        response["allowed"], false,
        "more images than a review may ask about"
    );
    let mut unknown = signed.clone();
    unknown["request"]["kind"]["kind"] = json!("Widget");
    assert_eq!(hook.review("/mutate", &unknown, &dir)["allowed"], false);
    for image in [
        format!("{}/demo/app:v2", s.registry),
        format!("{}/demo/APP:v1", s.registry),
        format!("{}/demo/app:vouch-trust", s.registry),
        format!("{}/demo/app@sha256:{}", s.registry, "0".repeat(64)),
        format!("{}/../demo/app:v1", s.registry),
        format!("http://{}/demo/app:v1", s.registry),
    ] {
        let review = review_of("Pod", &pod_spec(&[&image]));
        let response = hook.review("/mutate", &review, &dir);
        assert_eq!(response["allowed"], false, "{image}: {response}");
    }
    drop(idle);
    assert_eq!(
        hook.review("/validate", &signed, &dir)["allowed"],
        false,
        "named by tag"
    );
    assert_eq!(
        hook.review("/mutate", &signed, &dir)["allowed"],
        true,
        "still serving"
    );
}

#[test]
fn a_broken_policy_file_is_never_admitted_even_failing_open() {
    let s = scene();
    let hook = Webhook::start(&s.env, &[&s.registry], &[], &["--failure-policy", "open"]);
    let dir = s.env.home().join("reviews");
    let review = review_of("Pod", &pod_spec(&[&format!("{}:v1", s.repo)]));
    assert_eq!(hook.review("/mutate", &review, &dir)["allowed"], true);
    // Only an upstream that cannot be asked follows the open policy: a
    // policy file this machine cannot read is no reason to admit.
    let policy = s.env.trust().join("policy.toml");
    let kept = std::fs::read(&policy).expect("policy");
    std::fs::write(&policy, "[[scope]\nrepository = ").expect("policy");
    let response = hook.review("/mutate", &review, &dir);
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("policy.toml")),
        "{response}"
    );
    std::fs::write(&policy, kept).expect("policy");
    assert_eq!(hook.review("/mutate", &review, &dir)["allowed"], true);
}
