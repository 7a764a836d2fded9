//! Example pictures built into the program, so that a new artist can try a render in one click
//! before picking pictures of their own: three photos with free licences and two public-domain
//! paintings, each under 210 KB (sources and licences in `assets/examples/README.md`).
//!
//! Renders refer to their pictures by path (the spec, PNG metadata, autosaves and presets all
//! do), so an example is written to a folder on disk before it is used; [`unpack`] writes only
//! what is missing or differs, atomically.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One built-in picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    /// Its file name once unpacked.
    pub file: &'static str,
    /// What it shows, for labels.
    pub title: &'static str,
    /// Who made it and under which licence.
    pub credit: &'static str,
    /// The JPEG file.
    pub bytes: &'static [u8],
}

/// Chelsea the cat (photo).
pub const CAT: Example = Example {
    file: "chelsea.jpg",
    title: "Chelsea the cat",
    credit: "Photo: Stéfan van der Walt, CC0 (scikit-image)",
    bytes: include_bytes!("../assets/examples/chelsea.jpg"),
};

/// An espresso cup (photo).
pub const COFFEE: Example = Example {
    file: "coffee.jpg",
    title: "Coffee",
    credit: "Photo: Rachel Michetti, CC0 (scikit-image)",
    bytes: include_bytes!("../assets/examples/coffee.jpg"),
};

/// The astronaut Eileen Collins (photo).
pub const ASTRONAUT: Example = Example {
    file: "astronaut.jpg",
    title: "Eileen Collins",
    credit: "Photo: NASA, public domain (scikit-image)",
    bytes: include_bytes!("../assets/examples/astronaut.jpg"),
};

/// Vincent van Gogh, The Starry Night (1889).
pub const STARRY_NIGHT: Example = Example {
    file: "starry_night.jpg",
    title: "The Starry Night",
    credit: "Vincent van Gogh, 1889, public domain (OpenCV samples)",
    bytes: include_bytes!("../assets/examples/starry_night.jpg"),
};

/// Gustav Klimt, The Kiss (1908).
pub const THE_KISS: Example = Example {
    file: "the_kiss.jpg",
    title: "The Kiss",
    credit: "Gustav Klimt, 1908, public domain (ViSP images)",
    bytes: include_bytes!("../assets/examples/the_kiss.jpg"),
};

/// A photo and the painting whose style it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The content photo.
    pub content: Example,
    /// The style painting.
    pub style: Example,
}

impl Pair {
    /// "photo × painting", the pair's label.
    pub fn title(&self) -> String {
        format!("{} × {}", self.content.title, self.style.title)
    }
}

/// The pairs offered to a new artist.
pub const PAIRS: [Pair; 3] = [
    Pair { content: CAT, style: STARRY_NIGHT },
    Pair { content: ASTRONAUT, style: THE_KISS },
    Pair { content: COFFEE, style: STARRY_NIGHT },
];

/// The folder examples are unpacked into by default (in the user's local data folder).
pub fn default_dir() -> Option<PathBuf> {
    Some(directories::ProjectDirs::from("", "", "neural-style-studio")?.data_local_dir().join("examples"))
}

/// Writes `examples` into `dir` (created if needed) and returns their paths, in order. A file
/// already there with the same bytes is left alone (its time stamps too); any other file of that
/// name is replaced atomically, through a temporary file renamed over it.
pub fn unpack(dir: &Path, examples: &[Example]) -> Result<Vec<PathBuf>> {
    let fail = |path: &Path, e: std::io::Error| Error::Save { path: path.to_path_buf(), reason: e.to_string() };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut paths = Vec::with_capacity(examples.len());
    for example in examples {
        let path = dir.join(example.file);
        if std::fs::read(&path).ok().as_deref() != Some(example.bytes) {
            let tmp = dir.join(format!(".{}.{}.tmp", example.file, std::process::id()));
            let written = std::fs::write(&tmp, example.bytes).and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                // The write's error is the one reported; a leftover temporary is harmless.
                let _ = std::fs::remove_file(&tmp);
                return Err(fail(&path, e));
            }
        }
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_a_jpeg_that_decodes_at_a_working_size() {
        for e in [CAT, COFFEE, ASTRONAUT, STARRY_NIGHT, THE_KISS] {
            let img = image::load_from_memory_with_format(e.bytes, image::ImageFormat::Jpeg).unwrap();
            let long = img.width().max(img.height());
            assert!((450..=800).contains(&long), "{} is {}x{}", e.file, img.width(), img.height());
            assert!(e.bytes.len() < 210 * 1024, "{} is {} bytes", e.file, e.bytes.len());
        }
    }

    #[test]
    fn unpack_writes_missing_files_keeps_equal_ones_and_repairs_changed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("nested/examples");
        let paths = unpack(&dir, &[CAT, STARRY_NIGHT]).unwrap();
        assert_eq!(paths, vec![dir.join("chelsea.jpg"), dir.join("starry_night.jpg")]);
        assert_eq!(std::fs::read(&paths[0]).unwrap(), CAT.bytes);

        let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        let before = stamp(&paths[1]);
        std::fs::write(&paths[0], b"not a picture").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        unpack(&dir, &[CAT, STARRY_NIGHT]).unwrap();
        assert_eq!(std::fs::read(&paths[0]).unwrap(), CAT.bytes, "a changed file is rewritten");
        assert_eq!(stamp(&paths[1]), before, "an equal file is not touched");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    }

    #[test]
    fn unpack_into_a_path_that_is_a_file_is_a_save_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("taken");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(unpack(&file, &[CAT]), Err(Error::Save { .. })));
    }
}
