use super::*;
use crate::ingest::MAX_LINE_BYTES;

/// What ffmpeg 5.1 writes for `-var_stream_map "v:0,a:0 v:1,a:1" -master_pl_name`.
const FFMPEG_LADDER: &str = "#EXTM3U\n#EXT-X-VERSION:3\n\
    #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\"\n\
    stream_0.m3u8\n\n\
    #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x180,CODECS=\"avc1.42c00c,mp4a.40.2\"\n\
    stream_1.m3u8\n\n";

/// And for `-var_stream_map "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud"`.
const FFMPEG_AUDIO_GROUP: &str = "#EXTM3U\n#EXT-X-VERSION:3\n\
    #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"group_aud\",NAME=\"audio_2\",DEFAULT=YES,URI=\"stream_2.m3u8\"\n\
    #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=640x360,CODECS=\"avc1.42c01e,mp4a.40.2\",AUDIO=\"group_aud\"\n\
    stream_0.m3u8\n\n\
    #EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=320x180,CODECS=\"avc1.42c00c,mp4a.40.2\",AUDIO=\"group_aud\"\n\
    stream_1.m3u8\n\n\
    #EXT-X-STREAM-INF:BANDWIDTH=75900,CODECS=\"mp4a.40.2\",AUDIO=\"group_aud\"\n\
    stream_2.m3u8\n\n";

#[test]
fn parses_what_ffmpeg_pushes() {
    let p = parse_multivariant(FFMPEG_LADDER.as_bytes()).expect("ladder");
    assert_eq!(p.renditions(), ["stream_0.m3u8", "stream_1.m3u8"]);
    assert_eq!(p.variants[1].resolution, Some((320, 180)));
    assert_eq!(
        p.variants[0].codecs.as_deref(),
        Some("avc1.42c01e,mp4a.40.2")
    );
    assert_eq!(p.variants[0].bandwidth, 75_900);
    let p = parse_multivariant(FFMPEG_AUDIO_GROUP.as_bytes()).expect("audio group");
    assert_eq!(
        p.renditions(),
        ["stream_0.m3u8", "stream_1.m3u8", "stream_2.m3u8"]
    );
    assert_eq!(p.media.len(), 1);
    let audio = &p.media[0];
    assert_eq!(
        (audio.kind, audio.group_id.as_str(), audio.name.as_str()),
        (MediaType::Audio, "group_aud", "audio_2")
    );
    assert!(audio.default && !audio.autoselect);
    assert_eq!(audio.uri.as_deref(), Some("stream_2.m3u8"));
    assert!(is_multivariant(FFMPEG_AUDIO_GROUP.as_bytes()));
    assert!(!is_multivariant(b"#EXTM3U\n#EXTINF:2,\na.ts\n"));
}

#[test]
fn what_is_rendered_parses_back_the_same() {
    let p = parse_multivariant(FFMPEG_AUDIO_GROUP.as_bytes()).expect("parse");
    let mut p = p.map_uris(|u| u.replace(".m3u8", "_x.m3u8"));
    p.variants[0].frame_rate = Some("25.000".into());
    p.variants[0].average_bandwidth = Some(60_000);
    p.media[0].language = Some("en-GB".into());
    assert_eq!(parse_multivariant(p.render().as_bytes()), Ok(p));
}

#[test]
fn hostile_multivariant_playlists_are_refused() {
    let head = "#EXTM3U\n";
    let si = "#EXT-X-STREAM-INF:BANDWIDTH=1000\n";
    let cases: Vec<(String, PlaylistError)> = vec![
        (
            format!("{head}{si}../x.m3u8\n"),
            PlaylistError::BadUri { line: 3 },
        ),
        (
            format!("{head}{si}x.ts\n"),
            PlaylistError::BadUri { line: 3 },
        ),
        (
            format!("{head}{si}http://h/x.m3u8\n"),
            PlaylistError::BadUri { line: 3 },
        ),
        (format!("{head}{si}"), PlaylistError::DanglingStreamInf),
        (
            format!("{head}{si}{si}a.m3u8\n"),
            PlaylistError::DanglingStreamInf,
        ),
        (format!("{head}a.m3u8\n"), PlaylistError::BadUri { line: 2 }),
        (head.to_owned(), PlaylistError::NoVariants),
        (
            format!("{head}#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=99999999999999999\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,BANDWIDTH=2\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=99999x1\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"unterminated\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=1e9\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,,\na.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"nope\"\na.m3u8\n"),
            PlaylistError::UnknownGroup("nope".into()),
        ),
        (
            format!(
                "{head}#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"x\",DEFAULT=YES\n\
                 #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"y\",DEFAULT=YES\n{si}a.m3u8\n"
            ),
            PlaylistError::BadGroup("g".into()),
        ),
        (
            format!("{head}#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\"\n{si}a.m3u8\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXT-X-MEDIA:TYPE=EVIL,GROUP-ID=\"g\",NAME=\"n\"\n"),
            PlaylistError::BadAttribute { line: 2 },
        ),
        (
            format!("{head}#EXTINF:2,\n{si}a.m3u8\n"),
            PlaylistError::MixedPlaylist { line: 2 },
        ),
        (
            head.to_owned()
                + &(0..=MAX_RENDITIONS)
                    .map(|i| format!("{si}s{i}.m3u8\n"))
                    .collect::<String>(),
            PlaylistError::TooManyRenditions,
        ),
        (
            format!(
                "{head}#EXT-X-STREAM-INF:{}\n",
                "A=1,".repeat(MAX_LINE_BYTES)
            ),
            PlaylistError::LineTooLong { line: 2 },
        ),
        (
            format!(
                "{head}#EXT-X-STREAM-INF:BANDWIDTH=1,{}\na.m3u8\n",
                (0..40)
                    .map(|i| format!("X{i}=1"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            PlaylistError::BadAttribute { line: 2 },
        ),
    ];
    for (text, err) in cases {
        assert_eq!(
            parse_multivariant(text.as_bytes()),
            Err(err.clone()),
            "{err}: {text}"
        );
    }
}

#[test]
fn rendition_names_are_plain_playlist_names() {
    for good in ["stream_0.m3u8", "media_1.m3u8", "index.m3u8", "a-b.m3u8"] {
        assert!(is_rendition_name(good), "{good}");
    }
    for bad in [
        "x.ts", ".m3u8", "a/b.m3u8", "-a.m3u8", "a.b.m3u8", "a b.m3u8", "..m3u8",
    ] {
        assert!(!is_rendition_name(bad), "{bad}");
    }
    assert!(!is_rendition_name(&format!("{}.m3u8", "a".repeat(65))));
}
