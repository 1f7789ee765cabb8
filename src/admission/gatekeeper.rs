//! Gatekeeper's external data provider protocol
//! (`externaldata.gatekeeper.sh/v1beta1`): a `ProviderRequest` lists
//! images as keys; the `ProviderResponse` gives, for each, the image pinned
//! to its signed digest as the value, or the reason it is not admitted as
//! the error. A Rego or CEL policy then denies on an error and may use the
//! value in a mutation.

use std::sync::Arc;
use std::time::Instant;

use hyper::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::Settings;
use super::review::{ImageDecision, MAX_IMAGES, decide_all};
use crate::serving::Decider;
use crate::serving::http::Body;

const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";

#[derive(Deserialize)]
struct ProviderRequest {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    request: Keys,
}

#[derive(Deserialize)]
struct Keys {
    keys: Vec<String>,
}

#[derive(Serialize)]
struct ProviderResponse {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    response: Items,
}

#[derive(Serialize)]
struct Items {
    idempotent: bool,
    items: Vec<Item>,
    #[serde(rename = "systemError")]
    system_error: String,
}

#[derive(Serialize)]
struct Item {
    key: String,
    value: String,
    error: String,
}

fn respond(items: Vec<Item>, system_error: String) -> Response<Body> {
    let body = ProviderResponse {
        api_version: API_VERSION,
        kind: "ProviderResponse",
        response: Items {
            idempotent: true,
            items,
            system_error,
        },
    };
    super::json_answer(StatusCode::OK, serde_json::to_vec(&body).unwrap_or_default())
}

/// Answers a `ProviderRequest`. The level and failure policy are
/// Gatekeeper's to apply (its constraint's enforcement action): every
/// image that does not verify gets its reason as the error, audit or not;
/// an image whose repository policy switches content trust off is given
/// back unchanged.
pub async fn provide(
    decider: &Arc<Decider>,
    settings: &Settings,
    body: &[u8],
    deadline: Instant,
) -> Response<Body> {
    let request: ProviderRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return respond(Vec::new(), format!("not a ProviderRequest: {e}")),
    };
    if request.api_version != API_VERSION || request.kind != "ProviderRequest" {
        return respond(
            Vec::new(),
            format!(
                "expected {API_VERSION} ProviderRequest, got {} {}",
                request.api_version, request.kind
            ),
        );
    }
    if request.request.keys.len() > MAX_IMAGES {
        return respond(Vec::new(), format!("more than {MAX_IMAGES} keys in one request"));
    }
    let decided = decide_all(decider, settings, request.request.keys.iter().cloned(), deadline).await;
    let items = request
        .request
        .keys
        .iter()
        .map(|key| {
            let (value, error) = match decided.get(key) {
                Some(ImageDecision::Signed { pinned, .. }) => (pinned.clone(), String::new()),
                Some(ImageDecision::Unchecked) => (key.clone(), String::new()),
                Some(ImageDecision::Audited(why) | ImageDecision::Refused(why)) => {
                    (String::new(), format!("refused: {why}"))
                }
                Some(ImageDecision::Undecided(why) | ImageDecision::Broken(why)) => {
                    (String::new(), format!("could not decide: {why}"))
                }
                None => (String::new(), "not decided".to_owned()),
            };
            Item {
                key: key.clone(),
                value,
                error,
            }
        })
        .collect();
    respond(items, String::new())
}
