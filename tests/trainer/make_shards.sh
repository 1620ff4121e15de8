#!/usr/bin/env bash
# Test fixture of the trainer: flow and target shards made by flowgen and trajgen from
#   OUT/real-*  five real sample videos (scripts/fetch-samples.sh), labelled by source package
#   OUT/pan-*   an ffmpeg-made pan over a real photograph: content moves 3 px left and 1 px down per frame
#   OUT/directions-* 36 labelled clips of real photographs panning left (0), right (1), up (2) or
#               down (3) at 2 or 3 px per frame: train.txt from the cockatoo video, test.txt from vtest
#   OUT/object-* a 48x48 textured patch moving 3 px right per frame over a still photograph, from
#               (20, 96) at frame 0
# Usage: make_shards.sh FLOWGEN TRAJGEN SAMPLES_DIR OUT
set -euo pipefail
flowgen=$1 trajgen=$2 samples=$3 out=$4
rm -rf "$out" && mkdir -p "$out/pan"
cat > "$out/real.txt" <<LIST
opencv-doc/cup.mp4 0
opencv-doc/vtest.avi 0
python3-imageio/realshort.mp4 1
python3-imageio/cockatoo.mp4 1
python3-mecavideo/balle-jbart.mp4 2
LIST
"$flowgen" -q --list "$out/real.txt" --root "$samples" --out "$out/real-flow"
"$trajgen" -q --flow "$out/real-flow" --out "$out/real-traj"

ffmpeg -v error -y -ss 3 -i "$samples/python3-imageio/cockatoo.mp4" -frames:v 1 "$out/pan/photo.png"
ffmpeg -v error -y -loop 1 -framerate 25 -i "$out/pan/photo.png" \
  -vf "crop=320:240:x='100+3*n':y='200-n',format=yuv420p" -frames:v 80 -c:v libx264 -crf 8 "$out/pan/pan.mp4"
echo "pan.mp4 0" > "$out/pan.txt"
"$flowgen" -q --list "$out/pan.txt" --root "$out/pan" --out "$out/pan-flow"
"$trajgen" -q --flow "$out/pan-flow" --out "$out/pan-traj"

ffmpeg -v error -y -loop 1 -framerate 25 -i "$out/pan/photo.png" -filter_complex \
  "[0]crop=320:240:100:200[bg];[0]crop=48:48:600:300[obj];[bg][obj]overlay=x='20+3*n':y=96,format=yuv420p" \
  -frames:v 80 -c:v libx264 -crf 8 "$out/pan/object.mp4"
echo "object.mp4 0" > "$out/object.txt"
"$flowgen" -q --list "$out/object.txt" --root "$out/pan" --out "$out/object-flow"
"$trajgen" -q --flow "$out/object-flow" --out "$out/object-traj"

# Labelled motion directions. Content moving left = the crop window moving right, and so on.
mkdir -p "$out/directions"
ffmpeg -v error -y -ss 5 -i "$samples/opencv-doc/vtest.avi" -frames:v 1 "$out/directions/test.png"
: > "$out/directions-train.txt"
: > "$out/directions-test.txt"
make_clip() {  # photo list name x0 y0 dx dy label
  ffmpeg -v error -y -loop 1 -framerate 25 -i "$1" \
    -vf "crop=160:120:x='$4+($6)*n':y='$5+($7)*n',format=yuv420p" -frames:v 40 -c:v libx264 -crf 12 \
    "$out/directions/$3.mp4"
  echo "$3.mp4 $8" >> "$2"
}
i=0
for speed in 2 3; do
  for x0 in 300 600 900; do
    [[ $x0 == 900 && $speed == 3 ]] && continue  # 5 clips per class
    make_clip "$out/pan/photo.png" "$out/directions-train.txt" "train-$i-left" $x0 300 $speed 0 0
    make_clip "$out/pan/photo.png" "$out/directions-train.txt" "train-$i-right" $((x0 + 120)) 300 -$speed 0 1
    make_clip "$out/pan/photo.png" "$out/directions-train.txt" "train-$i-up" $x0 250 0 $speed 2
    make_clip "$out/pan/photo.png" "$out/directions-train.txt" "train-$i-down" $x0 370 0 -$speed 3
    i=$((i + 1))
  done
done
for x0 in 150 350 550; do
  make_clip "$out/directions/test.png" "$out/directions-test.txt" "test-$x0-left" $x0 200 3 0 0
  make_clip "$out/directions/test.png" "$out/directions-test.txt" "test-$x0-right" $((x0 + 120)) 200 -3 0 1
  make_clip "$out/directions/test.png" "$out/directions-test.txt" "test-$x0-up" $x0 150 0 3 2
  make_clip "$out/directions/test.png" "$out/directions-test.txt" "test-$x0-down" $x0 270 0 -3 3
done
cat "$out/directions-train.txt" "$out/directions-test.txt" > "$out/directions.txt"
"$flowgen" -q --list "$out/directions.txt" --root "$out/directions" --out "$out/directions-flow"
"$trajgen" -q --flow "$out/directions-flow" --out "$out/directions-traj"
