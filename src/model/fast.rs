//! The CPU fast path of [`Vgg`]: the same forward and input-gradient maths as the generic candle
//! path, on channels-last buffers with the convolutions of [`super::cpu`] and [`super::winograd`].

use candle_core::Tensor;

use super::cpu;
use super::vgg::{Activations, Layer, Vgg};
use crate::error::{Error, Result};

impl Vgg {
    /// Runs the first `depth` layers, keeping every output (channels-last) for the backward pass
    /// and handing the layers in `keep` to the losses as (1, C, H, W) views.
    pub(super) fn forward_cpu(&self, x: &Tensor, depth: usize, keep: &[usize]) -> Result<Activations> {
        let (_, mut c, mut h, mut w) = x.dims4()?;
        let mut acts = Activations { outputs: vec![None; depth], hwc: Vec::with_capacity(depth), dims: Vec::new() };
        let input = x.permute((0, 2, 3, 1))?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        for (i, layer) in self.layers.iter().take(depth).enumerate() {
            let prev = if i == 0 { &input } else { &acts.hwc[i - 1] };
            let out = match layer {
                Layer::Conv(conv) => {
                    let mut out = vec![0f32; h * w * conv.spec.out_channels];
                    cpu::conv3x3(&conv.packed.0, prev, h, w, true, &mut out);
                    c = conv.spec.out_channels;
                    out
                }
                Layer::Pool => {
                    let mut out = vec![0f32; (h / 2) * (w / 2) * c];
                    cpu::max_pool(prev, h, w, c, &mut out);
                    (h, w) = (h / 2, w / 2);
                    out
                }
            };
            if keep.contains(&i) {
                // A (1, C, H, W) view of channels-last data: the losses read it without a copy.
                let t = Tensor::from_slice(&out, (1, h, w, c), &self.device)?.permute((0, 3, 1, 2))?;
                acts.outputs[i] = Some(t);
            }
            acts.hwc.push(out);
            acts.dims.push((h, w, c));
        }
        acts.dims.insert(0, (x.dim(2)?, x.dim(3)?, x.dim(1)?));
        Ok(acts)
    }

    /// The fast path's backward: the same maths on HWC buffers. `acts.dims[i + 1]` is the shape of
    /// layer i's output, `acts.dims[0]` the input's.
    pub(super) fn backward_cpu(
        &self,
        acts: &Activations,
        tap_grads: &mut [Option<Tensor>],
        deepest: usize,
    ) -> Result<Tensor> {
        let mut g: Option<Vec<f32>> = None;
        for i in (0..=deepest).rev() {
            if let Some(t) = tap_grads[i].take() {
                let v = t.permute((0, 2, 3, 1))?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
                g = Some(match g {
                    Some(mut a) => {
                        a.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
                        a
                    }
                    None => v,
                });
            }
            let Some(mut cur) = g.take() else { continue };
            let (hi, wi, ci) = acts.dims[i];
            g = Some(match &self.layers[i] {
                Layer::Conv(conv) => {
                    cpu::relu_backward(&acts.hwc[i], &mut cur);
                    let mut out = vec![0f32; hi * wi * ci];
                    cpu::conv3x3(&conv.packed.1, &cur, hi, wi, false, &mut out);
                    out
                }
                Layer::Pool => {
                    let input = acts
                        .hwc
                        .get(i.wrapping_sub(1))
                        .ok_or_else(|| Error::setting("pooling cannot be the first layer"))?;
                    let mut out = vec![0f32; hi * wi * ci];
                    cpu::max_pool_backward(input, hi, wi, ci, &cur, &mut out);
                    out
                }
            });
        }
        let g = g.ok_or_else(|| Error::setting("empty network"))?;
        let (h, w, c) = acts.dims[0];
        Ok(Tensor::from_vec(g, (1, h, w, c), &self.device)?.permute((0, 3, 1, 2))?.contiguous()?)
    }
}
