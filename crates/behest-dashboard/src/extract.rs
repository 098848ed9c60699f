//! What every page handler starts from, so that no handler can forget a step: a
//! project page (the signed-in user and the project, loaded through the service, so
//! another tenant's id is the same 404 as a missing one), and a posted form whose CSRF
//! token was checked before the handler runs.

use crate::forms::FormData;
use crate::page::PageError;
use crate::pages::parse_id;
use crate::session::SignedIn;
use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use behest_control::service::projects;
use behest_control::views::ProjectView;
use behest_control::{ControlError, ControlState};

/// A signed-in user's form, its CSRF token checked.
pub struct Posted {
    pub who: SignedIn,
    pub form: FormData,
}

/// A page of one project (its id is the route's `{id}`).
pub struct ProjectPage {
    pub who: SignedIn,
    pub project: ProjectView,
}

/// A form posted on a project's page: CSRF checked first, then the project loaded.
pub struct ProjectPost {
    pub who: SignedIn,
    pub project: ProjectView,
    pub form: FormData,
}

/// The user, then the form from the body, then its CSRF check.
async fn posted<S>(
    parts: &mut Parts,
    body: axum::body::Body,
    state: &S,
) -> Result<Posted, PageError>
where
    S: Send + Sync,
    ControlState: FromRef<S>,
{
    let who = SignedIn::from_request_parts(parts, state).await?;
    let form = FormData::read(body).await?;
    form.check(&who)?;
    Ok(Posted { who, form })
}

/// The route's `{id}`; a malformed one is "not found".
async fn project_id<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<uuid::Uuid, PageError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| PageError::Control(ControlError::not_found("project not found")))?;
    let raw = params
        .iter()
        .find(|(name, _)| *name == "id")
        .map(|(_, value)| value)
        .unwrap_or_default();
    parse_id(raw)
}

async fn load<S>(state: &S, who: &SignedIn, id: uuid::Uuid) -> Result<ProjectView, PageError>
where
    ControlState: FromRef<S>,
{
    let ctl = ControlState::from_ref(state);
    Ok(projects::show(&ctl, &who.actor(), id).await?)
}

impl<S> FromRequest<S> for Posted
where
    S: Send + Sync,
    ControlState: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        posted(&mut parts, body, state).await
    }
}

impl<S> FromRequestParts<S> for ProjectPage
where
    S: Send + Sync,
    ControlState: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let who = SignedIn::from_request_parts(parts, state).await?;
        let id = project_id(parts, state).await?;
        let project = load(state, &who, id).await?;
        Ok(ProjectPage { who, project })
    }
}

impl<S> FromRequest<S> for ProjectPost
where
    S: Send + Sync,
    ControlState: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let id = project_id(&mut parts, state).await?;
        let Posted { who, form } = posted(&mut parts, body, state).await?;
        let project = load(state, &who, id).await?;
        Ok(ProjectPost { who, project, form })
    }
}
