//! What the convolutions do to each output after the sum (bias, ReLU, or the backward's ReLU
//! mask), and the AVX2 dispatch of the element-wise loops of the hot path.

/// Runs `f` compiled for AVX2 when the CPU has it. The element-wise loops of the hot path
/// (Winograd transforms, epilogues) then vectorise 8 wide instead of SSE2's 4, while the binary
/// still runs on any x86-64. Whatever `f` calls must be `#[inline(always)]` to benefit.
#[inline(always)]
pub fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { with_avx2(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// What a convolution does to each output value after adding the bias.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// Nothing: the raw sum.
    Linear,
    /// `max(0, v)`: the forward ReLU.
    Relu,
    /// Zero where `mask` (laid out like the output) is `<= 0`: the backward of the ReLU whose
    /// output `mask` is, fused into the convolution that produces its gradient.
    MaskedBy(&'a [f32]),
}

impl<'a> Epilogue<'a> {
    /// The epilogue for `len` outputs starting at `start` (the mask sliced to match).
    #[inline(always)]
    pub fn slice(self, start: usize, len: usize) -> Epilogue<'a> {
        match self {
            Epilogue::MaskedBy(m) => Epilogue::MaskedBy(&m[start..start + len]),
            other => other,
        }
    }

    /// Applies bias and epilogue to `y`, the channel vector of the output pixel at `at` (an
    /// index into the output this epilogue was sliced for), writing `out`.
    #[inline(always)]
    pub fn finish(self, out: &mut [f32], y: &[f32], bias: &[f32], at: usize) {
        match (self, bias.is_empty()) {
            (Epilogue::Linear, true) => out.copy_from_slice(y),
            (Epilogue::Linear, false) => out.iter_mut().zip(y).zip(bias).for_each(|((o, y), b)| *o = y + b),
            (Epilogue::Relu, true) => out.iter_mut().zip(y).for_each(|(o, y)| *o = y.max(0.0)),
            (Epilogue::Relu, false) => out.iter_mut().zip(y).zip(bias).for_each(|((o, y), b)| *o = (y + b).max(0.0)),
            (Epilogue::MaskedBy(m), true) => {
                for ((o, y), m) in out.iter_mut().zip(y).zip(&m[at..at + y.len()]) {
                    *o = if *m > 0.0 { *y } else { 0.0 };
                }
            }
            (Epilogue::MaskedBy(m), false) => {
                for (((o, y), m), b) in out.iter_mut().zip(y).zip(&m[at..at + y.len()]).zip(bias) {
                    *o = if *m > 0.0 { y + b } else { 0.0 };
                }
            }
        }
    }
}
