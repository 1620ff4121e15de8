#include <mme/error.h>
#include <mme/loco_filter.h>
#include <mme/quantize.h>
#include <trajgen/motion_map.h>
#include <trajgen/video_job.h>

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
  const auto& shape = flow_ds->info().shape;
  const std::int64_t pairs = static_cast<std::int64_t>(shape[0]);
  const int H = static_cast<int>(shape[1]), W = static_cast<int>(shape[2]);
  const std::int64_t frames = pairs + 1;
  const int L = s.traj_len, C = s.track.cell, gh = H / C, gw = W / C;
  const std::int64_t starts = std::max<std::int64_t>(0, pairs - L + 1);
  if (pairs < 1 || gh < 1 || gw < 1) {
    record.status = "failed";
    record.reason = fmt::format("{}: video '{}' has {} flow pairs of {}x{}: nothing to track",
                                flow_part.path().string(), id, pairs, W, H);
    return record;
  }

  auto group = out.add_video(id);
  try {
    const double flow_scale = flow_ds->get(dataset_attr::scale);
    const auto ugh = static_cast<std::uint64_t>(gh), ugw = static_cast<std::uint64_t>(gw),
               uL = static_cast<std::uint64_t>(L);
    auto traj = group.create_dataset(target::traj, {mme::DType::i16,
                                                    {static_cast<std::uint64_t>(starts), ugh, ugw, uL, 2},
                                                    {1, ugh, ugw, uL, 2},
                                                    mme::loco_codec({1, ugh, ugw, uL, 2}, 2, mme::LocoCoder::rice)});
    traj.set(dataset_attr::scale, s.traj_scale);
    std::vector<std::uint8_t> valid(static_cast<std::size_t>(starts) * gh * gw);
    std::vector<float> motion(static_cast<std::size_t>(frames) * gh * gw);
    std::vector<Box> boxes(static_cast<std::size_t>(frames));
    std::vector<char> fallback(static_cast<std::size_t>(frames));
    std::int64_t saturated = 0;
    // Motion map: from the codec motion vectors when flowgen stored them (MGM), else the flow.
    const auto mv = s.motion_source == "auto" ? usable_motion_vectors(*video, frames, C) : std::nullopt;
    const auto scale = static_cast<float>(flow_scale);
    const std::int64_t window = s.box.window;
    const std::size_t cells = static_cast<std::size_t>(gh) * gw, per_start = cells * L * 2;
    // MOFO: the box of frame t sums the motion boundaries of the window of flows centred on t
    // (clamped to the video).
    const auto window_first = [&](std::int64_t t) {
      return std::max<std::int64_t>(0, std::min(t - window / 2, pairs - window));
    };
    std::vector<cv::Mat> boundary(static_cast<std::size_t>(pairs));  // per field, until no box needs it
    std::int64_t boxes_done = 0;                                     // frames [0, boxes_done) have boxes
    std::int64_t released = 0;                                       // boundary maps [0, released) dropped

    // Start t of run r has all its steps: quantised and coded.
    const auto encode_start = [&](Run& r, std::int64_t t) {
      const auto q = std::make_unique_for_overwrite<std::int16_t[]>(per_start);
      r.saturated += mme::quantize(r.d.get() + static_cast<std::size_t>(t - r.first) * per_start, per_start,
                                   s.traj_scale, q.get());
      r.chunks[static_cast<std::size_t>(t - r.first)] = traj.encode(q.get());
    };
    // The next field of run r's starts; codes the start that it completes.
    const auto feed = [&](Run& r, const cv::Mat& field) {
      if (!r.tracker || r.tracker->fields_seen() == r.tracker->fields_needed()) return;
      r.tracker->advance(field);
      const std::int64_t done = r.first + r.tracker->fields_seen() - L;
      if (done >= r.first) encode_start(r, done);
    };

    const std::int64_t run_len = std::max<std::int64_t>(kRun, L - 1);
    const std::int64_t run_count = (pairs + run_len - 1) / run_len;
    std::map<std::int64_t, Run> runs;
    for (std::int64_t j0 = 0; j0 < run_count; j0 += kRunsPerBlock) {
      const std::int64_t j1 = std::min(run_count, j0 + kRunsPerBlock);
      const std::int64_t f0 = j0 * run_len, f1 = std::min(pairs, j1 * run_len);
      std::vector<std::uint64_t> ids(static_cast<std::size_t>(f1 - f0));
      std::iota(ids.begin(), ids.end(), static_cast<std::uint64_t>(f0));
      const auto encoded = flow_ds->read_encoded_chunks(ids);  // serial (HDF5); each field read once
      for (std::int64_t j = j0; j < j1; ++j) {
        Run& r = runs[j];
        r.first = j * run_len;
        r.end = std::min(pairs, r.first + run_len);
        r.starts = std::max<std::int64_t>(0, std::min(r.end, starts) - r.first);
        if (r.starts > 0) {
          r.d = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(r.starts) * per_start);
          r.tracker.emplace(H, W, static_cast<int>(r.starts), L, s.track, r.d.get(),
                            valid.data() + static_cast<std::size_t>(r.first) * cells, scale);
          r.chunks.resize(static_cast<std::size_t>(r.starts));
        }
      }
      tbb::parallel_for(j0, j1, [&](std::int64_t j) {
        Run& r = runs.at(j);
        for (std::int64_t t = r.first; t < r.end; ++t) {
          auto raw = decode_named(*flow_ds, encoded[static_cast<std::size_t>(t - f0)], "flow pair", t);
          const cv::Mat field(H, W, CV_16SC2, raw.data());
          boundary[static_cast<std::size_t>(t)] = motion_boundary(field, s.box.downscale, scale);
          if (!mv) {  // the last frame has no flow of its own: it takes the last field's
            float* of_t = motion.data() + static_cast<std::size_t>(t) * cells;
            cell_magnitude(field, scale, C, gh, gw, of_t);
            if (t == pairs - 1) std::copy_n(of_t, cells, of_t + cells);
          }
          feed(r, field);
          if (j > 0 && t - r.first < L - 1) r.head.push_back(std::move(raw));
        }
      });
      // Runs whose successor is now decoded finish their last starts with its head.
      tbb::parallel_for(std::max<std::int64_t>(0, j0 - 1), j1 - 1, [&](std::int64_t j) {
        Run& r = runs.at(j);
        Run& next = runs.at(j + 1);
        for (auto& raw : next.head) feed(r, cv::Mat(H, W, CV_16SC2, raw.data()));
        next.head.clear();
      });
      // Complete runs, in order, into the file (serial: HDF5).
      const std::int64_t complete = j1 == run_count ? j1 : j1 - 1;
      for (auto it = runs.begin(); it != runs.end() && it->first < complete; it = runs.erase(it)) {
        const Run& r = it->second;
        for (std::int64_t t = r.first; t < r.first + r.starts; ++t)
          traj.write_encoded_chunk({static_cast<std::uint64_t>(t), 0, 0, 0, 0},
                                   r.chunks[static_cast<std::size_t>(t - r.first)]);
        saturated += r.saturated;
        if (progress) progress->advance_counter(starts_counter, r.starts);
      }
      // The boxes whose window of motion boundaries is complete.
      std::int64_t box_end = boxes_done;
      while (box_end < frames && std::min(pairs, window_first(box_end) + window) <= f1) ++box_end;
      tbb::parallel_for(boxes_done, box_end, [&](std::int64_t t) {
        const std::int64_t w0 = window_first(t), w1 = std::min(pairs, w0 + window);
        const cv::Mat summed =
            sum_maps(boundary.data() + static_cast<std::size_t>(w0), static_cast<std::size_t>(w1 - w0));
        bool fb = true;
        boxes[static_cast<std::size_t>(t)] = box_from_map(summed, W, H, s.box, fb);
        fallback[static_cast<std::size_t>(t)] = fb ? 1 : 0;
      });
      boxes_done = box_end;
      const std::int64_t needed_from = boxes_done < frames ? window_first(boxes_done) : pairs;
      for (; released < needed_from; ++released) boundary[static_cast<std::size_t>(released)].release();
    }

    if (mv) {
      auto mv_ds = video->dataset(flow::mv);
      const auto& ms = mv_ds.info().shape;
      const auto mscale = static_cast<float>(mv_ds.get(dataset_attr::scale));
      const int mh = static_cast<int>(ms[1]), mw = static_cast<int>(ms[2]);
      // The frames that have vectors: read (serially, HDF5), decoded and reduced to cells in parallel.
      std::vector<std::uint64_t> with;
      for (std::int64_t t = 0; t < frames; ++t)
        if (mv->present[t]) with.push_back(static_cast<std::uint64_t>(t));
      const auto encoded = mv_ds.read_encoded_chunks(with);
      std::vector<float> of(with.size() * cells);
      tbb::parallel_for(std::size_t{0}, with.size(), [&](std::size_t i) {
        auto raw = decode_named(mv_ds, encoded[i], "codec vectors of frame", with[i]);
        const cv::Mat field(mh, mw, CV_16SC2, raw.data());
        cell_magnitude(field, mscale, C / mv->cell, gh, gw, of.data() + i * cells);
      });
      // Frames without vectors (I-frames) take the nearest frame that has them (the earlier one on
      // a tie).
      std::size_t next = 0;  // the first frame with vectors at or after t
      for (std::uint64_t t = 0; t < static_cast<std::uint64_t>(frames); ++t) {
        while (next < with.size() && with[next] < t) ++next;
        std::size_t src = next;
        if (next == with.size() || (next > 0 && t - with[next - 1] <= with[next] - t)) src = next - 1;
        std::copy_n(of.data() + src * cells, cells, motion.data() + static_cast<std::size_t>(t) * cells);
      }
    }
    const std::string source = mv ? target::kMotionFromVectors : target::kMotionFromFlow;

    const auto cleaned = clean_boxes(boxes, s.box.median);
    std::vector<bool> fb(fallback.begin(), fallback.end());
    const Box u = union_box(cleaned, fb, W, H);
    const auto uframes = static_cast<std::uint64_t>(frames);
    // Run-length deflate for the two large maps: on the sample videos' motion maps 1.45x faster
    // than level 1 (itself 1.5x faster than level 4) and 5% smaller; on `valid` (mostly ones)
    // twice as fast as level 4 for 30 against 25 KB.
    const auto rle = mme::deflate_codec(1, true, mme::DeflateStrategy::run_length);
    group.write_dataset(target::valid,
                        {mme::DType::u8,
                         {static_cast<std::uint64_t>(starts), ugh, ugw},
                         {static_cast<std::uint64_t>(std::min<std::int64_t>(starts, 64)), ugh, ugw},
                         rle},
                        valid.data());
    cv::Mat motion_f32(static_cast<int>(frames), gh * gw, CV_32F, motion.data()), motion_f16;
    motion_f32.convertTo(motion_f16, CV_16F);
    auto motion_ds =
        group.create_dataset(target::motion, {mme::DType::f16, {uframes, ugh, ugw}, {uframes, ugh, ugw}, rle});
    motion_ds.write_all(motion_f16.data);
    motion_ds.set(dataset_attr::source, source);
    std::vector<float> box_data;
    for (const auto& b : cleaned) box_data.insert(box_data.end(), b.begin(), b.end());
    group.write_dataset(target::motion_box, {mme::DType::f32, {uframes, 4}, {uframes, 4}, mme::deflate_codec()},
                        box_data.data());
    std::vector<std::uint8_t> fb_u8(fallback.begin(), fallback.end());
    group.write_dataset(target::motion_box_fallback, {mme::DType::u8, {uframes}, {uframes}, mme::deflate_codec()},
                        fb_u8.data());
    group.set(target::motion_box_union, std::vector<double>(u.begin(), u.end()));
    group.set(video_attr::width, W);
    group.set(video_attr::height, H);
    group.set(target::cell, C);
    group.set(target::traj_len, L);
    group.set(video_attr::frames, frames);
    if (video->has(video_attr::label)) group.set(video_attr::label, video->get(video_attr::label));
    if (video->has(video_attr::fps)) group.set(video_attr::fps, video->get(video_attr::fps));

    record.status = "ok";
    record.stats = {{"frames", frames},
                    {"starts", starts},
                    {"saturated", saturated},
                    {"motion_source", source},
                    {"seconds", std::chrono::duration<double>(Clock::now() - start_time).count()}};
    group.set(video_attr::stats, record.stats.dump());
    return record;
  } catch (const std::exception& e) {
    out.remove_video(id);
    record.status = "failed";
    record.reason = fmt::format("{}: video '{}': {}", flow_part.path().string(), id, e.what());
    return record;
  }
}

}  // namespace trajgen
