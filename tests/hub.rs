//! Fetching a model the way the Hub serves it, from a local server standing in for the Hub
//! (HF_ENDPOINT; the build machines cannot reach the real one): progress up to the whole file,
//! cancel mid-way and resume, a damaged cached file fetched again, a download whose content does
//! not match its hash refused. A binary of its own: it sets the process's Hugging Face environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neural_style_studio::model::hub::{cached, fetch, VGG19_REPO};
use neural_style_studio::Error;
use sha2::Digest;

/// What the stand-in Hub serves: the file's bytes, and the sha256 it claims for them.
struct Served {
    body: Vec<u8>,
    etag: String,
}

/// Answers ranged GETs of any file with `served` (a 64 KiB chunk every millisecond, so that a
/// cancel lands mid-way), one request per connection.
fn serve(served: Arc<Mutex<Served>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let served = served.clone();
            std::thread::spawn(move || answer(stream, &served));
        }
    });
    format!("http://{addr}")
}

fn answer(mut stream: TcpStream, served: &Mutex<Served>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut start = 0usize;
    let mut one = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(range) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            let (from, to) = range.trim().split_once('-').unwrap();
            start = from.parse().unwrap();
            one = to == "0";
        }
    }
    let (body, etag) = {
        let s = served.lock().unwrap();
        (s.body.clone(), s.etag.clone())
    };
    let end = if one { 1 } else { body.len() };
    let head = format!(
        "HTTP/1.1 206 Partial Content\r\netag: \"{etag}\"\r\nx-repo-commit: 0123abcd\r\ncontent-range: bytes {start}-{}/{}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        end - 1,
        body.len(),
        end - start
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for chunk in body[start..end].chunks(64 << 10) {
        if stream.write_all(chunk).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn sha(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_fetch_reports_progress_can_be_cancelled_and_resumed_refetches_a_damaged_cache_and_refuses_damaged_content() {
    let body: Vec<u8> = (0..6_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let served = Arc::new(Mutex::new(Served { etag: sha(&body), body: body.clone() }));
    let endpoint = serve(served.clone());
    let home = tempfile::tempdir().unwrap();
    // The only test in this binary: nothing else reads the environment meanwhile.
    std::env::set_var("HF_ENDPOINT", &endpoint);
    std::env::set_var("HF_HOME", home.path());
    std::env::remove_var("HF_HUB_OFFLINE");
    std::env::remove_var("HF_HUB_CACHE");

    // Cancelled a third of the way: nothing usable in the cache.
    let mut seen = 0;
    let cancelled = fetch(VGG19_REPO, &mut |done, total| {
        seen = done;
        assert_eq!(total, body.len() as u64);
        done < total / 3
    });
    assert!(matches!(cancelled, Err(Error::Cancelled)), "{cancelled:?}");
    assert!(seen >= body.len() as u64 / 3 && seen < body.len() as u64);
    assert!(cached(VGG19_REPO).unwrap().is_none());

    // Fetched again: it resumes, reports progress up to the whole file, and the file is whole.
    let mut last = (0, 0);
    let path = fetch(VGG19_REPO, &mut |done, total| {
        last = (done, total);
        true
    })
    .unwrap();
    assert_eq!(last, (body.len() as u64, body.len() as u64));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(cached(VGG19_REPO).unwrap(), Some(path.clone()));

    // A cached file damaged on disk (a bit flipped) is found out, dropped and fetched again whole.
    let blob = std::fs::canonicalize(&path).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[body.len() / 2] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    assert!(cached(VGG19_REPO).unwrap().is_none(), "damaged: not offered");
    assert!(!blob.exists(), "and removed");
    let again = fetch(VGG19_REPO, &mut |_, _| true).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), body);
    assert_eq!(cached(VGG19_REPO).unwrap(), Some(again));

    // Content that does not hash to what the Hub claims is refused and not kept.
    let other = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HOME", other.path());
    served.lock().unwrap().etag = sha(b"something else");
    let damaged = fetch(VGG19_REPO, &mut |_, _| true).unwrap_err().to_string();
    assert!(damaged.contains("damaged"), "{damaged}");
    assert!(cached(VGG19_REPO).unwrap().is_none());
}
