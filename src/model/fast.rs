//! The CPU fast path of [`Vgg`]: the same forward and input-gradient maths as the generic candle
//! path, on channels-last buffers with the convolutions of [`super::cpu`] and [`super::winograd`].

use candle_core::Tensor;
use rayon::prelude::*;

use super::cpu;
use super::pooling::{Pooling, AVG_SCALE};
use super::vgg::{Activations, Layer, Vgg};
use crate::error::{Error, Result};

impl Vgg {
    /// Runs the first `depth` layers, keeping every output (channels-last) for the backward pass
    /// and handing the layers in `keep` to the losses as (1, C, H, W) views. A kept layer's buffer
    /// moves into its tensor (`hwc` holds an empty Vec for it), so nothing is copied.
    pub(super) fn forward_cpu(&self, x: &Tensor, depth: usize, keep: &[usize]) -> Result<Activations> {
        let (_, mut c, mut h, mut w) = x.dims4()?;
        let mut acts = Activations { outputs: vec![None; depth], hwc: Vec::with_capacity(depth), dims: Vec::new() };
        let input = x.permute((0, 2, 3, 1))?.contiguous()?;
        for (i, layer) in self.layers.iter().take(depth).enumerate() {
            let out = with_data(&acts, i.checked_sub(1), &input, |prev| match layer {
                Layer::Conv(conv) => {
                    let mut out = vec![0f32; h * w * conv.spec.out_channels];
                    cpu::conv3x3(&conv.packed.0, prev, h, w, cpu::Epilogue::Relu, &mut out);
                    c = conv.spec.out_channels;
                    out
                }
                Layer::Pool => {
                    let mut out = vec![0f32; (h / 2) * (w / 2) * c];
                    match self.pooling {
                        Pooling::Max => cpu::max_pool(prev, h, w, c, &mut out),
                        Pooling::Avg => cpu::avg_pool(prev, h, w, c, AVG_SCALE, &mut out),
                    }
                    (h, w) = (h / 2, w / 2);
                    out
                }
            })?;
            if keep.contains(&i) {
                // A (1, C, H, W) view of channels-last data: the losses read it without a copy.
                acts.outputs[i] = Some(Tensor::from_vec(out, (1, h, w, c), &self.device)?.permute((0, 3, 1, 2))?);
                acts.hwc.push(Vec::new());
            } else {
                acts.hwc.push(out);
            }
            acts.dims.push((h, w, c));
        }
        acts.dims.insert(0, (x.dim(2)?, x.dim(3)?, x.dim(1)?));
        Ok(acts)
    }

    /// The fast path's backward: the same maths on HWC buffers. `acts.dims[i + 1]` is the shape of
    /// layer i's output, `acts.dims[0]` the input's. Each ReLU's backward is fused into whatever
    /// produces its gradient (the convolution or pooling above it, or the tap's addition), so the
    /// gradient `g` entering layer i is already w.r.t. that layer's pre-activation.
    pub(super) fn backward_cpu(
        &self,
        acts: &Activations,
        tap_grads: &mut [Option<Tensor>],
        deepest: usize,
    ) -> Result<Tensor> {
        // Every layer's output, read in place from its buffer or from the tap tensor that owns it.
        let guards: Vec<_> = acts.outputs.iter().map(|o| o.as_ref().map(Tensor::storage_and_layout)).collect();
        let data = (0..acts.hwc.len())
            .map(|i| match &guards[i] {
                Some((storage, layout)) => cpu::storage_f32(storage, layout, {
                    let (h, w, c) = acts.dims[i + 1];
                    h * w * c
                }),
                None => Ok(&acts.hwc[i][..]),
            })
            .collect::<Result<Vec<&[f32]>>>()?;
        let relu_output = |i: usize| matches!(self.layers[i], Layer::Conv(_)).then(|| data[i]);
        let mut g: Option<Vec<f32>> = None;
        for i in (0..=deepest).rev() {
            if let Some(t) = tap_grads[i].take() {
                add_tap(&mut g, &t, relu_output(i))?;
            }
            let Some(cur) = g.take() else { continue };
            let (hi, wi, ci) = acts.dims[i];
            let below = i.checked_sub(1);
            let mut out = vec![0f32; hi * wi * ci];
            match &self.layers[i] {
                Layer::Conv(conv) => {
                    let epilogue = match below.and_then(relu_output) {
                        Some(mask) => cpu::Epilogue::MaskedBy(mask),
                        None => cpu::Epilogue::Linear,
                    };
                    cpu::conv3x3(&conv.packed.1, &cur, hi, wi, epilogue, &mut out);
                }
                Layer::Pool => {
                    let below = below.ok_or_else(|| Error::internal("pooling cannot be the first layer"))?;
                    let relu_input = relu_output(below).is_some();
                    let input = (data[below], (hi, wi, ci), relu_input);
                    match self.pooling {
                        Pooling::Max => cpu::max_pool_backward(input.0, input.1, input.2, &cur, &mut out),
                        Pooling::Avg => cpu::avg_pool_backward(input.0, input.1, input.2, AVG_SCALE, &cur, &mut out),
                    }
                }
            }
            g = Some(out);
        }
        let g = g.ok_or_else(|| Error::internal("empty network"))?;
        let (h, w, c) = acts.dims[0];
        Ok(Tensor::from_vec(g, (1, h, w, c), &self.device)?.permute((0, 3, 1, 2))?.contiguous()?)
    }
}

/// `g += tap` (channels-last), zeroed where `mask` (the ReLU output of the tapped layer) is 0.
/// The tap's gradient is read in place when it already is channels-last f32 on the CPU.
fn add_tap(g: &mut Option<Vec<f32>>, tap: &Tensor, mask: Option<&[f32]>) -> Result<()> {
    let t = tap.permute((0, 2, 3, 1))?.contiguous()?;
    let n = t.elem_count();
    let (storage, layout) = t.storage_and_layout();
    let v = cpu::storage_f32(&storage, layout, n)?;
    let out = g.get_or_insert_with(|| vec![0f32; n]);
    if out.len() != n {
        return Err(Error::internal("tap gradient of the wrong size"));
    }
    let chunk = 1 << 14;
    match mask {
        Some(mask) => {
            out.par_chunks_mut(chunk).zip(v.par_chunks(chunk)).zip(mask.par_chunks(chunk)).for_each(|((o, v), m)| {
                for ((o, v), m) in o.iter_mut().zip(v).zip(m) {
                    *o = if *m > 0.0 { *o + v } else { 0.0 };
                }
            })
        }
        None => out.par_chunks_mut(chunk).zip(v.par_chunks(chunk)).for_each(|(o, v)| {
            o.iter_mut().zip(v).for_each(|(o, v)| *o += v);
        }),
    }
    Ok(())
}

/// Calls `f` with the channels-last output of layer `i` (`None`: the network's input).
fn with_data<R>(acts: &Activations, i: Option<usize>, input: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let tensor = match i {
        None => input,
        Some(i) => match &acts.outputs[i] {
            Some(t) => t,
            None => return Ok(f(&acts.hwc[i])),
        },
    };
    let (storage, layout) = tensor.storage_and_layout();
    Ok(f(cpu::storage_f32(&storage, layout, tensor.elem_count())?))
}
