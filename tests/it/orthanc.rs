//! Orthanc with its DICOMweb plugin (Debian's `orthanc` + `orthanc-dicomweb`, installed by
//! `scripts/setup.sh --test`) for the DICOMweb tests: started per test on a free loopback port
//! with a config and storage folder of its own, loaded through `POST /instances`, killed when
//! dropped. A missing Orthanc fails the test (it never skips).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::emulators::{Server, free_port};
use crate::util::{all_files, data};

const ORTHANC: &str = "/usr/sbin/Orthanc";
const DICOMWEB_PLUGIN: &str = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

/// A running Orthanc with its DICOMweb plugin; killed on drop.
pub struct Orthanc {
    server: Server,
    credentials: Option<(String, String)>,
}

impl Orthanc {
    /// Starts Orthanc; with `credentials`, only that user may read.
    pub fn start(credentials: Option<(&str, &str)>) -> Orthanc {
        for needed in [ORTHANC, DICOMWEB_PLUGIN] {
            assert!(
                Path::new(needed).exists(),
                "{needed} is missing: run `scripts/setup.sh --test` (Debian packages orthanc and orthanc-dicomweb)"
            );
        }
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("db");
        let mut config = serde_json::json!({
            "HttpPort": port,
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "DicomServerEnabled": false,
            "Plugins": [DICOMWEB_PLUGIN],
        });
        if let Some((user, password)) = credentials {
            config["AuthenticationEnabled"] = true.into();
            config["RegisteredUsers"] = serde_json::json!({ user: password });
        }
        let config_path = dir.path().join("orthanc.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut command = Command::new(ORTHANC);
        command.arg(&config_path);
        Orthanc {
            server: Server::start(command, port, dir),
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
        }
    }

    /// Uploads every file through `POST /instances`.
    pub fn load(&self, files: &[PathBuf]) {
        let client = reqwest::blocking::Client::new();
        for file in files {
            let mut request = client
                .post(format!("{}/instances", self.server.endpoint()))
                .body(std::fs::read(file).unwrap());
            if let Some((user, password)) = &self.credentials {
                request = request.basic_auth(user, Some(password));
            }
            let response = request.send().unwrap();
            assert!(
                response.status().is_success(),
                "{}: {}",
                file.display(),
                response.status()
            );
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// `dicomweb+http://127.0.0.1:<port>/dicom-web` (on another port: through a proxy).
    pub fn url_via(port: u16) -> String {
        format!("dicomweb+http://127.0.0.1:{port}/dicom-web")
    }

    pub fn url(&self) -> String {
        Orthanc::url_via(self.port())
    }
}

/// The DICOM files of `test-data/<folder>` (Part 10 files: licences and read-mes left out).
pub fn dicom_files(folder: &str) -> Vec<PathBuf> {
    let root = data(folder);
    all_files(&root)
        .into_iter()
        .map(|f| root.join(f))
        .filter(|f| std::fs::read(f).unwrap().get(128..132) == Some(b"DICM".as_slice()))
        .collect()
}

/// The files of `folders` copied into one temporary folder (one subfolder each).
pub fn local_copy(folders: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for folder in folders {
        for file in dicom_files(folder) {
            let relative = file.strip_prefix(data(folder)).unwrap();
            let target = dir.path().join(folder).join(relative);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&file, &target).unwrap();
        }
    }
    dir
}
