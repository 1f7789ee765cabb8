//! vouch's tests against real parts, in one test binary (one link of the
//! crate instead of one per area): a real `docker-registry` on a free
//! loopback port, skopeo, python-tuf and tough, podman, containerd + ctr,
//! the docker CLI, notary-server + notary. One module per area; `common`
//! holds the harness (the `vouch` binary in a throwaway home, registries,
//! notary, TUF fixtures). Run one area with `cargo test --test suite AREA::`.

mod common;

mod admission;
mod attacks;
mod batch;
mod big_blobs;
mod bins;
mod crash_campaign;
mod docker_trust;
mod first_hour;
mod hostile_layout;
mod key_bad_input;
mod key_generate;
mod key_import;
mod key_keyring;
mod key_lifecycle;
mod key_secrets;
mod key_terminal;
mod notary_samples;
mod notary_stack;
mod oci_layout;
mod proxy;
mod proxy_load;
mod publish_race;
mod publisher_attacks;
mod pull_gate;
mod registry;
mod registry_faults;
mod repo_commands;
mod root_rotation;
mod signers;
mod team;
mod trust_travels;
mod tuf_attacks;
mod tuf_client;
mod tuf_interop;
mod tuf_properties;
mod warm_verify;
