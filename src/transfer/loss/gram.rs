//! Gram matrices and the closed-form gradients of the three loss terms.
//!
//! Definitions (shared with the PyTorch reference in benches/torch_reference.py):
//! F = activations reshaped C x HW, G = F F^T / (C H W);
//! style = mean((G - A)^2), content = mean((F - P)^2), tv = mean(dx^2) + mean(dy^2).

use candle_core::{DType, Storage, Tensor};

use crate::error::Result;
use crate::model::cpu;

/// Features (1, C, H, W) as a matrix: (HW, C) when they are a channels-last view (the CPU fast
/// path's layout, read without copying), otherwise (C, HW).
pub(crate) fn matrix(features: &Tensor) -> Result<(Tensor, bool)> {
    let (_, c, h, w) = features.dims4()?;
    let nhwc = features.permute((0, 2, 3, 1))?;
    if !features.is_contiguous() && nhwc.is_contiguous() {
        Ok((nhwc.reshape((h * w, c))?, true))
    } else {
        Ok((features.reshape((c, h * w))?, false))
    }
}

/// `m` (HW, C) or (C, HW) back to (1, C, H, W) in the same layout as the features it came from.
pub(crate) fn unmatrix(m: &Tensor, channels_last: bool, (c, h, w): (usize, usize, usize)) -> Result<Tensor> {
    Ok(if channels_last { m.reshape((1, h, w, c))?.permute((0, 3, 1, 2))? } else { m.reshape((1, c, h, w))? })
}

/// `F F^T` (C, C) of the matrix from [`matrix`]; channels-last f32 on the CPU goes through a
/// reduction that uses every core.
fn outer(f: &Tensor, channels_last: bool) -> Result<Tensor> {
    if !channels_last {
        return Ok(f.matmul(&f.t()?)?);
    }
    let (rows, c) = f.dims2()?;
    let f = f.contiguous()?;
    let (storage, layout) = f.storage_and_layout();
    if let (Storage::Cpu(_), DType::F32) = (&*storage, f.dtype()) {
        let data = cpu::storage_f32(&storage, layout, rows * c)?;
        return Ok(Tensor::from_vec(cpu::xtx(data, rows, c), (c, c), f.device())?);
    }
    drop(storage);
    Ok(f.t()?.matmul(&f)?)
}

/// Gram matrix (C, C) of features (1, C, H, W), normalised by C*H*W.
pub fn gram(features: &Tensor) -> Result<Tensor> {
    let (_, c, h, w) = features.dims4()?;
    Ok((gram_sum(features)? / (c * h * w) as f64)?)
}

/// `F F^T` (C, C) of features (1, C, H, W), not normalised: the part of a Gram matrix one tile
/// of the image contributes.
pub fn gram_sum(features: &Tensor) -> Result<Tensor> {
    let (f, channels_last) = matrix(features)?;
    outer(&f, channels_last)
}

/// `features` (1, C, H, W) with each pixel scaled by `weights` (1, 1, H, W), in the features'
/// layout (a mask applied before the Gram matrix; see `guide`).
pub fn weighted(features: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let (_, c, h, w) = features.dims4()?;
    let (f, channels_last) = matrix(features)?;
    let m = weights.contiguous()?;
    let m = if channels_last { m.reshape((h * w, 1))? } else { m.reshape((1, h * w))? };
    unmatrix(&f.broadcast_mul(&m)?, channels_last, (c, h, w))
}

/// `a + b` for features (1, C, H, W) in the layout of `a`: two channels-last views give a
/// channels-last view (a plain add would give a contiguous NCHW tensor, which the CPU fast
/// path's backward would have to transpose back). Tensors of other ranks are added plainly.
pub fn add_features(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.rank() != 4 || b.rank() != 4 {
        return Ok(a.add(b)?);
    }
    let (an, bn) = (a.permute((0, 2, 3, 1))?, b.permute((0, 2, 3, 1))?);
    if !a.is_contiguous() && an.is_contiguous() && bn.is_contiguous() {
        return Ok(an.add(&bn)?.permute((0, 3, 1, 2))?);
    }
    Ok(a.add(b)?)
}

/// `mean((G(F) - target)^2)` as a scalar tensor and its gradient w.r.t. `features` (in their
/// layout), scaled by `weight`.
pub fn style_loss_and_grad(features: &Tensor, target: &Tensor, weight: f64) -> Result<(Tensor, Tensor)> {
    let (_, c, h, w) = features.dims4()?;
    let diff = gram(features)?.sub(target)?;
    let loss = diff.sqr()?.mean_all()?;
    Ok((loss, style_grad(features, &diff, weight, c * h * w)?))
}

/// Gradient of `weight * mean((G - A)^2)` w.r.t. `features`, given `diff = G - A` of the whole
/// layer, whose C*H*W is `n` (`features` may be one tile of it).
///
/// d/dG = 2 (G - A) / C^2 and, G being symmetric, d/dF = 2 (d/dG) F / n.
pub fn style_grad(features: &Tensor, diff: &Tensor, weight: f64, n: usize) -> Result<Tensor> {
    let (_, c, h, w) = features.dims4()?;
    let (f, channels_last) = matrix(features)?;
    // The scale goes on the small (C, C) factor, not the (HW, C) product.
    let scaled = (diff * (weight * 4.0 / ((c * c) as f64 * n as f64)))?;
    // (HW, C) x (C, C) in channels-last, (C, C) x (C, HW) otherwise; diff is symmetric.
    let grad = if channels_last { f.matmul(&scaled)? } else { scaled.matmul(&f)? };
    unmatrix(&grad, channels_last, (c, h, w))
}

/// Keeps the scaled measure finite when a layer's Gram matrix matches its target exactly.
const SCALED_EPS: f64 = 1e-12;

/// One style layer's loss from its Gram difference `diff = G - A` (C, C), and the matrix that
/// [`style_grad`] turns into the loss's gradient (its `diff` argument).
///
/// Classic: `mean(d^2)`, and `d` itself. Scaled (the Modern look): with `e = C d` (the Gram
/// normalised by H W only, as crowsonkb/style-transfer-pytorch does), `sum e^2 / sum |e|`. It
/// is homogeneous of degree 1 in `d`, so its gradient has the same size at every layer whatever
/// the layer's scale: no layer's texture drowns the others'. With `S1 = sum |d|` and
/// `S2 = sum d^2` it is `C S2 / S1`, whose derivative is `C (2 d S1 - S2 sign d) / S1^2`;
/// `style_grad` applies `2 / C^2` times its argument, hence the `C^3 / 2`.
pub fn style_measure(diff: &Tensor, scaled: bool) -> Result<(Tensor, Tensor)> {
    if !scaled {
        return Ok((diff.sqr()?.mean_all()?, diff.clone()));
    }
    let c = diff.dim(0)? as f64;
    // Sums stay on the device as 0-d tensors: no synchronisation per layer.
    let s1 = (diff.abs()?.sum_all()? + SCALED_EPS)?;
    let s2 = diff.sqr()?.sum_all()?;
    let loss = (s2.div(&s1)? * c)?;
    let slope = diff.broadcast_div(&s1)?;
    let pull = diff.sign()?.broadcast_mul(&s2.div(&s1.sqr()?)?)?;
    let grad_matrix = ((slope - (pull * 0.5)?)? * c.powi(3))?;
    Ok((loss, grad_matrix))
}

/// Keeps a normalised gradient finite when a term's gradient vanishes.
const NORM_EPS: f64 = 1e-8;

/// The divisor that scales a term's gradient at its layer (already multiplied by the term's
/// `weight`), whose L1 norm is `l1` (0-d), to L1 norm `weight`: `l1 / weight`, a 0-d tensor
/// (neural-style's `-normalize_gradients`, which gives every layer the same pull whatever its
/// scale).
pub fn gradient_divisor(l1: &Tensor, weight: f64) -> Result<Tensor> {
    Ok(((l1 / weight)? + NORM_EPS)?)
}

/// A divisor held fixed, as a 0-d tensor on the device and in the dtype of `like`.
pub fn held_divisor(value: f64, like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::new(value as f32, like.device())?.to_dtype(like.dtype())?)
}

/// Whether a divisor from [`gradient_divisor`] measured a gradient rather than its absence.
pub fn gradient_moves(divisor: f64) -> bool {
    divisor > 10.0 * NORM_EPS
}

/// `grad` (1, C, H, W) divided by the 0-d `divisor`, in the layout of `grad`.
pub fn divide_features(grad: &Tensor, divisor: &Tensor) -> Result<Tensor> {
    if grad.rank() == 4 && !grad.is_contiguous() {
        let nhwc = grad.permute((0, 2, 3, 1))?;
        if nhwc.is_contiguous() {
            return Ok(nhwc.broadcast_div(divisor)?.permute((0, 3, 1, 2))?);
        }
    }
    Ok(grad.broadcast_div(divisor)?)
}

/// `mean((F - target)^2)` and its gradient w.r.t. `features`, scaled by `weight`.
pub fn content_loss_and_grad(features: &Tensor, target: &Tensor, weight: f64) -> Result<(Tensor, Tensor)> {
    content_term(features, target, weight, features.elem_count())
}

/// `sum((F - target)^2) / n` and its gradient w.r.t. `features` scaled by `weight`, where `n` is
/// the element count of the whole layer (`features` and `target` may be one tile of it).
pub fn content_term(features: &Tensor, target: &Tensor, weight: f64, n: usize) -> Result<(Tensor, Tensor)> {
    let (_, c, h, w) = features.dims4()?;
    let (f, channels_last) = matrix(features)?;
    // The target in the features' layout (a no-op when both come from the same network).
    let t = if channels_last {
        target.permute((0, 2, 3, 1))?.contiguous()?.reshape((h * w, c))?
    } else {
        target.contiguous()?.reshape((c, h * w))?
    };
    let diff = f.sub(&t)?;
    let loss = (diff.sqr()?.sum_all()? / n as f64)?;
    let grad = (diff * (2.0 * weight / n as f64))?;
    Ok((loss, unmatrix(&grad, channels_last, (c, h, w))?))
}

/// Total variation `mean(dx^2) + mean(dy^2)` of an image (1, C, H, W) and its gradient scaled by
/// `weight` (None when the weight is zero: the loss is still reported, the gradient is not needed).
pub fn tv_loss_and_grad(x: &Tensor, weight: f64) -> Result<(Tensor, Option<Tensor>)> {
    let mut loss = Tensor::zeros((), x.dtype(), x.device())?;
    let mut grad = if weight != 0.0 { Some(x.zeros_like()?) } else { None };
    for dim in [3, 2] {
        let len = x.dim(dim)?;
        if len < 2 {
            continue;
        }
        let d = x.narrow(dim, 1, len - 1)?.sub(&x.narrow(dim, 0, len - 1)?)?;
        loss = loss.add(&d.sqr()?.mean_all()?)?;
        if let Some(acc) = &mut grad {
            // x[j] enters d[j-1] with + and d[j] with -.
            let g = d.pad_with_zeros(dim, 1, 0)?.sub(&d.pad_with_zeros(dim, 0, 1)?)?;
            *acc = acc.add(&(g * (2.0 * weight / d.elem_count() as f64))?)?;
        }
    }
    Ok((loss, grad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn rand(shape: (usize, usize, usize, usize), seed: u64) -> Tensor {
        // Deterministic pseudo-random values without touching candle's global RNG.
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_rel_err(a: &Tensor, b: &Tensor) -> f32 {
        let num = a.sub(b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let den = b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        num / den
    }

    #[test]
    fn gram_of_known_features_is_normalised_outer_product() {
        let f = Tensor::new(&[1f32, 2., 3., 4.], &Device::Cpu).unwrap().reshape((1, 2, 1, 2)).unwrap();
        let g: Vec<Vec<f32>> = gram(&f).unwrap().to_vec2().unwrap();
        // rows (1,2) and (3,4); C*H*W = 4
        assert_eq!(g, vec![vec![5. / 4., 11. / 4.], vec![11. / 4., 25. / 4.]]);
    }

    #[test]
    fn channels_last_views_give_the_same_losses_and_gradients() {
        let f = rand((1, 6, 5, 4), 1);
        let view = f.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap().permute((0, 3, 1, 2)).unwrap();
        assert!(!view.is_contiguous());
        let target_f = rand((1, 6, 5, 4), 2);
        let target_g = gram(&rand((1, 6, 5, 4), 3)).unwrap();
        assert!(max_rel_err(&gram(&view).unwrap(), &gram(&f).unwrap()) < 1e-6);
        let (ls, gs) = style_loss_and_grad(&f, &target_g, 3.0).unwrap();
        let (lv, gv) = style_loss_and_grad(&view, &target_g, 3.0).unwrap();
        assert!(max_rel_err(&ls, &lv) < 1e-6 && max_rel_err(&gs, &gv) < 1e-6);
        assert!(gv.permute((0, 2, 3, 1)).unwrap().is_contiguous(), "gradient stays channels-last");
        let (lc, gc) = content_loss_and_grad(&f, &target_f, 2.0).unwrap();
        let (lcv, gcv) = content_loss_and_grad(&view, &target_f, 2.0).unwrap();
        assert!(max_rel_err(&lc, &lcv) < 1e-6 && max_rel_err(&gc, &gcv) < 1e-6);
    }

    #[test]
    fn adding_channels_last_features_keeps_them_channels_last() {
        let a =
            rand((1, 3, 4, 5), 7).permute((0, 2, 3, 1)).unwrap().contiguous().unwrap().permute((0, 3, 1, 2)).unwrap();
        let b =
            rand((1, 3, 4, 5), 8).permute((0, 2, 3, 1)).unwrap().contiguous().unwrap().permute((0, 3, 1, 2)).unwrap();
        let sum = add_features(&a, &b).unwrap();
        assert!(!sum.is_contiguous() && sum.permute((0, 2, 3, 1)).unwrap().is_contiguous());
        assert!(max_rel_err(&sum, &a.add(&b).unwrap()) < 1e-7);
    }

    #[test]
    fn closed_form_gradients_match_autograd() {
        let f = rand((1, 4, 3, 5), 1);
        let target_f = rand((1, 4, 3, 5), 2);
        let a = gram(&rand((1, 4, 3, 5), 3)).unwrap();
        let var = Var::from_tensor(&f).unwrap();

        let (l, g) = style_loss_and_grad(&f, &a, 3.0).unwrap();
        let auto = (gram(var.as_tensor()).unwrap().sub(&a).unwrap().sqr().unwrap().mean_all().unwrap() * 3.0).unwrap();
        assert!((auto.to_scalar::<f32>().unwrap() - 3.0 * l.to_scalar::<f32>().unwrap()).abs() < 1e-6);
        let ag = auto.backward().unwrap().get(var.as_tensor()).unwrap().clone();
        assert!(max_rel_err(&g, &ag) < 1e-5, "style gradient");

        let (_, g) = content_loss_and_grad(&f, &target_f, 2.0).unwrap();
        let auto = (var.as_tensor().sub(&target_f).unwrap().sqr().unwrap().mean_all().unwrap() * 2.0).unwrap();
        let ag = auto.backward().unwrap().get(var.as_tensor()).unwrap().clone();
        assert!(max_rel_err(&g, &ag) < 1e-5, "content gradient");

        for scaled in [false, true] {
            let (l, m) = style_measure(&gram(&f).unwrap().sub(&a).unwrap(), scaled).unwrap();
            let g = style_grad(&f, &m, 3.0, 4 * 3 * 5).unwrap();
            let d = gram(var.as_tensor()).unwrap().sub(&a).unwrap();
            let measure = if scaled {
                // Written out independently: sum (4 d)^2 / sum |4 d| for C = 4.
                let e = (d * 4.0).unwrap();
                e.sqr().unwrap().sum_all().unwrap().div(&e.abs().unwrap().sum_all().unwrap()).unwrap()
            } else {
                d.sqr().unwrap().mean_all().unwrap()
            };
            let rel = (measure.to_scalar::<f32>().unwrap() / l.to_scalar::<f32>().unwrap() - 1.0).abs();
            assert!(rel < 1e-5, "measure (scaled: {scaled}): {rel}");
            let ag = (measure * 3.0).unwrap().backward().unwrap().get(var.as_tensor()).unwrap().clone();
            assert!(max_rel_err(&g, &ag) < 1e-4, "measure's gradient (scaled: {scaled})");
        }

        let (_, g) = tv_loss_and_grad(&f, 0.5).unwrap();
        let g = g.unwrap();
        let x = var.as_tensor();
        let dx = x.narrow(3, 1, 4).unwrap().sub(&x.narrow(3, 0, 4).unwrap()).unwrap();
        let dy = x.narrow(2, 1, 2).unwrap().sub(&x.narrow(2, 0, 2).unwrap()).unwrap();
        let auto =
            ((dx.sqr().unwrap().mean_all().unwrap() + dy.sqr().unwrap().mean_all().unwrap()).unwrap() * 0.5).unwrap();
        let ag = auto.backward().unwrap().get(x).unwrap().clone();
        assert!(max_rel_err(&g, &ag) < 1e-5, "tv gradient");
    }
}
