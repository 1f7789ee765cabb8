//! The trust artifact travels with the images: copied by the real skopeo
//! from a layout into a real registry, synced to another repository, and
//! copied out again, it still verifies against the same pinned root key.

use crate::common::registry::{Registry, layout_ref, skopeo};
use crate::common::{Env, oci_image};

#[test]
fn trust_data_survives_skopeo_copy_and_sync_and_is_bound_to_root_keys() {
    let publisher = crate::common::publisher();
    let src = publisher.home().join("src");
    let digest = oci_image(&src, "v1", "travelling image\n");
    let root_id = publisher
        .run(&["init", &format!("oci:{}", src.display())])
        .ok()
        .trim()
        .to_owned();
    publisher.run(&["sign", &layout_ref(&src, "v1")]).ok();

    let reg = Registry::start();
    let app = format!("docker://{}/team/app", reg.addr);
    for tag in ["v1", "vouch-trust"] {
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &layout_ref(&src, tag),
            &format!("{app}:{tag}"),
        ]);
    }
    // Mirror the whole repository, then bring it back to disk elsewhere.
    skopeo(&[
        "sync",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src",
        "docker",
        "--dest",
        "docker",
        &format!("{}/team/app", reg.addr),
        &format!("{}/mirror", reg.addr),
    ]);
    let consumer = Env::new();
    let dst = consumer.home().join("dst");
    for tag in ["v1", "vouch-trust"] {
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}/mirror/app:{tag}", reg.addr),
            &layout_ref(&dst, tag),
        ]);
    }
    // The consumer pins the publisher's root key for the copy.
    consumer
        .run(&["pin", &format!("oci:{}", dst.display()), &root_id])
        .ok();
    assert_eq!(
        consumer.run(&["verify", &layout_ref(&dst, "v1")]).ok().trim(),
        digest
    );
    // A different key pinned: refused.
    let wrong = Env::new();
    wrong
        .run(&["pin", &format!("oci:{}", dst.display()), &"cd".repeat(32)])
        .ok();
    wrong
        .run(&["verify", &layout_ref(&dst, "v1")])
        .fails(1, "pinned root keys");
}
