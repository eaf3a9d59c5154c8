//! `[[s3]]` connection profiles: endpoint, addressing, credentials (from named environment
//! variables or the file), timeouts and part size, validated into [`ProfileSettings`].

use anyhow::{Context, bail};

use super::file::S3Entry;
use super::units::{opt, parse_duration, parse_size};
use crate::defaults::s3 as defaults;
use crate::storage::s3::ProfileSettings;

/// Reads one key of a profile: from the named environment variable, else from the file.
fn s3_key(
    name: &str,
    env: &Option<String>,
    inline: &Option<String>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    match (env, inline) {
        (Some(var), _) => std::env::var(var).map(Some).map_err(|_| {
            anyhow::anyhow!(
                "S3 profile {name:?}: environment variable {var} ({what}_env) is not set"
            )
        }),
        (None, inline) => Ok(inline.clone()),
    }
}

pub(super) fn s3_profile(e: &S3Entry) -> anyhow::Result<ProfileSettings> {
    let ctx = |key: &str| format!("s3.{}.{key}", e.name);
    let endpoint: url::Url = e.endpoint.parse().with_context(|| {
        format!(
            "S3 profile {:?}: endpoint {:?} is not a URL",
            e.name, e.endpoint
        )
    })?;
    if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
        bail!(
            "S3 profile {:?}: endpoint must be an http(s) URL with a host",
            e.name
        );
    }
    let path_style = match e.addressing.as_deref() {
        None | Some("path") => true,
        Some("virtual-host") => false,
        Some(other) => bail!(
            "S3 profile {:?}: addressing {other:?} is not path or virtual-host",
            e.name
        ),
    };
    let access = s3_key(&e.name, &e.access_key_env, &e.access_key, "access_key")?;
    let secret = s3_key(&e.name, &e.secret_key_env, &e.secret_key, "secret_key")?;
    let credentials = match (access, secret) {
        (Some(a), Some(s)) => Some((a, s)),
        (None, None) => None,
        _ => bail!(
            "S3 profile {:?}: give both an access key and a secret key, or neither",
            e.name
        ),
    };
    let part_size = opt(
        &e.part_size,
        defaults::PART_SIZE,
        &ctx("part_size"),
        parse_size,
    )?;
    if part_size < defaults::MIN_PART_SIZE {
        bail!("config key {}: must be at least 64KiB", ctx("part_size"));
    }
    Ok(ProfileSettings {
        name: e.name.clone(),
        endpoint,
        region: e.region.clone().unwrap_or_else(|| defaults::REGION.into()),
        path_style,
        credentials,
        connect_timeout: opt(
            &e.connect_timeout,
            defaults::CONNECT_TIMEOUT,
            &ctx("connect_timeout"),
            parse_duration,
        )?,
        request_timeout: opt(
            &e.request_timeout,
            defaults::REQUEST_TIMEOUT,
            &ctx("request_timeout"),
            parse_duration,
        )?,
        part_size: part_size as u64,
        meta_ttl: opt(
            &e.meta_ttl,
            defaults::META_TTL,
            &ctx("meta_ttl"),
            parse_duration,
        )?,
    })
}
