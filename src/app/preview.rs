//! The central preview: the newest frame in one persistent wgpu texture, drawn by a custom
//! egui-wgpu paint callback (shaders/preview.wgsl) with fit, zoom about the cursor, pan, and a
//! before/after split. Without a wgpu renderer it falls back to an egui texture.

use std::sync::Arc;

use eframe::egui_wgpu::{self, wgpu};
use egui::{Rect, Sense, Vec2};
use image::RgbaImage;

/// An image with a version number, so the GPU copy is only refreshed when it changed.
#[derive(Clone)]
pub struct Versioned {
    /// Pixels.
    pub image: Arc<RgbaImage>,
    /// Increases whenever `image` changes.
    pub version: u64,
}

/// View state of the preview (what the mouse changes).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// 1 = fit to the panel.
    pub zoom: f32,
    /// Offset of the image centre from the panel centre, in points.
    pub pan: Vec2,
    /// Divider position in image u, when the before/after split is on.
    pub split: Option<f32>,
    dragging_divider: bool,
    /// Points per image pixel at zoom 1 in the last frame drawn (0 before the first).
    fit_scale: f32,
}

impl Default for View {
    fn default() -> Self {
        View { zoom: 1.0, pan: Vec2::ZERO, split: None, dragging_divider: false, fit_scale: 0.0 }
    }
}

impl View {
    /// Back to fit-to-window, keeping the split.
    pub fn fit(&mut self) {
        *self = View { split: self.split, fit_scale: self.fit_scale, ..View::default() };
    }

    /// Screen pixels per image pixel, in percent (`None` before the first frame is drawn).
    pub fn percent(&self, pixels_per_point: f32) -> Option<f32> {
        (self.fit_scale > 0.0).then_some(self.fit_scale * self.zoom * pixels_per_point * 100.0)
    }

    /// One image pixel per screen pixel (100%), about the centre of the view: to judge a print's
    /// detail as it will be.
    pub fn actual_pixels(&mut self, pixels_per_point: f32) {
        if self.fit_scale > 0.0 {
            let zoom = 1.0 / (self.fit_scale * pixels_per_point);
            self.pan *= zoom / self.zoom;
            self.zoom = zoom;
        }
    }

    /// Where the image lands inside `rect` for an image of `size` pixels.
    pub fn image_rect(&self, rect: Rect, size: Vec2) -> Rect {
        let fit = (rect.width() / size.x).min(rect.height() / size.y);
        Rect::from_center_size(rect.center() + self.pan, size * fit * self.zoom)
    }

    /// Applies wheel zoom (about the cursor), drags (pan or divider) and double-click (reset).
    /// While `painting`, the primary button paints and only the other buttons pan.
    fn interact(&mut self, ui: &egui::Ui, response: &egui::Response, rect: Rect, size: Vec2, painting: bool) {
        let img = self.image_rect(rect, size);
        if response.double_clicked() && !painting {
            self.fit();
            return;
        }
        if let Some(cursor) = response.hover_pos() {
            let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = (scroll * 0.002).exp() * pinch;
            if factor != 1.0 {
                let new_zoom = (self.zoom * factor).clamp(0.1, 32.0);
                let f = new_zoom / self.zoom;
                // Keep the point under the cursor fixed.
                let center = rect.center() + self.pan;
                self.pan = cursor + (center - cursor) * f - rect.center();
                self.zoom = new_zoom;
            }
        }
        if response.drag_started() && !painting {
            let near = |p: egui::Pos2| self.split.is_some_and(|s| (p.x - (img.left() + s * img.width())).abs() < 8.0);
            self.dragging_divider = response.interact_pointer_pos().is_some_and(near);
        }
        if response.dragged() {
            if self.dragging_divider {
                if let (Some(p), Some(_)) = (response.interact_pointer_pos(), self.split) {
                    self.split = Some(((p.x - img.left()) / img.width()).clamp(0.0, 1.0));
                }
            } else if !painting || !response.dragged_by(egui::PointerButton::Primary) {
                self.pan += response.drag_delta();
            }
        }
        if response.drag_stopped() {
            self.dragging_divider = false;
        }
    }
}

/// Draws the preview into the remaining space of `ui`; returns its response and where the
/// picture landed (for the mask brush, which paints while `painting`).
pub fn show(
    ui: &mut egui::Ui,
    view: &mut View,
    result: &Versioned,
    content: &Versioned,
    fallback: &mut Option<(egui::TextureHandle, u64)>,
    painting: bool,
) -> (egui::Response, Rect) {
    let rect = ui.available_rect_before_wrap();
    let hint = if painting {
        "Drag: paint · right-drag: pan · wheel: zoom"
    } else {
        "Wheel: zoom · drag: pan · double-click: fit"
    };
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    let response = if painting { response } else { response.on_hover_text(hint) };
    let size = Vec2::new(result.image.width() as f32, result.image.height() as f32);
    view.fit_scale = (rect.width() / size.x).min(rect.height() / size.y);
    view.interact(ui, &response, rect, size, painting);
    let img = view.image_rect(rect, size);
    if ui.ctx().data(|d| d.get_temp::<bool>(egui::Id::unique(WGPU_READY))).unwrap_or(false) {
        let place = [
            (img.left() - rect.left()) / rect.width(),
            (img.top() - rect.top()) / rect.height(),
            img.width() / rect.width(),
            img.height() / rect.height(),
        ];
        let split = [view.split.unwrap_or(-1.0), 1.0 / img.width().max(1.0), 0.0, 0.0];
        let cb =
            PreviewCallback { result: result.clone(), content: content.clone(), uniforms: [place, split].concat() };
        ui.painter().with_clip_rect(rect).add(egui_wgpu::Callback::new_paint_callback(rect, cb));
    } else {
        // Upload only when the frame changed, like the wgpu path.
        let (tex, version) = fallback.get_or_insert_with(|| {
            let tex = ui.ctx().load_texture("preview", to_color_image(&result.image), egui::TextureOptions::LINEAR);
            (tex, result.version)
        });
        if *version != result.version {
            tex.set(to_color_image(&result.image), egui::TextureOptions::LINEAR);
            *version = result.version;
        }
        let uv = Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        ui.painter().with_clip_rect(rect).image(tex.id(), img, uv, egui::Color32::WHITE);
    }
    (response, img)
}

/// egui image from RGBA8.
pub fn to_color_image(img: &RgbaImage) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied([img.width() as usize, img.height() as usize], img.as_raw())
}

const WGPU_READY: &str = "nss-preview-wgpu-ready";

/// Creates the pipeline once, stores it in egui-wgpu's callback resources, and records that the
/// wgpu path is available. Returns false without a wgpu renderer.
pub fn init(cc: &eframe::CreationContext<'_>) -> bool {
    let Some(rs) = cc.wgpu_render_state.as_ref() else { return false };
    let device = &rs.device;
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("nss-preview"),
        source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/preview.wgsl").into()),
    });
    let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: true },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    };
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("nss-preview"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            texture_entry(1),
            texture_entry(2),
            wgpu::BindGroupLayoutEntry {
                binding: 3,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("nss-preview"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("nss-preview"),
        layout: Some(&pipeline_layout),
        vertex: wgpu::VertexState {
            module: &shader,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        fragment: Some(wgpu::FragmentState {
            module: &shader,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(rs.target_format.into())],
        }),
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        multiview_mask: None,
        cache: None,
    });
    let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("nss-preview"),
        size: 32,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("nss-preview"),
        mag_filter: wgpu::FilterMode::Nearest, // crisp pixels when zoomed in
        min_filter: wgpu::FilterMode::Linear,
        ..Default::default()
    });
    rs.renderer.write().callback_resources.insert(Resources {
        pipeline,
        layout,
        uniforms,
        sampler,
        result: None,
        content: None,
        bind_group: None,
    });
    cc.egui_ctx.data_mut(|d| d.insert_temp(egui::Id::unique(WGPU_READY), true));
    true
}

/// A texture that is written in place while its size stays the same.
struct Slot {
    texture: wgpu::Texture,
    version: u64,
}

/// GPU state living in egui-wgpu's callback resources (it must outlive every frame).
struct Resources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    sampler: wgpu::Sampler,
    result: Option<Slot>,
    content: Option<Slot>,
    bind_group: Option<wgpu::BindGroup>,
}

/// Upload `img` into `slot`, reusing the texture when the size matches; true if recreated.
fn upload(device: &wgpu::Device, queue: &wgpu::Queue, slot: &mut Option<Slot>, img: &Versioned) -> bool {
    if slot.as_ref().is_some_and(|s| s.version == img.version) {
        return false;
    }
    let size = wgpu::Extent3d { width: img.image.width(), height: img.image.height(), depth_or_array_layers: 1 };
    let recreate = slot.as_ref().is_none_or(|s| s.texture.size() != size);
    if recreate {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("nss-preview-image"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        *slot = Some(Slot { texture, version: 0 });
    }
    if let Some(s) = slot {
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &s.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            img.image.as_raw(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * size.width),
                rows_per_image: Some(size.height),
            },
            size,
        );
        s.version = img.version;
    }
    recreate
}

/// The per-frame paint callback: carries the newest images (by reference) and the placement.
struct PreviewCallback {
    result: Versioned,
    content: Versioned,
    uniforms: Vec<f32>,
}

impl egui_wgpu::CallbackTrait for PreviewCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(r) = resources.get_mut::<Resources>() else { return Vec::new() };
        let new_result = upload(device, queue, &mut r.result, &self.result);
        let new_content = upload(device, queue, &mut r.content, &self.content);
        if new_result || new_content || r.bind_group.is_none() {
            if let (Some(res), Some(con)) = (&r.result, &r.content) {
                let rv = res.texture.create_view(&Default::default());
                let cv = con.texture.create_view(&Default::default());
                r.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("nss-preview"),
                    layout: &r.layout,
                    entries: &[
                        wgpu::BindGroupEntry { binding: 0, resource: r.uniforms.as_entire_binding() },
                        wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(&rv) },
                        wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::TextureView(&cv) },
                        wgpu::BindGroupEntry { binding: 3, resource: wgpu::BindingResource::Sampler(&r.sampler) },
                    ],
                }));
            }
        }
        let bytes: Vec<u8> = self.uniforms.iter().flat_map(|f| f.to_le_bytes()).collect();
        queue.write_buffer(&r.uniforms, 0, &bytes);
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(r) = resources.get::<Resources>() else { return };
        let Some(bind_group) = &r.bind_group else { return };
        pass.set_pipeline(&r.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hundred_percent_shows_one_picture_pixel_per_screen_pixel() {
        // A 2000 px wide picture fitted into 500 points on a 2x screen: 25% at zoom 1.
        let mut view = View { fit_scale: 0.25, pan: Vec2::new(10.0, -4.0), ..View::default() };
        assert_eq!(view.percent(2.0), Some(50.0));
        view.actual_pixels(2.0);
        assert_eq!((view.zoom, view.percent(2.0)), (2.0, Some(100.0)));
        assert_eq!(view.pan, Vec2::new(20.0, -8.0), "the same point stays in the middle");
        view.fit();
        assert_eq!((view.zoom, view.percent(2.0)), (1.0, Some(50.0)));
        assert_eq!(View::default().percent(1.0), None);
    }
}
