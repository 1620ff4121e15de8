#include <flowgen/motion_paint.h>
#include <flowgen/quantize.h>
#include <flowgen/video_job.h>
#include <mme/json_file.h>
#include <mme/error.h>
#include <mme/jpeg.h>
#include <mme/loco_filter.h>
#include <mme/video_attributes.h>
#include <mme/video_reader.h>

#include <fmt/format.h>
#include <tbb/parallel_pipeline.h>

#include <chrono>

// One video in four stages, each a named piece below:
//   open     VideoReader + the group's datasets (VideoWriter::create)
//   read     decode the next frame at the working size in JPEG's YCbCr (FrameReader; serial)
//   compute  JPEG of the frame straight from its planes, flow of the pair on the luma planes,
//            quantisation, LOCO-I coding, codec motion
//            (compute_item; parallel over frames)
//   write    the chunks and frames in frame order (VideoWriter::write; serial), then the indexes
//            and attributes (VideoWriter::finish)
// read -> compute -> write is one TBB pipeline, so decoding overlaps the flow of earlier pairs.
namespace flowgen {
namespace {

namespace fs = mme::schema::flow;

// Largest chunk of the concatenated JPEG frames (HDF5's filters are not used on them: JPEG is
// compressed). Shorter videos' chunks are sized to their frames (VideoWriter::exact_chunk).
constexpr std::uint64_t kFrameChunkBytes = 1 << 18;
constexpr std::uint64_t kExactFrameBytes = 4 * kFrameChunkBytes;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A decoded frame: YCbCr 4:2:0 planes (grey only with --frames none). Its luma plane is the grey
// frame the flow is computed on (no copy), for its own pair and as the next pair's first frame.
struct Picture {
  std::vector<std::uint8_t> pixels;
  cv::Mat gray;  // a header on the luma plane
};

// One decoded frame on its way through the pipeline, and what the compute stage made of it.
struct Item {
  std::int64_t index = 0;
  double time = 0;
  int distance = 1;
  std::shared_ptr<const Picture> picture, prev;  // prev is null for the first frame
  mme::FrameMotion motion;
  // Outputs of the compute stage.
  std::vector<std::uint8_t> jpeg;
  std::vector<std::uint8_t> flow_chunk, mv_chunk;
  bool flow_present = false, mv_present = false;
  std::int64_t saturated = 0;
};

// Grows an extendible dataset geometrically so that index `i` fits.
void ensure_size(mme::DatasetWriter& ds, std::uint64_t needed) {
  if (ds.spec().shape[0] >= needed) return;
  ds.resize(std::max<std::uint64_t>(needed, ds.spec().shape[0] * 2));
}

// Stage "open": the reader, or the reason the video cannot be read.
struct OpenedVideo {
  std::optional<mme::VideoReader> reader;
  mme::SourceStat source;
};
std::optional<std::string> open_video(const mme::ListEntry& entry, const JobContext& ctx, OpenedVideo& out) {
  const FlowSettings& s = ctx.settings;
  mme::VideoReaderOptions options;
  options.format = s.frames == "jpeg" ? mme::PixelFormat::yuv420p : mme::PixelFormat::gray8;
  options.short_side = s.short_side;
  options.max_short_side = s.short_side > 0 ? 0 : s.max_short_side;
  options.motion_vectors = s.mv || ctx.backend.needs_motion_vectors;
  options.decoder_threads = ctx.decoder_threads;
  try {
    out.reader.emplace(entry.path, options);  // first: its messages are the clearest ("no such file")
    out.source = mme::SourceStat::of(entry.path);
    if (ctx.backend.needs_motion_vectors && !out.reader->info().codec_exports_mvs)
      throw mme::FileError(entry.path, fmt::format("codec '{}' carries no motion vectors (--algo mv needs H.264 or "
                                                   "MPEG-1/2/4/H.263; use a flow algorithm)",
                                                   out.reader->info().codec));
  } catch (const mme::FileError& e) {
    return e.what();
  }
  return std::nullopt;
}

// Stage "read" (serial, in order): the next frame, or null at the end of the stream.
class FrameReader {
 public:
  explicit FrameReader(mme::VideoReader& reader) : reader_(reader) {}
  std::shared_ptr<Item> next() {
    const auto t0 = Clock::now();
    mme::Frame frame;
    if (!reader_.read(frame)) return nullptr;
    auto item = std::make_shared<Item>();
    item->index = next_index_++;
    item->time = frame.time;
    item->distance = distances_.next(frame.picture_type);
    item->motion = std::move(frame.motion);
    auto picture = std::make_shared<Picture>();
    picture->pixels = std::move(frame.pixels);  // the reader allocates the next frame's anew
    picture->gray = cv::Mat(frame.height, frame.width, CV_8UC1, picture->pixels.data());
    item->picture = picture;
    item->prev = prev_;
    prev_ = picture;
    seconds_ += seconds_since(t0);
    return item;
  }
  double seconds() const { return seconds_; }

 private:
  mme::VideoReader& reader_;
  ReferenceDistance distances_;
  std::shared_ptr<const Picture> prev_;
  std::int64_t next_index_ = 0;
  double seconds_ = 0;
};

// Writes everything about one video: the datasets as frames come (stage "write") and the rest at
// the end. Any failure is handled in one place (process_video removes the half-written group).
struct VideoWriter {
  explicit VideoWriter(mme::GroupWriter g) : group(std::move(g)) {}
  mme::GroupWriter group;
  std::optional<mme::DatasetWriter> flow, frames, mv;
  bool want_frames = false;
  std::vector<std::uint8_t> first_frames;  // JPEGs held until the frames' chunk size is known
  std::vector<std::int64_t> offsets{0};
  std::vector<double> timestamps;
  std::vector<std::uint8_t> flow_present, mv_present;
  std::int64_t saturated = 0;
  std::uint64_t jpeg_bytes = 0;

  // The streamed datasets, sized from the container's frame count (they grow if it was short).
  void create(const FlowSettings& s, const mme::VideoInfo& info, bool store_frames) {
    const auto W = static_cast<std::uint64_t>(info.width), H = static_cast<std::uint64_t>(info.height);
    const std::uint64_t estimate = info.frame_count > 1 ? static_cast<std::uint64_t>(info.frame_count) : 64;
    // Flow and codec motion are piecewise smooth: LOCO-I prediction + range coding (loco_transform.h).
    flow.emplace(group.create_dataset(
        fs::flow, {mme::DType::i16, {estimate - 1, H, W, 2}, {1, H, W, 2}, mme::loco_codec({1, H, W, 2}), true}));
    flow->set(mme::schema::dataset::scale, s.quant_step);
    want_frames = store_frames;
    const std::uint64_t mh = std::max<std::uint64_t>(1, H / s.mv_cell), mw = std::max<std::uint64_t>(1, W / s.mv_cell);
    if (s.mv) {
      mv.emplace(group.create_dataset(
          fs::mv, {mme::DType::i16, {estimate, mh, mw, 2}, {1, mh, mw, 2}, mme::loco_codec({1, mh, mw, 2}), true}));
      mv->set(mme::schema::dataset::scale, s.quant_step);
      mv->set(mme::schema::dataset::cell, s.mv_cell);
    }
  }

  // The frames' chunk size. A padded last chunk costs up to a whole chunk per video (a 32-frame
  // clip at 96 px holds 83 KB of JPEG: two thirds of one 256 KiB chunk were zeros; an SSv2-length
  // clip, ~360 KB, lost ~40%). So the first kExactFrameBytes of JPEG are held back: a video that
  // ends within them gets equal chunks of at most kFrameChunkBytes that it fills exactly, a longer
  // one kFrameChunkBytes chunks (its padding is then at most one chunk in five).
  static std::uint64_t exact_chunk(std::uint64_t bytes) {
    const auto pieces = std::max<std::uint64_t>(1, (bytes + kFrameChunkBytes - 1) / kFrameChunkBytes);
    return std::max<std::uint64_t>(1, (bytes + pieces - 1) / pieces);
  }
  void create_frames(std::uint64_t chunk) {
    frames.emplace(group.create_dataset(
        fs::frames, {mme::DType::u8, {jpeg_bytes}, {chunk}, mme::checked_raw_codec(), /*extendible=*/true}));
    if (!first_frames.empty()) frames->write_slab({0}, {first_frames.size()}, first_frames.data());
    first_frames = {};
  }

  // Stage "write" (serial, in order).
  void write(Item& item) {
    timestamps.push_back(item.time);
    if (want_frames) {
      if (frames) {
        ensure_size(*frames, jpeg_bytes + item.jpeg.size());
        frames->write_slab({jpeg_bytes}, {item.jpeg.size()}, item.jpeg.data());
      } else {
        first_frames.insert(first_frames.end(), item.jpeg.begin(), item.jpeg.end());
      }
      jpeg_bytes += item.jpeg.size();
      offsets.push_back(static_cast<std::int64_t>(jpeg_bytes));
      if (!frames && jpeg_bytes >= kExactFrameBytes) create_frames(kFrameChunkBytes);
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

  // After the last frame: the streams cut to their length, the per-frame indexes, the attributes.
  void finish(const mme::ListEntry& entry, const OpenedVideo& video, const nlohmann::json& stats) {
    const auto n = static_cast<std::uint64_t>(timestamps.size());
    flow->resize(n - 1);
    if (want_frames) {
      if (!frames) create_frames(exact_chunk(jpeg_bytes));
      frames->resize(jpeg_bytes);
      group.write_dataset(fs::frame_offsets, {mme::DType::i64, {n + 1}, {n + 1}, mme::deflate_codec()}, offsets.data());
    }
    if (mv) {
      mv->resize(n);
      group.write_dataset(fs::mv_present, {mme::DType::u8, {n}, {n}, mme::deflate_codec()}, mv_present.data());
    }
    group.write_dataset(fs::flow_present, {mme::DType::u8, {n - 1}, {n - 1}, mme::deflate_codec()},
                        flow_present.data());
    group.write_dataset(fs::timestamps, {mme::DType::f64, {n}, {n}, mme::deflate_codec()}, timestamps.data());
    const auto& info = video.reader->info();
    const auto& warnings = video.reader->warnings();
    mme::write_video_attributes(group, entry, info, video.source);
    group.set(mme::schema::video::width, info.width);
    group.set(mme::schema::video::height, info.height);
    group.set(mme::schema::video::frames, static_cast<std::int64_t>(n));
    group.set(fs::pairs, static_cast<std::int64_t>(n - 1));
    group.set(fs::saturated, saturated);
    group.set(mme::schema::video::warnings, static_cast<std::int64_t>(warnings.size()));
    std::string warning_text;
    for (const auto& w : warnings) warning_text += w + "\n";
    group.set(fs::warning_text, warning_text);
    // The manifest's numbers, timings of this run included (they describe the run, not the content).
    group.set(mme::schema::video::stats, mme::dump_json(stats));
  }
};

// Stage "compute" (parallel): JPEG of the frame, flow of the pair that ends at it (quantised and
// LOCO-coded with the dataset's codec), and the codec motion painted dense.
void compute_item(Item& item, JobContext& ctx, const VideoWriter& out, int W, int H,
                  std::atomic<std::int64_t>& flow_nanos) {
  const FlowSettings& s = ctx.settings;
  if (out.want_frames) item.jpeg = mme::encode_jpeg_yuv420(item.picture->pixels.data(), W, H, s.jpeg_quality);
  std::vector<std::int16_t> q;
  if (item.prev) {
    const auto t0 = Clock::now();
    auto& backend = ctx.backends.local();
    if (!backend) backend = ctx.backend.make(ctx.backend_options);
    cv::Mat flow;
    item.flow_present = backend->compute({item.prev->gray, item.picture->gray, item.motion, item.distance}, flow);
    q.assign(static_cast<std::size_t>(W) * H * 2, 0);
    if (item.flow_present) item.saturated = quantize_flow(flow, s.quant_step, q.data());
    item.flow_chunk = out.flow->encode(q.data());
    flow_nanos += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }
  if (out.mv) {
    cv::Mat painted;
    item.mv_present = paint_motion(item.motion, W, H, s.mv_cell, item.distance, painted);
    q.assign(painted.total() * 2, 0);
    quantize_flow(painted, s.quant_step, q.data());
    item.mv_chunk = out.mv->encode(q.data());
  }
  item.prev.reset();  // let frames go as soon as their pair is done
  item.picture.reset();
}

}  // namespace

mme::VideoRecord process_video(const mme::ListEntry& entry, mme::ShardWriter& shard, JobContext& ctx) {
  const auto start = Clock::now();
  mme::VideoRecord record;
  record.id = entry.id;
  OpenedVideo video;
  if (auto why = open_video(entry, ctx, video)) {
    record.status = "failed";
    record.reason = *why;
    return record;
  }
  const auto& info = video.reader->info();
  VideoWriter out{shard.add_video(entry.id)};
  try {
    out.create(ctx.settings, info, ctx.settings.frames == "jpeg");
    FrameReader reader(*video.reader);
    std::atomic<std::int64_t> flow_nanos{0};
    bool interrupted = false;
    tbb::parallel_pipeline(
        static_cast<std::size_t>(std::max(2, ctx.max_tokens)),
        tbb::make_filter<void, std::shared_ptr<Item>>(tbb::filter_mode::serial_in_order,
                                                      [&](tbb::flow_control& fc) -> std::shared_ptr<Item> {
                                                        if (ctx.stop.load()) {
                                                          interrupted = true;
                                                          fc.stop();
                                                          return nullptr;
                                                        }
                                                        auto item = reader.next();
                                                        if (!item) fc.stop();
                                                        return item;
                                                      }) &
            tbb::make_filter<std::shared_ptr<Item>, std::shared_ptr<Item>>(tbb::filter_mode::parallel,
                                                                           [&](std::shared_ptr<Item> item) {
                                                                             compute_item(*item, ctx, out, info.width,
                                                                                          info.height, flow_nanos);
                                                                             return item;
                                                                           }) &
            tbb::make_filter<std::shared_ptr<Item>, void>(tbb::filter_mode::serial_in_order,
                                                          [&](std::shared_ptr<Item> item) {
                                                            out.write(*item);
                                                            if (ctx.progress && item->index > 0)
                                                              ctx.progress->advance_counter(ctx.pairs_counter, 1);
                                                          }));
    if (interrupted) throw mme::Interrupted();

    const auto n = static_cast<std::uint64_t>(out.timestamps.size());
    if (n < 2) {
      std::string why = n == 0 ? "no decodable video frames" : "only one decodable frame: no flow pair";
      if (!video.reader->warnings().empty()) why += " (" + video.reader->warnings().front() + ")";
      throw mme::FileError(entry.path, why);
    }
    record.status = "ok";
    record.stats = {{"frames", n},
                    {"pairs", n - 1},
                    {"saturated", out.saturated},
                    {"warnings", video.reader->warnings().size()},
                    {"decode_seconds", reader.seconds()},
                    {"flow_seconds", static_cast<double>(flow_nanos.load()) * 1e-9},
                    {"seconds", seconds_since(start)}};
    out.finish(entry, video, record.stats);
    return record;
  } catch (const mme::Interrupted&) {
    shard.remove_video(entry.id);
    throw;
  } catch (const mme::OutputError&) {
    throw;  // the part is dropped whole (BatchRunner)
  } catch (const std::exception& e) {
    shard.remove_video(entry.id);
    record.status = "failed";
    record.reason = dynamic_cast<const mme::FileError*>(&e) ? e.what() : entry.path.string() + ": " + e.what();
    return record;
  }
}

}  // namespace flowgen
