#include <trainer/clip_dataset.h>
#include <trainer/target_set.h>

#include <mme/dataset_list.h>
#include <mme/error.h>
#include <mme/log.h>
#include <mme/part_store.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace trainer {

namespace fs = std::filesystem;
namespace schema = mme::schema;

ClipDataset::ClipDataset(const TrainConfig& config, const ClipNeeds& needs) : config_(config) {
  const auto& d = config.data;
  const bool need_targets = needs.any();
  if (need_targets && d.target_dir.empty()) {
    std::vector<std::string> what;
    if (needs.trajectories) what.push_back("the trajectories");
    if (needs.motion_box) what.push_back("the motion box");
    if (needs.motion_map) what.push_back("the motion map");
    throw std::invalid_argument(
        fmt::format("this run reads {} of trajgen's output: set data.target_dir", fmt::join(what, " and ")));
  }
  // A part that is gone or damaged costs its own videos (in skipped.json, naming the part).
  const auto flow_set = mme::scan_set(d.flow_dir);
  for (const auto& problem : flow_set.problems) mme::log::warn("{}", problem);
  const auto& flow_videos = flow_set.videos;
  if (flow_videos.empty()) throw mme::FileError(d.flow_dir, "no flowgen shards with videos here");
  mme::SetScan target_set;
  if (need_targets) {
    check_target_set(d.target_dir, d.flow_dir, flow_videos, config.trajectory);
    target_set = mme::scan_set(d.target_dir);
    for (const auto& problem : target_set.problems) mme::log::warn("{}", problem);
  }
  const auto& target_videos = target_set.videos;

  // The candidates: the list's videos (with labels), or every video of the flow set.
  std::map<std::string, std::int64_t> wanted;
  if (!d.list.empty()) {
    for (const auto& e : mme::read_dataset_list(d.list, {})) wanted[e.id] = e.label.value_or(-1);
  } else {
    for (const auto& [id, file] : flow_videos) wanted[id] = -1;
    for (const auto& [id, why] : flow_set.lost) wanted[id] = -1;
  }

  // Two passes, each visiting the videos part by part: a Kinetics-size set has thousands of
  // part files, and visiting them in id order would reopen a part for almost every video.
  std::vector<VideoEntry> candidates;
  for (const auto& [id, label] : wanted) {
    const auto flow = flow_videos.find(id);
    if (flow == flow_videos.end()) {
      const auto lost = flow_set.lost.find(id);
      skipped_[id] =
          lost != flow_set.lost.end() ? "its flow part " + lost->second : "not in the flow shards (data.flow_dir)";
      continue;
    }
    VideoEntry v;
    v.id = id;
    v.flow_file = flow->second;
    v.label = label;
    if (need_targets) {
      const auto target = target_videos.find(id);
      if (target == target_videos.end()) {
        const auto lost = target_set.lost.find(id);
        skipped_[id] = lost != target_set.lost.end() ? "its target part " + lost->second
                                                     : "not in the target shards (data.target_dir)";
        continue;
      }
      v.target_file = target->second;
    }
    candidates.push_back(std::move(v));
  }
  std::vector<char> usable(candidates.size(), 1);
  auto by_part = [&](std::string VideoEntry::*file) {
    std::vector<std::size_t> order(candidates.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return candidates[x].*file < candidates[y].*file; });
    return order;
  };
  for (const std::size_t i : by_part(&VideoEntry::flow_file)) {
    auto& v = candidates[i];
    try {
      const auto group = open(d.flow_dir / v.flow_file)->video(v.id);
      if (!group.has_dataset(schema::flow::frames)) {
        skipped_[v.id] = fmt::format("{}: no frames stored (flowgen --frames none)", v.flow_file);
        usable[i] = 0;
        continue;
      }
      v.frames = static_cast<int>(group.get(schema::video::frames));
      v.width = static_cast<int>(group.get(schema::video::width));
      v.height = static_cast<int>(group.get(schema::video::height));
      if (v.label < 0 && group.has(schema::video::label)) v.label = group.get(schema::video::label);
    } catch (const std::exception& e) {
      skipped_[v.id] = e.what();
      usable[i] = 0;
    }
  }
  if (need_targets)
    for (const std::size_t i : by_part(&VideoEntry::target_file)) {
      auto& v = candidates[i];
      if (!usable[i]) continue;
      try {
        const auto traj = open(d.target_dir / v.target_file)->video(v.id).dataset(schema::target::traj);
        const auto& shape = traj.info().shape;
        if (shape.size() != 5 || shape[0] == 0) {
          skipped_[v.id] = fmt::format("{}: no trajectories (only {} frames)", v.target_file, v.frames);
          usable[i] = 0;
          continue;
        }
        v.starts = static_cast<int>(shape[0]);
        v.grid_h = static_cast<int>(shape[1]);
        v.grid_w = static_cast<int>(shape[2]);
        v.traj_scale = traj.get(schema::dataset::scale);
      } catch (const std::exception& e) {
        skipped_[v.id] = e.what();
        usable[i] = 0;
      }
    }
  for (std::size_t i = 0; i < candidates.size(); ++i)  // still in id order
    if (usable[i]) videos_.push_back(std::move(candidates[i]));
  if (videos_.empty())
    throw mme::FileError(
        d.flow_dir,
        fmt::format("no usable videos ({} skipped{})", skipped_.size(),
                    skipped_.empty() ? "" : ", e.g. " + skipped_.begin()->first + ": " + skipped_.begin()->second));
}

std::shared_ptr<mme::ShardReader> ClipDataset::open(const fs::path& file) const {
  std::lock_guard lock(mutex_);
  for (auto it = readers_.begin(); it != readers_.end(); ++it)
    if (it->first == file) {
      readers_.splice(readers_.end(), readers_, it);
      return readers_.back().second;
    }
  auto reader = std::make_shared<mme::ShardReader>(file);
  readers_.emplace_back(file, reader);
  if (readers_.size() > kOpenParts) readers_.pop_front();
  return reader;
}

void ClipDataset::read(const VideoEntry& video, const std::vector<int>& frame_indices,
                       const std::vector<int>& traj_starts, const ClipNeeds& needs, ClipSource& out) const {
  const auto flow_path = config_.data.flow_dir / video.flow_file;
  std::vector<std::vector<std::uint8_t>> jpegs(frame_indices.size());
  try {
    const auto group = open(flow_path)->video(video.id);
    const auto offsets = group.dataset(schema::flow::frame_offsets).read<std::int64_t>();
    if (offsets.size() != static_cast<std::size_t>(video.frames) + 1)
      throw std::runtime_error(fmt::format("frame_offsets has {} entries for {} frames", offsets.size(), video.frames));
    const auto frames = group.dataset(schema::flow::frames);
    // A frame repeated in a short clip is read once.
    std::map<int, std::size_t> first;
    for (std::size_t k = 0; k < frame_indices.size(); ++k) {
      const int f = frame_indices[k];
      if (auto it = first.find(f); it != first.end()) {
        jpegs[k] = jpegs[it->second];
        continue;
      }
      first[f] = k;
      const auto begin = static_cast<std::uint64_t>(offsets[f]), end = static_cast<std::uint64_t>(offsets[f + 1]);
      try {
        jpegs[k] = frames.read_slab<std::uint8_t>({begin}, {end - begin});
      } catch (const std::exception& e) {
        // Which frame and which chunk, for mme-verify's report and the user's repair.
        const auto chunk = frames.info().chunk.empty() ? 0 : frames.info().chunk[0];
        throw std::runtime_error(fmt::format("{}{}: {} (frame {}, bytes {}..{})", schema::flow::frames.name,
                                             chunk ? fmt::format(" chunk {}", begin / chunk) : "", e.what(), f, begin,
                                             end));
      }
    }
  } catch (const mme::FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw mme::FileError(flow_path, fmt::format("video {}: {}", video.id, e.what()));
  }
  out.frames.resize(frame_indices.size());
  for (std::size_t k = 0; k < jpegs.size(); ++k) {
    try {
      out.frames[k] = mme::decode_jpeg(jpegs[k].data(), jpegs[k].size());
    } catch (const std::exception& e) {
      throw mme::FileError(flow_path, fmt::format("video {} frame {}: {}", video.id, frame_indices[k], e.what()));
    }
  }

  out.displacement.resize(traj_starts.size());
  out.valid.resize(traj_starts.size());
  if (traj_starts.empty() && !needs.motion_box && !needs.motion_map) return;
  const auto target_path = config_.data.target_dir / video.target_file;
  try {
    const auto group = open(target_path)->video(video.id);
    const auto traj = group.dataset(schema::target::traj);
    const auto valid = group.dataset(schema::target::valid);
    const std::uint64_t gh = video.grid_h, gw = video.grid_w,
                        values = static_cast<std::uint64_t>(config_.trajectory.steps) * 2;
    for (std::size_t k = 0; k < traj_starts.size(); ++k) {
      const auto s = static_cast<std::uint64_t>(std::min(traj_starts[k], video.starts - 1));
      std::uint32_t mask = 0;
      const auto encoded = traj.read_encoded_chunk({s, 0, 0, 0, 0}, &mask);
      const auto raw = traj.decode_chunk(encoded, mask);  // outside the HDF5 lock
      if (raw.size() < gh * gw * values * sizeof(std::int16_t))
        throw std::runtime_error(fmt::format("trajectory chunk of start {} is {} bytes", s, raw.size()));
      auto& disp = out.displacement[k];
      disp.resize(gh * gw * values);
      const auto* q = reinterpret_cast<const std::int16_t*>(raw.data());
      const auto scale = static_cast<float>(video.traj_scale);
      for (std::size_t i = 0; i < disp.size(); ++i) disp[i] = q[i] * scale;
      out.valid[k] = valid.read_slab<std::uint8_t>({s, 0, 0}, {1, gh, gw});
    }
    if (needs.motion_box) {
      const auto box = group.get(schema::target::motion_box_union);
      if (box.size() != 4) throw std::runtime_error("motion_box_union does not hold 4 values");
      for (int i = 0; i < 4; ++i) out.motion_box[i] = static_cast<float>(box[i]);
    }
    if (needs.motion_map) {
      // One read for the clip's span: the map is one compressed chunk per video.
      const auto [lo, hi] = std::minmax_element(frame_indices.begin(), frame_indices.end());
      const auto first = static_cast<std::uint64_t>(*lo), count = static_cast<std::uint64_t>(*hi - *lo + 1);
      const auto span = group.dataset(schema::target::motion).read_slab<float>({first, 0, 0}, {count, gh, gw});
      out.motion.resize(frame_indices.size());
      for (std::size_t k = 0; k < frame_indices.size(); ++k) {
        const auto* f = span.data() + (static_cast<std::uint64_t>(frame_indices[k]) - first) * gh * gw;
        out.motion[k].assign(f, f + gh * gw);
      }
    }
  } catch (const mme::FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw mme::FileError(target_path, fmt::format("video {}: {}", video.id, e.what()));
  }
}

}  // namespace trainer
