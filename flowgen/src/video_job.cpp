#include <flowgen/motion_paint.h>
#include <flowgen/quantize.h>
#include <flowgen/video_job.h>
#include <mme/error.h>
#include <mme/loco_filter.h>
#include <mme/video_attributes.h>
#include <mme/video_reader.h>

#include <fmt/format.h>
#include <tbb/parallel_pipeline.h>

#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace flowgen {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One decoded frame on its way through the pipeline, and what the parallel stage made of it.
struct Item {
  std::int64_t index = 0;
  double time = 0;
  int distance = 1;
  cv::Mat rgb;                                     // empty with --frames none
  std::shared_ptr<const cv::Mat> gray, prev_gray;  // prev_gray is null for the first frame
  mme::FrameMotion motion;
  // Outputs of the parallel stage.
  std::vector<std::uint8_t> jpeg;
  std::vector<std::uint8_t> flow_chunk, mv_chunk;
  bool flow_present = false, mv_present = false;
  std::int64_t saturated = 0;
  double flow_seconds = 0;
};

// Grows an extendible dataset geometrically so that index `i` fits.
void ensure_size(mme::DatasetWriter& ds, std::uint64_t needed) {
  if (ds.spec().shape[0] >= needed) return;
  ds.resize(std::max<std::uint64_t>(needed, ds.spec().shape[0] * 2));
}

// Writes everything about one video. Split from process_video so that any failure there can
// remove the half-written group in one place.
struct VideoWriter {
  explicit VideoWriter(mme::GroupWriter g) : group(std::move(g)) {}
  mme::GroupWriter group;
  std::optional<mme::DatasetWriter> flow, frames, mv;
  std::vector<std::int64_t> offsets{0};
  std::vector<double> timestamps;
  std::vector<std::uint8_t> flow_present, mv_present;
  std::int64_t saturated = 0;
  std::uint64_t jpeg_bytes = 0;

  void write(Item& item) {
    timestamps.push_back(item.time);
    if (frames) {
      ensure_size(*frames, jpeg_bytes + item.jpeg.size());
      frames->write_slab({jpeg_bytes}, {item.jpeg.size()}, item.jpeg.data());
      jpeg_bytes += item.jpeg.size();
      offsets.push_back(static_cast<std::int64_t>(jpeg_bytes));
    }
    if (item.index > 0) {
      const auto pair = static_cast<std::uint64_t>(item.index - 1);
      ensure_size(*flow, pair + 1);
      flow->write_encoded_chunk({pair, 0, 0, 0}, item.flow_chunk);
      flow_present.push_back(item.flow_present ? 1 : 0);
      saturated += item.saturated;
    }
    if (mv) {
      const auto f = static_cast<std::uint64_t>(item.index);
      ensure_size(*mv, f + 1);
      mv->write_encoded_chunk({f, 0, 0, 0}, item.mv_chunk);
      mv_present.push_back(item.mv_present ? 1 : 0);
    }
  }
};

}  // namespace

mme::VideoRecord process_video(const mme::ListEntry& entry, mme::ShardWriter& shard, JobContext& ctx) {
  const auto start = Clock::now();
  const FlowSettings& s = ctx.settings;
  mme::VideoRecord record;
  record.id = entry.id;

  const bool want_frames = s.frames == "jpeg";
  const bool want_mv = s.mv || ctx.backend.needs_motion_vectors;
  mme::VideoReaderOptions options;
  options.format = want_frames ? mme::PixelFormat::rgb24 : mme::PixelFormat::gray8;
  options.short_side = s.short_side;
  options.max_short_side = s.short_side > 0 ? 0 : s.max_short_side;
  options.motion_vectors = want_mv;
  options.decoder_threads = ctx.decoder_threads;

  std::optional<mme::VideoReader> reader;
  mme::SourceStat source;
  try {
    reader.emplace(entry.path, options);  // first: its messages are the clearest ("no such file")
    source = mme::SourceStat::of(entry.path);
    if (ctx.backend.needs_motion_vectors && !reader->info().codec_exports_mvs)
      throw mme::FileError(entry.path, fmt::format("codec '{}' carries no motion vectors (--algo mv needs H.264 or "
                                                   "MPEG-1/2/4/H.263; use a flow algorithm)",
                                                   reader->info().codec));
  } catch (const mme::FileError& e) {
    record.status = "failed";
    record.reason = e.what();
    return record;
  }
  const auto& info = reader->info();
  const auto W = static_cast<std::uint64_t>(info.width), H = static_cast<std::uint64_t>(info.height);
  const std::uint64_t estimate = info.frame_count > 1 ? static_cast<std::uint64_t>(info.frame_count) : 64;

  VideoWriter out{shard.add_video(entry.id)};
  try {
    // Flow and codec motion are piecewise smooth: LOCO-I prediction + range coding (loco_transform.h).
    out.flow.emplace(out.group.create_dataset(
        "flow", {mme::DType::i16, {estimate - 1, H, W, 2}, {1, H, W, 2}, mme::loco_codec({1, H, W, 2}), true}));
    out.flow->set("scale", s.quant_step);
    if (want_frames)
      out.frames.emplace(
          out.group.create_dataset("frames", {mme::DType::u8, {0}, {1 << 18}, mme::raw_codec(), /*extendible=*/true}));
    const std::uint64_t mh = std::max<std::uint64_t>(1, H / s.mv_cell), mw = std::max<std::uint64_t>(1, W / s.mv_cell);
    if (s.mv) {
      out.mv.emplace(out.group.create_dataset(
          "mv", {mme::DType::i16, {estimate, mh, mw, 2}, {1, mh, mw, 2}, mme::loco_codec({1, mh, mw, 2}), true}));
      out.mv->set("scale", s.quant_step);
      out.mv->set("cell", s.mv_cell);
    }

    double decode_seconds = 0;
    std::atomic<std::int64_t> flow_nanos{0};
    ReferenceDistance distances;
    std::shared_ptr<const cv::Mat> prev_gray;
    std::int64_t next_index = 0;
    bool interrupted = false;

    tbb::parallel_pipeline(
        static_cast<std::size_t>(std::max(2, ctx.max_tokens)),
        tbb::make_filter<void, std::shared_ptr<Item>>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> std::shared_ptr<Item> {
              if (ctx.stop.load()) {
                interrupted = true;
                fc.stop();
                return nullptr;
              }
              const auto t0 = Clock::now();
              mme::Frame frame;
              if (!reader->read(frame)) {
                fc.stop();
                return nullptr;
              }
              auto item = std::make_shared<Item>();
              item->index = next_index++;
              item->time = frame.time;
              item->distance = distances.next(frame.picture_type);
              item->motion = std::move(frame.motion);
              cv::Mat pixels(frame.height, frame.width, frame.channels == 3 ? CV_8UC3 : CV_8UC1, frame.pixels.data());
              auto gray = std::make_shared<cv::Mat>();
              if (frame.channels == 3) {
                item->rgb = pixels.clone();
                cv::cvtColor(pixels, *gray, cv::COLOR_RGB2GRAY);
              } else {
                *gray = pixels.clone();
              }
              item->gray = gray;
              item->prev_gray = prev_gray;
              prev_gray = gray;
              decode_seconds += seconds_since(t0);
              return item;
            }) &
            tbb::make_filter<std::shared_ptr<Item>, std::shared_ptr<Item>>(
                tbb::filter_mode::parallel,
                [&](std::shared_ptr<Item> item) {
                  if (want_frames) {
                    cv::Mat bgr;
                    cv::cvtColor(item->rgb, bgr, cv::COLOR_RGB2BGR);
                    cv::imencode(".jpg", bgr, item->jpeg, {cv::IMWRITE_JPEG_QUALITY, s.jpeg_quality});
                    item->rgb.release();
                  }
                  std::vector<std::int16_t> q;
                  if (item->prev_gray) {
                    const auto t0 = Clock::now();
                    auto& backend = ctx.backends.local();
                    if (!backend) backend = ctx.backend.create();
                    cv::Mat flow;
                    item->flow_present =
                        backend->compute({*item->prev_gray, *item->gray, item->motion, item->distance}, flow);
                    q.assign(W * H * 2, 0);
                    if (item->flow_present) item->saturated = quantize_flow(flow, s.quant_step, q.data());
                    item->flow_chunk = out.flow->encode(q.data());
                    flow_nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
                  }
                  if (out.mv) {
                    cv::Mat painted;
                    item->mv_present = paint_motion(item->motion, static_cast<int>(W), static_cast<int>(H), s.mv_cell,
                                                    item->distance, painted);
                    q.assign(painted.total() * 2, 0);
                    quantize_flow(painted, s.quant_step, q.data());
                    item->mv_chunk = out.mv->encode(q.data());
                  }
                  item->prev_gray.reset();  // let frames go as soon as their pair is done
                  return item;
                }) &
            tbb::make_filter<std::shared_ptr<Item>, void>(tbb::filter_mode::serial_in_order,
                                                          [&](std::shared_ptr<Item> item) {
                                                            out.write(*item);
                                                            if (ctx.progress && item->index > 0)
                                                              ctx.progress->advance_counter(ctx.pairs_counter, 1);
                                                          }));
    if (interrupted) throw Interrupted();

    const auto n = static_cast<std::uint64_t>(out.timestamps.size());
    if (n < 2) {
      std::string why = n == 0 ? "no decodable video frames" : "only one decodable frame: no flow pair";
      if (!reader->warnings().empty()) why += " (" + reader->warnings().front() + ")";
      throw mme::FileError(entry.path, why);
    }
    out.flow->resize(n - 1);
    if (out.frames) {
      out.frames->resize(out.jpeg_bytes);
      out.group.write_dataset("frame_offsets", {mme::DType::i64, {n + 1}, {n + 1}, mme::deflate_codec()},
                              out.offsets.data());
    }
    if (out.mv) {
      out.mv->resize(n);
      out.group.write_dataset("mv_present", {mme::DType::u8, {n}, {n}, mme::deflate_codec()}, out.mv_present.data());
    }
    out.group.write_dataset("flow_present", {mme::DType::u8, {n - 1}, {n - 1}, mme::deflate_codec()},
                            out.flow_present.data());
    out.group.write_dataset("timestamps", {mme::DType::f64, {n}, {n}, mme::deflate_codec()}, out.timestamps.data());

    record.status = "ok";
    const double seconds = seconds_since(start);
    record.stats = {{"frames", n},
                    {"pairs", n - 1},
                    {"saturated", out.saturated},
                    {"warnings", reader->warnings().size()},
                    {"decode_seconds", decode_seconds},
                    {"flow_seconds", static_cast<double>(flow_nanos.load()) * 1e-9},
                    {"seconds", seconds}};
    auto& g = out.group;
    mme::write_video_attributes(g, entry, info, source);
    g.set("width", info.width);
    g.set("height", info.height);
    g.set("frames", static_cast<std::int64_t>(n));
    g.set("pairs", static_cast<std::int64_t>(n - 1));
    g.set("saturated", out.saturated);
    g.set("warnings", static_cast<std::int64_t>(reader->warnings().size()));
    std::string warning_text;
    for (const auto& w : reader->warnings()) warning_text += w + "\n";
    g.set("warning_text", warning_text);
    // The manifest's numbers, timings of this run included (they describe the run, not the content).
    g.set("stats", record.stats.dump());
    return record;
  } catch (const Interrupted&) {
    shard.remove_video(entry.id);
    throw;
  } catch (const std::exception& e) {
    shard.remove_video(entry.id);
    record.status = "failed";
    record.reason = dynamic_cast<const mme::FileError*>(&e) ? e.what() : entry.path.string() + ": " + e.what();
    return record;
  }
}

}  // namespace flowgen
