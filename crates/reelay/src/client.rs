//! Command-line clients of a running node: `reelay upload` (streaming PUTs with a progress bar;
//! re-running a batch skips files already uploaded whole, so an interrupted batch resumes) and
//! `reelay sign` (a signed playback URL from the node's `/api/v1/sign`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncReadExt;

/// Where the node is and who we are.
#[derive(Debug, clap::Args)]
pub(crate) struct ClientArgs {
    /// The node's base URL.
    #[arg(long, env = "REELAY_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// An API token (rly_…); not needed on an open loopback node.
    #[arg(long, env = "REELAY_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// Files to upload, then the destination: BUCKET or BUCKET/FOLDER.
    #[arg(required = true, num_args = 2..)]
    pub(crate) items: Vec<String>,
    /// Upload even files already there with the same size.
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// A playback path: /media/BUCKET/KEY, /live/SOURCE/index.m3u8 or /recordings/ID/index.m3u8;
    /// with --prefix, a folder ending in /.
    pub(crate) path: String,
    /// How long the URL works: 90s, 30m, 1h, 7d (at most 7 days).
    #[arg(long, default_value = "1h")]
    pub(crate) expires: String,
    /// Sign the folder PATH (every object under it).
    #[arg(long)]
    pub(crate) prefix: bool,
    #[command(flatten)]
    pub(crate) client: ClientArgs,
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .build()?)
}

fn with_token(req: reqwest::RequestBuilder, args: &ClientArgs) -> reqwest::RequestBuilder {
    match &args.token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

/// A JSON answer (anything else reads as `null`).
async fn read_json(resp: reqwest::Response) -> serde_json::Value {
    match resp.bytes().await {
        Ok(body) => serde_json::from_slice(&body).unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

/// The API's error message, or the status.
async fn failure(resp: reqwest::Response) -> anyhow::Error {
    let status = resp.status();
    let body = read_json(resp).await;
    match body["error"]["message"].as_str() {
        Some(m) => anyhow::anyhow!("{status}: {m}"),
        None => anyhow::anyhow!("{status}"),
    }
}

fn object_url(server: &str, bucket: &str, key: &str) -> anyhow::Result<url::Url> {
    let mut url = url::Url::parse(server).context("--server must be a URL")?;
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--server cannot be a base URL"))?;
        segments.pop_if_empty();
        segments.extend(["api", "v1", "buckets", bucket, "objects"]);
        if !key.is_empty() {
            segments.extend(key.split('/'));
        }
    }
    Ok(url)
}

/// Runs `reelay upload`.
pub async fn run_upload(args: UploadArgs) -> anyhow::Result<()> {
    let (dest, files) = args.items.split_last().context("files and a destination")?;
    let (bucket, folder) = match dest.split_once('/') {
        Some((b, f)) if !f.is_empty() => (b, format!("{}/", f.trim_end_matches('/'))),
        Some((b, _)) => (b, String::new()),
        None => (dest.as_str(), String::new()),
    };
    let client = http_client()?;
    check_bucket(&client, &args.client, bucket).await?;
    for file in files {
        let path = PathBuf::from(file);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{file}: not a file name"))?;
        let url = object_url(&args.client.server, bucket, &format!("{folder}{name}"))?;
        upload_one(&client, &args, &path, url).await?;
    }
    Ok(())
}

/// Fails with the node's answer when `bucket` cannot be listed (missing, or no permission):
/// said before any body is sent, since a node refuses an upload without reading it and the
/// refusal can be lost to a broken pipe while the body is still being written.
async fn check_bucket(
    client: &reqwest::Client,
    args: &ClientArgs,
    bucket: &str,
) -> anyhow::Result<()> {
    let mut url = object_url(&args.server, bucket, "")?;
    url.query_pairs_mut().append_pair("limit", "1");
    let resp = with_token(client.get(url), args).send().await?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(failure(resp).await).with_context(|| format!("bucket {bucket:?}"))
    }
}

async fn upload_one(
    client: &reqwest::Client,
    args: &UploadArgs,
    path: &Path,
    url: url::Url,
) -> anyhow::Result<()> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().await?.len();
    if !args.force {
        let head = with_token(client.get(url.clone()), &args.client)
            .send()
            .await?;
        if head.status().is_success() {
            let meta = read_json(head).await;
            if meta["size"].as_u64() == Some(size) {
                println!("{}: already there ({size} bytes), skipped", path.display());
                return Ok(());
            }
        }
    }
    let bar = ProgressBar::new(size).with_message(path.display().to_string());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )?
        .progress_chars("=> "),
    );
    let progress = bar.clone();
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
    .inspect(move |chunk| {
        if let Ok(c) = chunk {
            progress.inc(c.len() as u64);
        }
    });
    let req = client
        .put(url)
        .header(http::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(chunks));
    let resp = with_token(req, &args.client).send().await;
    bar.finish_and_clear();
    let resp = resp.with_context(|| format!("uploading {}", path.display()))?;
    if !resp.status().is_success() {
        bail!("{}: {}", path.display(), failure(resp).await);
    }
    println!("{}: uploaded {size} bytes", path.display());
    Ok(())
}

/// Runs `reelay sign`: prints the absolute signed URL.
pub async fn run_sign(args: SignArgs) -> anyhow::Result<()> {
    let expires = crate::config::parse_duration(&args.expires)
        .with_context(|| format!("--expires {:?}", args.expires))?;
    let base = url::Url::parse(&args.client.server).context("--server must be a URL")?;
    let body = serde_json::json!({
        "path": args.path,
        "expires_in": expires.as_secs(),
        "prefix": args.prefix,
    });
    let req = http_client()?
        .post(base.join("api/v1/sign")?)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body)?);
    let resp = with_token(req, &args.client).send().await?;
    if !resp.status().is_success() {
        bail!("{}", failure(resp).await);
    }
    let signed = read_json(resp).await;
    let url = signed["url"].as_str().context("the answer has no url")?;
    println!("{}", base.join(url)?);
    Ok(())
}
