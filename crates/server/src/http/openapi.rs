//! The OpenAPI document (`/api/openapi.json`) and a Swagger UI (`/api/docs`) served from the
//! assets compiled into the binary (nothing is fetched at build or run time).

use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::HttpState;
use super::{api, playback, retention, subject_access};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "onrecord", description = "Consent-first call recording archive: search, read, listen. Every read is audited."),
    paths(api::list, api::show, api::audio, api::original, api::peaks, api::audit_trail, api::operator_summary, subject_access::export, retention::show, retention::set_minimum),
    components(schemas(api::RecordingList, api::TenantFigures, playback::Peaks, subject_access::SubjectAccessBody, retention::MinimumRequest)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

pub fn routes() -> Router<HttpState> {
    Router::new().merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()))
}
