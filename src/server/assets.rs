//! The web UI, embedded at build time (see `build.rs`), with gzip copies made then.
//!
//! Files under `/assets/` carry a content hash in their names and are cached forever;
//! everything else (chiefly `index.html`) is revalidated on every load. Unknown paths
//! outside `/assets/` get `index.html`, so the single-page app owns its own routes.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

pub async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "only GET and HEAD are served here",
        )
        .into_response();
    }
    let path = uri.path();
    let asset = match find(path) {
        Some(asset) => asset,
        None if path.starts_with("/assets/") => {
            return ApiError::not_found(format!("no asset {path}; reload the page")).into_response();
        }
        None => match find("/index.html") {
            Some(index) => index,
            None => return ApiError::not_found("the web UI is not built into this binary").into_response(),
        },
    };
    let cache = if asset.path.starts_with("/assets/") { IMMUTABLE } else { REVALIDATE };
    let accepts_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|coding| coding.trim().starts_with("gzip")));

    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response_headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let body = match asset.gzip {
        Some(gzip) if accepts_gzip => {
            response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            gzip
        }
        _ => asset.body,
    };
    (StatusCode::OK, response_headers, body).into_response()
}
