//! Where a clip render begins: a new one (the clip checked, the disk it needs counted), or one
//! going on from its frames folder (the last frame written read back as the previous result, a
//! loop's join picked up where it stopped).

use std::path::Path;

use super::{clip_ended, pass_frame, ClipRender, Previous};
use crate::error::{Error, Result};
use crate::imageio::fit_long_side;
use crate::notice::Note;
use crate::transfer::Job;
use crate::video::clip::ClipReader;
use crate::video::estimate::{human_bytes, PNG_SHARE};
use crate::video::flow::{FlowParams, Gray};
use crate::video::shots::CutDetector;
use crate::video::store::{free_bytes, ClipPlan, FrameStore};
use crate::video::wrap::frames_to_join;

impl ClipRender {
    /// Starts rendering `plan` into `folder` (made if needed; refused when it holds frames of
    /// a render already). Returns notes for the user (the estimate of disk, adjustments).
    pub fn start(folder: &Path, plan: ClipPlan) -> Result<(Self, Vec<Note>)> {
        plan.spec.validate()?;
        let mut reader = ClipReader::open(&plan.clip)?;
        let info = reader.info().clone();
        if plan.first >= info.frames || plan.end <= plan.first {
            return Err(Error::invalid(format!(
                "frames {}..{} are not in the clip, which has {} frames",
                plan.first + 1,
                plan.end,
                info.frames
            )));
        }
        let plan = ClipPlan { end: plan.end.min(info.frames), ..plan };
        reader.check_through(plan.end)?;
        let size = fit_long_side(info.size, plan.spec.size);
        reader.scale_to(size);
        let frames = plan.end - plan.first;
        let bytes = frames as f64 * f64::from(size.0 * size.1) * 3.0 * PNG_SHARE;
        if let Some(free) = free_bytes(folder) {
            if bytes > free as f64 {
                return Err(Error::invalid(format!(
                    "{frames} frames at {}x{} need about {} of disk and {} has {} free: render fewer frames \
                     (--frames) or a smaller size",
                    size.0,
                    size.1,
                    human_bytes(bytes),
                    folder.display(),
                    human_bytes(free as f64)
                )));
            }
        }
        let note = Note::ClipFrames {
            frames,
            size,
            fps: info.fps,
            bytes,
            folder: folder.to_path_buf(),
            join: plan.spec.video.looped.then(|| frames_to_join(frames)),
        };
        let store = FrameStore::create(folder, ClipPlan { fps: info.fps, ..plan })?;
        let render = ClipRender::open(store, reader, size, 0)?;
        let mut notes = vec![Note::Clip { about: info.about.clone() }];
        notes.extend(info.notes.iter().cloned());
        notes.push(note);
        Ok((render, notes))
    }

    /// Goes on with the render recorded in `folder`, from the first frame not written (the
    /// frame before it is read back as the previous result).
    pub fn resume(folder: &Path) -> Result<Self> {
        let store = FrameStore::open(folder)?;
        store.plan().spec.validate()?;
        let mut reader = ClipReader::open(&store.plan().clip)?;
        let size = fit_long_side(reader.info().size, store.plan().spec.size);
        reader.scale_to(size);
        ClipRender::open(store, reader, size, 0)
    }

    /// Renders frames `first..end` of the render recorded in `folder` (a farm's task), going on
    /// from the first of them not written. When none is written yet, the `preroll` frames
    /// before `first` are rendered first and not written, so that the motion carries into
    /// `first` as it would in one render (they must lie in the same shot).
    pub fn part(folder: &Path, (first, end): (usize, usize), preroll: usize) -> Result<Self> {
        let store = FrameStore::open(folder)?;
        let plan = store.plan();
        if first >= end || first < plan.first || end > plan.end || preroll > first - plan.first {
            return Err(Error::invalid(format!(
                "frames {}..{} with {preroll} frames of pre-roll are not within the render's frames {}..{}",
                first + 1,
                end,
                plan.first + 1,
                plan.end
            )));
        }
        if plan.spec.video.looped {
            return Err(Error::invalid("a loop's join needs its last frame: a loop renders on one machine"));
        }
        let store = store.narrowed(first, end);
        store.plan().spec.validate()?;
        let mut reader = ClipReader::open(&store.plan().clip)?;
        let size = fit_long_side(reader.info().size, store.plan().spec.size);
        reader.scale_to(size);
        ClipRender::open(store, reader, size, preroll)
    }

    fn open(store: FrameStore, mut reader: ClipReader, size: (u32, u32), preroll: usize) -> Result<Self> {
        let (first, end, done) = (store.plan().first, store.plan().end, store.finished());
        let mut join = if store.plan().spec.video.looped { frames_to_join(end - first) } else { 0 };
        // Pre-roll only leads into the first frame: once one is written it is the previous result.
        let mut next = if done == 0 { first - preroll } else { first + done };
        if next == end && join > 0 {
            match store.joined()? {
                Some(k) => {
                    store.commit_join(k)?;
                    join = k;
                    next = end + k;
                }
                None => next = end + store.rejoined().min(join),
            }
        }
        let mut previous = None;
        let mut cuts = CutDetector::new();
        if next > first {
            let last = pass_frame(next - 1, first, end);
            let file = if next > end { store.rejoined_path(last) } else { store.path(last) };
            reader.seek(last)?;
            let input = reader.next_frame()?.ok_or_else(|| clip_ended(&reader, last))?;
            let output = crate::imageio::load_rgb(&file)?;
            if output.dimensions() != size {
                return Err(Error::invalid(format!(
                    "the frames in {} are {}x{}, not the {}x{} this render makes",
                    store.folder().display(),
                    output.width(),
                    output.height(),
                    size.0,
                    size.1
                )));
            }
            cuts.push(&input);
            previous = Some(Previous { input: Gray::from_rgb(&input), output });
        }
        if next <= first {
            reader.seek(next)?;
        } else if next == end && join > 0 {
            reader.seek(first)?;
        }
        Ok(ClipRender {
            store,
            reader,
            job: Job::new(),
            sources: None,
            size,
            previous,
            current: None,
            next,
            join,
            flow: FlowParams::default(),
            cuts,
        })
    }
}
