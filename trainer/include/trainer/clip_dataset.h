#pragma once
// The videos a run trains on, and the reads one clip needs: the sparse frames (JPEG from
// flowgen's shards) and the dense trajectory targets of each tube's first frame (trajgen's
// shards). Opening checks that the target shards were made for this run: their config.json must
// name the same trajectory settings and the same flow set as data.flow_dir, or the run is refused
// with both values named. Videos missing from a shard are skipped, counted and reported.
#include <mme/jpeg.h>
#include <trainer/clip_needs.h>
#include <trainer/config.h>

#include <mme/shard_store.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace trainer {

struct VideoEntry {
  std::string id;
  std::string flow_file;      // part file relative to data.flow_dir
  std::string target_file;    // part file relative to data.target_dir ("" without targets)
  int frames = 0;             // native frames stored
  int width = 0, height = 0;  // working size of frames and flow
  std::int64_t label = -1;
  // Trajectories (with targets): starts = frames - L seeds' start frames, on a grid_h x grid_w grid.
  int starts = 0, grid_h = 0, grid_w = 0;
  double traj_scale = 0;  // pixels per stored unit
};

// What one clip reads: decoded frames and, per tube, the trajectories that start at its first
// frame (pixels of the working frame, [grid_h, grid_w, L, 2]) and their validity.
struct ClipSource {
  std::vector<mme::RgbImage> frames;
  std::vector<std::vector<float>> displacement;
  std::vector<std::vector<std::uint8_t>> valid;
  // With motion: the video's MOFO union box (x0, y0, x1, y1, working pixels) and the motion map
  // [grid_h, grid_w] of each frame read (pixels per frame).
  std::array<float, 4> motion_box{0, 0, 0, 0};
  std::vector<std::vector<float>> motion;
};

class ClipDataset {
 public:
  // `needs`: what the run's clips carry besides frames; any of it reads trajgen's shards.
  // Throws std::invalid_argument (settings) or mme::FileError (a directory, a refused target set).
  ClipDataset(const TrainConfig& config, const ClipNeeds& needs);

  const std::vector<VideoEntry>& videos() const { return videos_; }
  // Videos left out, with the reason: id -> reason.
  const std::map<std::string, std::string>& skipped() const { return skipped_; }

  // Reads the frames at `frame_indices`, the trajectories starting at `traj_starts` (each
  // clamped to the last start) and what `needs` names of the motion: the video's motion box, the
  // motion map of each frame read. Thread-safe: HDF5 reads are serialised, decoding runs in the calling thread. Throws
  // mme::FileError naming the part file and the video.
  void read(const VideoEntry& video, const std::vector<int>& frame_indices, const std::vector<int>& traj_starts,
            const ClipNeeds& needs, ClipSource& out) const;

 private:
  std::shared_ptr<mme::ShardReader> open(const std::filesystem::path& file) const;

  TrainConfig config_;
  std::vector<VideoEntry> videos_;
  std::map<std::string, std::string> skipped_;
  // Open part files, most recently used last: a Kinetics-size set has thousands of parts, more
  // than a process may keep open, so at most kOpenParts stay open (a reader in use lives on in
  // its shared_ptr until its read is done).
  static constexpr std::size_t kOpenParts = 64;
  mutable std::mutex mutex_;
  mutable std::list<std::pair<std::filesystem::path, std::shared_ptr<mme::ShardReader>>> readers_;
};

}  // namespace trainer
