# Sourced by the fault tests: four real sample videos and the flowgen and trajgen commands that
# process them small and fast (short side 128, one video per part, 2 threads). Needs $work, $build
# and $samples.
list=$work/four.txt
printf 'opencv-doc/cup.mp4 0\nopencv-doc/vtest.avi 0\npython3-imageio/realshort.mp4 1\npython3-imageio/cockatoo.mp4 1\n' >"$list"
flowgen=("$build/flowgen/flowgen" -q --list "$list" --root "$samples" --threads 2 --part-videos 1 --short-side 128)
trajgen=("$build/trajgen/trajgen" -q --threads 2 --part-videos 1)
same_datasets="$(dirname "${BASH_SOURCE[0]}")/same_datasets.py"
