//! VGG19 on demand: timm's `vgg19.tv_in1k` (torchvision's ImageNet VGG19) fetched once from the
//! Hugging Face Hub into its standard cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`), with progress and cancel. `HF_HUB_OFFLINE=1` never touches the
//! network. A cached file whose sha256 is not the one its name records (a damaged or cut-off
//! download) is removed and fetched again, never loaded.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The Hub repository of VGG19.
pub const VGG19_REPO: &str = "timm/vgg19.tv_in1k";
/// The weights file in it.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Its size, for telling the artist what a download costs (548 MB).
pub const VGG19_BYTES: u64 = 548_000_000;
/// Whether this build can download models (cargo feature `hub`).
pub const CAN_DOWNLOAD: bool = cfg!(feature = "hub");

/// The Hugging Face cache folder.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return Some(PathBuf::from(home).join("hub"));
    }
    Some(directories::BaseDirs::new()?.home_dir().join(".cache").join("huggingface").join("hub"))
}

/// Whether the network is off limits (`HF_HUB_OFFLINE` set to 1 or true).
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "True"))
}

fn fail(reason: impl Into<String>) -> Error {
    Error::Download { model: VGG19_REPO.into(), reason: reason.into() }
}

/// The cached weights of `repo` as the cache records them (`refs/main` -> snapshot), checked:
/// `Ok(None)` when not cached; a damaged file is removed (with its snapshot link) and reported
/// as `Ok(None)` too, so that it is fetched again.
pub fn cached(repo: &str) -> Result<Option<PathBuf>> {
    let Some(root) = cache_dir() else { return Ok(None) };
    let folder = root.join(format!("models--{}", repo.replace('/', "--")));
    let Ok(commit) = std::fs::read_to_string(folder.join("refs").join("main")) else { return Ok(None) };
    let pointer = folder.join("snapshots").join(commit.trim()).join(WEIGHTS_FILE);
    if !pointer.exists() {
        return Ok(None);
    }
    if verify(&pointer)? {
        Ok(Some(pointer))
    } else {
        // The link and the blob it points to, so the next fetch starts clean.
        let blob = std::fs::canonicalize(&pointer).ok();
        // Either may be gone already; what is left is overwritten by the next fetch.
        let _ = std::fs::remove_file(&pointer);
        if let Some(blob) = blob {
            let _ = std::fs::remove_file(blob);
        }
        Ok(None)
    }
}

/// Whether the file at `pointer` is whole: the Hub names large files' blobs by their sha256, so
/// the content must hash to the name. Blobs named otherwise (small files, by git hash) pass.
pub fn verify(pointer: &Path) -> Result<bool> {
    let blob = std::fs::canonicalize(pointer).map_err(|e| fail(format!("{}: {e}", pointer.display())))?;
    let name = blob.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(true);
    }
    let mut file = std::fs::File::open(&blob).map_err(|e| fail(format!("{}: {e}", blob.display())))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| fail(format!("{}: {e}", blob.display())))?;
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(digest == name)
}

/// The weights of `repo`: from the cache, or fetched into it. `progress(done, total)` is called
/// as bytes arrive; returning false cancels ([`Error::Cancelled`]; the partial file is left for
/// the Hub client to resume or replace).
pub fn fetch(repo: &str, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<PathBuf> {
    if let Some(path) = cached(repo)? {
        return Ok(path);
    }
    if offline() {
        return Err(fail("it is not in the cache and HF_HUB_OFFLINE is set, so it cannot be fetched"));
    }
    download(repo, progress)
}

#[cfg(feature = "hub")]
fn download(repo: &str, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<PathBuf> {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

    /// Unwinds out of the Hub client's download loop when the artist cancels (its progress
    /// callback cannot return an error); caught below, never a panic message.
    struct Cancel;
    struct Report<'a> {
        progress: &'a mut dyn FnMut(u64, u64) -> bool,
        done: u64,
        total: u64,
    }
    impl hf_hub::api::Progress for Report<'_> {
        // The client calls `init` before each request, then `update` with the bytes already on
        // disk when it resumes a cut-off download.
        fn init(&mut self, size: usize, _filename: &str) {
            self.total = size as u64;
            self.done = 0;
        }
        fn update(&mut self, size: usize) {
            self.done += size as u64;
            if !(self.progress)(self.done, self.total) {
                resume_unwind(Box::new(Cancel));
            }
        }
        fn finish(&mut self) {}
    }

    let root = cache_dir().ok_or_else(|| fail("this system has no home folder for the model cache"))?;
    // From the environment: HF_ENDPOINT (a mirror) and the token are honoured.
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_cache_dir(root)
        .with_progress(false)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let report = Report { progress, done: 0, total: 0 };
    let result =
        catch_unwind(AssertUnwindSafe(|| api.model(repo.to_string()).download_with_progress(WEIGHTS_FILE, report)));
    let path = match result {
        Ok(downloaded) => {
            downloaded.map_err(|e| fail(format!("{e} (offline? set HF_HUB_OFFLINE=1 to stop trying)")))?
        }
        Err(payload) if payload.is::<Cancel>() => return Err(Error::Cancelled),
        Err(payload) => resume_unwind(payload),
    };
    if !verify(&path)? {
        // The damaged file is reported below either way; removing it only spares a re-check.
        let _ = std::fs::remove_file(&path);
        return Err(fail("the downloaded file is damaged (its sha256 does not match); try again"));
    }
    Ok(path)
}

#[cfg(not(feature = "hub"))]
fn download(_repo: &str, _progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<PathBuf> {
    Err(fail("this build cannot download models (built without the `hub` feature); pass the file with --weights"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_whole_when_its_content_hashes_to_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"weights";
        let digest: String = Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
        let good = dir.path().join(&digest);
        std::fs::write(&good, data).unwrap();
        assert!(verify(&good).unwrap());
        let cut = dir.path().join("f".repeat(64));
        std::fs::write(&cut, &data[..3]).unwrap();
        assert!(!verify(&cut).unwrap());
        let small = dir.path().join("config.json");
        std::fs::write(&small, b"{}").unwrap();
        assert!(verify(&small).unwrap(), "not named by sha256: not checked");
    }
}
