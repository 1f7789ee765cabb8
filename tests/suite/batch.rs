//! Many references in one command: `vouch sign --from-file` and `vouch
//! verify REF... / --from-file [--json]`, with one result line each and the
//! exit rules (0 all verified, 1 some refused and none undecided, 2 any
//! undecided).

use std::collections::BTreeMap;

use crate::common::{oci_image, publisher};

const TAGS: usize = 12;

#[test]
fn many_references_sign_and_verify_in_one_command() {
    let env = publisher();
    let layout = env.home().join("app");
    let repo = format!("oci:{}", layout.display());
    let mut digests = BTreeMap::new();
    for i in 0..TAGS {
        digests.insert(
            format!("{repo}:v{i}"),
            oci_image(&layout, &format!("v{i}"), &format!("{i}\n")),
        );
    }
    let unsigned = oci_image(&layout, "unsigned", "never signed\n");
    env.run(&["init", &repo]).ok();

    // sign --from-file: comments and blank lines skipped; past ten tags one
    // summary line on stderr, every tag on stdout.
    let list = env.home().join("tags.txt");
    let mut text = String::from("# release tags\n\n");
    for r in digests.keys() {
        text.push_str(&format!("  {r}  \n"));
    }
    std::fs::write(&list, text).expect("list");
    let signed = env.run(&["sign", "--from-file", list.to_str().expect("utf8")]);
    signed.ok();
    assert_eq!(signed.stdout.lines().count(), TAGS, "{}", signed.stdout);
    for (r, d) in &digests {
        assert!(
            signed.stdout.contains(&format!("{r} {d}")),
            "{r}: {}",
            signed.stdout
        );
    }
    assert!(
        signed.stderr.contains(&format!("Signed {TAGS} tags of")),
        "summary: {}",
        signed.stderr
    );
    assert!(
        !signed.stderr.contains("Signed oci:"),
        "no line a tag: {}",
        signed.stderr
    );

    // verify of 1,000 references (the signed tags over and over) from stdin:
    // one line each, in order, exit 0.
    let refs: Vec<&String> = digests.keys().cycle().take(1000).collect();
    let stdin: String = refs.iter().map(|r| format!("{r}\n")).collect();
    let all = env.run_with(&["verify", "--from-file", "-"], &[], &stdin);
    all.ok();
    let lines: Vec<&str> = all.stdout.lines().collect();
    assert_eq!(lines.len(), 1000);
    for (line, r) in lines.iter().zip(&refs) {
        assert_eq!(*line, format!("verified {r} {}", digests[*r]));
    }

    // One unsigned tag among them: its line says refused, exit 1.
    let first = digests.keys().next().expect("a tag").clone();
    let bad = format!("{repo}:unsigned");
    let mixed = env.run(&["verify", &first, &bad]);
    mixed.fails(1, "1 of 2 references did not verify");
    assert_eq!(mixed.stdout.lines().count(), 2, "{}", mixed.stdout);
    assert!(
        mixed.stdout.contains(&format!("verified {first} ")),
        "{}",
        mixed.stdout
    );
    assert!(
        mixed.stdout.contains(&format!("refused {bad}: ")),
        "{}",
        mixed.stdout
    );
    assert!(
        !mixed.stdout.contains(&unsigned),
        "an unsigned digest is never printed as trusted"
    );

    // A reference whose store cannot be reached is undecided: exit 2, even
    // with a refusal beside it; a malformed line is undecided too.
    let unreachable = "127.0.0.1:1/team/app:v1";
    let three = env.run(&["verify", "--json", &first, &bad, unreachable, "not a reference"]);
    three.fails(2, "2 of 4 references could not be verified or refused");
    let results: Vec<serde_json::Value> = three
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(results.len(), 4, "{}", three.stdout);
    assert_eq!(results[0]["result"], "verified");
    assert_eq!(results[0]["digest"], digests[&first].as_str());
    assert_eq!(results[1]["result"], "refused");
    assert!(
        results[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not signed")),
        "{}",
        results[1]
    );
    assert!(results[1].get("digest").is_none());
    assert_eq!(results[2]["result"], "undecided");
    assert_eq!(results[2]["reference"], unreachable);
    assert_eq!(results[3]["result"], "undecided");

    // One reference keeps the plain output: the digest alone.
    assert_eq!(env.run(&["verify", &first]).ok().trim(), digests[&first]);
    // Nothing to verify is a usage error.
    let empty = env.home().join("empty.txt");
    std::fs::write(&empty, "# nothing\n").expect("empty");
    env.run(&["verify", "--from-file", empty.to_str().expect("utf8")])
        .fails(2, "no references to verify");
}

#[test]
fn a_references_file_has_limits() {
    let env = publisher();
    let long = env.home().join("long.txt");
    std::fs::write(&long, "x".repeat(10_000)).expect("long");
    env.run(&["verify", "--from-file", long.to_str().expect("utf8")])
        .fails(2, "line 1 is longer than 4096 bytes");
    env.run(&["sign", "--from-file", long.to_str().expect("utf8")])
        .fails(2, "line 1 is longer than 4096 bytes");
    // Exactly the longest line, with a CRLF ending: read (and, not being a
    // reference, undecided).
    let just = env.home().join("just.txt");
    std::fs::write(&just, format!("{}\r\n", "x".repeat(4096))).expect("just");
    env.run(&["verify", "--from-file", just.to_str().expect("utf8")])
        .fails(2, "1 of 1 references could not be verified or refused");
    // A control character could make a result line read as another.
    let control = env.home().join("control.txt");
    std::fs::write(&control, "oci:/x:v1\rverified oci:/x:v2 sha256:00\n").expect("control");
    env.run(&["verify", "--from-file", control.to_str().expect("utf8")])
        .fails(2, "line 1 has a control character");
    // The references and the passphrase cannot both come from stdin.
    env.run_with(
        &["sign", "--from-file", "-", "--passphrase-stdin"],
        &[],
        "oci:/x:v1\n",
    )
    .fails(2, "both read standard input");
    let missing = env.home().join("missing.txt");
    env.run(&["sign", "--from-file", missing.to_str().expect("utf8")])
        .fails(2, "missing.txt");
}

#[test]
fn a_refusal_before_reading_stdin_is_reported_not_a_broken_pipe() {
    // More input than a pipe holds, to a command that refuses before
    // reading any of it: the harness reports the refusal (it once failed
    // with "write stdin: Broken pipe", a race on a fresh clone).
    let env = publisher();
    env.run_with(
        &["sign", "--from-file", "-", "--passphrase-stdin"],
        &[],
        &"oci:/x:v1\n".repeat(200_000),
    )
    .fails(2, "both read standard input");
}
