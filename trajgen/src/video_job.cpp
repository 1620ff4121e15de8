#include <mme/error.h>
#include <mme/loco_filter.h>
#include <mme/quantize.h>
#include <trajgen/video_job.h>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <chrono>
#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>
#include <optional>

namespace trajgen {
namespace {

using Clock = std::chrono::steady_clock;

// Frames handled per block: their flow fields (plus the L-1 and window-1 after them) are in
// memory at once.
constexpr std::int64_t kBlock = 32;
// Start frames tracked together by one task (a quarter of a block: work for 2-4 threads).
constexpr std::int64_t kRun = 8;

struct Field {
  std::vector<std::uint8_t> raw;  // the decoded chunk: H x W x 2 int16, pixels = value x the flow's scale
  cv::Mat flow;                   // CV_16SC2 over `raw`: tracked and reduced without a float copy
  cv::Mat boundary;               // motion-boundary magnitude at the box rule's reduced size, CV_32FC1
};

// Mean of |v| over each cell x cell block of a quantised 2-channel field (pixels = value x
// scale) -> [gh][gw] (cells beyond the last whole one are ignored, as the seeds are).
void cell_magnitude(const cv::Mat& field, float scale, int cell, int gh, int gw, float* out) {
  const float norm = scale / static_cast<float>(cell * cell);
  const int used = gw * cell;
  std::vector<float> magnitude(static_cast<std::size_t>(used));
  for (int i = 0; i < gh; ++i) {
    float* cells = out + static_cast<std::size_t>(i) * gw;
    std::fill(cells, cells + gw, 0.f);
    for (int y = i * cell; y < (i + 1) * cell; ++y) {
      // The magnitudes of a row first: a loop without a carried sum, which the compiler vectorises.
      const auto* row = field.ptr<std::int16_t>(y);
      for (int x = 0; x < used; ++x) {
        const auto u = static_cast<float>(row[2 * x]), v = static_cast<float>(row[2 * x + 1]);
        magnitude[x] = std::sqrt(u * u + v * v);
      }
      for (int j = 0; j < gw; ++j) {
        float sum = 0;
        for (int x = j * cell; x < (j + 1) * cell; ++x) sum += magnitude[x];
        cells[j] += sum;
      }
    }
    for (int j = 0; j < gw; ++j) cells[j] *= norm;
  }
}

// Codec motion vectors for the motion map, when flowgen stored them for every frame of the video
// (at a cell that divides trajgen's) and at least one frame has them.
struct MotionVectors {
  std::vector<std::uint8_t> present;  // per frame
  int cell = 0;
};
std::optional<MotionVectors> usable_motion_vectors(const mme::GroupReader& video, std::int64_t frames, int C) {
  if (!video.has_dataset("mv") || !video.has_dataset("mv_present")) return std::nullopt;
  MotionVectors mv{video.dataset("mv_present").read<std::uint8_t>(), 0};
  const auto ds = video.dataset("mv");
  mv.cell = static_cast<int>(ds.get_int("cell"));
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
    flow_ds.emplace(video->dataset("flow"));
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
    const double flow_scale = flow_ds->get_double("scale");
    const auto ugh = static_cast<std::uint64_t>(gh), ugw = static_cast<std::uint64_t>(gw),
               uL = static_cast<std::uint64_t>(L);
    auto traj = group.create_dataset("traj", {mme::DType::i16,
                                              {static_cast<std::uint64_t>(starts), ugh, ugw, uL, 2},
                                              {1, ugh, ugw, uL, 2},
                                              mme::loco_codec({1, ugh, ugw, uL, 2}, 2, mme::LocoCoder::rice)});
    traj.set("scale", s.traj_scale);
    std::vector<std::uint8_t> valid(static_cast<std::size_t>(starts) * gh * gw);
    std::vector<float> motion(static_cast<std::size_t>(frames) * gh * gw);
    std::vector<Box> boxes(static_cast<std::size_t>(frames));
    std::vector<char> fallback(static_cast<std::size_t>(frames));
    std::int64_t saturated = 0;
    std::map<std::int64_t, Field> fields;
    // Motion map: from the codec motion vectors when flowgen stored them (MGM), else the flow.
    const auto mv = s.motion_source == "auto" ? usable_motion_vectors(*video, frames, C) : std::nullopt;
    const auto scale = static_cast<float>(flow_scale);
    const std::int64_t window = s.box.window;

    for (std::int64_t b0 = 0; b0 < frames; b0 += kBlock) {
      const std::int64_t b1 = std::min(frames, b0 + kBlock);
      // Fields this block needs: trajectories up to b1-1+L-1, boxes up to b1-1+window-1.
      const std::int64_t lo = std::max<std::int64_t>(0, std::min(b0 - window / 2, pairs - window));
      const std::int64_t hi = std::min(pairs, b1 - 1 + std::max<std::int64_t>(L, window - window / 2));
      std::vector<std::uint64_t> missing;
      for (std::int64_t t = lo; t < hi; ++t)
        if (!fields.count(t)) missing.push_back(static_cast<std::uint64_t>(t));
      // Read the stored chunks (HDF5 is serial), decode and reduce them in parallel.
      const auto encoded = flow_ds->read_encoded_chunks(missing);
      std::vector<Field> loaded(missing.size());
      tbb::parallel_for(std::size_t{0}, missing.size(), [&](std::size_t i) {
        Field& f = loaded[i];
        f.raw = flow_ds->decode_chunk(encoded[i]);
        f.flow = cv::Mat(H, W, CV_16SC2, f.raw.data());
        f.boundary = motion_boundary(f.flow, s.box.downscale, scale);
      });
      for (std::size_t i = 0; i < missing.size(); ++i)
        fields[static_cast<std::int64_t>(missing[i])] = std::move(loaded[i]);

      std::vector<std::vector<std::uint8_t>> chunks(static_cast<std::size_t>(b1 - b0));
      std::vector<std::int64_t> block_saturated(static_cast<std::size_t>(b1 - b0), 0);
      // Runs of kRun starts per task: each of their fields is read once for all starts using it.
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(b0, b1, kRun), [&](const tbb::blocked_range<std::int64_t>& r) {
        const std::int64_t s0 = r.begin(), s1 = std::min(r.end(), starts);
        if (s0 < s1) {
          std::vector<const cv::Mat*> flows;
          for (std::int64_t f = s0; f < s1 + L - 1; ++f) flows.push_back(&fields.at(f).flow);
          const std::size_t per_start = static_cast<std::size_t>(gh) * gw * L * 2;
          std::vector<float> d(per_start * static_cast<std::size_t>(s1 - s0));
          track(flows, static_cast<int>(s1 - s0), s.track, d.data(),
                valid.data() + static_cast<std::size_t>(s0) * gh * gw, scale);
          std::vector<std::int16_t> q(per_start);
          for (std::int64_t t = s0; t < s1; ++t) {
            const auto k = static_cast<std::size_t>(t - b0);
            block_saturated[k] += mme::quantize(d.data() + (t - s0) * per_start, per_start, s.traj_scale, q.data());
            chunks[k] = traj.encode(q.data());
          }
        }
        for (std::int64_t t = r.begin(); t < r.end(); ++t) {
          if (!mv)
            cell_magnitude(fields.at(std::min(t, pairs - 1)).flow, scale, C, gh, gw,
                           motion.data() + static_cast<std::size_t>(t) * gh * gw);
          // MOFO: motion boundaries summed over the window of flows centred on t (clamped to the video).
          const std::int64_t w0 = std::max<std::int64_t>(0, std::min(t - window / 2, pairs - window));
          const std::int64_t w1 = std::min(pairs, w0 + window);
          cv::Mat summed = fields.at(w0).boundary.clone();
          for (std::int64_t f = w0 + 1; f < w1; ++f) summed += fields.at(f).boundary;
          bool fb = true;
          boxes[static_cast<std::size_t>(t)] = box_from_map(summed, W, H, s.box, fb);
          fallback[static_cast<std::size_t>(t)] = fb ? 1 : 0;
        }
      });
      for (std::int64_t t = b0; t < b1; ++t) {
        const auto k = static_cast<std::size_t>(t - b0);
        saturated += block_saturated[k];
        if (t < starts) traj.write_encoded_chunk({static_cast<std::uint64_t>(t), 0, 0, 0, 0}, chunks[k]);
      }
      if (progress) progress->advance_counter(starts_counter, std::max<std::int64_t>(0, std::min(b1, starts) - b0));
      // Fields before the next block's first need are done.
      const std::int64_t keep_from = std::max<std::int64_t>(0, std::min(b1 - window / 2, pairs - window));
      for (auto it = fields.begin(); it != fields.end() && it->first < keep_from;) it = fields.erase(it);
    }

    if (mv) {
      auto mv_ds = video->dataset("mv");
      const auto& ms = mv_ds.info().shape;
      const auto mscale = static_cast<float>(mv_ds.get_double("scale"));
      const int mh = static_cast<int>(ms[1]), mw = static_cast<int>(ms[2]);
      const std::size_t cells = static_cast<std::size_t>(gh) * gw;
      // The frames that have vectors: read (serially, HDF5), decoded and reduced to cells in parallel.
      std::vector<std::uint64_t> with;
      for (std::int64_t t = 0; t < frames; ++t)
        if (mv->present[t]) with.push_back(static_cast<std::uint64_t>(t));
      const auto encoded = mv_ds.read_encoded_chunks(with);
      std::vector<float> of(with.size() * cells);
      tbb::parallel_for(std::size_t{0}, with.size(), [&](std::size_t i) {
        auto raw = mv_ds.decode_chunk(encoded[i]);
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
    const std::string source = mv ? "mv" : "flow";

    const auto cleaned = clean_boxes(boxes, s.box.median);
    std::vector<bool> fb(fallback.begin(), fallback.end());
    const Box u = union_box(cleaned, fb, W, H);
    const auto uframes = static_cast<std::uint64_t>(frames);
    group.write_dataset("valid",
                        {mme::DType::u8,
                         {static_cast<std::uint64_t>(starts), ugh, ugw},
                         {static_cast<std::uint64_t>(std::min<std::int64_t>(starts, 64)), ugh, ugw},
                         mme::deflate_codec()},
                        valid.data());
    cv::Mat motion_f32(static_cast<int>(frames), gh * gw, CV_32F, motion.data()), motion_f16;
    motion_f32.convertTo(motion_f16, CV_16F);
    // Deflate level 1: level 4 took 1.5x as long (~4% of trajgen) for a file 8% smaller.
    auto motion_ds = group.create_dataset(
        "motion", {mme::DType::f16, {uframes, ugh, ugw}, {uframes, ugh, ugw}, mme::deflate_codec(1)});
    motion_ds.write_all(motion_f16.data);
    motion_ds.set("source", source);  // "mv": codec motion vectors, "flow": the dense flow
    std::vector<float> box_data;
    for (const auto& b : cleaned) box_data.insert(box_data.end(), b.begin(), b.end());
    group.write_dataset("motion_box", {mme::DType::f32, {uframes, 4}, {uframes, 4}, mme::deflate_codec()},
                        box_data.data());
    std::vector<std::uint8_t> fb_u8(fallback.begin(), fallback.end());
    group.write_dataset("motion_box_fallback", {mme::DType::u8, {uframes}, {uframes}, mme::deflate_codec()},
                        fb_u8.data());
    group.set("motion_box_union", std::vector<double>(u.begin(), u.end()));
    group.set("width", W);
    group.set("height", H);
    group.set("cell", C);
    group.set("traj_len", L);
    group.set("frames", frames);
    if (video->has("label")) group.set("label", video->get_int("label"));
    if (video->has("fps")) group.set("fps", video->get_double("fps"));

    record.status = "ok";
    record.stats = {{"frames", frames},
                    {"starts", starts},
                    {"saturated", saturated},
                    {"motion_source", source},
                    {"seconds", std::chrono::duration<double>(Clock::now() - start_time).count()}};
    group.set("stats", record.stats.dump());
    return record;
  } catch (const std::exception& e) {
    out.remove_video(id);
    record.status = "failed";
    record.reason = fmt::format("{}: video '{}': {}", flow_part.path().string(), id, e.what());
    return record;
  }
}

}  // namespace trajgen
