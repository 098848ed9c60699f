//! Outbound calls to an address a tenant chose (a provider `base_url_override`): the
//! URL rules (https only unless the operator allows http, no userinfo, no query or
//! fragment) and the address rules (nothing loopback, private, link-local, CGNAT,
//! multicast, unspecified, reserved or cloud metadata, in any IPv4/IPv6 spelling),
//! checked once when the URL is saved and again at connect time by a resolver that
//! drops forbidden answers, so a name that later resolves elsewhere (DNS rebinding)
//! cannot reach an internal address. Redirects are never followed.
//!
//! IP spellings (`2130706433`, `0x7f.1`, `0177.0.0.1`, `[::ffff:127.0.0.1]`) are
//! normalised by the WHATWG URL parser before the address rules see them.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Why a tenant's URL was refused (the message names the rule, never echoes secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRejection {
    #[error("not an absolute URL")]
    NotAUrl,
    #[error("the scheme must be https")]
    Scheme,
    #[error("credentials in the URL are not allowed")]
    Userinfo,
    #[error("a query or fragment is not allowed in a base URL")]
    QueryOrFragment,
    #[error("the URL has no host")]
    NoHost,
    #[error("the host is not a public internet address")]
    Forbidden,
    #[error("the host does not resolve")]
    Unresolvable,
}

/// The URL rules, and the address rules for a host written as an IP address. A host
/// name is resolved and checked separately ([`check_resolved`]) and again at connect
/// time ([`PublicOnly`]).
pub fn check_base_url(text: &str, allow_http: bool) -> Result<Url, UrlRejection> {
    let url = Url::parse(text.trim()).map_err(|_| UrlRejection::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(UrlRejection::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRejection::Userinfo);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlRejection::QueryOrFragment);
    }
    match url.host() {
        None => return Err(UrlRejection::NoHost),
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
            return Err(UrlRejection::Forbidden)
        }
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
            return Err(UrlRejection::Forbidden)
        }
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            if name.is_empty()
                || name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
            {
                return Err(UrlRejection::Forbidden);
            }
        }
        Some(_) => {}
    }
    Ok(url)
}

/// Resolves the URL's host now and refuses it when any answer is not public (the
/// connect-time resolver would drop those answers; refusing early gives a clear error).
pub async fn check_resolved(url: &Url) -> Result<(), UrlRejection> {
    let Some(url::Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|_| UrlRejection::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(UrlRejection::Unresolvable);
    }
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(UrlRejection::Forbidden);
    }
    Ok(())
}

/// Whether `ip` is an ordinary public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
            // (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::) carry an IPv4 address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0; 6] {
                // ::a.b.c.d (deprecated compatible form), :: and ::1 included.
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return s[6] != 0 && is_public_v4(v4);
            }
            if s[0] == 0x64 && s[1] == 0xff9b {
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return is_public_v4(v4);
            }
            if s[0] == 0x2002 {
                let v4 =
                    Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: the cloud metadata address included
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (AWS metadata fd00:ec2::254)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only 100::/64
}

/// A resolver that keeps only public answers: the connect-time half of the rule.
#[derive(Debug, Default, Clone)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the host resolves to no public address",
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// A client for tenant-chosen URLs: public addresses only, no redirects, no proxy.
pub fn tenant_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnly))
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Each one must be refused: the bypasses SSRF write-ups list.
    const BYPASSES: &[&str] = &[
        "http://api.example.com/v1",                // plain http
        "ftp://api.example.com/",                   // other scheme
        "file:///etc/passwd",                       // file
        "gopher://127.0.0.1:6379/_INFO",            // gopher
        "https://user:pass@api.example.com/",       // userinfo
        "https://user@api.example.com/",            // username only
        "https://127.0.0.1/",                       // loopback
        "https://127.1/",                           // short form
        "https://2130706433/",                      // decimal
        "https://0x7f000001/",                      // hex
        "https://0x7f.0.0.1/",                      // hex octet
        "https://0177.0.0.1/",                      // octal
        "https://017700000001/",                    // octal whole
        "https://0/",                               // 0.0.0.0
        "https://0.0.0.0/",                         // unspecified
        "https://[::]/",                            // v6 unspecified
        "https://[::1]/",                           // v6 loopback
        "https://[::ffff:127.0.0.1]/",              // v4-mapped loopback
        "https://[::ffff:7f00:1]/",                 // v4-mapped, hex
        "https://[::127.0.0.1]/",                   // v4-compatible
        "https://[64:ff9b::7f00:1]/",               // NAT64 of loopback
        "https://[2002:7f00:1::]/",                 // 6to4 of loopback
        "https://10.0.0.1/",                        // private
        "https://172.16.5.4/",                      // private
        "https://192.168.1.1/",                     // private
        "https://169.254.169.254/latest/meta-data", // AWS/GCP metadata
        "https://[fd00:ec2::254]/",                 // AWS v6 metadata
        "https://[::ffff:169.254.169.254]/",        // mapped metadata
        "https://100.64.0.1/",                      // CGNAT
        "https://224.0.0.1/",                       // multicast
        "https://[ff02::1]/",                       // v6 multicast
        "https://[fe80::1]/",                       // v6 link-local
        "https://[fc00::1]/",                       // unique local
        "https://255.255.255.255/",                 // broadcast
        "https://240.0.0.1/",                       // reserved
        "https://localhost/",                       // name
        "https://LOCALHOST./",                      // case and trailing dot
        "https://api.localhost/",                   // *.localhost
        "https://api.example.com/v1?x=1",           // query
        "https://api.example.com/v1#frag",          // fragment
        "https://[::ffff:10.0.0.1]/",               // v4-mapped private
        "https://[::ffff:a9fe:a9fe]/",              // v4-mapped metadata, hex
        "not a url",
        "",
    ];

    #[test]
    fn every_bypass_attempt_is_refused() {
        for url in BYPASSES {
            assert!(check_base_url(url, false).is_err(), "{url} was accepted");
        }
        assert!(BYPASSES.len() >= 30);
    }

    #[test]
    fn public_https_urls_pass_and_http_only_when_allowed() {
        for url in [
            "https://api.openai.com/v1",
            "https://8.8.8.8/",
            "https://[2606:4700:4700::1111]/",
            "https://my-proxy.example.com:8443/openai/v1",
        ] {
            assert!(check_base_url(url, false).is_ok(), "{url}");
        }
        assert_eq!(
            check_base_url("http://api.example.com/v1", false),
            Err(UrlRejection::Scheme)
        );
        assert!(check_base_url("http://api.example.com/v1", true).is_ok());
        // Allowing http never allows internal addresses.
        assert_eq!(
            check_base_url("http://127.0.0.1:8080/", true),
            Err(UrlRejection::Forbidden)
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_answers() {
        // `localhost` resolves to loopback only: nothing is left to connect to.
        let resolved = PublicOnly
            .resolve("localhost".parse::<Name>().unwrap())
            .await;
        assert!(resolved.is_err());
        let url = Url::parse("https://localhost/").unwrap();
        assert_eq!(check_resolved(&url).await, Err(UrlRejection::Forbidden));
    }

    #[tokio::test]
    async fn a_tenant_client_cannot_reach_loopback_by_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let client = tenant_client(Duration::from_secs(2)).unwrap();
        let err = client.get(format!("http://localhost:{port}/")).send().await;
        assert!(err.is_err(), "reached loopback through a name");
    }
}
