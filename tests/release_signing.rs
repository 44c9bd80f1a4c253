//! Release archives signed by packaging/build.sh's helper (`aicfo-release`, a real process):
//! the signature verifies with the matching key under the archive's own name, and fails after
//! one flipped byte, under another name, or with another key. The signed archive stays a ZIP.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::Command;

use aicfo::signing;

const TOOL: &str = env!("CARGO_BIN_EXE_aicfo-release");
const NAME: &str = "aicfo-connector-0.1.0-x86_64-unknown-linux-gnu.zip";

fn tool(args: &[&str]) -> std::process::Output {
    Command::new(TOOL).args(args).output().unwrap()
}

fn archive(path: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    zip.start_file("aicfo-connector", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"\x7fELF the program").unwrap();
    zip.finish().unwrap();
}

fn keys(dir: &Path) -> (String, String) {
    let out = tool(&["keygen", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let hex = std::fs::read_to_string(dir.join("verifying.key")).unwrap();
    (dir.join("signing.key").to_str().unwrap().to_string(), hex)
}

#[test]
fn a_signed_archive_verifies_and_one_flipped_byte_breaks_it() {
    let dir = tempfile::tempdir().unwrap();
    let (key, hex) = keys(&dir.path().join("keys"));
    let printed = tool(&["public-key", &key]);
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), hex.trim());
    let path = dir.path().join(NAME);
    archive(&path);
    let out = tool(&["sign", &key, path.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");

    let signed = std::fs::read(&path).unwrap();
    let verifying = signing::parse_verifying_key(&hex).unwrap();
    signing::verify(&signed, NAME, &verifying).unwrap();
    assert!(tool(&["verify", &hex, path.to_str().unwrap()])
        .status
        .success());

    // Still a ZIP with the program inside.
    let mut zip = zip::ZipArchive::new(Cursor::new(&signed)).unwrap();
    let mut program = Vec::new();
    zip.by_name("aicfo-connector")
        .unwrap()
        .read_to_end(&mut program)
        .unwrap();
    assert_eq!(program, b"\x7fELF the program");

    for at in [0, signed.len() / 2, signed.len() - 1] {
        let mut flipped = signed.clone();
        flipped[at] ^= 0x01;
        assert!(
            signing::verify(&flipped, NAME, &verifying).is_err(),
            "a byte flipped at {at} must fail"
        );
    }
    let renamed = "aicfo-connector-0.1.0-x86_64-pc-windows-gnu.zip";
    assert!(
        signing::verify(&signed, renamed, &verifying).is_err(),
        "the context is the file name"
    );
    let (_, other) = keys(&dir.path().join("other"));
    let other = signing::parse_verifying_key(&other).unwrap();
    assert!(signing::verify(&signed, NAME, &other).is_err());
    let flipped_file = dir.path().join("flipped").join(NAME);
    std::fs::create_dir_all(flipped_file.parent().unwrap()).unwrap();
    let mut bytes = signed.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    std::fs::write(&flipped_file, bytes).unwrap();
    assert!(!tool(&["verify", &hex, flipped_file.to_str().unwrap()])
        .status
        .success());
}

#[test]
fn a_key_file_of_the_wrong_size_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, b"short").unwrap();
    let out = tool(&["public-key", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 bytes"));
}
