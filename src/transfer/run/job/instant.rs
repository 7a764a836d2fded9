//! The instant look through the Job: the feed-forward picture as a render of its own, and the
//! networks kept loaded (per device) for `Init::Instant` starts.

use std::sync::Arc;

use image::DynamicImage;

use super::{workable_size, Job};
use crate::error::Result;
use crate::imageio::resize;
use crate::model::DeviceChoice;
use crate::transfer::run::colour::{colours_after, colours_before};
use crate::transfer::run::painter::Painter;
use crate::transfer::spec::RenderSpec;

impl Job {
    /// The instant look of `spec` at its output size, as it is saved (with the content's
    /// alpha): the feed-forward picture alone, no run needed (any run in progress is kept).
    pub fn instant(&mut self, spec: &RenderSpec) -> Result<DynamicImage> {
        spec.validate()?;
        let sources = self.sources(spec)?;
        let sources = colours_before(spec.preserve_colors, sources);
        let dims = workable_size("content image", sources.content.dimensions(), spec.size)?;
        let rgb = self.painter(spec.device)?.paint(&sources, spec, dims)?;
        let rgb = colours_after(spec.preserve_colors, rgb, &resize(&sources.content, dims));
        Ok(match sources.content_alpha_at(dims) {
            Some(alpha) => DynamicImage::ImageRgba8(crate::imageio::attach_alpha(&rgb, &alpha)),
            None => DynamicImage::ImageRgb8(rgb),
        })
    }

    /// The instant look's networks on `device` (loaded once).
    pub(super) fn painter(&mut self, device: DeviceChoice) -> Result<Arc<Painter>> {
        match &self.painter {
            Some((d, p)) if *d == device => Ok(p.clone()),
            _ => {
                let painter = Arc::new(Painter::new(&device.open()?)?);
                self.painter = Some((device, painter.clone()));
                Ok(painter)
            }
        }
    }
}
