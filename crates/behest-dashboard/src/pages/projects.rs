//! Projects: the list with DNS status, creating one (the plan's limit explained), the
//! overview with its quickstart filled in, DNS retry and suspension.

use crate::extract::{Posted, ProjectPage, ProjectPost};
use crate::page::{
    self, button_form, field, notice, ok, see_other, Errors, Input, PageError, ProjectTab, Section,
    Shell,
};
use crate::pages::{done_message, Done};
use crate::session::{self, SignedIn};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use behest_control::service::projects::{self, CreateProjectInput};
use behest_control::views::{ProjectView, ProvisioningView};
use behest_control::{ControlError, ControlState};
use behest_core::{ErrorCode, Plan};
use maud::{html, Markup};

fn shell<'a>(who: &'a SignedIn, title: &'a str) -> Shell<'a> {
    Shell {
        who,
        title,
        section: Section::Projects,
        project: None,
        refresh: None,
    }
}

pub async fn list(
    State(ctl): State<ControlState>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let projects = projects::list(&ctl, &who.actor(), who.tenant.id).await?;
    let pending = projects.iter().any(|p| p.dns_status == "PENDING");
    let mut shell = shell(&who, "Projects");
    shell.refresh = pending.then_some(3);
    Ok(ok(shell.render(html! {
        h1 { "Projects" }
        (notice(done_message(&done)))
        div.actions { a.button href="/projects/new" { "New project" } }
        @if projects.is_empty() {
            p { "No projects yet. A project is one app's endpoint: its host, keys and policy." }
        } @else {
            div.table {
                table {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Slug" } th scope="col" { "Host" } th scope="col" { "DNS" } th scope="col" { "Status" } } }
                    tbody {
                        @for p in &projects {
                            tr {
                                td { a href={ "/projects/" (p.id) } { (p.name) } }
                                td { code { (p.slug) } }
                                td { code { (p.fqdn_prod) } }
                                td { span class={ "status " (p.dns_status) } { (p.dns_status) } }
                                td { (p.status) }
                            }
                        }
                    }
                }
            }
        }
    })))
}

fn plan_limit_note(plan: &str) -> Option<String> {
    let plan: Plan = plan.parse().ok()?;
    plan.active_project_limit().map(|limit| {
        format!("The {plan} plan runs at most {limit} active projects; suspend one or move to the pro plan for more.")
    })
}

fn new_form(who: &SignedIn, name: &str, errors: &Errors) -> Markup {
    shell(who, "New project").render(html! {
        h1 { "New project" }
        (errors.alert(&["name"]))
        form.card method="post" action="/projects/new" {
            (page::csrf_input(&who.csrf()))
            (field(errors, "name", "Project name", Input::Text(name), Some("Up to 100 characters; the host gets a random slug.")))
            div.actions { button type="submit" { "Create project" } }
        }
        @if let Some(note) = plan_limit_note(who.tenant.plan) { p.hint { (note) } }
    })
}

pub async fn new_page(who: SignedIn) -> Response {
    ok(new_form(&who, "", &Errors::default()))
}

pub async fn create(
    State(ctl): State<ControlState>,
    Posted { who, form }: Posted,
) -> Result<Response, PageError> {
    let name = form.get("name").unwrap_or_default().to_owned();
    let input = CreateProjectInput {
        name: Some(name.clone()),
    };
    match projects::create(&ctl, &who.actor(), who.tenant.id, input).await {
        Ok(project) => Ok(see_other(&format!("/projects/{}", project.id))),
        Err(err) => {
            let errors = match err {
                // Not a bare 403: what the plan allows and what to do about it.
                ControlError::Refused {
                    code: ErrorCode::ProjectLimitReached,
                    ..
                } => Errors::message(
                    StatusCode::FORBIDDEN,
                    plan_limit_note(who.tenant.plan)
                        .unwrap_or_else(|| "The plan's project limit is reached.".into()),
                ),
                other => Errors::from(other),
            };
            Ok(page::respond(errors.status, new_form(&who, &name, &errors)))
        }
    }
}

pub async fn overview(
    State(ctl): State<ControlState>,
    headers: HeaderMap,
    Query(done): Query<Done>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let dns = projects::provisioning(&ctl, &who.actor(), project.id).await?;
    let base = project_base(&project, &headers);
    Ok(ok(overview_page(
        &who,
        &project,
        &dns,
        &base,
        done_message(&done),
    )))
}

/// The project's own address as the browser reaching this dashboard would write it:
/// the same scheme, and the same port when there is one (a local `serve`).
fn project_base(project: &ProjectView, headers: &HeaderMap) -> String {
    let scheme = if session::is_https(headers) {
        "https"
    } else {
        "http"
    };
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(port) => format!("{scheme}://{}:{port}", project.fqdn_prod),
        None => format!("{scheme}://{}", project.fqdn_prod),
    }
}

/// The overview of `project` with its DNS state (a PENDING page refreshes itself).
fn overview_page(
    who: &SignedIn,
    project: &ProjectView,
    dns: &ProvisioningView,
    base: &str,
    done: Option<&str>,
) -> Markup {
    let csrf = who.csrf();
    let shell = Shell {
        who,
        title: &project.name,
        section: Section::Projects,
        project: Some((project.id, &project.name, ProjectTab::Overview)),
        refresh: (dns.dns_status == "PENDING").then_some(2),
    };
    let suspended = project.status == "suspended";
    shell.render(html! {
        h1 { (project.name) }
        (notice(done))
        div.grid {
            div.stat { "Slug" b { code { (project.slug) } } }
            div.stat { "Status" b { (project.status) } }
            div.stat {
                "DNS status"
                b { span id="dns-status" class={ "status " (dns.dns_status) } { (dns.dns_status) } }
                @if dns.dns_status == "PENDING" { span.hint { "Provisioning; this page refreshes itself." } }
            }
        }
        (dns_details(dns, project, &csrf))
        h2 { "Quickstart" }
        p { "Your app's server mints a short-lived token per user with an API key (" a href={ "/projects/" (project.id) "/keys" } { "API keys" } "); the browser calls the model with it." }
        (quickstart(project, base))
        h2 { "Danger zone" }
        @if suspended {
            p { "This project is suspended: its keys are revoked and it answers no traffic." }
        } @else {
            p { "Suspending revokes every API key and stops all traffic at once. It cannot be undone from the dashboard." }
            (button_form(&csrf, &format!("/projects/{}/suspend", project.id), "Suspend project",
                Some("Suspend this project? Every API key is revoked and all traffic stops.")))
        }
    })
}

fn dns_details(dns: &ProvisioningView, project: &ProjectView, csrf: &str) -> Markup {
    html! {
        section.card aria-label="Hosts" {
            p { "Production host: " code { (dns.fqdn_prod) } }
            p { "Development host: " code { (dns.fqdn_dev) } }
            @if let Some(error) = &dns.dns_last_error {
                p.alert role="alert" { "DNS provisioning failed: " (error) }
            }
            @if dns.dns_status == "FAILED" {
                (button_form(csrf, &format!("/projects/{}/retry", project.id), "Retry", None))
            }
        }
    }
}

fn quickstart(project: &ProjectView, host: &str) -> Markup {
    let curl = format!(
        "# 1. On your server: mint a token for one of your users\n\
         curl -s {host}/v1/auth/mint \\\n  -H \"Authorization: Bearer $BEHEST_KEY\" -H 'Content-Type: application/json' \\\n  -d '{{\"user_id\": \"user-123\", \"ttl\": 900}}'\n\n\
         # 2. In the browser (or here): stream a completion with its access_token\n\
         curl -sN {host}/v1/chat/completions \\\n  -H \"Authorization: Bearer $ACCESS_TOKEN\" -H 'Content-Type: application/json' \\\n  -d '{{\"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}], \"stream\": true}}'"
    );
    let python = format!(
        "# pip install behest-ai openai\n\
         from behest import Behest\n\
         from openai import OpenAI\n\n\
         behest = Behest(key=\"behest_sk_...\", base_url=\"{host}\")\n\
         minted = behest.auth.mint(user_id=\"user-123\", ttl=900)\n\n\
         client = OpenAI(base_url=\"{host}/v1\", api_key=minted.token)\n\
         for chunk in client.chat.completions.create(\n    model=\"default\", stream=True,\n    messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n):\n    print(chunk.choices[0].delta.content or \"\", end=\"\")"
    );
    let next = format!(
        "// .env.local\n// BEHEST_KEY=behest_sk_...   (server-only)\n// BEHEST_BASE_URL={host}\n// NEXT_PUBLIC_BEHEST_BASE_URL={host}\n\n\
         // app/api/behest/token/route.ts\n\
         import {{ NextResponse }} from \"next/server\";\n\
         import {{ Behest }} from \"@behest/client-ts\";\n\
         import {{ auth }} from \"@/auth\";\n\n\
         const behest = new Behest(); // reads BEHEST_KEY + BEHEST_BASE_URL\n\n\
         export async function POST() {{\n  const session = await auth();\n  if (!session?.user?.id) return new NextResponse(\"Unauthorized\", {{ status: 401 }});\n  const {{ token, ttl, sessionId, expiresAt }} = await behest.auth.mint({{\n    user_id: session.user.id,\n    ttl: 900,\n  }});\n  return NextResponse.json({{ token, ttl, sessionId, expiresAt }});\n}}"
    );
    html! {
        details open {
            summary { "curl" }
            pre { code { (curl) } }
        }
        details {
            summary { "Python (behest-ai)" }
            pre { code { (python) } }
        }
        details {
            summary { "Next.js route" }
            pre { code { (next) } }
        }
        p.hint { "Without DNS for the project host, use " code { "http://<this server>/p/" (project.slug) "/v1/…" } " instead." }
    }
}

pub async fn retry(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, .. }: ProjectPost,
) -> Result<Response, PageError> {
    projects::retry_provisioning(&ctl, &who.actor(), project.id).await?;
    Ok(see_other(&format!("/projects/{}?done=retried", project.id)))
}

pub async fn suspend(
    State(ctl): State<ControlState>,
    ProjectPost { who, project, .. }: ProjectPost,
) -> Result<Response, PageError> {
    projects::suspend(&ctl, &who.actor(), project.id).await?;
    Ok(see_other(&format!(
        "/projects/{}?done=suspended",
        project.id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use behest_control::service::accounts::{MembershipView, Session};
    use chrono::Utc;
    use uuid::Uuid;

    fn signed_in() -> SignedIn {
        let tenant = MembershipView {
            id: Uuid::new_v4(),
            name: "Acme".into(),
            plan: "free",
            role: "owner",
        };
        SignedIn {
            session: Session {
                user: behest_store::User {
                    id: Uuid::new_v4(),
                    email: "ada@example.com".into(),
                    password_hash: String::new(),
                    created_at: Utc::now(),
                },
                token_hash: String::new(),
            },
            session_token: "token".into(),
            tenants: vec![tenant.clone()],
            tenant,
        }
    }

    fn project() -> ProjectView {
        ProjectView {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            name: "Shop <beta>".into(),
            slug: "amber-fox-042".into(),
            status: "active",
            dns_status: "PENDING",
            fqdn_dev: "amber-fox-042.dev.behest.app".into(),
            fqdn_prod: "amber-fox-042.behest.app".into(),
            created_at: Utc::now(),
        }
    }

    fn dns(status: &'static str, error: Option<&str>) -> ProvisioningView {
        ProvisioningView {
            dns_status: status,
            dns_last_error: error.map(str::to_owned),
            fqdn_dev: "amber-fox-042.dev.behest.app".into(),
            fqdn_prod: "amber-fox-042.behest.app".into(),
            slug: "amber-fox-042".into(),
            dns_updated_at: None,
        }
    }

    #[test]
    fn the_quickstart_uses_the_dashboards_scheme_and_port() {
        let project = project();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "localhost:8080".parse().unwrap());
        assert_eq!(
            project_base(&project, &headers),
            "http://amber-fox-042.behest.app:8080"
        );
        headers.insert(header::HOST, "dash.behest.app".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(
            project_base(&project, &headers),
            "https://amber-fox-042.behest.app"
        );
    }

    #[test]
    fn a_pending_overview_refreshes_itself_and_a_failed_one_offers_retry() {
        let who = signed_in();
        let project = project();
        let pending = overview_page(
            &who,
            &project,
            &dns("PENDING", None),
            "https://amber-fox-042.behest.app",
            None,
        )
        .into_string();
        assert!(pending.contains(r#"<meta http-equiv="refresh" content="2">"#));
        assert!(pending.contains(">PENDING</span>"));
        assert!(!pending.contains(">Retry</button>"));
        // The name is escaped, the host is filled into the quickstart.
        assert!(pending.contains("Shop &lt;beta&gt;") && !pending.contains("Shop <beta>"));
        assert!(pending.contains("https://amber-fox-042.behest.app/v1/auth/mint"));

        let failed = overview_page(
            &who,
            &project,
            &dns("FAILED", Some("zone not writable")),
            "https://amber-fox-042.behest.app",
            None,
        )
        .into_string();
        assert!(!failed.contains("http-equiv=\"refresh\""));
        assert!(failed.contains("DNS provisioning failed: zone not writable"));
        assert!(failed.contains(&format!("action=\"/projects/{}/retry\"", project.id)));
        assert!(failed.contains(">Retry</button>"));
        // Every form of the page carries the session's CSRF token.
        let forms = failed.matches("<form").count();
        let tokens = failed
            .matches(&format!("name=\"_csrf\" value=\"{}\"", who.csrf()))
            .count();
        assert_eq!(forms, tokens, "{failed}");
    }
}
