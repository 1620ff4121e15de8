#!/usr/bin/env bash
# Test fixture of the trainer: flow and target shards made by flowgen and trajgen from
#   OUT/real-*  five real sample videos (scripts/fetch-samples.sh), labelled by source package
#   OUT/pan-*   an ffmpeg-made pan over a real photograph: content moves 3 px left and 1 px down per frame
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

