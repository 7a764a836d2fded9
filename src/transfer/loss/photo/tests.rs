use super::*;

/// A photo of pseudo-random colours with some flat and some smooth parts.
fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = (x * 73 + y * 151 + seed * 31).wrapping_mul(2_654_435_761) >> 24;
        if x < 2 && y < 3 {
            image::Rgb([90, 90, 90])
        } else {
            image::Rgb([(n % 256) as u8, ((x * 30 + y * 5) % 256) as u8, ((n / 3 + y * 20) % 256) as u8])
        }
    })
}

fn planes(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..3 * n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// Levin et al.'s Matting Laplacian written out as a dense matrix (f64).
fn dense(photo: &RgbImage) -> Vec<Vec<f64>> {
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    let px = |x: usize, y: usize| photo.get_pixel(x as u32, y as u32).0.map(|c| f64::from(c) / 255.0);
    let mut l = vec![vec![0.0; w * h]; w * h];
    for cy in 1..h - 1 {
        for cx in 1..w - 1 {
            let idx: Vec<(usize, [f64; 3])> =
                (cy - 1..=cy + 1).flat_map(|y| (cx - 1..=cx + 1).map(move |x| (y * w + x, px(x, y)))).collect();
            let mut mu = [0.0; 3];
            idx.iter().for_each(|(_, p)| (0..3).for_each(|i| mu[i] += p[i] / 9.0));
            let mut s = [[0.0; 3]; 3];
            for (_, p) in &idx {
                (0..3).for_each(|i| (0..3).for_each(|j| s[i][j] += (p[i] - mu[i]) * (p[j] - mu[j]) / 9.0));
            }
            (0..3).for_each(|i| s[i][i] += EPSILON / 9.0);
            let m = inverse_symmetric(&s);
            let full = [[m[0], m[1], m[2]], [m[1], m[3], m[4]], [m[2], m[4], m[5]]];
            for (i, pi) in &idx {
                for (j, pj) in &idx {
                    let di = [0, 1, 2].map(|c| pi[c] - mu[c]);
                    let dj = [0, 1, 2].map(|c| pj[c] - mu[c]);
                    let q: f64 = (0..3).map(|a| (0..3).map(|b| di[a] * full[a][b] * dj[b]).sum::<f64>()).sum();
                    l[*i][*j] += f64::from(u8::from(i == j)) - (1.0 + q) / 9.0;
                }
            }
        }
    }
    l
}

#[test]
fn the_product_window_by_window_is_the_dense_matting_laplacian_times_the_picture() {
    // 70 rows: three bands, so their seams are crossed.
    for (w, h) in [(7, 6), (5, 70)] {
        let img = photo(w, h, 3);
        let (l, n) = (dense(&img), (w * h) as usize);
        let v = planes(n, 7);
        let fast = Matting::new(&img).apply(&v);
        for c in 0..3 {
            let scale = (0..n).map(|i| f64::from(fast[c * n + i]).abs()).fold(1e-3, f64::max);
            for i in 0..n {
                let exact: f64 = (0..n).map(|j| l[i][j] * f64::from(v[c * n + j])).sum();
                let err = (exact - f64::from(fast[c * n + i])).abs() / scale;
                assert!(err < 1e-4, "{w}x{h} channel {c} pixel {i}: {exact} vs {}", fast[c * n + i]);
            }
        }
    }
}

#[test]
fn a_picture_affine_in_the_photos_colours_costs_nothing_and_noise_costs_much() {
    let img = photo(24, 20, 5);
    let m = Matting::new(&img);
    let n = 24 * 20;
    let guide: Vec<[f32; 3]> = img.pixels().map(|p| p.0.map(|c| f32::from(c) / 255.0)).collect();
    // Each channel a different affine map of the photo's colours (a global recolouring).
    let mut v = vec![0f32; 3 * n];
    for (i, g) in guide.iter().enumerate() {
        v[i] = 0.2 + 0.5 * g[0] + 0.3 * g[2];
        v[n + i] = 0.9 - 0.6 * g[1];
        v[2 * n + i] = 0.4 * g[0] + 0.4 * g[1] + 0.1;
    }
    let cost = |v: &[f32]| v.iter().zip(m.apply(v)).map(|(a, b)| f64::from(*a) * f64::from(b)).sum::<f64>();
    let noise = planes(n, 11);
    let (affine, noisy) = (cost(&v), cost(&noise));
    assert!(affine.abs() < 1e-3 * noisy, "affine {affine} vs noise {noisy}");
    let flat = vec![0.37f32; 3 * n];
    assert!(cost(&flat).abs() < 1e-6, "a flat picture: {}", cost(&flat));
}

#[test]
fn the_terms_gradient_matches_finite_differences() {
    let img = photo(6, 5, 9);
    let matting = Matting::new(&img);
    let place = Place::image("photo", 3.0);
    let n = 3 * 6 * 5;
    let x0: Vec<f32> = planes(n / 3, 4).iter().map(|v| v * 2.0 - 1.0).collect();
    let tensor = |v: &[f32]| Tensor::from_slice(v, (1, 3, 5, 6), &Device::Cpu).unwrap();
    let part = Part {
        inner: crate::transfer::loss::tiles::Rect { x: 0, y: 0, w: 6, h: 5 },
        outer: crate::transfer::loss::tiles::Rect { x: 0, y: 0, w: 6, h: 5 },
        channels: 3,
        size: (6, 5),
    };
    let loss_at = |v: &[f32]| {
        let mut term = Photorealism { place, matting: &matting, product: None };
        term.gather(&tensor(v), &part).unwrap();
        3.0 * f64::from(term.finish().unwrap().to_scalar::<f32>().unwrap())
    };
    let mut term = Photorealism { place, matting: &matting, product: None };
    term.gather(&tensor(&x0), &part).unwrap();
    let g: Vec<f32> = term.grad(&tensor(&x0), &part).unwrap().unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let scale = g.iter().fold(0f32, |m, v| m.max(v.abs()));
    for i in (0..n).step_by(7) {
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[i] += 1e-3;
        down[i] -= 1e-3;
        let numeric = (loss_at(&up) - loss_at(&down)) / 2e-3;
        assert!((numeric - f64::from(g[i])).abs() < 2e-2 * f64::from(scale), "element {i}: {numeric} vs {}", g[i]);
    }
}

#[test]
fn what_the_photo_gives_takes_60_bytes_a_pixel() {
    let m = Matting::new(&photo(64, 48, 1));
    assert_eq!(m.bytes(), 64 * 48 * 60);
}
