//! Decrypting streams for playback: the container header and only the sealed chunks a range
//! needs are fetched (`get_range` + `open_plaintext_range`), so the first audio byte costs one
//! chunk, not the whole call. Imports in G.711 WAV are served as 16-bit PCM WAV (what every
//! browser plays) by decoding just the requested samples; 16-bit WAV, MP3, FLAC and Ogg
//! imports are served as stored, with their own media type. Live streams (RTP payloads on a
//! timeline) are rendered to WAV whole and kept in a small cache.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use archive::{ObjectKey, Placement, RegionStore};
use catalog::{RecordingDetail, Stream};
use model::StreamLabel;
use seal::{ContainerHeader, ContainerLayout, DataKey, KeyBinding, SealedDataKey};

use super::HttpState;
use super::error::HttpError;
use crate::live::server::LIVE_STREAM_CONTENT_TYPE;

/// Length of the PCM WAV header this module writes.
pub const PCM_WAV_HEADER_LEN: u64 = 44;
/// Streams whose rendering is kept (each at most a few MiB for a call of minutes).
const RENDER_CACHE_ENTRIES: usize = 16;

/// A stream whose key is open and whose container header has been read.
pub struct OpenStream<'a> {
    store: &'a RegionStore,
    placement: Placement,
    key: ObjectKey,
    data_key: DataKey,
    header: ContainerHeader,
    layout: ContainerLayout,
    pub stream: Stream,
}

impl std::fmt::Debug for OpenStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStream")
            .field("key", &self.key)
            .field("stream", &self.stream.label)
            .finish_non_exhaustive()
    }
}

impl OpenStream<'_> {
    pub fn plaintext_len(&self) -> u64 {
        self.layout.plaintext_len()
    }

    /// Plaintext bytes `range` (clamped), fetching only the chunks that hold them.
    pub async fn read(&self, range: Range<u64>) -> Result<Vec<u8>, HttpError> {
        let Some(object_range) = self.layout.object_range_for_plaintext(range.clone()) else {
            return Ok(Vec::new());
        };
        let fetched = self
            .store
            .get_range(&self.placement, &self.key, object_range)
            .await
            .map_err(HttpError::internal)?;
        seal::open_plaintext_range(&self.data_key, &self.header, &self.layout, range, &fetched)
            .map_err(|error| HttpError::internal(format!("stream {}: {error}", self.stream.label)))
    }

    pub async fn read_all(&self) -> Result<Vec<u8>, HttpError> {
        self.read(0..self.plaintext_len()).await
    }
}

/// Opens one stream of a recording the caller may read (tenant already checked).
pub async fn open<'a>(
    state: &'a HttpState,
    detail: &RecordingDetail,
    label: &str,
) -> Result<OpenStream<'a>, HttpError> {
    let recording = &detail.recording;
    let stream = detail
        .streams
        .iter()
        .find(|stream| stream.label.as_str() == label)
        .ok_or(HttpError::NotFound)?
        .clone();
    let app = state.app();
    let sealed = app
        .catalog
        .sealed_key(&recording.id)
        .await?
        .ok_or(HttpError::Gone)?;
    let private_key = state.private_key(&recording.tenant).ok_or_else(|| {
        HttpError::internal(format!("tenant {} has no unlocked key", recording.tenant))
    })?;
    let binding = KeyBinding {
        tenant: recording.tenant.clone(),
        recording: recording.id,
    };
    let data_key = SealedDataKey::from_bytes(&sealed)
        .and_then(|sealed| sealed.open(private_key, &binding))
        .map_err(HttpError::internal)?;
    let placement = Placement {
        tenant: recording.tenant.clone(),
        region: stream.region.clone(),
    };
    let store = app
        .archive
        .for_placement(&placement)
        .map_err(HttpError::internal)?;
    let key = ObjectKey::parse(&stream.object_key).map_err(HttpError::internal)?;
    let head_len = stream.object_size.min(seal::MAX_HEADER_LEN as u64);
    let head = store
        .get_range(&placement, &key, 0..head_len)
        .await
        .map_err(HttpError::internal)?;
    let (header, header_len) = ContainerHeader::parse(&head).map_err(HttpError::internal)?;
    if header.recording() != recording.id || header.stream() != &stream.label {
        return Err(HttpError::internal(format!(
            "object {} belongs to another recording or stream",
            stream.object_key
        )));
    }
    let layout = ContainerLayout::new(&header, header_len, stream.object_size)
        .map_err(HttpError::internal)?;
    Ok(OpenStream {
        store,
        placement,
        key,
        data_key,
        header,
        layout,
        stream,
    })
}

/// Where a WAV file's samples are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavLayout {
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
    pub data_offset: u64,
    pub data_len: u64,
}

/// Finds `fmt ` and `data` in the first bytes of a RIFF/WAVE file.
pub fn wav_layout(head: &[u8], file_len: u64) -> Option<WavLayout> {
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut offset = 12usize;
    let mut format = None;
    for _ in 0..64 {
        let id = head.get(offset..offset + 4)?;
        let size = u32::from_le_bytes(head.get(offset + 4..offset + 8)?.try_into().ok()?);
        let body = offset + 8;
        if id == b"fmt " {
            let fmt = head.get(body..body + 16)?;
            format = Some((
                u16::from_le_bytes([fmt[0], fmt[1]]),
                u16::from_le_bytes([fmt[2], fmt[3]]),
                u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]),
                u16::from_le_bytes([fmt[14], fmt[15]]),
            ));
        } else if id == b"data" {
            let (format_tag, channels, sample_rate, bits_per_sample) = format?;
            let data_offset = body as u64;
            let data_len = u64::from(size).min(file_len.saturating_sub(data_offset));
            return Some(WavLayout {
                format_tag,
                channels,
                sample_rate,
                bits_per_sample,
                data_offset,
                data_len,
            });
        }
        offset = body
            .checked_add(size as usize)?
            .checked_add(size as usize % 2)?;
    }
    None
}

/// G.711 companding laws (WAV format tags 7 and 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    Mulaw,
    Alaw,
}

impl Law {
    fn decode(self, code: u8) -> i16 {
        match self {
            Law::Mulaw => media::mulaw_to_linear(code),
            Law::Alaw => media::alaw_to_linear(code),
        }
    }
}

/// How the bytes a client asks for are produced.
#[derive(Debug, Clone)]
pub enum Source {
    /// The plaintext as stored, byte for byte.
    Stored { content_type: String },
    /// G.711 samples at `data_offset` served as 16-bit PCM WAV, decoded per range.
    Companded {
        law: Law,
        channels: u16,
        sample_rate: u32,
        data_offset: u64,
        data_len: u64,
    },
    /// Bytes made whole on the server (a rendered live stream, raw payloads).
    Rendered {
        content_type: String,
        bytes: Arc<Vec<u8>>,
    },
}

impl Source {
    pub fn content_type(&self) -> &str {
        match self {
            Source::Stored { content_type } | Source::Rendered { content_type, .. } => content_type,
            Source::Companded { .. } => "audio/wav",
        }
    }

    pub fn len(&self, open: &OpenStream<'_>) -> u64 {
        match self {
            Source::Stored { .. } => open.plaintext_len(),
            Source::Companded { data_len, .. } => PCM_WAV_HEADER_LEN + data_len * 2,
            Source::Rendered { bytes, .. } => bytes.len() as u64,
        }
    }

    /// The bytes `range` of what this source serves.
    pub async fn read(
        &self,
        open: &OpenStream<'_>,
        range: Range<u64>,
    ) -> Result<Vec<u8>, HttpError> {
        match self {
            Source::Stored { .. } => open.read(range).await,
            Source::Rendered { bytes, .. } => {
                let start = usize::try_from(range.start)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = usize::try_from(range.end)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(bytes[start..end.max(start)].to_vec())
            }
            Source::Companded {
                law,
                channels,
                sample_rate,
                data_offset,
                data_len,
            } => {
                let mut out = Vec::with_capacity((range.end - range.start) as usize);
                if range.start < PCM_WAV_HEADER_LEN {
                    let frames =
                        u32::try_from(data_len / u64::from((*channels).max(1))).unwrap_or(u32::MAX);
                    let header = pcm_wav_header(*sample_rate, *channels, frames);
                    let end = range.end.min(PCM_WAV_HEADER_LEN) as usize;
                    out.extend_from_slice(&header[range.start as usize..end]);
                }
                let start = range.start.max(PCM_WAV_HEADER_LEN) - PCM_WAV_HEADER_LEN;
                let end = range.end.max(PCM_WAV_HEADER_LEN) - PCM_WAV_HEADER_LEN;
                if end > start {
                    // Output byte k is byte k % 2 of sample k / 2.
                    let first = start / 2;
                    let last = end.div_ceil(2).min(*data_len);
                    let codes = open.read(data_offset + first..data_offset + last).await?;
                    let mut pcm = Vec::with_capacity(codes.len() * 2);
                    for code in codes {
                        pcm.extend_from_slice(&law.decode(code).to_le_bytes());
                    }
                    let skip = (start - first * 2) as usize;
                    let keep = (end - start) as usize;
                    out.extend(pcm.into_iter().skip(skip).take(keep));
                }
                Ok(out)
            }
        }
    }
}

/// The 44-byte header of a 16-bit PCM WAV file.
pub fn pcm_wav_header(sample_rate: u32, channels: u16, frames: u32) -> [u8; 44] {
    let block_align = channels.saturating_mul(2);
    let data_len = frames.saturating_mul(u32::from(block_align));
    let mut header = [0u8; 44];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &data_len.saturating_add(36).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &channels.to_le_bytes(),
        &sample_rate.to_le_bytes(),
        &sample_rate
            .saturating_mul(u32::from(block_align))
            .to_le_bytes(),
        &block_align.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data_len.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// What the `audio` endpoint serves for a stream.
pub async fn audio_source(
    state: &HttpState,
    open: &OpenStream<'_>,
    detail: &RecordingDetail,
) -> Result<Source, HttpError> {
    let stream = &open.stream;
    if stream.content_type == LIVE_STREAM_CONTENT_TYPE {
        let bytes = state
            .rendered(detail.recording.id, &stream.label, "wav", || async {
                let plaintext = open.read_all().await?;
                let mut wav = Vec::new();
                media::render_wav(&plaintext, &media::RenderOptions::default(), &mut wav)
                    .map_err(|error| HttpError::Unsupported(format!("cannot render: {error}")))?;
                Ok(wav)
            })
            .await?;
        return Ok(Source::Rendered {
            content_type: "audio/wav".into(),
            bytes,
        });
    }
    let format = detail
        .recording
        .details
        .get("format")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let sample_rate = detail
        .recording
        .details
        .get("sample_rate")
        .and_then(serde_json::Value::as_u64)
        .and_then(|rate| u32::try_from(rate).ok())
        .unwrap_or(8_000);
    let channels = detail
        .recording
        .details
        .get("channels")
        .and_then(serde_json::Value::as_u64)
        .and_then(|channels| u16::try_from(channels).ok())
        .unwrap_or(1)
        .max(1);
    let raw = |law| Source::Companded {
        law,
        channels,
        sample_rate,
        data_offset: 0,
        data_len: open.plaintext_len(),
    };
    match format {
        "raw-pcmu" => Ok(raw(Law::Mulaw)),
        "raw-pcma" => Ok(raw(Law::Alaw)),
        "wav-mulaw" | "wav-alaw" => {
            let head = open.read(0..4096).await?;
            let layout = wav_layout(&head, open.plaintext_len())
                .ok_or_else(|| HttpError::internal("stored WAV header unreadable"))?;
            Ok(Source::Companded {
                law: if format == "wav-mulaw" {
                    Law::Mulaw
                } else {
                    Law::Alaw
                },
                channels: layout.channels.max(1),
                sample_rate: layout.sample_rate,
                data_offset: layout.data_offset,
                data_len: layout.data_len,
            })
        }
        _ => Ok(Source::Stored {
            content_type: stream.content_type.clone(),
        }),
    }
}

/// What the `original` endpoint serves: the stored file of an import; the RTP payloads as
/// received (arrival order) of a live stream.
pub async fn original_source(
    state: &HttpState,
    open: &OpenStream<'_>,
    detail: &RecordingDetail,
) -> Result<Source, HttpError> {
    let stream = &open.stream;
    if stream.content_type != LIVE_STREAM_CONTENT_TYPE {
        return Ok(Source::Stored {
            content_type: stream.content_type.clone(),
        });
    }
    let bytes = state
        .rendered(detail.recording.id, &stream.label, "payload", || async {
            let plaintext = open.read_all().await?;
            media::raw_payloads(&plaintext, media::PayloadOrder::Arrival)
                .map(|raw| raw.bytes)
                .map_err(|error| HttpError::Unsupported(format!("cannot read payloads: {error}")))
        })
        .await?;
    Ok(Source::Rendered {
        content_type: "application/octet-stream".into(),
        bytes,
    })
}

/// Peaks of each channel: the largest absolute sample per bucket, from 0 to 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Peaks {
    pub sample_rate: u32,
    pub duration_ms: u64,
    pub buckets: usize,
    /// One list per channel, `buckets` values each.
    pub channels: Vec<Vec<f32>>,
}

/// Computes peaks of what the `audio` endpoint serves (WAV sources only).
pub async fn peaks(
    open: &OpenStream<'_>,
    source: &Source,
    buckets: usize,
) -> Result<Peaks, HttpError> {
    let (samples, channels, sample_rate): (Vec<i16>, u16, u32) = match source {
        Source::Companded {
            law,
            channels,
            sample_rate,
            data_offset,
            data_len,
        } => {
            let codes = open.read(*data_offset..data_offset + data_len).await?;
            (
                codes.into_iter().map(|code| law.decode(code)).collect(),
                *channels,
                *sample_rate,
            )
        }
        Source::Rendered { bytes, .. } => pcm_samples(bytes)?,
        Source::Stored { content_type } if content_type == "audio/wav" => {
            pcm_samples(&open.read_all().await?)?
        }
        Source::Stored { content_type } => {
            return Err(HttpError::Unsupported(format!(
                "no waveform for {content_type}; play it instead"
            )));
        }
    };
    Ok(bucket_peaks(&samples, channels, sample_rate, buckets))
}

fn pcm_samples(wav: &[u8]) -> Result<(Vec<i16>, u16, u32), HttpError> {
    let layout = wav_layout(wav, wav.len() as u64)
        .filter(|layout| layout.format_tag == 1 && layout.bits_per_sample == 16)
        .ok_or_else(|| HttpError::Unsupported("not a 16-bit PCM WAV".into()))?;
    let start = layout.data_offset as usize;
    let end = start + layout.data_len as usize;
    let samples = wav
        .get(start..end)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    Ok((samples, layout.channels.max(1), layout.sample_rate))
}

/// Splits interleaved samples into `buckets` per channel and keeps each bucket's peak.
pub fn bucket_peaks(samples: &[i16], channels: u16, sample_rate: u32, buckets: usize) -> Peaks {
    let channels = usize::from(channels.max(1));
    let frames = samples.len() / channels;
    let buckets = buckets.max(1);
    let mut peaks = vec![vec![0f32; buckets]; channels];
    for (frame, values) in samples.chunks_exact(channels).enumerate() {
        let bucket = (frame * buckets / frames.max(1)).min(buckets - 1);
        for (channel, sample) in values.iter().enumerate() {
            let level = f32::from(sample.unsigned_abs().min(32_767)) / 32_767.0;
            if level > peaks[channel][bucket] {
                peaks[channel][bucket] = level;
            }
        }
    }
    for channel in &mut peaks {
        for value in channel.iter_mut() {
            *value = (*value * 1000.0).round() / 1000.0;
        }
    }
    Peaks {
        sample_rate,
        duration_ms: (frames as u64 * 1000) / u64::from(sample_rate.max(1)),
        buckets,
        channels: peaks,
    }
}

/// Rendered bytes of recent streams, most recent last.
#[derive(Debug, Default)]
pub struct RenderCache {
    entries: VecDeque<(String, Arc<Vec<u8>>)>,
}

impl RenderCache {
    pub fn key(recording: model::RecordingId, label: &StreamLabel, kind: &str) -> String {
        format!("{recording}/{label}/{kind}")
    }

    pub fn get(&mut self, key: &str) -> Option<Arc<Vec<u8>>> {
        let index = self
            .entries
            .iter()
            .position(|(candidate, _)| candidate == key)?;
        let entry = self.entries.remove(index)?;
        let bytes = Arc::clone(&entry.1);
        self.entries.push_back(entry);
        Some(bytes)
    }

    pub fn put(&mut self, key: String, bytes: Arc<Vec<u8>>) {
        self.entries.retain(|(candidate, _)| *candidate != key);
        if self.entries.len() >= RENDER_CACHE_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back((key, bytes));
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a test fails by panicking
mod tests {
    use super::*;

    #[test]
    fn wav_layout_finds_data_after_fact_chunk() {
        let wav = crate::synth::two_party_mulaw_wav(1, 1);
        let layout = wav_layout(&wav, wav.len() as u64).expect("layout");
        assert_eq!(layout.format_tag, 7);
        assert_eq!(layout.channels, 2);
        assert_eq!(layout.sample_rate, 8_000);
        assert_eq!(layout.data_offset, 58);
        assert_eq!(layout.data_len, 16_000);
    }

    #[test]
    fn pcm_header_describes_the_data() {
        let header = pcm_wav_header(8_000, 2, 100);
        let layout = wav_layout(&header, 44 + 400).expect("layout");
        assert_eq!(
            (layout.format_tag, layout.channels, layout.bits_per_sample),
            (1, 2, 16)
        );
        assert_eq!((layout.data_offset, layout.data_len), (44, 400));
    }

    #[test]
    fn peaks_keep_each_channels_loudest_sample_per_bucket() {
        let samples = [0i16, 100, 32_767, -5, 0, 0, -32_768, 7];
        let peaks = bucket_peaks(&samples, 2, 8_000, 2);
        assert_eq!(peaks.channels, vec![vec![1.0, 1.0], vec![0.003, 0.0]]);
    }
}
