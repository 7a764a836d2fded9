//! The app's model picker, in a test binary of its own because it sets the process's Hugging
//! Face environment (HF_HOME, HF_HUB_OFFLINE): offline with nothing cached, choosing VGG19 says
//! why it cannot be had and VGG16 stays; with VGG19 in the cache, it is offered as ready, chosen,
//! and a render runs on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::step_until;

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use neural_style_studio::app::{App, Launch, Settings};
use neural_style_studio::model::{Tap, WeightsSource};
use neural_style_studio::notice::Level;
use neural_style_studio::transfer::RenderSpec;
use neural_style_studio::worker::Status;

fn harness(settings: Settings) -> Harness<'static, App> {
    common::ui::harness_sized(Launch { settings: Some(settings), ..Launch::default() }, (1100.0, 1400.0))
}

fn open_model_picker(h: &mut Harness<'static, App>) {
    step_until(h, 30, "the cache checked and thumbnails", |a| {
        a.panels.models.vgg19_cached.is_some() && a.pending_tasks() == 0
    });
    h.get_by_label("Advanced").click();
    h.run_steps(2);
    h.get_by_label("Model").click();
    h.run_steps(2);
}

#[test]
fn vgg19_is_offered_from_the_cache_and_offline_without_it_vgg16_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 72);
    let mut spec = RenderSpec { size: 48, ..RenderSpec::new(content, &[style]) };
    spec.schedule.iterations = 3;
    let settings = Settings { spec, ..Settings::default() };
    // The only test in this binary: nothing else reads the environment meanwhile.
    common::hermetic();
    std::env::set_var("HF_HUB_OFFLINE", "1");

    std::env::set_var("HF_HOME", dir.path().join("empty"));
    let mut h = harness(settings.clone());
    open_model_picker(&mut h);
    assert_eq!(h.state().panels.models.vgg19_cached, Some(false));
    h.get_by_label_contains("VGG19 (download").click();
    step_until(&mut h, 30, "the fetch to fail", |a| !a.panels.models.fetching() && a.notice.is_some());
    let notice = h.state().notice.clone().unwrap();
    assert!(notice.level == Level::Error && notice.text.contains("HF_HUB_OFFLINE"), "{}", notice.text);
    assert!(notice.text.ends_with("VGG16 stays in use."), "{}", notice.text);
    assert_eq!(h.state().settings.spec.model, WeightsSource::Embedded);

    let home = dir.path().join("hf");
    common::fake_hub_cache(&home, &common::vgg19_bytes(), None);
    std::env::set_var("HF_HOME", &home);
    let mut h = harness(settings);
    open_model_picker(&mut h);
    assert_eq!(h.state().panels.models.vgg19_cached, Some(true));
    h.get_by_label("VGG19").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.model, WeightsSource::Vgg19);
    // A layer only VGG19 has is offered, and a render runs on it.
    h.get_by_label("relu3_4").click();
    h.run_steps(2);
    assert!(h.state().settings.spec.objective.style_layers.iter().any(|l| l.0 == Tap::new(3, 4)));
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "the VGG19 render", |a| {
        a.live.status == Status::Stopped && a.live.frame.as_ref().is_some_and(|f| f.iteration == 3)
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().spec.model, WeightsSource::Vgg19);
}
