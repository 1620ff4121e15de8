#!/usr/bin/env bash
# A small labelled set made from real footage: camera pans in four directions. A window slides over
# a playing sample video so that its content moves left (label 0), right (1), up (2) or down (3):
# the content is real (people walking, an animated film, bouncing balls, a tree in the wind) and
# only the direction of the pan tells the classes apart. Each (video, time, place) gives one clip per
# direction, so appearance carries no label information.
#
#   scripts/make-direction-set.sh SAMPLES_DIR OUT [PLACES_PER_VIDEO] [TRAIN_VIDEOS] [TEST_VIDEOS]
#
# Writes OUT/clips/*.mp4 and the dataset lists OUT/train.txt and OUT/test.txt. Train and test clips
# come from different videos (TRAIN_VIDEOS and TEST_VIDEOS, space-separated paths relative to
# SAMPLES_DIR), so the test measures motion, not memorised scenes. DIRECTION_SIZE (96 px window),
# DIRECTION_SPEED (3 px per frame) and DIRECTION_FRAMES (32) change the clips.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
samples=$1 out=$2 places=${3:-6}
train_videos=${4:-"opencv-doc/vtest.avi opencv-doc/Megamind.avi python3-mecavideo/balle-jbart.mp4"}
test_videos=${5:-"opencv-doc/cup.mp4 opencv-doc/tree.avi python3-mecavideo/balle1-vp9.avi"}
size=${DIRECTION_SIZE:-96} speed=${DIRECTION_SPEED:-3} frames=${DIRECTION_FRAMES:-32}
travel=$((speed * (frames - 1)))
need=$((size + travel))  # the square of source pixels a clip spans

mkdir -p "$out/clips"
: >"$out/train.txt"
: >"$out/test.txt"
: >"$out/jobs.tsv"

make_clips() {  # video list-file
  local video=$1 list=$2 name w h duration
  name=$(basename "${video%.*}")
  [[ -f "$samples/$video" ]] || { echo "make-direction-set: $samples/$video: no such video" >&2; exit 1; }
  IFS=, read -r w h < <(ffprobe -v error -select_streams v:0 \
    -show_entries stream=width,height -of csv=p=0 "$samples/$video") ||
    { echo "make-direction-set: $samples/$video: ffprobe finds no video stream" >&2; exit 1; }
  duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$samples/$video")
  # Scale videos smaller than the span up; larger ones are used at their native size.
  local scale=1
  if ((w < need || h < need)); then scale=$(awk -v w="$w" -v h="$h" -v s="$need" 'BEGIN { a = s / w; b = s / h; print (a > b ? a : b) * 1.01 }'); fi
  local p
  for ((p = 0; p < places; p++)); do
    # Spread the places over the video's time and area (a fixed, reproducible pattern).
    local t x y
    read -r t x y < <(awk -v p="$p" -v n="$places" -v d="$duration" -v w="$w" -v h="$h" -v s="$scale" -v need="$need" -v f="$frames" 'BEGIN {
      W = int(w * s); H = int(h * s)
      t = (d - (f + 2) / 25.0) * (p + 0.5) / n; if (t < 0) t = 0
      fx = (p * 0.618034) % 1; fy = (p * 0.381966 + 0.25) % 1
      printf "%.3f %d %d\n", t, fx * (W - need), fy * (H - need) }')
    # The window moves against the content: content moving left (label 0) means a window moving right.
    local motion label cx cy
    for motion in left right up down; do
      case $motion in
        left) label=0 cx="$x+$speed*n" cy="$y+$travel/2" ;;
        right) label=1 cx="$x+$travel-$speed*n" cy="$y+$travel/2" ;;
        up) label=2 cx="$x+$travel/2" cy="$y+$speed*n" ;;
        down) label=3 cx="$x+$travel/2" cy="$y+$travel-$speed*n" ;;
      esac
      local clip="clips/$name-$p-$motion.mp4"
      # One line per clip for the parallel encoder below: source, filter, clip.
      printf '%s\t%s\t%s\n' "$samples/$video" \
        "trim=start=$t,setpts=PTS-STARTPTS,scale=iw*$scale:ih*$scale,crop=$size:$size:x='$cx':y='$cy',format=yuv420p" \
        "$out/$clip" >>"$out/jobs.tsv"
      echo "$clip $label" >>"$list"
    done
  done
}

for v in $train_videos; do make_clips "$v" "$out/train.txt"; done
for v in $test_videos; do make_clips "$v" "$out/test.txt"; done

encode() {  # source filter clip
  ffmpeg -nostdin -v error -y -i "$1" -vf "$2" -frames:v "$frames" -an -c:v libx264 -crf 12 "$3" ||
    { echo "make-direction-set: $1: cannot cut $3 from it" >&2; return 1; }
}
export -f encode
export frames
tr '\t\n' '\0\0' <"$out/jobs.tsv" | xargs -0 -n 3 -P "$(nproc)" bash -c 'encode "$@"' _
rm "$out/jobs.tsv"
echo "$out"
