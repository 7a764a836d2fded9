//! The clip driver: renders a clip's frames in order with one [`Job`], a step at a time (no
//! threads, no loop of its own: the command line and the app's worker call [`ClipRender::step`]).
//! Each frame after the first starts from the previous result carried along the motion
//! (backward flow) and is held to it where the forward and backward flows agree. Frames are
//! decoded one at a time and written as they finish, so memory does not grow with the clip and
//! a render stopped anywhere resumes at the first frame not written.

use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

mod begin;

use crate::error::{Error, Result};
use crate::imageio::Picture;
use crate::transfer::run::colour::{colours_after, colours_before};
use crate::transfer::{fast_hold, Event, ImageRef, Init, Job, Prior, RenderSpec, Schedule};
use crate::transfer::{SourceImages, VideoMode};
use crate::video::clip::ClipReader;
use crate::video::export::SoundSource;
use crate::video::flow::{FlowParams, Gray};
use crate::video::shots::CutDetector;
use crate::video::store::{ClipPlan, FrameStore};
use crate::video::warp::{carry, hold};
use crate::video::wrap::{join_target, mix, share_kept};

/// What a step did.
#[derive(Debug, Clone, PartialEq)]
pub enum ClipEvent {
    /// An optimiser iteration of a frame (Quality mode).
    Iteration {
        /// The frame (0-based in the clip).
        frame: usize,
        /// Iterations done on it.
        done: usize,
        /// Iterations it will take.
        total: usize,
    },
    /// A frame was written.
    Frame {
        /// The frame (0-based in the clip).
        index: usize,
        /// Seconds it took, flow included.
        seconds: f64,
    },
    /// Frame `frame` begins a new shot (a cut): it renders as a first frame.
    Cut {
        /// The frame (0-based in the clip).
        frame: usize,
    },
    /// A loop's first `frames` frames, rendered again from the last one, replaced their first
    /// renderings (0: the last frame and the first are different shots; nothing was joined).
    Joined {
        /// Frames rendered again.
        frames: usize,
    },
    /// The last frame was written.
    Finished,
}

/// The previous frame: its input (grey, at the render size) and its result.
struct Previous {
    input: Gray,
    output: RgbImage,
}

/// A frame being optimised.
struct InProgress {
    pass: usize,
    input: Gray,
    started: Instant,
}

/// A clip render in progress.
pub struct ClipRender {
    store: FrameStore,
    reader: ClipReader,
    job: Job,
    /// The style images (decoded once) around the latest frame.
    sources: Option<Arc<SourceImages>>,
    /// The render size of every frame.
    size: (u32, u32),
    previous: Option<Previous>,
    current: Option<InProgress>,
    /// The next pass: the clip's frames `first..end` are passes `first..end` (a farm task's
    /// pre-roll frames, rendered and not written, come before `first`), and a loop's first
    /// frames rendered again are passes `end..end + join`.
    next: usize,
    /// How many first frames a loop renders again (0: not a loop).
    join: usize,
    flow: FlowParams,
    /// Tells where a new shot begins.
    cuts: CutDetector,
}

impl ClipRender {
    /// The plan being rendered.
    pub fn plan(&self) -> &ClipPlan {
        self.store.plan()
    }

    /// The frames folder.
    pub fn store(&self) -> &FrameStore {
        &self.store
    }

    /// Frames written, and frames in all.
    pub fn progress(&self) -> (usize, usize) {
        let plan = self.store.plan();
        let end = plan.end + self.join;
        // A pre-roll frame in progress is not one of the frames to write.
        let in_progress = self.current.as_ref().is_some_and(|c| c.pass >= plan.first);
        (self.next.min(end).saturating_sub(plan.first) - usize::from(in_progress), end - plan.first)
    }

    /// The clip's sound over the frames rendered, when it has a sound track.
    pub fn sound(&self) -> Option<SoundSource> {
        self.reader.info().sound.then(|| self.store.plan().sound())
    }

    /// Whether every frame is written.
    pub fn is_finished(&self) -> bool {
        self.current.is_none() && self.next >= self.store.plan().end + self.join
    }

    /// The frame in progress's (or the last frame's) picture before painting, at the render size.
    pub fn input(&self) -> Option<&RgbImage> {
        self.sources.as_ref().map(|s| &s.content)
    }

    /// The render size of the frames.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// The frame in progress's picture so far (Quality mode), else the last frame written.
    pub fn picture(&self) -> Result<Option<RgbImage>> {
        if self.current.is_some() {
            return self.job.image().map(Some);
        }
        Ok(self.previous.as_ref().map(|p| p.output.clone()))
    }

    /// One unit of work: an optimiser iteration of the frame in progress (Quality), or a whole
    /// frame (Fast, and a Quality frame's start).
    pub fn step(&mut self) -> Result<Vec<ClipEvent>> {
        if self.current.is_some() {
            return self.iterate();
        }
        let (first, end) = (self.store.plan().first, self.store.plan().end);
        if self.next >= end + self.join {
            return Ok(Vec::new());
        }
        let pass = self.next;
        let index = pass_frame(pass, first, end);
        let started = Instant::now();
        let frame = self.reader.next_frame()?.ok_or_else(|| clip_ended(&self.reader, index))?;
        self.next += 1;
        let input = Gray::from_rgb(&frame);
        // Nothing is carried across a cut: the new shot's first frame renders as a first frame.
        let cut = self.cuts.push(&frame).is_some_and(|c| c.is_cut());
        if cut && pass >= end {
            // The loop joins its last shot to the first frames of its first shot only.
            return self.commit_join(pass - end);
        }
        // A loop's frame rendered again: its first rendering, and how much of it is kept.
        let rejoin = match pass >= end {
            true => Some((crate::imageio::load_rgb(&self.store.path(index))?, share_kept(pass - end, self.join))),
            false => None,
        };
        let sources = self.sources_for(frame)?;
        let spec = self.store.plan().spec.clone();
        // The previous result carried onto this frame, and where the motion is trusted.
        let carried = match &self.previous {
            Some(p) if !cut => Some(carry(&p.input, &input, &p.output, &self.flow)),
            _ => None,
        };
        let mut events = if cut { vec![ClipEvent::Cut { frame: index }] } else { Vec::new() };
        match spec.video.mode {
            VideoMode::Fast => {
                let sources = colours_before(spec.preserve_colors, sources);
                let mut painted = self.job.paint(&spec, &sources, self.size)?;
                if let Some((warped, reliable)) = &carried {
                    painted = hold(&painted, warped, reliable, fast_hold(spec.objective.temporal_weight));
                }
                painted = colours_after(spec.preserve_colors, painted, &sources.content);
                if let Some((first_rendering, share)) = &rejoin {
                    painted = mix(&painted, first_rendering, *share);
                }
                events.extend(self.finish_frame(pass, input, painted, started)?);
                Ok(events)
            }
            VideoMode::Quality => {
                let (spec, prior) = match carried {
                    None => (spec, None),
                    Some((warped, reliable)) => {
                        let (warped, reliable) = match &rejoin {
                            Some((first_rendering, share)) => join_target(&warped, &reliable, first_rendering, *share),
                            None => (warped, reliable),
                        };
                        // Where the motion is not trusted (uncovered ground, the frame's edge)
                        // the instant look, if the render starts from it, is a better start
                        // than the smear the warp leaves there.
                        let start = match spec.run.init {
                            Init::Instant => match self.job.paint(&spec, &sources, self.size) {
                                Ok(painted) => hold(&painted, &warped, &reliable, 1e6),
                                Err(_) => warped.clone(),
                            },
                            _ => warped.clone(),
                        };
                        let later = RenderSpec {
                            schedule: Schedule {
                                iterations: spec.video.later_iterations,
                                scales: 1,
                                stages: Vec::new(),
                            },
                            ..spec
                        };
                        (later, Some(Prior { start, warped, reliable }))
                    }
                };
                self.job.start_frame(spec, sources, prior)?;
                self.current = Some(InProgress { pass, input, started });
                Ok(events)
            }
        }
    }

    /// One optimiser iteration of the frame in progress; writes it when it is done.
    fn iterate(&mut self) -> Result<Vec<ClipEvent>> {
        let mut events = Vec::new();
        let plan = self.store.plan();
        let index = self.current.as_ref().map_or(0, |c| pass_frame(c.pass, plan.first, plan.end));
        let steps = self.job.step().map_err(|e| Error::Frame { frame: index + 1, source: Box::new(e) })?;
        for event in steps {
            match event {
                Event::Stepped(_) => {
                    events.push(ClipEvent::Iteration { frame: index, done: self.job.done(), total: self.job.total() })
                }
                Event::Fault(_) | Event::StageChanged { .. } | Event::Finished => {}
            }
        }
        if self.job.is_finished() {
            if let Some(current) = self.current.take() {
                let output = self.job.output()?.to_rgb8();
                events.extend(self.finish_frame(current.pass, current.input, output, current.started)?);
            }
        }
        Ok(events)
    }

    fn finish_frame(&mut self, pass: usize, input: Gray, output: RgbImage, started: Instant) -> Result<Vec<ClipEvent>> {
        let (first, end) = (self.store.plan().first, self.store.plan().end);
        let index = pass_frame(pass, first, end);
        if pass < first {
            // A pre-roll frame: rendered to carry the motion into the first frame, not written.
            self.previous = Some(Previous { input, output });
            return Ok(Vec::new());
        }
        match pass >= end {
            true => self.store.save_rejoined(index, &output)?,
            false => self.store.save(index, &output)?,
        }
        self.previous = Some(Previous { input, output });
        let mut events = vec![ClipEvent::Frame { index, seconds: started.elapsed().as_secs_f64() }];
        if self.join > 0 && pass + 1 == end {
            // On to the loop's first frames again.
            self.reader.seek(first)?;
        }
        if self.join > 0 && pass + 1 == end + self.join {
            events.extend(self.commit_join(self.join)?);
        } else if self.is_finished() {
            events.push(ClipEvent::Finished);
        }
        Ok(events)
    }

    /// Ends a loop's join after `frames` frames rendered again: they replace their first
    /// renderings.
    fn commit_join(&mut self, frames: usize) -> Result<Vec<ClipEvent>> {
        self.store.commit_join(frames)?;
        self.join = frames;
        self.next = self.store.plan().end + frames;
        Ok(vec![ClipEvent::Joined { frames }, ClipEvent::Finished])
    }

    /// The sources with `frame` as the content, the styles decoded once.
    fn sources_for(&mut self, frame: RgbImage) -> Result<Arc<SourceImages>> {
        let clip = ImageRef::new(&self.store.plan().clip);
        let sources = match &self.sources {
            Some(s) => s.with_content(frame, clip),
            None => SourceImages::around(Picture { rgb: frame, alpha: None }, clip, &self.store.plan().spec)?,
        };
        let sources = Arc::new(sources);
        self.sources = Some(sources.clone());
        Ok(sources)
    }
}

/// The clip's frame a pass renders: passes past the end are a loop's first frames again.
fn pass_frame(pass: usize, first: usize, end: usize) -> usize {
    if pass >= end {
        first + pass - end
    } else {
        pass
    }
}

fn clip_ended(reader: &ClipReader, index: usize) -> Error {
    Error::Clip { path: reader.path().to_path_buf(), reason: format!("ended before frame {}", index + 1) }
}
