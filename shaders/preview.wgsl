// Preview of the evolving image: fit/zoom/pan placement, and a before/after split showing the
// content image left of a draggable divider.

struct Uniforms {
    // xy: top-left of the image in the callback rect (0..1), zw: its size (same units).
    place: vec4<f32>,
    // x: divider position in image u (negative = no split), y: divider half-width in u,
    // zw: unused.
    split: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;
@group(0) @binding(1) var result_tex: texture_2d<f32>;
@group(0) @binding(2) var content_tex: texture_2d<f32>;
@group(0) @binding(3) var samp: sampler;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,
};

// One triangle covering the viewport (egui-wgpu sets the viewport to the callback's rect).
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VertexOut {
    let t = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    var out: VertexOut;
    out.position = vec4<f32>(t.x * 2.0 - 1.0, 1.0 - t.y * 2.0, 0.0, 1.0);
    out.local = t;
    return out;
}

// A quiet checkerboard: outside the image, and behind its transparent parts.
fn checker(position: vec2<f32>) -> vec3<f32> {
    let cell = floor(position / 12.0);
    let odd = (i32(cell.x) + i32(cell.y)) % 2 != 0;
    return select(vec3<f32>(0.11, 0.11, 0.12), vec3<f32>(0.14, 0.14, 0.15), odd);
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let uv = (in.local - u.place.xy) / u.place.zw;
    if (any(uv < vec2<f32>(0.0)) || any(uv > vec2<f32>(1.0))) {
        return vec4<f32>(checker(in.position.xy), 1.0);
    }
    let split = u.split.x;
    if (split >= 0.0 && abs(uv.x - split) < u.split.y) {
        return vec4<f32>(0.95, 0.95, 0.95, 1.0);
    }
    // Level 0 explicitly: no derivatives needed, so sampling inside branches is allowed.
    let result = textureSampleLevel(result_tex, samp, uv, 0.0);
    let content = textureSampleLevel(content_tex, samp, uv, 0.0);
    let shown = select(result, content, split >= 0.0 && uv.x < split);
    // A cut-out photo's alpha is kept in the export, so the preview shows it too.
    return vec4<f32>(mix(checker(in.position.xy), shown.rgb, shown.a), 1.0);
}
