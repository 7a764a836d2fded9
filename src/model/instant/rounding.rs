//! The shipped int8 graphs' activation rounding, reproduced.
//!
//! The ONNX graphs the weights come from round almost every tensor to 8 bits (about 260 points:
//! each convolution's output, each step of every instance norm, the style vector). The engine
//! paints in float (see docs/performance.md, "The instant look": the last rounding before the
//! sigmoid bands smooth gradients), but with an [`Int8Rounding`] table (written by
//! `tools/convert_instant_weights.py` from the graphs) its generic path rounds at the same
//! points as ONNX's `QuantizeLinear` then `DequantizeLinear` do, which checks every weight and
//! every step of the arithmetic against onnxruntime's own output.

use std::collections::HashMap;

use candle_core::Tensor;
use safetensors::SafeTensors;

use crate::error::{Error, Result};

/// Where and how finely the int8 graphs round their activations: tensor name -> (scale, zero
/// point), as 8-bit signed integers.
#[derive(Debug, Clone, Default)]
pub struct Int8Rounding {
    points: HashMap<String, (f32, f32)>,
}

impl Int8Rounding {
    /// Reads a table of `[scale, zero point]` pairs (f32) stored under the rounded tensors'
    /// names, as the conversion script writes it.
    pub fn load(bytes: &[u8], source_name: &str) -> Result<Self> {
        let fail = |reason: String| Error::Weights { source_name: source_name.into(), reason };
        let st = SafeTensors::deserialize(bytes).map_err(|e| fail(format!("not a safetensors file ({e})")))?;
        let mut points = HashMap::new();
        for (name, view) in st.tensors() {
            let pair: Vec<f32> = match (view.dtype(), view.shape()) {
                (safetensors::Dtype::F32, [2]) => {
                    view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
                }
                _ => return Err(fail(format!("{name} is not two f32 numbers"))),
            };
            let (scale, zero) = (pair[0], pair[1]);
            if !(scale.is_finite() && scale > 0.0 && (-128.0..=127.0).contains(&zero)) {
                return Err(fail(format!("{name}: scale {scale}, zero point {zero}")));
            }
            points.insert(name, (scale, zero));
        }
        Ok(Int8Rounding { points })
    }

    /// `x` rounded at the point `name`: `(clamp(round(x / scale) + zero, -128, 127) - zero) *
    /// scale`, ties to even, in f32 as onnxruntime computes it.
    fn round(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let &(scale, zero) =
            self.points.get(name).ok_or_else(|| Error::internal(format!("no int8 rounding for {name}")))?;
        let values: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let rounded: Vec<f32> = values
            .into_iter()
            .map(|v| ((v / scale).round_ties_even() + zero).clamp(-128.0, 127.0))
            .map(|q| (q - zero) * scale)
            .collect();
        Ok(Tensor::from_vec(rounded, x.shape(), x.device())?)
    }
}

/// `x` rounded at `name` when the int8 graphs are reproduced, else `x` itself.
pub(crate) fn at(rounding: Option<&Int8Rounding>, x: Tensor, name: &str) -> Result<Tensor> {
    match rounding {
        Some(r) => r.round(&x, name),
        None => Ok(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn table(scale: f32, zero: f32) -> Int8Rounding {
        Int8Rounding { points: HashMap::from([("p".to_string(), (scale, zero))]) }
    }

    #[test]
    fn rounding_snaps_to_the_grid_ties_to_even_and_saturates() {
        let x = Tensor::new(&[0.25f32, 0.75, 0.3, -100.0, 100.0], &Device::Cpu).unwrap();
        let y: Vec<f32> = table(0.5, 0.0).round(&x, "p").unwrap().to_vec1().unwrap();
        // 0.5 and 1.5 steps tie to 0 and 2; 0.3 is 0.6 of a step; +-200 steps saturate.
        assert_eq!(y, vec![0.0, 1.0, 0.5, -64.0, 63.5]);
        let y: Vec<f32> = table(0.5, -128.0).round(&x, "p").unwrap().to_vec1().unwrap();
        assert_eq!(y[3], 0.0, "a zero point of -128 keeps only non-negative values");
    }

    #[test]
    fn a_missing_point_is_an_internal_error_and_no_table_passes_through() {
        let x = Tensor::new(&[0.3f32], &Device::Cpu).unwrap();
        assert!(table(0.5, 0.0).round(&x, "elsewhere").is_err());
        let same: Vec<f32> = at(None, x, "elsewhere").unwrap().to_vec1().unwrap();
        assert_eq!(same, vec![0.3]);
    }
}
