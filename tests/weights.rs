//! Weight loading: torchvision/timm layouts (VGG16 and VGG19, f32/f16/bf16) load; anything else
//! is refused with a message naming the problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use candle_core::Device;
use neural_style_studio::model::{load_safetensors, Arch, Tap, EMBEDDED_VGG16};
use neural_style_studio::Error;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// Name -> (dtype, shape, bytes) of the embedded model, to be edited by each test.
fn embedded_tensors() -> HashMap<String, (Dtype, Vec<usize>, Vec<u8>)> {
    let st = SafeTensors::deserialize(EMBEDDED_VGG16).unwrap();
    st.tensors().into_iter().map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

fn serialize(tensors: &HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>) -> Vec<u8> {
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, None).unwrap()
}

fn load_err(bytes: &[u8]) -> String {
    match load_safetensors(bytes, "test.safetensors", Tap::new(5, 1), &Device::Cpu) {
        Ok(_) => panic!("loaded invalid weights"),
        Err(e @ Error::Weights { .. }) => e.to_string(),
        Err(e) => panic!("wrong error kind: {e}"),
    }
}

#[test]
fn garbage_and_truncated_files_are_refused() {
    assert!(load_err(b"definitely not safetensors").contains("not a safetensors file"));
    assert!(load_err(&EMBEDDED_VGG16[..EMBEDDED_VGG16.len() / 2]).contains("not a safetensors file"));
    assert!(load_err(&[]).contains("not a safetensors file"));
}

#[test]
fn a_header_claiming_huge_tensors_is_refused_without_allocating() {
    let header =
        br#"{"features.0.weight":{"dtype":"F32","shape":[100000,100000,3,3],"data_offsets":[0,360000000000]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    assert!(load_err(&bytes).contains("not a safetensors file"));
}

#[test]
fn missing_tensor_is_named() {
    let mut t = embedded_tensors();
    t.remove("features.19.weight");
    let msg = load_err(&serialize(&t));
    assert!(msg.contains("missing tensor features.19.weight"), "{msg}");
}

#[test]
fn wrong_shape_is_named() {
    let mut t = embedded_tensors();
    let bias = t.get_mut("features.2.bias").unwrap();
    bias.1 = vec![32];
    bias.2.truncate(32 * 2);
    let msg = load_err(&serialize(&t));
    assert!(msg.contains("features.2.bias has shape [32], expected [64]"), "{msg}");
}

#[test]
fn integer_dtype_is_refused() {
    let mut t = embedded_tensors();
    let bias = t.get_mut("features.0.bias").unwrap();
    bias.0 = Dtype::I16;
    let msg = load_err(&serialize(&t));
    assert!(msg.contains("dtype"), "{msg}");
}

#[test]
fn f32_file_with_a_classifier_loads_like_the_embedded_one() {
    // A torchvision checkpoint converted to safetensors: f32 and with classifier.* tensors.
    let mut t = embedded_tensors();
    for v in t.values_mut() {
        let halves: Vec<half::f16> = v.2.chunks(2).map(|c| half::f16::from_le_bytes([c[0], c[1]])).collect();
        v.0 = Dtype::F32;
        v.2 = halves.iter().flat_map(|h| h.to_f32().to_le_bytes()).collect();
    }
    t.insert("classifier.0.weight".into(), (Dtype::F32, vec![4, 2], vec![0; 32]));
    let net = load_safetensors(&serialize(&t), "f32", Tap::new(5, 1), &Device::Cpu).unwrap();
    assert_eq!(net.config().arch, Arch::Vgg16);
}

#[test]
fn vgg19_in_bf16_is_detected_and_loaded() {
    // timm's vgg19.tv_in1k uses the same features.N names; build one with VGG19 shapes.
    let blocks = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)];
    let (mut index, mut cin) = (0, 3);
    let mut t = HashMap::new();
    for (b, &(cout, n)) in blocks.iter().enumerate() {
        if b > 0 {
            index += 1;
        }
        for _ in 0..n {
            let count = cout * cin * 9;
            let bytes: Vec<u8> =
                (0..count).flat_map(|i| half::bf16::from_f32(((i % 7) as f32 - 3.0) * 1e-3).to_le_bytes()).collect();
            t.insert(format!("features.{index}.weight"), (Dtype::BF16, vec![cout, cin, 3, 3], bytes));
            t.insert(format!("features.{index}.bias"), (Dtype::BF16, vec![cout], vec![0; cout * 2]));
            index += 2;
            cin = cout;
        }
    }
    let net = load_safetensors(&serialize(&t), "vgg19", Tap::new(5, 1), &Device::Cpu).unwrap();
    assert_eq!(net.config().arch, Arch::Vgg19);
    assert!(net.tap_index(Tap::new(3, 4)).is_some());
}
