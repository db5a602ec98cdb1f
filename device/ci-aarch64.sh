#!/usr/bin/env bash
# Cross-builds weir-device for the Raspberry Pi (aarch64-unknown-linux-gnu) and runs the
# aarch64 binary under qemu-user against a loopback broker (tests/qemu_aarch64.rs).
# Works from the standalone crate and from the Weir workspace (device/). Needs apt (Debian),
# rustup, and root or sudo for the package install.
set -euo pipefail
cd "$(dirname "$0")"

TARGET=aarch64-unknown-linux-gnu
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

if ! command -v aarch64-linux-gnu-gcc >/dev/null \
  || ! { command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null; }; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
fi
rustup target add "$TARGET"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# ring's C code for the target is compiled with the cross compiler too.
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

cargo build --release --locked --target "$TARGET" -p weir-device --bin weir-device

target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
binary="$target_dir/$TARGET/release/weir-device"
echo "built $binary"

# `--workspace` keeps cargo's feature resolution identical to the main `cargo test --workspace`
# run, so the native test build is reused instead of rebuilt with device-only features.
WEIR_QEMU_TEST=1 WEIR_DEVICE_AARCH64="$binary" \
  cargo test --locked --workspace --test qemu_aarch64 -- --ignored --nocapture
