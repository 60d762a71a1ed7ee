//! Reader of CTranslate2 `model.bin` files (binary version 6), the format faster-whisper
//! models ship in. Bounded and panic-free: every length is checked against what is left of
//! the file and against fixed caps before anything is allocated.
//!
//! Layout (little-endian): `u32 version` (6), string spec name, `u32 spec revision`,
//! `u32 variable count`; per variable: string name, `u8 rank`, `rank × u32 dims`,
//! `u8 dtype`, `u32 byte count`, data; then `u32 alias count` and (alias, target) string
//! pairs. A string is `u16 length including the NUL`, the bytes, then the NUL.

use std::collections::BTreeMap;

/// The only binary version this reader accepts.
pub const CT2_BINARY_VERSION: u32 = 6;
/// At most this many variables (large-v3 has about 1,500).
const MAX_VARIABLES: u32 = 100_000;
/// At most this many aliases.
const MAX_ALIASES: u32 = 100_000;
/// Highest tensor rank accepted.
const MAX_RANK: u8 = 8;

/// Why a CTranslate2 file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ct2Error {
    #[error("file ends early at byte {offset} while reading {what}")]
    Truncated { offset: usize, what: &'static str },
    #[error("unsupported CTranslate2 binary version {0} (only 6 is read)")]
    Version(u32),
    #[error("{what} count {count} is over the limit")]
    TooMany { what: &'static str, count: u32 },
    #[error("string at byte {offset} is not NUL-terminated UTF-8")]
    BadString { offset: usize },
    #[error("variable {name:?} has rank {rank}, over the limit of 8")]
    Rank { name: String, rank: u8 },
    #[error("variable {name:?} has unknown data type code {code}")]
    DataType { name: String, code: u8 },
    #[error(
        "variable {name:?} is quantized ({dtype:?}); only float16/float32/bfloat16 models are supported"
    )]
    Quantized { name: String, dtype: DataType },
    #[error("variable {name:?}: {bytes} bytes do not match its shape {shape:?}")]
    Size {
        name: String,
        shape: Vec<usize>,
        bytes: usize,
    },
    #[error("duplicate variable {0:?}")]
    Duplicate(String),
    #[error("alias {alias:?} points at unknown variable {target:?}")]
    Alias { alias: String, target: String },
    #[error("{0} trailing bytes after the alias table")]
    Trailing(usize),
}

/// Element type of a stored variable (CTranslate2's `DataType` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Float32,
    Int8,
    Int16,
    Int32,
    Float16,
    BFloat16,
}

impl DataType {
    fn from_code(code: u8) -> Option<DataType> {
        Some(match code {
            0 => DataType::Float32,
            1 => DataType::Int8,
            2 => DataType::Int16,
            3 => DataType::Int32,
            4 => DataType::Float16,
            5 => DataType::BFloat16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DataType::Int8 => 1,
            DataType::Int16 | DataType::Float16 | DataType::BFloat16 => 2,
            DataType::Float32 | DataType::Int32 => 4,
        }
    }
}

/// One stored tensor (or scalar, when the shape is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub shape: Vec<usize>,
    pub dtype: DataType,
    pub data: Vec<u8>,
}

impl Variable {
    /// Number of elements (1 for a scalar).
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as f32. Integer types are converted exactly (small config scalars).
    pub fn to_f32(&self) -> Vec<f32> {
        match self.dtype {
            DataType::Float32 => self
                .data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            DataType::Float16 => self
                .data
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            DataType::BFloat16 => self
                .data
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
            DataType::Int8 => self.data.iter().map(|&b| f32::from(b as i8)).collect(),
            DataType::Int16 => self
                .data
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])))
                .collect(),
            DataType::Int32 => self
                .data
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
                .collect(),
        }
    }

    /// The value of a scalar variable as an integer, if it is one.
    pub fn scalar_integer(&self) -> Option<i64> {
        if !self.shape.is_empty() {
            return None;
        }
        let value = *self.to_f32().first()?;
        (value.fract() == 0.0).then_some(value as i64)
    }
}

/// IEEE 754 binary16 → binary32, exact (subnormals, infinities and NaN included).
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match (exponent, mantissa) {
        (0, 0) => 0,
        (0, _) => {
            // Subnormal: value = mantissa × 2^-24, exactly representable in f32.
            let value = mantissa as f32 * (-24f32).exp2();
            return if sign == 0 { value } else { -value };
        }
        (0x1f, 0) => 0x7f80_0000,
        (0x1f, _) => 0x7fc0_0000 | (mantissa << 13),
        _ => ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(sign | magnitude)
}

/// A parsed `model.bin`: spec name and revision, variables by name, aliases.
#[derive(Debug, Clone, PartialEq)]
pub struct Ct2Model {
    pub spec: String,
    pub revision: u32,
    pub variables: BTreeMap<String, Variable>,
    /// Alias name → target variable name (e.g. `decoder/projection/weight` →
    /// `decoder/embeddings/weight`).
    pub aliases: BTreeMap<String, String>,
}

impl Ct2Model {
    /// Parses a whole file. Quantized (int8/int16) weight tensors are refused; integer
    /// scalars (config values such as `encoder/num_heads`) are kept.
    pub fn parse(bytes: &[u8]) -> Result<Ct2Model, Ct2Error> {
        let mut reader = Reader { bytes, offset: 0 };
        let version = reader.u32("version")?;
        if version != CT2_BINARY_VERSION {
            return Err(Ct2Error::Version(version));
        }
        let spec = reader.string()?;
        let revision = reader.u32("spec revision")?;
        let count = reader.u32("variable count")?;
        if count > MAX_VARIABLES {
            return Err(Ct2Error::TooMany {
                what: "variable",
                count,
            });
        }
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = reader.string()?;
            let rank = reader.u8("rank")?;
            if rank > MAX_RANK {
                return Err(Ct2Error::Rank { name, rank });
            }
            let mut shape = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                shape.push(reader.u32("dimension")? as usize);
            }
            let code = reader.u8("data type")?;
            let dtype = DataType::from_code(code).ok_or_else(|| Ct2Error::DataType {
                name: name.clone(),
                code,
            })?;
            let byte_count = reader.u32("byte count")? as usize;
            let expected = shape
                .iter()
                .try_fold(dtype.size(), |acc, &dim| acc.checked_mul(dim));
            if expected != Some(byte_count) {
                return Err(Ct2Error::Size {
                    name,
                    shape,
                    bytes: byte_count,
                });
            }
            if matches!(dtype, DataType::Int8 | DataType::Int16) && !shape.is_empty() {
                return Err(Ct2Error::Quantized { name, dtype });
            }
            let data = reader.take(byte_count, "variable data")?.to_vec();
            let variable = Variable { shape, dtype, data };
            if variables.insert(name.clone(), variable).is_some() {
                return Err(Ct2Error::Duplicate(name));
            }
        }
        let alias_count = reader.u32("alias count")?;
        if alias_count > MAX_ALIASES {
            return Err(Ct2Error::TooMany {
                what: "alias",
                count: alias_count,
            });
        }
        let mut aliases = BTreeMap::new();
        for _ in 0..alias_count {
            let alias = reader.string()?;
            let target = reader.string()?;
            if !variables.contains_key(&target) {
                return Err(Ct2Error::Alias { alias, target });
            }
            aliases.insert(alias, target);
        }
        let trailing = bytes.len() - reader.offset;
        if trailing != 0 {
            return Err(Ct2Error::Trailing(trailing));
        }
        Ok(Ct2Model {
            spec,
            revision,
            variables,
            aliases,
        })
    }

    /// A variable by name, following an alias if the name is one.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.get(name).or_else(|| {
            self.aliases
                .get(name)
                .and_then(|target| self.variables.get(target))
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, what: &'static str) -> Result<&'a [u8], Ct2Error> {
        let end = self
            .offset
            .checked_add(count)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Ct2Error::Truncated {
                offset: self.offset,
                what,
            })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Ct2Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Ct2Error> {
        let bytes = self.take(2, what)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Ct2Error> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn string(&mut self) -> Result<String, Ct2Error> {
        let offset = self.offset;
        let length = usize::from(self.u16("string length")?);
        let bytes = self.take(length, "string")?;
        match bytes.split_last() {
            Some((0, text)) => std::str::from_utf8(text)
                .map(str::to_owned)
                .map_err(|_| Ct2Error::BadString { offset }),
            _ => Err(Ct2Error::BadString { offset }),
        }
    }
}

/// Writes a CTranslate2 v6 file (used by tests and to build fixtures; the format above).
#[derive(Debug, Default)]
pub struct Ct2Writer {
    variables: Vec<(String, Vec<usize>, u8, Vec<u8>)>,
    aliases: Vec<(String, String)>,
}

impl Ct2Writer {
    pub fn new() -> Ct2Writer {
        Ct2Writer::default()
    }

    /// Adds a variable with a raw CTranslate2 type code and little-endian data.
    pub fn raw(&mut self, name: &str, shape: &[usize], code: u8, data: Vec<u8>) -> &mut Self {
        self.variables
            .push((name.to_owned(), shape.to_vec(), code, data));
        self
    }

    pub fn f32(&mut self, name: &str, shape: &[usize], values: &[f32]) -> &mut Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, shape, 0, data)
    }

    /// Adds a float16 variable from raw binary16 bit patterns.
    pub fn f16_bits(&mut self, name: &str, shape: &[usize], bits: &[u16]) -> &mut Self {
        let data = bits.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, shape, 4, data)
    }

    pub fn i16_scalar(&mut self, name: &str, value: i16) -> &mut Self {
        self.raw(name, &[], 2, value.to_le_bytes().to_vec())
    }

    pub fn alias(&mut self, alias: &str, target: &str) -> &mut Self {
        self.aliases.push((alias.to_owned(), target.to_owned()));
        self
    }

    pub fn finish(&self, spec: &str, revision: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&CT2_BINARY_VERSION.to_le_bytes());
        write_string(&mut out, spec);
        out.extend_from_slice(&revision.to_le_bytes());
        out.extend_from_slice(&(self.variables.len() as u32).to_le_bytes());
        for (name, shape, code, data) in &self.variables {
            write_string(&mut out, name);
            out.push(shape.len() as u8);
            for &dim in shape {
                out.extend_from_slice(&(dim as u32).to_le_bytes());
            }
            out.push(*code);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out.extend_from_slice(&(self.aliases.len() as u32).to_le_bytes());
        for (alias, target) in &self.aliases {
            write_string(&mut out, alias);
            write_string(&mut out, target);
        }
        out
    }
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&((text.len() + 1) as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.push(0);
}
