//! How a request names its project before any lookup: the Host's first label
//! (`{slug}.{domain}`, or `{slug}.dev.{domain}`), else a `/p/{slug}/...` path prefix for
//! tools without DNS. (A bearer token's `pid` on the bare host is the third way; the
//! data plane reads it after authentication.)

use behest_core::slug;

/// The configured domain projects live under.
#[derive(Debug, Clone)]
pub struct SiteDomain {
    domain: String,
    dev_domain: String,
}

impl SiteDomain {
    pub fn new(domain: &str) -> SiteDomain {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        SiteDomain {
            dev_domain: format!("dev.{domain}"),
            domain,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The project's public host (`fqdn_prod`).
    pub fn prod_fqdn(&self, slug: &str) -> String {
        format!("{slug}.{}", self.domain)
    }

    /// The project's development host (`fqdn_dev`).
    pub fn dev_fqdn(&self, slug: &str) -> String {
        format!("{slug}.{}", self.dev_domain)
    }

    /// The slug a `Host` header names, if it is one of a project's hosts. Ports are
    /// ignored; anything else (the bare domain, an IP address) names no project.
    pub fn slug_from_host(&self, host: &str) -> Option<String> {
        let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        let label = host
            .strip_suffix(&self.dev_domain)
            .or_else(|| host.strip_suffix(&self.domain))?
            .strip_suffix('.')?;
        slug::is_well_formed(label).then(|| label.to_owned())
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal: never a project host.
        return host;
    }
    host.rsplit_once(':').map_or(host, |(name, _port)| name)
}

/// The project a request names by its host or path, set by the edge middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectHint {
    Host(String),
    PathPrefix(String),
    None,
}

impl ProjectHint {
    pub fn slug(&self) -> Option<&str> {
        match self {
            ProjectHint::Host(slug) | ProjectHint::PathPrefix(slug) => Some(slug),
            ProjectHint::None => None,
        }
    }
}

/// Splits `/p/{slug}/rest` into the slug and `/rest`.
pub fn split_path_prefix(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/p/")?;
    let (slug, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    slug::is_well_formed(slug).then_some((slug, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_hosts_name_their_slug() {
        let site = SiteDomain::new("localhost");
        assert_eq!(
            site.slug_from_host("amber-fox-042.localhost:8080")
                .as_deref(),
            Some("amber-fox-042")
        );
        assert_eq!(
            site.slug_from_host("AMBER-FOX-042.LOCALHOST").as_deref(),
            Some("amber-fox-042")
        );
        assert_eq!(
            site.slug_from_host("amber-fox-042.dev.localhost")
                .as_deref(),
            Some("amber-fox-042")
        );
        assert_eq!(site.slug_from_host("localhost:8080"), None);
        assert_eq!(site.slug_from_host("127.0.0.1:8080"), None);
        assert_eq!(site.slug_from_host("[::1]:8080"), None);
        assert_eq!(site.slug_from_host("evil-localhost"), None);
        assert_eq!(site.slug_from_host("a.b.localhost"), None);
        assert_eq!(site.prod_fqdn("amber-fox-042"), "amber-fox-042.localhost");
        assert_eq!(
            site.dev_fqdn("amber-fox-042"),
            "amber-fox-042.dev.localhost"
        );
    }

    #[test]
    fn path_prefixes_are_split() {
        assert_eq!(
            split_path_prefix("/p/amber-fox-042/v1/auth/mint"),
            Some(("amber-fox-042", "/v1/auth/mint"))
        );
        assert_eq!(
            split_path_prefix("/p/amber-fox-042"),
            Some(("amber-fox-042", "/"))
        );
        assert_eq!(split_path_prefix("/p/Bad_Slug/v1"), None);
        assert_eq!(split_path_prefix("/v1/auth/mint"), None);
    }
}
