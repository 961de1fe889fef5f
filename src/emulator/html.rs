//! The emulator's few HTML pages, written by hand: the sign-in page, a refusal, signed out.
//! Plain forms, no script. Every value that comes from a request or from the model passes
//! through [`escape`]; the fixed markup is the only unescaped text.

use std::fmt::Write as _;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

static CONTENT_SECURITY_POLICY: HeaderName = HeaderName::from_static("content-security-policy");
static REFERRER_POLICY: HeaderName = HeaderName::from_static("referrer-policy");
static CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");

/// `text` safe in HTML text and in a double- or single-quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f5f6f8;color:#1d2129;margin:0}\
main{max-width:34rem;margin:2.5rem auto;padding:0 1rem}\
h1{font-size:1.5rem}\
.note{color:#5b6370;font-size:.9rem}\
.user{background:#fff;border:1px solid #d9dde3;border-radius:.5rem;padding:.9rem 1.1rem;margin:.8rem 0}\
.user.hinted{border-color:#3b5bdb}\
.name{font-weight:600;margin:0}\
.email{color:#5b6370;margin:.1rem 0 .6rem}\
button{font:inherit;padding:.35rem .8rem;margin:.2rem .4rem .2rem 0;border:1px solid #3b5bdb;\
background:#3b5bdb;color:#fff;border-radius:.35rem;cursor:pointer}\
button .role{opacity:.8;font-size:.85em}\
code{background:#eceef1;padding:0 .25rem;border-radius:.2rem}";

/// A whole page around `body` (already HTML).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · workos-authz emulator</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The sign-in page carries a one-time authorization id; nothing here is to be cached.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No script at all, no framing (clickjacking a sign-in), no foreign anything. Not
    // `form-action`: browsers apply it to the redirect that follows the form, which leaves
    // for the application.
    headers.insert(
        CONTENT_SECURITY_POLICY.clone(),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    // The page's URL holds the state and the PKCE challenge.
    headers.insert(
        REFERRER_POLICY.clone(),
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        CONTENT_TYPE_OPTIONS.clone(),
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// One organization a user may sign in to.
pub(crate) struct OrganizationChoice {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The membership's organization-level role slugs.
    pub(crate) roles: Vec<String>,
}

/// One user of the sign-in page.
pub(crate) struct UserChoice {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    /// The `login_hint` named this user.
    pub(crate) hinted: bool,
    /// Active memberships; empty for a user who signs in without an organization.
    pub(crate) organizations: Vec<OrganizationChoice>,
}

/// What the sign-in page shows.
pub(crate) struct SignInPage<'a> {
    /// Where each form posts: `{base}/user_management/authorize`.
    pub(crate) action: &'a str,
    /// The pending authorization the forms complete.
    pub(crate) authorization: &'a str,
    pub(crate) client_id: &'a str,
    /// `scheme://host` of the redirect URI.
    pub(crate) returns_to: &'a str,
    pub(crate) sign_up: bool,
    /// The organization the sign-in is restricted to, when any: `(id, name)`.
    pub(crate) organization: Option<(&'a str, &'a str)>,
    pub(crate) users: Vec<UserChoice>,
}

/// The sign-in page: a form per user, a button per organization. Its contract (for browser
/// tests): each form has `class="user"` and `data-user-id`; its buttons submit
/// `organization_id` and carry `data-organization-id`; a user without memberships has one
/// button without it.
pub(crate) fn sign_in(view: &SignInPage<'_>) -> Response {
    let mut body = String::new();
    let title = if view.sign_up { "Sign up" } else { "Sign in" };
    let _ = writeln!(body, "<h1>{title}</h1>");
    let _ = writeln!(
        body,
        "<p class=\"note\">The workos-authz emulator playing AuthKit for <code>{}</code>: choose \
         who you are, no password is asked. You will return to <code>{}</code>.</p>",
        escape(view.client_id),
        escape(view.returns_to)
    );
    if view.sign_up {
        body.push_str(
            "<p class=\"note\">The emulator has no sign-up form: create users with \
             <code>POST /user_management/users</code>, then choose one here.</p>\n",
        );
    }
    if let Some((id, name)) = view.organization {
        let _ = writeln!(
            body,
            "<p class=\"note\">Only members of <strong>{}</strong> (<code>{}</code>) may sign in \
             here.</p>",
            escape(name),
            escape(id)
        );
    }
    if view.users.is_empty() {
        body.push_str(
            "<p>Nobody can sign in yet: create a user with <code>POST \
             /user_management/users</code> (and a membership with <code>POST \
             /user_management/organization_memberships</code>).</p>\n",
        );
    }
    for user in &view.users {
        let _ = writeln!(
            body,
            "<form class=\"user{}\" method=\"post\" action=\"{}\" data-user-id=\"{}\">\n\
             <input type=\"hidden\" name=\"authorization\" value=\"{}\">\n\
             <input type=\"hidden\" name=\"user_id\" value=\"{}\">\n\
             <p class=\"name\">{}</p>\n<p class=\"email\">{}</p>",
            if user.hinted { " hinted" } else { "" },
            escape(view.action),
            escape(&user.id),
            escape(view.authorization),
            escape(&user.id),
            escape(&user.name),
            escape(&user.email),
        );
        match user.organizations.as_slice() {
            [] => body.push_str("<button type=\"submit\">Sign in</button>\n"),
            organizations => {
                if organizations.len() > 1 {
                    body.push_str("<p class=\"note\">Choose an organization:</p>\n");
                }
                for organization in organizations {
                    let _ = writeln!(
                        body,
                        "<button type=\"submit\" name=\"organization_id\" value=\"{}\" \
                         data-organization-id=\"{}\">{} <span class=\"role\">{}</span></button>",
                        escape(&organization.id),
                        escape(&organization.id),
                        escape(&organization.name),
                        escape(&organization.roles.join(", ")),
                    );
                }
            }
        }
        body.push_str("</form>\n");
    }
    page(StatusCode::OK, title, &body)
}

/// A refused request: the status, and what was wrong.
pub(crate) fn refusal(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>This sign-in cannot continue</h1>\n<p>{}</p>\n<p class=\"note\">Nothing was sent \
         back to the application. Start the sign-in again from the application.</p>\n",
        escape(message)
    );
    page(status, "Sign-in refused", &body)
}

/// Signed out, with no page to return to.
pub(crate) fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1>\n<p class=\"note\">The session has ended. You may close \
         this page.</p>\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_both_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x" + 'y') & more</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;) &amp; more&lt;/script&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }
}
