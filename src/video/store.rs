//! The folder a clip's frames are written to as they finish, with the plan they were rendered
//! under: a crash or a close loses at most the frame in progress, and a resumed render finds
//! where to go on. Each frame is a PNG written whole or not at all.

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::error::{Error, Result};
use crate::imageio::save_png;
use crate::transfer::RenderSpec;
use crate::video::clip::CLIP_JSON;
use crate::video::export::ClipFormat;

/// The file holding the plan, in the frames folder.
pub const PLAN_JSON: &str = "render.json";

/// Written when a loop's first frames, rendered again, are complete: they then replace the
/// first renderings (`{"frames": K}`; 0 when the wrap is a cut and nothing was joined).
pub const JOINED_JSON: &str = "loop.json";

/// What a clip render was asked to do, kept beside its frames.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipPlan {
    /// The clip read.
    pub clip: PathBuf,
    /// The first frame rendered (0-based).
    pub first: usize,
    /// One past the last frame rendered.
    pub end: usize,
    /// Frames per second of the clip (and of the output).
    pub fps: f64,
    /// The render's settings (the clip as the content).
    pub spec: RenderSpec,
}

impl ClipPlan {
    /// The clip's sound over the frames rendered (when the clip has a sound track).
    pub fn sound(&self) -> crate::video::export::SoundSource {
        crate::video::export::SoundSource {
            clip: self.clip.clone(),
            from: self.first as f64 / self.fps,
            to: self.end as f64 / self.fps,
        }
    }
}

/// A clip's frames folder.
#[derive(Debug, Clone)]
pub struct FrameStore {
    folder: PathBuf,
    plan: ClipPlan,
}

impl FrameStore {
    /// Makes `folder` (if needed) and records `plan` in it. A folder that already holds frames
    /// of a render is refused, so nothing rendered is overwritten: resume it instead.
    pub fn create(folder: &Path, plan: ClipPlan) -> Result<Self> {
        let fail = |e: std::io::Error| Error::Save { path: folder.to_path_buf(), reason: e.to_string() };
        if folder.join(PLAN_JSON).exists() {
            let done = FrameStore::open(folder).map(|s| s.finished()).unwrap_or(0);
            if done > 0 {
                return Err(Error::invalid(format!(
                    "{} already holds {done} rendered frames: resume that render (--resume), or choose another output",
                    folder.display()
                )));
            }
        }
        std::fs::create_dir_all(folder).map_err(fail)?;
        let store = FrameStore { folder: folder.to_path_buf(), plan };
        store.write_json(PLAN_JSON, &serde_json::to_string_pretty(&store.plan))?;
        store.write_json(CLIP_JSON, &serde_json::to_string(&serde_json::json!({ "fps": store.plan.fps })))?;
        Ok(store)
    }

    /// The render recorded in `folder`.
    pub fn open(folder: &Path) -> Result<Self> {
        let file = folder.join(PLAN_JSON);
        let fail = |reason: String| Error::Settings { origin: file.display().to_string(), reason };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| fail(format!("{e}: nothing to resume here (a clip's frames folder holds {PLAN_JSON})")))?;
        let plan: ClipPlan = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if plan.end <= plan.first {
            return Err(fail(format!("the frame range {}..{} is empty", plan.first, plan.end)));
        }
        Ok(FrameStore { folder: folder.to_path_buf(), plan })
    }

    /// The same folder seen as holding frames `first..end` only (a farm task's frames): what
    /// is finished, and where a render goes on, are counted within them. Nothing is written.
    pub fn narrowed(self, first: usize, end: usize) -> Self {
        FrameStore { plan: ClipPlan { first, end, ..self.plan }, ..self }
    }

    /// The plan.
    pub fn plan(&self) -> &ClipPlan {
        &self.plan
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The file of frame `index` (0-based in the clip; named from 1).
    pub fn path(&self, index: usize) -> PathBuf {
        self.folder.join(format!("frame_{:06}.png", index + 1))
    }

    /// How many frames are finished, counted from the first without a gap.
    pub fn finished(&self) -> usize {
        (self.plan.first..self.plan.end).take_while(|&i| self.path(i).is_file()).count()
    }

    /// The finished frames' files, in order.
    pub fn frames(&self) -> Vec<PathBuf> {
        (self.plan.first..self.plan.first + self.finished()).map(|i| self.path(i)).collect()
    }

    /// Writes frame `index`, with the settings and the frame's number in its text.
    pub fn save(&self, index: usize, rgb: &RgbImage) -> Result<()> {
        self.save_as(index, rgb, &self.path(index))
    }

    /// The file of frame `index` rendered again to join a loop, until the join is complete.
    pub fn rejoined_path(&self, index: usize) -> PathBuf {
        self.folder.join(format!("loop_{:06}.png", index + 1))
    }

    /// How many of a loop's first frames are rendered again, counted from the first.
    pub fn rejoined(&self) -> usize {
        (self.plan.first..self.plan.end).take_while(|&i| self.rejoined_path(i).is_file()).count()
    }

    /// Writes frame `index` rendered again to join the loop (the first rendering stays until
    /// [`FrameStore::commit_join`]).
    pub fn save_rejoined(&self, index: usize, rgb: &RgbImage) -> Result<()> {
        self.save_as(index, rgb, &self.rejoined_path(index))
    }

    /// The frames the loop's join replaced, once it is complete (`None`: not yet).
    pub fn joined(&self) -> Result<Option<usize>> {
        let file = self.folder.join(JOINED_JSON);
        if !file.is_file() {
            return Ok(None);
        }
        let fail = |reason: String| Error::Settings { origin: file.display().to_string(), reason };
        let text = std::fs::read_to_string(&file).map_err(|e| fail(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let frames =
            value.get("frames").and_then(serde_json::Value::as_u64).ok_or_else(|| fail("no frame count".into()))?;
        Ok(Some(frames as usize))
    }

    /// Records the join of the loop's first `frames` as complete, then moves each frame
    /// rendered again over its first rendering. Recorded first, so a crash between the moves
    /// is finished by the next [`FrameStore::commit_join`] (a resume) rather than taken for a
    /// join half done.
    pub fn commit_join(&self, frames: usize) -> Result<()> {
        self.write_json(JOINED_JSON, &serde_json::to_string(&serde_json::json!({ "frames": frames })))?;
        for index in self.plan.first..self.plan.end {
            let from = self.rejoined_path(index);
            if from.is_file() {
                std::fs::rename(&from, self.path(index))
                    .map_err(|e| Error::Save { path: self.path(index), reason: e.to_string() })?;
            }
        }
        Ok(())
    }

    fn save_as(&self, index: usize, rgb: &RgbImage, path: &Path) -> Result<()> {
        let mut text = self.plan.spec.png_text(0)?;
        text.retain(|(k, _)| k != "nss:iteration");
        text.push(("nss:frame".to_string(), (index + 1).to_string()));
        save_png(&image::DynamicImage::ImageRgb8(rgb.clone()), path, &text)
    }

    fn write_json(&self, name: &str, json: &serde_json::Result<String>) -> Result<()> {
        let path = self.folder.join(name);
        let fail = |reason: String| Error::Save { path: path.clone(), reason };
        let json = json.as_ref().map_err(|e| fail(e.to_string()))?;
        let tmp = self.folder.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| fail(e.to_string()))
    }
}

/// The frames folder of the clip output `out`: the output itself when it is a folder of frames,
/// else `OUT.frames` beside the file.
pub fn frames_folder(out: &Path) -> Result<PathBuf> {
    if ClipFormat::of(out)? == ClipFormat::Frames {
        return Ok(out.to_path_buf());
    }
    let name = out.file_name().ok_or_else(|| Error::invalid("the clip's output has no file name"))?;
    Ok(out.with_file_name(format!("{}.frames", name.to_string_lossy())))
}

/// Bytes free for an unprivileged user on the file system holding `path` (`None` when unknown).
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let existing = path.ancestors().find(|p| p.exists())?;
        let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
        let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c` is a NUL-terminated path and `stats` is written by statvfs before it is read.
        let ok = unsafe { libc::statvfs(c.as_ptr(), stats.as_mut_ptr()) } == 0;
        // SAFETY: statvfs succeeded, so it filled `stats`.
        let stats = ok.then(|| unsafe { stats.assume_init() })?;
        // Their types differ between platforms (u32 on some 32-bit ones).
        #[allow(clippy::useless_conversion)]
        Some(u64::from(stats.f_bavail) * u64::from(stats.f_frsize))
    }
    #[cfg(not(unix))]
    {
        // Unknown here: the estimate is only checked where it can be.
        let _ = path;
        None
    }
}
