//! CTranslate2 Whisper variables → the Hugging Face tensor names candle's Whisper model
//! loads, and the model [`Config`] read from tensor shapes. Also the shape-exact
//! random-weight model used to benchmark shapes no weights file is at hand for.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::whisper::Config;

use crate::TranscribeError;
use crate::ct2::Ct2Model;

/// Whisper's encoder context: 1,500 positions (30 s at 50 frames per second after conv2).
pub const MAX_SOURCE_POSITIONS: usize = 1_500;

fn model_error(reason: impl Into<String>) -> TranscribeError {
    TranscribeError::Model {
        path: "model.bin".to_owned(),
        reason: reason.into(),
    }
}

fn inference(error: candle_core::Error) -> TranscribeError {
    TranscribeError::Inference(error.to_string())
}

/// The shape of a Whisper model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperShape {
    pub num_mel_bins: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_heads: usize,
    pub decoder_heads: usize,
    pub vocab_size: usize,
    pub max_target_positions: usize,
}

impl WhisperShape {
    /// Whisper large-v3-turbo: 32 encoder layers, 4 decoder layers, d = 1280, 20 heads,
    /// 128 mel bins, 51,866 tokens.
    pub const LARGE_V3_TURBO: WhisperShape = WhisperShape {
        num_mel_bins: 128,
        d_model: 1_280,
        encoder_layers: 32,
        decoder_layers: 4,
        encoder_heads: 20,
        decoder_heads: 20,
        vocab_size: 51_866,
        max_target_positions: 448,
    };
    /// Whisper base: 6 + 6 layers, d = 512, 8 heads, 80 mel bins.
    pub const BASE: WhisperShape = WhisperShape {
        num_mel_bins: 80,
        d_model: 512,
        encoder_layers: 6,
        decoder_layers: 6,
        encoder_heads: 8,
        decoder_heads: 8,
        vocab_size: 51_865,
        max_target_positions: 448,
    };
    /// Whisper tiny.en: 4 + 4 layers, d = 384, 6 heads, 80 mel bins.
    pub const TINY_EN: WhisperShape = WhisperShape {
        num_mel_bins: 80,
        d_model: 384,
        encoder_layers: 4,
        decoder_layers: 4,
        encoder_heads: 6,
        decoder_heads: 6,
        vocab_size: 51_864,
        max_target_positions: 448,
    };

    pub fn config(&self) -> Config {
        Config {
            num_mel_bins: self.num_mel_bins,
            max_source_positions: MAX_SOURCE_POSITIONS,
            d_model: self.d_model,
            encoder_attention_heads: self.encoder_heads,
            encoder_layers: self.encoder_layers,
            vocab_size: self.vocab_size,
            max_target_positions: self.max_target_positions,
            decoder_attention_heads: self.decoder_heads,
            decoder_layers: self.decoder_layers,
            suppress_tokens: Vec::new(),
        }
    }

    /// Every tensor candle's Whisper loads, with its shape (the encoder's positional
    /// embedding is computed by candle and not listed).
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let n = self.d_model;
        let mut shapes = vec![
            (
                "model.encoder.conv1.weight".to_owned(),
                vec![n, self.num_mel_bins, 3],
            ),
            ("model.encoder.conv1.bias".to_owned(), vec![n]),
            ("model.encoder.conv2.weight".to_owned(), vec![n, n, 3]),
            ("model.encoder.conv2.bias".to_owned(), vec![n]),
            (
                "model.decoder.embed_tokens.weight".to_owned(),
                vec![self.vocab_size, n],
            ),
            (
                "model.decoder.embed_positions.weight".to_owned(),
                vec![self.max_target_positions, n],
            ),
        ];
        for side in ["encoder", "decoder"] {
            shapes.push((format!("model.{side}.layer_norm.weight"), vec![n]));
            shapes.push((format!("model.{side}.layer_norm.bias"), vec![n]));
            let layers = if side == "encoder" {
                self.encoder_layers
            } else {
                self.decoder_layers
            };
            for layer in 0..layers {
                let prefix = format!("model.{side}.layers.{layer}");
                let mut attention = vec!["self_attn"];
                if side == "decoder" {
                    attention.push("encoder_attn");
                }
                for block in attention {
                    for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                        shapes.push((format!("{prefix}.{block}.{projection}.weight"), vec![n, n]));
                        if projection != "k_proj" {
                            shapes.push((format!("{prefix}.{block}.{projection}.bias"), vec![n]));
                        }
                    }
                    shapes.push((format!("{prefix}.{block}_layer_norm.weight"), vec![n]));
                    shapes.push((format!("{prefix}.{block}_layer_norm.bias"), vec![n]));
                }
                shapes.push((format!("{prefix}.fc1.weight"), vec![4 * n, n]));
                shapes.push((format!("{prefix}.fc1.bias"), vec![4 * n]));
                shapes.push((format!("{prefix}.fc2.weight"), vec![n, 4 * n]));
                shapes.push((format!("{prefix}.fc2.bias"), vec![n]));
                shapes.push((format!("{prefix}.final_layer_norm.weight"), vec![n]));
                shapes.push((format!("{prefix}.final_layer_norm.bias"), vec![n]));
            }
        }
        shapes
    }

    /// Random weights of exactly this shape (normal, σ = 0.02; layer norms at 1 and 0):
    /// for throughput measurements that need no weights file.
    pub fn random_tensors(
        &self,
        dtype: DType,
        device: &Device,
    ) -> Result<HashMap<String, Tensor>, TranscribeError> {
        let mut tensors = HashMap::new();
        for (name, shape) in self.tensor_shapes() {
            let tensor = if name.contains("layer_norm.weight") {
                Tensor::ones(shape.as_slice(), dtype, device)
            } else if name.contains("layer_norm.bias") {
                Tensor::zeros(shape.as_slice(), dtype, device)
            } else {
                Tensor::randn(0f32, 0.02, shape.as_slice(), device).and_then(|t| t.to_dtype(dtype))
            }
            .map_err(inference)?;
            tensors.insert(name, tensor);
        }
        Ok(tensors)
    }
}

/// Reads the shape of a CTranslate2 Whisper model from its variables.
pub fn shape_of(model: &Ct2Model) -> Result<WhisperShape, TranscribeError> {
    let dims = |name: &str| -> Result<Vec<usize>, TranscribeError> {
        model
            .variable(name)
            .map(|variable| variable.shape.clone())
            .ok_or_else(|| model_error(format!("variable {name} is missing")))
    };
    let embeddings = dims("decoder/embeddings/weight")?;
    let conv1 = dims("encoder/conv1/weight")?;
    let positions = dims("decoder/position_encodings/encodings")?;
    let (&[vocab_size, d_model], &[_, num_mel_bins, 3], &[max_target_positions, _]) = (
        embeddings.as_slice(),
        conv1.as_slice(),
        positions.as_slice(),
    ) else {
        return Err(model_error(
            "embedding, conv1 or position shapes are not Whisper's",
        ));
    };
    let count_layers = |side: &str| {
        (0..)
            .take_while(|layer| {
                model.variables.contains_key(&format!(
                    "{side}/layer_{layer}/self_attention/linear_0/weight"
                ))
            })
            .count()
    };
    let heads = |name: &str| {
        model
            .variable(name)
            .and_then(|variable| variable.scalar_integer())
            .filter(|&heads| heads > 0)
            .map_or(d_model / 64, |heads| heads as usize)
    };
    let shape = WhisperShape {
        num_mel_bins,
        d_model,
        encoder_layers: count_layers("encoder"),
        decoder_layers: count_layers("decoder"),
        encoder_heads: heads("encoder/num_heads"),
        decoder_heads: heads("decoder/num_heads"),
        vocab_size,
        max_target_positions,
    };
    let sane = shape.d_model > 0
        && shape.encoder_layers > 0
        && shape.decoder_layers > 0
        && shape.encoder_heads > 0
        && shape.d_model.is_multiple_of(shape.encoder_heads)
        && shape.decoder_heads > 0
        && shape.d_model.is_multiple_of(shape.decoder_heads);
    if !sane {
        return Err(model_error(format!("implausible model shape {shape:?}")));
    }
    Ok(shape)
}

/// Converts a CTranslate2 Whisper model to candle tensors named as candle expects.
pub fn candle_tensors(
    model: &Ct2Model,
    shape: &WhisperShape,
    dtype: DType,
    device: &Device,
) -> Result<HashMap<String, Tensor>, TranscribeError> {
    let n = shape.d_model;
    let mut out = HashMap::new();
    let mut put = |target: String, source: &str, rows: Option<(usize, usize)>| {
        let variable = model
            .variable(source)
            .ok_or_else(|| model_error(format!("variable {source} is missing")))?;
        let values = variable.to_f32();
        let tensor = Tensor::from_vec(values, variable.shape.as_slice(), &Device::Cpu)
            .and_then(|tensor| match rows {
                Some((start, length)) => tensor.narrow(0, start, length),
                None => Ok(tensor),
            })
            .and_then(|tensor| tensor.to_dtype(dtype))
            .and_then(|tensor| tensor.to_device(device))
            .map_err(|error| model_error(format!("{source}: {error}")))?;
        out.insert(target, tensor);
        Ok::<(), TranscribeError>(())
    };
    for conv in ["conv1", "conv2"] {
        for part in ["weight", "bias"] {
            put(
                format!("model.encoder.{conv}.{part}"),
                &format!("encoder/{conv}/{part}"),
                None,
            )?;
        }
    }
    for side in ["encoder", "decoder"] {
        put(
            format!("model.{side}.layer_norm.weight"),
            &format!("{side}/layer_norm/gamma"),
            None,
        )?;
        put(
            format!("model.{side}.layer_norm.bias"),
            &format!("{side}/layer_norm/beta"),
            None,
        )?;
        let layers = if side == "encoder" {
            shape.encoder_layers
        } else {
            shape.decoder_layers
        };
        for layer in 0..layers {
            let source = format!("{side}/layer_{layer}");
            let target = format!("model.{side}.layers.{layer}");
            // Fused q, k, v of self-attention: rows 0..n, n..2n, 2n..3n (k has no bias).
            let fused = format!("{source}/self_attention/linear_0");
            for (index, projection) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                put(
                    format!("{target}.self_attn.{projection}.weight"),
                    &format!("{fused}/weight"),
                    Some((index * n, n)),
                )?;
                if *projection != "k_proj" {
                    put(
                        format!("{target}.self_attn.{projection}.bias"),
                        &format!("{fused}/bias"),
                        Some((index * n, n)),
                    )?;
                }
            }
            linear(
                &mut put,
                &format!("{target}.self_attn.out_proj"),
                &format!("{source}/self_attention/linear_1"),
            )?;
            norm(
                &mut put,
                &format!("{target}.self_attn_layer_norm"),
                &format!("{source}/self_attention/layer_norm"),
            )?;
            if side == "decoder" {
                linear(
                    &mut put,
                    &format!("{target}.encoder_attn.q_proj"),
                    &format!("{source}/attention/linear_0"),
                )?;
                // Fused k, v of cross-attention: rows 0..n and n..2n (k has no bias).
                let fused = format!("{source}/attention/linear_1");
                put(
                    format!("{target}.encoder_attn.k_proj.weight"),
                    &format!("{fused}/weight"),
                    Some((0, n)),
                )?;
                put(
                    format!("{target}.encoder_attn.v_proj.weight"),
                    &format!("{fused}/weight"),
                    Some((n, n)),
                )?;
                put(
                    format!("{target}.encoder_attn.v_proj.bias"),
                    &format!("{fused}/bias"),
                    Some((n, n)),
                )?;
                linear(
                    &mut put,
                    &format!("{target}.encoder_attn.out_proj"),
                    &format!("{source}/attention/linear_2"),
                )?;
                norm(
                    &mut put,
                    &format!("{target}.encoder_attn_layer_norm"),
                    &format!("{source}/attention/layer_norm"),
                )?;
            }
            linear(
                &mut put,
                &format!("{target}.fc1"),
                &format!("{source}/ffn/linear_0"),
            )?;
            linear(
                &mut put,
                &format!("{target}.fc2"),
                &format!("{source}/ffn/linear_1"),
            )?;
            norm(
                &mut put,
                &format!("{target}.final_layer_norm"),
                &format!("{source}/ffn/layer_norm"),
            )?;
        }
    }
    put(
        "model.decoder.embed_tokens.weight".to_owned(),
        "decoder/embeddings/weight",
        None,
    )?;
    put(
        "model.decoder.embed_positions.weight".to_owned(),
        "decoder/position_encodings/encodings",
        None,
    )?;
    Ok(out)
}

type Put<'a> = dyn FnMut(String, &str, Option<(usize, usize)>) -> Result<(), TranscribeError> + 'a;

fn linear(put: &mut Put<'_>, target: &str, source: &str) -> Result<(), TranscribeError> {
    put(
        format!("{target}.weight"),
        &format!("{source}/weight"),
        None,
    )?;
    put(format!("{target}.bias"), &format!("{source}/bias"), None)
}

fn norm(put: &mut Put<'_>, target: &str, source: &str) -> Result<(), TranscribeError> {
    put(format!("{target}.weight"), &format!("{source}/gamma"), None)?;
    put(format!("{target}.bias"), &format!("{source}/beta"), None)
}
