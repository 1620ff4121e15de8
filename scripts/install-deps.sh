#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need, and LibTorch the way
# users get it: PyTorch's wheel from PyPI (CUDA-enabled; pinned below), in a virtual environment
# that also sees Debian's h5py, numpy and matplotlib. CMake finds it through that environment's
# python (torch.utils.cmake_prefix_path; see cmake/MmeTorch.cmake).
# Idempotent: a second run only checks. Needs root (or sudo) on Debian 12 (bookworm).
#   scripts/install-deps.sh            # everything
#   scripts/install-deps.sh --trainer  # only what the trainer needs (LibTorch, HDF5, fmt, libjpeg)
# MME_VENV overrides where the environment goes (default: .venv in the repository).
set -euo pipefail

# The LibTorch every build compiles against: 2.11.0 is built with CUDA 13.0 (nvidia-*-cu13 wheels),
# the toolkit installed on the build machines and the one the GPU machine's PyTorch uses.
torch_version=2.11.0
# The tests move weights to and from Hugging Face's VideoMAE models (tests/trainer/check_weight_exchange.py).
transformers_version=5.24.0
safetensors_version=0.8.0
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${MME_VENV:-$repo/.venv}

want_all=1
[[ "${1:-}" == "--trainer" ]] && want_all=0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Catch2 v3 is only in bookworm-backports (bookworm itself has 2.13).
backports=/etc/apt/sources.list.d/bookworm-backports.sources
if [[ ! -f "$backports" ]]; then
  uris=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  keyring=$(awk '/^Signed-By:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uris=${uris:-http://deb.debian.org/debian}
  keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
    "$uris" "$keyring" | $SUDO tee "$backports" >/dev/null
  need_update=1
fi

common_pkgs=(build-essential cmake ninja-build pkg-config git
  libhdf5-dev hdf5-tools libfmt-dev libcli11-dev nlohmann-json3-dev
  libjpeg-dev libturbojpeg0-dev
  libgloo-dev python3-venv
  python3-h5py python3-numpy python3-matplotlib)
video_pkgs=(libopencv-dev libopencv-contrib-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg python3-opencv
  libtbb-dev hdf5-filter-plugin clang-format clang libclang-rt-14-dev)
pkgs=("${common_pkgs[@]}")
((want_all)) && pkgs+=("${video_pkgs[@]}")

missing=()
for p in "${pkgs[@]}" libcatch2-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Catch2 must be v3 (the one from backports); an installed 2.x does not count.
if dpkg-query -W -f='${Version}' libcatch2-dev 2>/dev/null | grep -q '^2\.'; then
  missing+=(libcatch2-dev)
fi

# PyTorch's wheel into the virtual environment (about 4 GB with its CUDA libraries).
# With everything (not --trainer: the GPU machine has no network), transformers and safetensors too.
install_torch() {
  # One exit at the end: an earlier sys.exit(False) would skip the later checks.
  local check="import sys, torch; ok = torch.__version__.split('+')[0] == '$torch_version'"
  local wheels=("torch==$torch_version")
  if ((want_all)); then
    check+="; import transformers, safetensors"
    check+="; ok = ok and transformers.__version__ == '$transformers_version'"
    check+=" and safetensors.__version__ == '$safetensors_version'"
    wheels+=("transformers==$transformers_version" "safetensors==$safetensors_version")
  fi
  check+="; sys.exit(not ok)"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    return
  fi
  echo "install-deps: installing ${wheels[*]} from PyPI into $venv"
  [[ -x "$venv/bin/python" ]] || /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${wheels[@]}"
}

if ((${#missing[@]} == 0)); then
  install_torch
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [[ -n "${need_update:-}" ]] || ! compgen -G "/var/lib/apt/lists/*bookworm-backports*" >/dev/null; then
  $SUDO apt-get update -qq
fi
rest=()
for p in "${missing[@]}"; do [[ "$p" != libcatch2-dev ]] && rest+=("$p"); done
if ((${#rest[@]})); then
  $SUDO apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null || {
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null
  }
fi
if printf '%s\n' "${missing[@]}" | grep -qx libcatch2-dev; then
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports libcatch2-dev >/dev/null
fi
install_torch
echo "install-deps: done"
