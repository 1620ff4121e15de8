#!/usr/bin/env bash
# Fetches real sample videos from Debian packages (nothing third-party is committed), caches them,
# and writes dataset lists in the VideoMAE convention (`path label`, paths relative to the cache).
#
#   scripts/fetch-samples.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $MME_SAMPLES_DIR, else ${XDG_CACHE_HOME:-~/.cache}/mme/samples.
# Writes CACHE_DIR/list.txt (videos that decode cleanly), CACHE_DIR/broken.txt (real-world damaged
# files, kept for robustness tests) and prints CACHE_DIR. A second run reuses the cache.
set -euo pipefail

cache=${1:-${MME_SAMPLES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mme/samples}}
stamp_version=1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# package -> files inside it (paths in the package, relative to /)
declare -A wanted=(
  [opencv-doc]="usr/share/doc/opencv-doc/examples/data/vtest.avi
usr/share/doc/opencv-doc/examples/data/tree.avi
usr/share/doc/opencv-doc/examples/data/Megamind.avi
usr/share/doc/opencv-doc/examples/data/Megamind_bugy.avi
usr/share/doc/opencv-doc/opencv4/html/cup.mp4.gz
usr/share/doc/opencv-doc/opencv4/html/box.mp4.gz"
  [python3-imageio]="usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4
usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4"
  [python3-mecavideo]="usr/share/pymecavideo/data/video/balle-jbart.mp4
usr/share/pymecavideo/data/video/balle1-vp9.avi
usr/share/pymecavideo/data/video/Principe_inertie.avi
usr/share/pymecavideo/data/video/Force_constante.avi
usr/share/pymecavideo/data/video/g1.avi
usr/share/pymecavideo/data/video/g2.avi
usr/share/pymecavideo/data/video/Effet_force_magnetique.ogv"
)

fetch_package() {
  local pkg=$1 dest=$cache/$1
  [[ -f "$dest/.complete-v$stamp_version" ]] && return 0
  local work
  work=$(mktemp -d "$cache/.fetch-$pkg.XXXXXX")
  if ! (cd "$work" && apt-get download "$pkg" >/dev/null 2>"$work/apt.err"); then
    echo "fetch-samples: 'apt-get download $pkg' failed:" >&2
    cat "$work/apt.err" >&2
    rm -rf "$work"
    echo "fetch-samples: run scripts/install-deps.sh (it runs apt-get update) and try again" >&2
    exit 1
  fi
  dpkg-deb -x "$work"/"$pkg"_*.deb "$work/root"
  rm -rf "$dest" && mkdir -p "$dest"
  local f base
  while IFS= read -r f; do
    [[ -z "$f" ]] && continue
    base=$(basename "$f")
    if [[ "$f" == *.gz ]]; then
      gunzip -c "$work/root/$f" >"$dest/${base%.gz}"
    else
      cp "$work/root/$f" "$dest/$base"
    fi
  done <<<"${wanted[$pkg]}"
  rm -rf "$work"
  touch "$dest/.complete-v$stamp_version"
}

for pkg in "${!wanted[@]}"; do fetch_package "$pkg"; done

# Real-world damaged files go to broken.txt: box.mp4 has decoder errors on its first slice,
# Megamind_bugy.avi is a corrupted copy of Megamind.avi.
{
  echo "# Real sample videos from Debian packages, fetched by scripts/fetch-samples.sh"
  echo "# path label (label = index of the source package, only to exercise labelled lists)"
  label=0
  for pkg in opencv-doc python3-imageio python3-mecavideo; do
    for f in "$cache/$pkg"/*; do
      case "$(basename "$f")" in box.mp4 | Megamind_bugy.avi) continue ;; esac
      echo "$pkg/$(basename "$f") $label"
    done
    label=$((label + 1))
  done
} >"$cache/list.txt.tmp" && mv "$cache/list.txt.tmp" "$cache/list.txt"
printf '%s\n' "opencv-doc/box.mp4" "opencv-doc/Megamind_bugy.avi" >"$cache/broken.txt"
echo "$cache"
