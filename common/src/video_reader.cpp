#include "ffmpeg_handles.h"

#include <mme/input_file.h>
#include <mme/jfif_colour.h>
#include <mme/log.h>
#include <mme/video_reader.h>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/motion_vector.h>
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace mme {

using namespace mme::ffmpeg;

namespace {

int round_even(double x) {
  return std::max(2, 2 * static_cast<int>(std::lround(x / 2.0)));
}

// Clockwise degrees that turn the stored picture upright, as the ffmpeg CLI computes them.
int stream_rotation(const AVStream* stream) {
  const auto* matrix =
      reinterpret_cast<const int32_t*>(av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr));
  if (!matrix) return 0;
  double theta = -std::round(av_display_rotation_get(matrix));
  if (std::isnan(theta)) return 0;
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  for (int r : {0, 90, 180, 270})
    if (std::fabs(theta - r) < 1) return r;
  return 0;  // arbitrary angles are rare; frames stay as stored
}

bool codec_exports_mvs(AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_MPEG1VIDEO:
    case AV_CODEC_ID_MPEG2VIDEO:
    case AV_CODEC_ID_MPEG4:
    case AV_CODEC_ID_H263:
    case AV_CODEC_ID_H263P:
    case AV_CODEC_ID_H263I:
    case AV_CODEC_ID_FLV1:
    case AV_CODEC_ID_MSMPEG4V1:
    case AV_CODEC_ID_MSMPEG4V2:
    case AV_CODEC_ID_MSMPEG4V3:
    case AV_CODEC_ID_WMV1:
    case AV_CODEC_ID_WMV2:
      return true;
    default:
      return false;
  }
}

// FFmpeg reports concealed decoding errors only through its log. Readers register their contexts
// here so that an error logged for one of them becomes that reader's warning (named by file).
using WarningSink = std::function<void(std::string)>;
std::mutex g_sinks_mutex;
thread_local const void* g_opening = nullptr;  // the format context this thread is opening
std::unordered_map<const void*, WarningSink>& sinks() {
  static std::unordered_map<const void*, WarningSink> m;
  return m;
}

void ffmpeg_log_callback(void* avcl, int level, const char* format, va_list args) {
  const bool to_reader = level <= AV_LOG_ERROR;
  const bool to_log = level <= AV_LOG_WARNING && log::level() <= log::Level::debug;
  if (!to_reader && !to_log) return;
  char line[1024];
  int print_prefix = 0;
  av_log_format_line2(avcl, level, format, args, line, sizeof line, &print_prefix);
  // FFmpeg sometimes logs one message in pieces: keep each piece on one clean line.
  std::string text(line);
  std::replace(text.begin(), text.end(), '\n', ' ');
  const auto b = text.find_first_not_of(" \t\r");
  if (b == std::string::npos) return;
  text = text.substr(b, text.find_last_not_of(" \t\r") - b + 1);
  if (to_log) log::write(log::Level::debug, "ffmpeg: " + text);
  if (to_reader) {
    // Frame-threaded decoders log through per-thread copies of the codec context; the copies keep
    // `opaque`, which names the reader.
    const void* key = avcl;
    if (avcl && *static_cast<const AVClass* const*>(avcl) == avcodec_get_class())
      if (const void* owner = static_cast<const AVCodecContext*>(avcl)->opaque) key = owner;
    std::lock_guard lock(g_sinks_mutex);
    auto it = sinks().find(key);
    // Helpers log with contexts of their own (IMGUTILS' "Picture size 30000x30000 is invalid"
    // while a demuxer opens): on the opening thread, they belong to the file being opened.
    if (it == sinks().end() && g_opening) it = sinks().find(g_opening);
    if (it != sinks().end()) it->second("ffmpeg: " + text);
  }
}

// Turns a stored (pre-rotation) frame with rows `src_stride` bytes apart upright into a tightly
// packed `dst`: rotation r clockwise.
void rotate_pixels(const std::uint8_t* src, std::size_t src_stride, int w, int h, int channels, int rotation,
                   std::uint8_t* dst) {
  const std::size_t c = static_cast<std::size_t>(channels);
  for (int sy = 0; sy < h; ++sy) {
    for (int sx = 0; sx < w; ++sx) {
      int dx = 0, dy = 0, dw = 0;
      switch (rotation) {
        case 90:
          dx = h - 1 - sy;
          dy = sx;
          dw = h;
          break;
        case 180:
          dx = w - 1 - sx;
          dy = h - 1 - sy;
          dw = w;
          break;
        case 270:
          dx = sy;
          dy = w - 1 - sx;
          dw = h;
          break;
        default:
          dx = sx;
          dy = sy;
          dw = w;
          break;
      }
      std::memcpy(dst + (static_cast<std::size_t>(dy) * dw + dx) * c,
                  src + static_cast<std::size_t>(sy) * src_stride + static_cast<std::size_t>(sx) * c, c);
    }
  }
}

// The same rotation for a point (continuous coordinates) and a displacement.
void rotate_vector(MotionVector& v, int w, int h, int rotation) {
  const float x = v.x, y = v.y, dx = v.dx, dy = v.dy;
  switch (rotation) {
    case 90:
      v.x = h - y;
      v.y = x;
      v.dx = -dy;
      v.dy = dx;
      std::swap(v.w, v.h);
      break;
    case 180:
      v.x = w - x;
      v.y = h - y;
      v.dx = -dx;
      v.dy = -dy;
      break;
    case 270:
      v.x = y;
      v.y = w - x;
      v.dx = dy;
      v.dy = -dx;
      std::swap(v.w, v.h);
      break;
    default:
      break;
  }
}

constexpr int kMaxListedWarnings = 8;

// Whether frames of this format are RGB, grey or a palette rather than YCbCr.
bool is_rgb_or_grey(AVPixelFormat format) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(format);
  return !d || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) || d->nb_components < 3;
}

// The luma coefficients of a matrix (AVColorSpace, which SWS_CS_* follow); anything else is read
// as BT.601, as swscale does.
LumaCoefficients luma_coefficients(int colorspace) {
  switch (colorspace) {
    case AVCOL_SPC_BT709:
      return {0.2126, 0.0722};
    case AVCOL_SPC_FCC:
      return {0.30, 0.11};
    case AVCOL_SPC_SMPTE240M:
      return {0.212, 0.087};
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return {0.2627, 0.0593};
    default:
      return kBt601;
  }
}

}  // namespace

void quiet_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(ffmpeg_log_callback); });
}

void output_size(int native_width, int native_height, const VideoReaderOptions& o, int& width, int& height) {
  const int short_side = std::min(native_width, native_height);
  int target = short_side;
  if (o.short_side > 0)
    target = o.short_side;
  else if (o.max_short_side > 0)
    target = std::min(short_side, o.max_short_side);
  if (target == short_side || short_side <= 0) {
    width = native_width;
    height = native_height;
    return;
  }
  const double scale = static_cast<double>(target) / short_side;
  if (native_width <= native_height) {
    width = round_even(target);
    height = round_even(native_height * scale);
  } else {
    height = round_even(target);
    width = round_even(native_width * scale);
  }
}

struct VideoReader::Impl {
  VideoReaderOptions options;
  VideoInfo info;
  FormatPtr format;
  CodecPtr codec;
  FramePtr frame = FramePtr(av_frame_alloc());
  PacketPtr packet = PacketPtr(av_packet_alloc());
  SwsPtr sws;
  int stream_index = -1;
  AVRational time_base{1, 1};
  bool eof_sent = false;  // the flush packet went to the decoder
  bool finished = false;
  std::int64_t frames_out = 0;
  double start_time = 0;  // seconds; the stream's first timestamp
  double last_time = 0;   // seconds; presentation time of the last frame returned
  int decode_errors = 0;
  std::vector<std::string> warnings;
  std::mutex warnings_mutex;         // frame-threaded decoders report from their own threads
  std::vector<std::uint8_t> scaled;  // swscale's output, padded rows
  int stored_w = 0, stored_h = 0;    // size of the converted picture before rotation

  ~Impl();

  void warn(std::string message) {
    std::lock_guard lock(warnings_mutex);
    if (static_cast<int>(warnings.size()) < kMaxListedWarnings) {
      log::debug("{}: {}", info.path.string(), message);
      warnings.push_back(std::move(message));
    } else if (static_cast<int>(warnings.size()) == kMaxListedWarnings) {
      warnings.push_back("further warnings omitted");
    }
  }

  // Receives one frame from the decoder, feeding packets as needed. False at the end.
  bool decode_next() {
    for (;;) {
      const int rc = avcodec_receive_frame(codec.get(), frame.get());
      if (rc == 0) return true;
      if (rc == AVERROR_EOF) return false;
      if (rc != AVERROR(EAGAIN)) {
        warn(fmt::format("decoding stopped after {} frames: {}", frames_out, error_string(rc)));
        return false;
      }
      if (eof_sent) return false;
      // Feed the next packet of our stream.
      for (;;) {
        const int rr = av_read_frame(format.get(), packet.get());
        if (rr < 0) {
          if (rr != AVERROR_EOF)
            warn(fmt::format("the file ends early or is damaged after {} frames: {}", frames_out, error_string(rr)));
          // Flush: the decoder gives back the frames it still holds.
          if (const int fr = avcodec_send_packet(codec.get(), nullptr); fr < 0 && fr != AVERROR_EOF)
            warn(fmt::format("the decoder could not be flushed after {} frames ({}): its last frames are lost",
                             frames_out, error_string(fr)));
          eof_sent = true;
          break;
        }
        if (packet->stream_index != stream_index) {
          av_packet_unref(packet.get());
          continue;
        }
        if (packet->flags & AV_PKT_FLAG_CORRUPT) warn(fmt::format("corrupt packet after {} frames", frames_out));
        const int sr = avcodec_send_packet(codec.get(), packet.get());
        av_packet_unref(packet.get());
        if (sr < 0 && sr != AVERROR(EAGAIN)) {
          if (++decode_errors <= 3 || decode_errors % 100 == 0)
            warn(fmt::format("undecodable packet after {} frames: {}", frames_out, error_string(sr)));
          continue;
        }
        break;
      }
    }
  }

  void convert(Frame& out) {
    AVFrame* f = frame.get();
    // Size before rotation: a quarter turn swaps the output's width and height.
    const bool quarter = info.rotation == 90 || info.rotation == 270;
    const int sw = quarter ? info.height : info.width;
    const int sh = quarter ? info.width : info.height;
    const auto src_fmt = static_cast<AVPixelFormat>(f->format);
    // YCbCr out is JPEG's (JFIF: BT.601 at full range). A YCbCr video is only scaled by swscale, in
    // its own matrix and range (as yuvj420p when its format says full range, so that swscale
    // changes nothing), and mapped to JFIF's after (jfif_colour.h); RGB and grey video is
    // converted by swscale straight to full-range BT.601.
    const char* src_name = av_get_pix_fmt_name(src_fmt);
    const bool src_yuvj = src_name && std::strncmp(src_name, "yuvj", 4) == 0;
    const bool ycbcr_out = options.format == PixelFormat::yuv420p;
    const bool ycbcr_in = !is_rgb_or_grey(src_fmt);
    const AVPixelFormat dst_fmt = options.format == PixelFormat::gray8   ? AV_PIX_FMT_GRAY8
                                  : options.format == PixelFormat::rgb24 ? AV_PIX_FMT_RGB24
                                  : ycbcr_in && !src_yuvj                ? AV_PIX_FMT_YUV420P
                                                                         : AV_PIX_FMT_YUVJ420P;
    sws.reset(sws_getCachedContext(sws.release(), f->width, f->height, src_fmt, sw, sh, dst_fmt, SWS_AREA, nullptr,
                                   nullptr, nullptr));
    if (!sws)
      throw FileError(info.path, fmt::format("cannot convert {}x{} {} frames", f->width, f->height,
                                             av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format))));
    // Colour matrix and range from the frame, as the ffmpeg CLI does (BT.601 when unspecified).
    const int cs = f->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : static_cast<int>(f->colorspace);
    const bool full_range = f->color_range == AVCOL_RANGE_JPEG || src_yuvj;
    if (!ycbcr_out) {
      int *inv_table = nullptr, *table = nullptr, src_range = 0, dst_range = 0, brightness = 0, contrast = 0,
          saturation = 0;
      if (sws_getColorspaceDetails(sws.get(), &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                                   &saturation) >= 0) {
        sws_setColorspaceDetails(sws.get(), sws_getCoefficients(cs), full_range ? 1 : src_range, table, dst_range,
                                 brightness, contrast, saturation);
      }
    }
    stored_w = sw;
    stored_h = sh;
    // swscale's SIMD writers store whole vectors past the end of a row (seen: 8 bytes past a
    // 200x360 RGB frame, corrupting the heap), so it writes into a buffer with 64-byte aligned
    // rows and a spare row, and the rows are then copied out tightly packed (and upright).
    struct Plane {
      int w, h, channels;
      std::size_t stride, offset;
    };
    std::vector<Plane> planes;
    std::size_t total = 0;
    auto add_plane = [&](int w, int h, int c) {
      const std::size_t stride = (static_cast<std::size_t>(w) * c + 63) / 64 * 64;
      planes.push_back({w, h, c, stride, total});
      total += stride * (static_cast<std::size_t>(h) + 1);
    };
    if (ycbcr_out) {
      add_plane(sw, sh, 1);
      for (int p = 0; p < 2; ++p) add_plane((sw + 1) / 2, (sh + 1) / 2, 1);
    } else {
      add_plane(sw, sh, options.format == PixelFormat::gray8 ? 1 : 3);
    }
    scaled.resize(total);
    uint8_t* dst[4] = {nullptr, nullptr, nullptr, nullptr};
    int dst_stride[4] = {0, 0, 0, 0};
    for (std::size_t p = 0; p < planes.size(); ++p) {
      dst[p] = scaled.data() + planes[p].offset;
      dst_stride[p] = static_cast<int>(planes[p].stride);
    }
    if (sws_scale(sws.get(), f->data, f->linesize, 0, f->height, dst, dst_stride) != sh)
      throw FileError(
          info.path, fmt::format("frame {}: swscale did not convert the {}x{} frame", frames_out, f->width, f->height));
    std::size_t packed = 0;
    for (const auto& p : planes) packed += static_cast<std::size_t>(p.w) * p.h * p.channels;
    out.pixels.resize(packed);
    std::uint8_t* to = out.pixels.data();
    for (const auto& p : planes) {
      const std::size_t row_bytes = static_cast<std::size_t>(p.w) * p.channels;
      const std::uint8_t* from = scaled.data() + p.offset;
      if (info.rotation == 0) {
        for (int y = 0; y < p.h; ++y) std::memcpy(to + y * row_bytes, from + y * p.stride, row_bytes);
      } else {
        rotate_pixels(from, p.stride, p.w, p.h, p.channels, info.rotation, to);
      }
      to += row_bytes * p.h;
    }
    if (ycbcr_out && ycbcr_in) {
      if (const auto map = ycbcr_to_jfif(luma_coefficients(cs), full_range); !map.identity()) {
        const std::size_t luma = static_cast<std::size_t>(info.width) * info.height;
        const std::size_t chroma = static_cast<std::size_t>((info.width + 1) / 2) * ((info.height + 1) / 2);
        std::uint8_t* y = out.pixels.data();
        apply_ycbcr_map(map, info.width, info.height, y, y + luma, y + luma + chroma);
      }
    }
    out.width = info.width;
    out.height = info.height;
    out.channels = options.format == PixelFormat::gray8 ? 1 : 3;
  }

  void extract_motion(Frame& out) {
    out.motion.vectors.clear();
    out.motion.has_vectors = false;
    const AVFrameSideData* sd = av_frame_get_side_data(frame.get(), AV_FRAME_DATA_MOTION_VECTORS);
    if (!sd) return;
    out.motion.has_vectors = true;
    const auto* mvs = reinterpret_cast<const AVMotionVector*>(sd->data);
    const std::size_t n = sd->size / sizeof(AVMotionVector);
    const float sx = static_cast<float>(stored_w) / frame->width;
    const float sy = static_cast<float>(stored_h) / frame->height;
    out.motion.vectors.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const AVMotionVector& m = mvs[i];
      if (m.motion_scale == 0) continue;
      // src = dst + motion / scale. Forward motion: dst - src for a past reference, src - dst for a future one.
      const float mx = static_cast<float>(m.motion_x) / m.motion_scale;
      const float my = static_cast<float>(m.motion_y) / m.motion_scale;
      const float sign = m.source < 0 ? -1.f : 1.f;
      MotionVector v;
      v.x = m.dst_x * sx;
      v.y = m.dst_y * sy;
      v.dx = sign * mx * sx;
      v.dy = sign * my * sy;
      v.w = static_cast<std::uint16_t>(std::lround(m.w * sx));
      v.h = static_cast<std::uint16_t>(std::lround(m.h * sy));
      v.reference = m.source < 0 ? -1 : 1;
      rotate_vector(v, stored_w, stored_h, info.rotation);
      out.motion.vectors.push_back(v);
    }
  }
};

VideoReader::VideoReader(const std::filesystem::path& path, VideoReaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  quiet_ffmpeg_log();
  Impl& m = *impl_;
  m.options = options;
  m.info.path = path;
  require_regular_file(path, "a video");  // a FIFO in a list would block the open below forever
  if (!m.frame || !m.packet) throw FileError(path, "out of memory");

  // Allocate the context first so that the demuxer's own complaint ("moov atom not found") can be
  // caught while opening and added to the reason.
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw FileError(path, "out of memory");
  std::string open_complaint;
  {
    std::lock_guard lock(g_sinks_mutex);
    sinks()[raw] = [&open_complaint](std::string text) {
      if (open_complaint.empty()) open_complaint = std::move(text);
    };
  }
  const AVFormatContext* registered = raw;  // avformat_open_input frees and nulls `raw` on failure
  // "file:" keeps a name with a colon ("take:2.mp4") from being read as a protocol.
  const std::string url = "file:" + path.string();
  g_opening = registered;
  int rc = avformat_open_input(&raw, url.c_str(), nullptr, nullptr);
  g_opening = nullptr;
  {
    std::lock_guard lock(g_sinks_mutex);
    sinks().erase(registered);
  }
  if (rc < 0) {
    // FFmpeg's own complaint says what is wrong; its error code may not ("Device or resource
    // busy" for a picture size it refuses).
    std::string why = "cannot open: " + error_string(rc);
    if (!open_complaint.empty()) why = "cannot open: " + open_complaint + " (" + error_string(rc) + ")";
    throw FileError(path, why);
  }
  m.format.reset(raw);
  rc = avformat_find_stream_info(m.format.get(), nullptr);
  if (rc < 0) throw FileError(path, "cannot read stream information: " + error_string(rc));

  const AVCodec* decoder = nullptr;
  m.stream_index = av_find_best_stream(m.format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (m.stream_index >= 0 && (m.format->streams[m.stream_index]->disposition & AV_DISPOSITION_ATTACHED_PIC))
    m.stream_index = AVERROR_STREAM_NOT_FOUND;
  if (m.stream_index < 0) {
    bool has_audio = false;
    for (unsigned i = 0; i < m.format->nb_streams; ++i)
      has_audio |= m.format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
    if (m.stream_index == AVERROR_DECODER_NOT_FOUND) throw FileError(path, "no decoder for its video codec");
    throw FileError(path, has_audio ? "no video stream (audio only)" : "no video stream");
  }
  AVStream* stream = m.format->streams[m.stream_index];
  if (!decoder)
    throw FileError(path, fmt::format("no decoder for codec '{}'", avcodec_get_name(stream->codecpar->codec_id)));
  m.codec.reset(avcodec_alloc_context3(decoder));
  if (!m.codec) throw FileError(path, "out of memory");
  rc = avcodec_parameters_to_context(m.codec.get(), stream->codecpar);
  if (rc < 0) throw FileError(path, "bad codec parameters: " + error_string(rc));
  m.codec->thread_count = std::max(0, options.decoder_threads);
  AVDictionary* opts = nullptr;
  if (options.motion_vectors) av_dict_set(&opts, "flags2", "+export_mvs", 0);
  rc = avcodec_open2(m.codec.get(), decoder, &opts);
  DictFreer{}(opts);
  if (rc < 0) throw FileError(path, fmt::format("cannot open the {} decoder: {}", decoder->name, error_string(rc)));

  Impl* self = &m;
  {
    std::lock_guard lock(g_sinks_mutex);
    m.codec->opaque = self;
    for (const void* ctx : {static_cast<const void*>(self), static_cast<const void*>(m.format.get())})
      sinks()[ctx] = [self](std::string text) { self->warn(std::move(text)); };
  }
  m.time_base = stream->time_base;
  VideoInfo& info = m.info;
  info.container = m.format->iformat->name;
  info.codec = avcodec_get_name(stream->codecpar->codec_id);
  const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(stream->codecpar->format));
  info.pixel_format = pix ? pix : "unknown";
  info.native_width = stream->codecpar->width;
  info.native_height = stream->codecpar->height;
  if (info.native_width <= 0 || info.native_height <= 0)
    throw FileError(path, fmt::format("invalid frame size {}x{}", info.native_width, info.native_height));
  info.rotation = options.autorotate ? stream_rotation(stream) : 0;
  const bool quarter = info.rotation == 90 || info.rotation == 270;
  output_size(quarter ? info.native_height : info.native_width, quarter ? info.native_width : info.native_height,
              options, info.width, info.height);
  const AVRational rate = av_guess_frame_rate(m.format.get(), stream, nullptr);
  info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
  if (stream->duration > 0)
    info.duration = stream->duration * av_q2d(stream->time_base);
  else if (m.format->duration > 0)
    info.duration = static_cast<double>(m.format->duration) / AV_TIME_BASE;
  if (stream->start_time != AV_NOPTS_VALUE) m.start_time = stream->start_time * av_q2d(stream->time_base);
  if (stream->nb_frames > 0)
    info.frame_count = stream->nb_frames;
  else if (info.duration > 0 && info.fps > 0)
    info.frame_count = std::llround(info.duration * info.fps);
  else
    info.frame_count = -1;
  info.codec_exports_mvs = codec_exports_mvs(stream->codecpar->codec_id);
}

VideoReader::Impl::~Impl() {
  std::lock_guard lock(g_sinks_mutex);
  sinks().erase(this);
  sinks().erase(format.get());
}

VideoReader::~VideoReader() = default;
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;

const VideoInfo& VideoReader::info() const {
  return impl_->info;
}
const VideoReaderOptions& VideoReader::options() const {
  return impl_->options;
}
const std::vector<std::string>& VideoReader::warnings() const {
  return impl_->warnings;
}

bool VideoReader::read(Frame& out) {
  Impl& m = *impl_;
  if (m.finished) return false;
  if (!m.decode_next()) {
    m.finished = true;
    // A cut file ends before the duration its header announces. (Frame counts do not tell:
    // AVI drops the empty packets that mean "repeat the frame", VP9 hides alt-ref frames.)
    // An AVI whose end was cut off rebuilds a shorter duration from what is left, but its header
    // still announces the full frame count: take the longer of the two.
    const double frame_time = m.info.fps > 0 ? 1.0 / m.info.fps : 0.04;
    const double announced = std::max(m.info.duration, m.info.frame_count > 0 ? m.info.frame_count * frame_time : 0.0);
    const double covered = m.last_time - m.start_time + frame_time;
    if (m.frames_out > 0 && announced > 0 && covered < announced - std::max(3 * frame_time, 0.02 * announced))
      m.warn(fmt::format(
          "the stream ends after {:.2f} s of the {:.2f} s its container announces: the file is probably cut short",
          covered, announced));
    return false;
  }
  AVFrame* f = m.frame.get();
  if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT))
    m.warn(fmt::format("frame {} decoded with errors", m.frames_out));
  m.convert(out);
  out.index = m.frames_out++;
  const std::int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
  out.time = ts != AV_NOPTS_VALUE ? ts * av_q2d(m.time_base) : (m.info.fps > 0 ? out.index / m.info.fps : 0);
  m.last_time = std::max(m.last_time, out.time);
  out.picture_type = av_get_picture_type_char(f->pict_type);
  if (m.options.motion_vectors) m.extract_motion(out);
  av_frame_unref(f);
  return true;
}

std::vector<Frame> VideoReader::read_all() {
  std::vector<Frame> frames;
  Frame f;
  while (read(f)) frames.push_back(f);
  if (frames.empty()) {
    std::string why = "no decodable video frames";
    if (!impl_->warnings.empty()) why += " (" + impl_->warnings.front() + ")";
    throw FileError(impl_->info.path, why);
  }
  return frames;
}

}  // namespace mme
