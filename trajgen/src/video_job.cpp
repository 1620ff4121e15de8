#include <mme/json_file.h>
#include <mme/error.h>
#include <mme/loco_filter.h>
#include <mme/quantize.h>
#include <trajgen/motion_map.h>
#include <trajgen/video_job.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <optional>

namespace trajgen {
namespace {

namespace flow = mme::schema::flow;
namespace target = mme::schema::target;
namespace video_attr = mme::schema::video;
namespace dataset_attr = mme::schema::dataset;

using Clock = std::chrono::steady_clock;

// The flow fields are taken in runs of kRun consecutive ones (at least L - 1), each run by one task
// that decodes its fields one after the other and, while a field is in the core's cache, advances
// every start of the run that uses it, takes its motion boundaries (and cell magnitudes) and drops
// it: decoding writes into memory it just freed, and the tracker reads a field it just decoded
// (keeping a block's fields decoded until every start had used them made both wait on memory).
// The last L - 1 starts of a run also need the first L - 1 fields of the next run: a run keeps
// those ("head") until the run before it has finished its starts with them.
constexpr std::int64_t kRun = 16;  // 8 left 3 of 8 starts to finish through cold "head" fields
// Runs read (HDF5, serially) and processed (in parallel) together: work for 2-4 threads.
constexpr std::int64_t kRunsPerBlock = 4;

struct Run {
  std::int64_t first = 0, end = 0;  // its fields [first, end); its starts [first, first + starts)
  std::int64_t starts = 0;
  std::unique_ptr<float[]> d;  // its starts' displacements, [starts][H/C][W/C][L][2] (all written)
  std::optional<Tracker> tracker;
  std::vector<std::vector<std::uint8_t>> head;    // decoded fields first .. first + L - 2
  std::vector<std::vector<std::uint8_t>> chunks;  // its starts' encoded trajectories
  std::int64_t saturated = 0;
};

// A stored chunk decoded; its error names what the chunk holds ("flow pair 40: corrupt ...").
std::vector<std::uint8_t> decode_named(const mme::DatasetReader& ds, const mme::DatasetReader::EncodedChunk& chunk,
                                       const char* what, std::uint64_t index) {
  try {
    return ds.decode_chunk(chunk);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{} {}: {}", what, index, e.what()));
  }
}

// Codec motion vectors for the motion map, when flowgen stored them for every frame of the video
// (at a cell that divides trajgen's) and at least one frame has them.
struct MotionVectors {
  std::vector<std::uint8_t> present;  // per frame
  int cell = 0;
};
std::optional<MotionVectors> usable_motion_vectors(const mme::GroupReader& video, std::int64_t frames, int C) {
  if (!video.has_dataset(flow::mv) || !video.has_dataset(flow::mv_present)) return std::nullopt;
  MotionVectors mv{video.dataset(flow::mv_present).read<std::uint8_t>(), 0};
  const auto ds = video.dataset(flow::mv);
  mv.cell = static_cast<int>(ds.get(dataset_attr::cell));
  const bool any = std::find(mv.present.begin(), mv.present.end(), 1) != mv.present.end();
  if (!any || static_cast<std::int64_t>(ds.info().shape[0]) != frames ||
      static_cast<std::int64_t>(mv.present.size()) != frames || mv.cell < 1 || C % mv.cell != 0)
    return std::nullopt;
  return mv;
}

// A video's targets, stage by stage. Per block of kRunsPerBlock runs:
//   read     the block's encoded flow fields, serially (HDF5)          read_block
//   track    each run decodes its fields and feeds its trackers, the   track_block
//            motion boundaries and (without codec vectors) the motion map
//   finish   runs complete their last starts with the next run's head  finish_with_heads
//   write    completed runs' trajectory chunks, in order (HDF5)        write_complete_runs
//   boxes    the MOFO boxes whose window of boundaries is complete     boxes_up_to
// then, once: the motion map from the codec vectors (map_from_vectors) and the per-video datasets
// and attributes (write_video).
class VideoTargets {
 public:
  VideoTargets(const mme::GroupReader& video, const mme::DatasetReader& flow_ds, const TrajSettings& s,
               mme::Progress* progress, std::size_t starts_counter)
      : video_(video), flow_ds_(flow_ds), s_(s), progress_(progress), starts_counter_(starts_counter) {
    const auto& shape = flow_ds.info().shape;
    pairs_ = static_cast<std::int64_t>(shape[0]);
    H_ = static_cast<int>(shape[1]);
    W_ = static_cast<int>(shape[2]);
    frames_ = pairs_ + 1;
    L_ = s.traj_len;
    C_ = s.track.cell;
    gh_ = H_ / C_;
    gw_ = W_ / C_;
    starts_ = std::max<std::int64_t>(0, pairs_ - L_ + 1);
    cells_ = static_cast<std::size_t>(gh_) * gw_;
    per_start_ = cells_ * L_ * 2;
    run_len_ = std::max<std::int64_t>(kRun, L_ - 1);
    run_count_ = (pairs_ + run_len_ - 1) / run_len_;
  }
  std::int64_t pairs() const { return pairs_; }
  bool trackable() const { return pairs_ >= 1 && gh_ >= 1 && gw_ >= 1; }
  int width() const { return W_; }
  int height() const { return H_; }

  // Every stage, into `group`; returns the manifest's numbers.
  nlohmann::json run(mme::GroupWriter& group, std::chrono::steady_clock::time_point start_time) {
    group_ = &group;
    scale_ = static_cast<float>(flow_ds_.get(dataset_attr::scale));
    const auto ugh = static_cast<std::uint64_t>(gh_), ugw = static_cast<std::uint64_t>(gw_),
               uL = static_cast<std::uint64_t>(L_);
    traj_.emplace(
        group_->create_dataset(target::traj, {mme::DType::i16,
                                              {static_cast<std::uint64_t>(starts_), ugh, ugw, uL, 2},
                                              {1, ugh, ugw, uL, 2},
                                              mme::loco_codec({1, ugh, ugw, uL, 2}, 2, mme::LocoCoder::rice)}));
    traj_->set(dataset_attr::scale, s_.traj_scale);
    valid_.resize(static_cast<std::size_t>(starts_) * cells_);
    motion_.resize(static_cast<std::size_t>(frames_) * cells_);
    boxes_.resize(static_cast<std::size_t>(frames_));
    fallback_.resize(static_cast<std::size_t>(frames_));
    boundary_.resize(static_cast<std::size_t>(pairs_));
    // Motion map: from the codec motion vectors when flowgen stored them (MGM), else the flow.
    mv_ = s_.motion_source == "auto" ? usable_motion_vectors(video_, frames_, C_) : std::nullopt;

    for (std::int64_t j0 = 0; j0 < run_count_; j0 += kRunsPerBlock) {
      const std::int64_t j1 = std::min(run_count_, j0 + kRunsPerBlock);
      const std::int64_t f0 = j0 * run_len_, f1 = std::min(pairs_, j1 * run_len_);
      const auto encoded = read_block(j0, j1, f0, f1);
      track_block(j0, j1, f0, encoded);
      finish_with_heads(j0, j1);
      write_complete_runs(j1 == run_count_ ? j1 : j1 - 1);
      boxes_up_to(f1);
    }
    if (mv_) map_from_vectors();
    const std::string source = mv_ ? target::kMotionFromVectors : target::kMotionFromFlow;
    write_video(source);
    nlohmann::json stats = {{"frames", frames_},
                            {"starts", starts_},
                            {"saturated", saturated_},
                            {"motion_source", source},
                            {"seconds", std::chrono::duration<double>(Clock::now() - start_time).count()}};
    group_->set(video_attr::stats, mme::dump_json(stats));
    return stats;
  }

 private:
  // MOFO: the box of frame t sums the motion boundaries of the window of flows centred on t
  // (clamped to the video).
  std::int64_t window_first(std::int64_t t) const {
    return std::max<std::int64_t>(0, std::min(t - s_.box.window / 2, pairs_ - s_.box.window));
  }

  // Start t of run r has all its steps: quantised and coded.
  void encode_start(Run& r, std::int64_t t) const {
    const auto q = std::make_unique_for_overwrite<std::int16_t[]>(per_start_);
    r.saturated += mme::quantize(r.d.get() + static_cast<std::size_t>(t - r.first) * per_start_, per_start_,
                                 s_.traj_scale, q.get());
    r.chunks[static_cast<std::size_t>(t - r.first)] = traj_->encode(q.get());
  }
  // The next field of run r's starts; codes the start that it completes.
  void feed(Run& r, const cv::Mat& field) const {
    if (!r.tracker || r.tracker->fields_seen() == r.tracker->fields_needed()) return;
    r.tracker->advance(field);
    const std::int64_t done = r.first + r.tracker->fields_seen() - L_;
    if (done >= r.first) encode_start(r, done);
  }

  // Stage "read": sets up runs [j0, j1) and reads their fields [f0, f1), each once.
  std::vector<mme::DatasetReader::EncodedChunk> read_block(std::int64_t j0, std::int64_t j1, std::int64_t f0,
                                                           std::int64_t f1) {
    std::vector<std::uint64_t> ids(static_cast<std::size_t>(f1 - f0));
    std::iota(ids.begin(), ids.end(), static_cast<std::uint64_t>(f0));
    auto encoded = flow_ds_.read_encoded_chunks(ids);  // serial (HDF5)
    for (std::int64_t j = j0; j < j1; ++j) {
      Run& r = runs_[j];
      r.first = j * run_len_;
      r.end = std::min(pairs_, r.first + run_len_);
      r.starts = std::max<std::int64_t>(0, std::min(r.end, starts_) - r.first);
      if (r.starts > 0) {
        r.d = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(r.starts) * per_start_);
        r.tracker.emplace(H_, W_, static_cast<int>(r.starts), L_, s_.track, r.d.get(),
                          valid_.data() + static_cast<std::size_t>(r.first) * cells_, scale_);
        r.chunks.resize(static_cast<std::size_t>(r.starts));
      }
    }
    return encoded;
  }

  // Stage "track" (parallel over runs).
  void track_block(std::int64_t j0, std::int64_t j1, std::int64_t f0,
                   const std::vector<mme::DatasetReader::EncodedChunk>& encoded) {
    tbb::parallel_for(j0, j1, [&](std::int64_t j) {
      Run& r = runs_.at(j);
      for (std::int64_t t = r.first; t < r.end; ++t) {
        auto raw = decode_named(flow_ds_, encoded[static_cast<std::size_t>(t - f0)], "flow pair", t);
        const cv::Mat field(H_, W_, CV_16SC2, raw.data());
        boundary_[static_cast<std::size_t>(t)] = motion_boundary(field, s_.box.downscale, scale_);
        if (!mv_) {  // the last frame has no flow of its own: it takes the last field's
          float* of_t = motion_.data() + static_cast<std::size_t>(t) * cells_;
          cell_magnitude(field, scale_, C_, gh_, gw_, of_t);
          if (t == pairs_ - 1) std::copy_n(of_t, cells_, of_t + cells_);
        }
        feed(r, field);
        if (j > 0 && t - r.first < L_ - 1) r.head.push_back(std::move(raw));
      }
    });
  }

  // Stage "finish": runs whose successor is now decoded finish their last starts with its head.
  void finish_with_heads(std::int64_t j0, std::int64_t j1) {
    tbb::parallel_for(std::max<std::int64_t>(0, j0 - 1), j1 - 1, [&](std::int64_t j) {
      Run& r = runs_.at(j);
      Run& next = runs_.at(j + 1);
      for (auto& raw : next.head) feed(r, cv::Mat(H_, W_, CV_16SC2, raw.data()));
      next.head.clear();
    });
  }

  // Stage "write": the runs before `complete`, in order, into the file (serial: HDF5).
  void write_complete_runs(std::int64_t complete) {
    for (auto it = runs_.begin(); it != runs_.end() && it->first < complete; it = runs_.erase(it)) {
      const Run& r = it->second;
      for (std::int64_t t = r.first; t < r.first + r.starts; ++t)
        traj_->write_encoded_chunk({static_cast<std::uint64_t>(t), 0, 0, 0, 0},
                                   r.chunks[static_cast<std::size_t>(t - r.first)]);
      saturated_ += r.saturated;
      if (progress_) progress_->advance_counter(starts_counter_, r.starts);
    }
  }

  // Stage "boxes": the frames whose window of motion boundaries lies in the fields read so far.
  void boxes_up_to(std::int64_t f1) {
    const std::int64_t window = s_.box.window;
    std::int64_t box_end = boxes_done_;
    while (box_end < frames_ && std::min(pairs_, window_first(box_end) + window) <= f1) ++box_end;
    tbb::parallel_for(boxes_done_, box_end, [&](std::int64_t t) {
      const std::int64_t w0 = window_first(t), w1 = std::min(pairs_, w0 + window);
      const cv::Mat summed =
          sum_maps(boundary_.data() + static_cast<std::size_t>(w0), static_cast<std::size_t>(w1 - w0));
      bool fb = true;
      boxes_[static_cast<std::size_t>(t)] = box_from_map(summed, W_, H_, s_.box, fb);
      fallback_[static_cast<std::size_t>(t)] = fb ? 1 : 0;
    });
    boxes_done_ = box_end;
    const std::int64_t needed_from = boxes_done_ < frames_ ? window_first(boxes_done_) : pairs_;
    for (; released_ < needed_from; ++released_) boundary_[static_cast<std::size_t>(released_)].release();
  }

  // The motion map from the codec vectors (MGM), for every frame.
  void map_from_vectors() {
    auto mv_ds = video_.dataset(flow::mv);
    const auto& ms = mv_ds.info().shape;
    const auto mscale = static_cast<float>(mv_ds.get(dataset_attr::scale));
    const int mh = static_cast<int>(ms[1]), mw = static_cast<int>(ms[2]);
    // The frames that have vectors: read (serially, HDF5), decoded and reduced to cells in parallel.
    std::vector<std::uint64_t> with;
    for (std::int64_t t = 0; t < frames_; ++t)
      if (mv_->present[t]) with.push_back(static_cast<std::uint64_t>(t));
    const auto encoded = mv_ds.read_encoded_chunks(with);
    std::vector<float> of(with.size() * cells_);
    tbb::parallel_for(std::size_t{0}, with.size(), [&](std::size_t i) {
      auto raw = decode_named(mv_ds, encoded[i], "codec vectors of frame", with[i]);
      const cv::Mat field(mh, mw, CV_16SC2, raw.data());
      cell_magnitude(field, mscale, C_ / mv_->cell, gh_, gw_, of.data() + i * cells_);
    });
    // Frames without vectors (I-frames) take the nearest frame that has them (the earlier one on
    // a tie).
    std::size_t next = 0;  // the first frame with vectors at or after t
    for (std::uint64_t t = 0; t < static_cast<std::uint64_t>(frames_); ++t) {
      while (next < with.size() && with[next] < t) ++next;
      std::size_t src = next;
      if (next == with.size() || (next > 0 && t - with[next - 1] <= with[next] - t)) src = next - 1;
      std::copy_n(of.data() + src * cells_, cells_, motion_.data() + static_cast<std::size_t>(t) * cells_);
    }
  }

  // The per-video datasets (validity, motion map, boxes) and attributes.
  void write_video(const std::string& source) {
    const auto ugh = static_cast<std::uint64_t>(gh_), ugw = static_cast<std::uint64_t>(gw_);
    const auto cleaned = clean_boxes(boxes_, s_.box.median);
    std::vector<bool> fb(fallback_.begin(), fallback_.end());
    const Box u = union_box(cleaned, fb, W_, H_);
    const auto uframes = static_cast<std::uint64_t>(frames_);
    // Run-length deflate for the two large maps: on the sample videos' motion maps 1.45x faster
    // than level 1 (itself 1.5x faster than level 4) and 5% smaller; on `valid` (mostly ones)
    // twice as fast as level 4 for 30 against 25 KB.
    const auto rle = mme::deflate_codec(1, true, mme::DeflateStrategy::run_length);
    group_->write_dataset(target::valid,
                          {mme::DType::u8,
                           {static_cast<std::uint64_t>(starts_), ugh, ugw},
                           {static_cast<std::uint64_t>(std::min<std::int64_t>(starts_, 64)), ugh, ugw},
                           rle},
                          valid_.data());
    cv::Mat motion_f32(static_cast<int>(frames_), gh_ * gw_, CV_32F, motion_.data()), motion_f16;
    motion_f32.convertTo(motion_f16, CV_16F);
    auto motion_ds =
        group_->create_dataset(target::motion, {mme::DType::f16, {uframes, ugh, ugw}, {uframes, ugh, ugw}, rle});
    motion_ds.write_all(motion_f16.data);
    motion_ds.set(dataset_attr::source, source);
    std::vector<float> box_data;
    for (const auto& b : cleaned) box_data.insert(box_data.end(), b.begin(), b.end());
    group_->write_dataset(target::motion_box, {mme::DType::f32, {uframes, 4}, {uframes, 4}, mme::deflate_codec()},
                          box_data.data());
    std::vector<std::uint8_t> fb_u8(fallback_.begin(), fallback_.end());
    group_->write_dataset(target::motion_box_fallback, {mme::DType::u8, {uframes}, {uframes}, mme::deflate_codec()},
                          fb_u8.data());
    group_->set(target::motion_box_union, std::vector<double>(u.begin(), u.end()));
    group_->set(video_attr::width, W_);
    group_->set(video_attr::height, H_);
    group_->set(target::cell, C_);
    group_->set(target::traj_len, L_);
    group_->set(video_attr::frames, frames_);
    if (video_.has(video_attr::label)) group_->set(video_attr::label, video_.get(video_attr::label));
    if (video_.has(video_attr::fps)) group_->set(video_attr::fps, video_.get(video_attr::fps));
  }

  const mme::GroupReader& video_;
  const mme::DatasetReader& flow_ds_;
  const TrajSettings& s_;
  mme::GroupWriter* group_ = nullptr;
  mme::Progress* progress_;
  std::size_t starts_counter_;
  // Geometry: flow pairs of H x W; L steps; seeds every C px on a gh x gw grid.
  std::int64_t pairs_ = 0, frames_ = 0, starts_ = 0;
  int H_ = 0, W_ = 0, L_ = 0, C_ = 0, gh_ = 0, gw_ = 0;
  std::size_t cells_ = 0, per_start_ = 0;  // seeds per frame; values per start
  std::int64_t run_len_ = 0, run_count_ = 0;
  float scale_ = 0;  // flow pixels per stored unit
  std::optional<MotionVectors> mv_;
  std::optional<mme::DatasetWriter> traj_;
  std::map<std::int64_t, Run> runs_;  // the runs read and not yet written
  std::vector<std::uint8_t> valid_;
  std::vector<float> motion_;
  std::vector<Box> boxes_;
  std::vector<char> fallback_;
  std::vector<cv::Mat> boundary_;  // per field, until no box needs it
  std::int64_t boxes_done_ = 0;    // frames [0, boxes_done_) have boxes
  std::int64_t released_ = 0;      // boundary maps [0, released_) dropped
  std::int64_t saturated_ = 0;
};

}  // namespace

mme::VideoRecord process_video(const std::string& id, const mme::ShardReader& flow_part, const TrajSettings& s,
                               mme::ShardWriter& out, mme::Progress* progress, std::size_t starts_counter) {
  const auto start_time = Clock::now();
  mme::VideoRecord record;
  record.id = id;
  std::optional<mme::GroupReader> video;
  std::optional<mme::DatasetReader> flow_ds;
  try {
    video.emplace(flow_part.video(id));
    flow_ds.emplace(video->dataset(flow::flow));
  } catch (const std::exception& e) {
    record.status = "failed";
    record.reason = fmt::format("video '{}': {}", id, e.what());  // what() names the flow part
    return record;
  }
  VideoTargets targets(*video, *flow_ds, s, progress, starts_counter);
  if (!targets.trackable()) {
    record.status = "failed";
    record.reason = fmt::format("{}: video '{}' has {} flow pairs of {}x{}: nothing to track",
                                flow_part.path().string(), id, targets.pairs(), targets.width(), targets.height());
    return record;
  }
  auto group = out.add_video(id);
  try {
    record.stats = targets.run(group, start_time);
    record.status = "ok";
    return record;
  } catch (const mme::OutputError&) {
    throw;  // the part is dropped whole (BatchRunner)
  } catch (const std::exception& e) {
    out.remove_video(id);
    record.status = "failed";
    record.reason = fmt::format("{}: video '{}': {}", flow_part.path().string(), id, e.what());
    return record;
  }
}

}  // namespace trajgen
