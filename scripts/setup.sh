#!/usr/bin/env bash
# Installs the system packages dicomprep needs to build and test on Debian/Ubuntu.
# Idempotent: installs only what is missing; uses sudo when not root.
set -euo pipefail

# build: C/C++ toolchain, cmake (CharLS for JPEG-LS), nasm (libjpeg-turbo SIMD in mozjpeg),
#        clang + libclang (bindgen) and FFmpeg's libraries (ffmpeg-next, H.264 via libx264)
# tests: dcmtk, imagemagick and ffmpeg (ffprobe) are the reference tools the tests compare against
packages=(build-essential pkg-config cmake nasm clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg dcmtk imagemagick)

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
