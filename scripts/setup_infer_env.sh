#!/usr/bin/env bash
# Install what building the C++ inference harness (ascend_310_infer/) needs, then print the paths build.sh takes.
#   - a C++17 compiler, CMake and make: Debian packages, installed only when missing;
#   - ONNX Runtime for the CPU backend, in .cache/onnxruntime: the library of the onnxruntime wheel in .venv
#     (linked, not copied) and the C++ headers, which no wheel ships, from Debian's libonnxruntime-dev. Bookworm
#     has no such package, so the trixie .deb is fetched with apt-get into a private apt state and unpacked:
#     the system's apt sources and installed packages are not touched;
#   - MindSpore's C++ inference API for the Ascend backend, in .cache/mindspore-lite: include/api and the runtime
#     library from the mindspore-lite 2.0.0 wheel (a Python 3.7 wheel; only its C++ part is used). Without Ascend
#     this backend only compiles and links; it runs on an Ascend 310/310P host.
# Usage: bash scripts/setup_infer_env.sh      (after bash scripts/setup_env.sh, which creates .venv)
# Re-running is quick: each part is skipped when it is in place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CACHE="$ROOT/.cache"
ORT_DIR="$CACHE/onnxruntime"
MS_DIR="$CACHE/mindspore-lite"
MINDSPORE_LITE_VERSION=2.0.0
# libmindspore-extendrt_python.so and the libraries it needs, from the wheel's mindspore_lite/lib/.
MS_LIBS="libmindspore-extendrt_python.so libdnnl.so.2 libmindspore_converter.so libmslite_converter_plugin.so
libmindspore_core.so libmindspore_glog.so.0 libopencv_core.so.4.5 libopencv_imgcodecs.so.4.5 libopencv_imgproc.so.4.5"
say() { echo "setup_infer_env.sh: $*"; }
die() { echo "setup_infer_env.sh: $*" >&2; exit 1; }

# 1. Build tools.
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""
  elif command -v sudo >/dev/null; then SUDO="sudo"
  else die "please install ${missing[*]} (apt-get install ${missing[*]}) as root"; fi
  say "installing ${missing[*]}"
  # Update the package lists only when they do not know the packages yet (a fresh machine).
  apt-cache show "${missing[@]}" >/dev/null 2>&1 || $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. ONNX Runtime: the wheel's library (the version requirements.txt pins) and Debian's headers.
ort_lib="$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.* 2>/dev/null | head -n1)"
[ -n "$ort_lib" ] || die "no onnxruntime in $VENV: run bash scripts/setup_env.sh first"
if [ ! -f "$ORT_DIR/include/onnxruntime_cxx_api.h" ]; then
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "apt-get and dpkg are needed (Debian)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$work/sources.list"
  apt_private=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o Dir::State::Lists="$work/lists" -o Dir::State::status=/dev/null -o Dir::Cache="$work/cache"
               -o APT::Sandbox::User="$(id -un)")
  say "fetching libonnxruntime-dev (headers) from Debian trixie"
  apt-get "${apt_private[@]}" update -qq
  (cd "$work" && apt-get "${apt_private[@]}" download libonnxruntime-dev >/dev/null)
  dpkg-deb -x "$work"/libonnxruntime-dev_*.deb "$work/deb"
  mkdir -p "$ORT_DIR/include"
  cp -r "$work/deb/usr/include/onnxruntime/." "$ORT_DIR/include/"
  basename "$work"/libonnxruntime-dev_*.deb > "$ORT_DIR/headers_from.txt"
  rm -rf "$work"
  trap - EXIT
fi
# Linked afresh every time (cheap), so a re-created .venv is followed. libonnxruntime.so.1 is the library's
# soname, what the binary asks for at run time; libonnxruntime.so is what the linker looks for.
mkdir -p "$ORT_DIR/lib"
ln -sfn "$ort_lib" "$ORT_DIR/lib/libonnxruntime.so.1"
ln -sfn libonnxruntime.so.1 "$ORT_DIR/lib/libonnxruntime.so"

# 3. MindSpore's C++ API from the mindspore-lite wheel (168 MB download, 284 MB kept).
if [ ! -f "$MS_DIR/.complete" ]; then
  rm -rf "$MS_DIR"
  mkdir -p "$MS_DIR/wheel"
  say "downloading mindspore-lite==$MINDSPORE_LITE_VERSION (the C++ inference API)"
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.7 --platform manylinux1_x86_64 "mindspore-lite==$MINDSPORE_LITE_VERSION" -d "$MS_DIR/wheel"
  "$VENV/bin/python" - "$MS_DIR" $MS_LIBS <<'PYTHON'
import glob, os, sys, zipfile
target, libs = sys.argv[1], set(sys.argv[2:])
with zipfile.ZipFile(glob.glob(os.path.join(target, "wheel", "*.whl"))[0]) as wheel:
    names = [n for n in wheel.namelist()
             if n.startswith("mindspore_lite/include/") or n in {"mindspore_lite/lib/" + lib for lib in libs}]
    missing = libs - {os.path.basename(n) for n in names}
    if missing:
        sys.exit(f"the mindspore-lite wheel has no {sorted(missing)}")
    wheel.extractall(target, names)
PYTHON
  rm -rf "$MS_DIR/wheel"
  touch "$MS_DIR/.complete"
fi

say "ready"
echo "ONNXRUNTIME_PATH=$ORT_DIR    (headers: $(cat "$ORT_DIR/headers_from.txt"); library: $ort_lib)"
echo "MINDSPORE_PATH=$MS_DIR/mindspore_lite    (mindspore-lite $MINDSPORE_LITE_VERSION: builds and links here;" \
  "runs on Ascend)"
echo "build: MINDSPORE_PATH=... bash ascend_310_infer/build.sh    (ONNXRUNTIME_PATH defaults to the one above)"
