//! The row-major matrix product that the convolution kernels (direct, Winograd, scatter) share.

/// `dst (n x cout) = lhs (n x k) * rhs (k x cout)`, all row-major, on the calling thread.
pub fn matmul(dst: &mut [f32], lhs: &[f32], rhs: &[f32], n: usize, k: usize, cout: usize) {
    assert!(dst.len() == n * cout && lhs.len() == n * k && rhs.len() == k * cout);
    // SAFETY: the lengths were checked above for the row-major strides given, and dst does not
    // overlap the inputs (it is a distinct mutable borrow).
    unsafe {
        gemm::gemm(
            n,
            cout,
            k,
            dst.as_mut_ptr(),
            1,
            cout as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            cout as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
