#pragma once
// What a clip must carry besides its frames. Every strategy that reads stored data declares it
// (MaskGenerator::needs, Target::needs, the classifier's MOFO pooling), the run takes the union,
// and the loader reads and crops exactly that: a new mask or target that uses these data is its
// own file plus a registry line, and nothing in the loader changes.
namespace trainer {

struct ClipNeeds {
  bool trajectories = false;  // trajgen's `traj` and `valid` of each tube's first frame, cropped
  bool motion_box = false;    // the video's MOFO box (`motion_box_union`), in token units after the crop
  bool motion_map = false;    // MGM's map (`motion`) of each frame of the clip, with the crop

  // Whether the run reads trajgen's shards (data.target_dir).
  bool any() const { return trajectories || motion_box || motion_map; }
  ClipNeeds operator|(const ClipNeeds& o) const {
    return {trajectories || o.trajectories, motion_box || o.motion_box, motion_map || o.motion_map};
  }
};

}  // namespace trainer
