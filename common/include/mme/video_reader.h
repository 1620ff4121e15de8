#pragma once
// Decodes any container and codec FFmpeg can read into frames in presentation order, as gray8,
// RGB24 or JPEG's YCbCr 4:2:0, at a requested short side (area resampling, aspect kept, even sizes), upright (rotation
// metadata applied by default), optionally with the codec's motion vectors.
//
// Errors: a file that cannot be opened or holds no decodable video throws FileError naming the
// file and FFmpeg's reason. A truncated or partly corrupt stream yields the frames that decode and
// records warnings (see warnings()); the caller decides what to do with them.
#include <mme/error.h>
#include <mme/motion_vector.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mme {

// yuv420p is the colour space JPEG files hold (JFIF: BT.601 matrix, full range, chroma halved both
// ways), converted from whatever matrix and range the video has: its luma plane is the grey frame
// (0.299 R + 0.587 G + 0.114 B) and the planes go to a JPEG encoder as they are, with no RGB round
// trip. Frame::pixels then holds the Y plane (width x height), then Cb and Cr (width/2 x height/2
// each; sizes are even).
enum class PixelFormat { gray8, rgb24, yuv420p };

struct VideoReaderOptions {
  PixelFormat format = PixelFormat::rgb24;
  // Target short side in pixels; 0 keeps the native size. The long side follows the aspect ratio;
  // both are rounded to even numbers.
  int short_side = 0;
  // If > 0, the short side is min(native, max_short_side): VideoMAE's "native up to 320".
  int max_short_side = 0;
  // Rotate frames upright by the stream's display matrix (multiples of 90 degrees), like ffmpeg.
  bool autorotate = true;
  // Decode with `flags2=+export_mvs` and return the motion vectors of each frame.
  bool motion_vectors = false;
  // FFmpeg decoder threads; 1 suits many videos decoded in parallel, 0 lets FFmpeg choose.
  int decoder_threads = 1;
};

struct VideoInfo {
  std::filesystem::path path;
  std::string container;     // e.g. "avi", "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;         // e.g. "h264"
  std::string pixel_format;  // the decoder's, e.g. "yuv444p"
  int native_width = 0;      // coded size, as stored in the file (before rotation)
  int native_height = 0;
  int rotation = 0;  // clockwise degrees to turn the stored picture upright (0/90/180/270)
  int width = 0;     // size of the frames the reader returns
  int height = 0;
  double fps = 0;                  // average frame rate (falls back to the nominal rate)
  double duration = 0;             // seconds, 0 when unknown
  std::int64_t frame_count = 0;    // from the container, or duration x fps; -1 when unknown. The
                                   // number of frames read() returns is the truth.
  bool codec_exports_mvs = false;  // whether this codec can export motion vectors at all
};

struct Frame {
  std::int64_t index = 0;                   // 0-based decode-order index of returned frames (= presentation order)
  double time = 0;                          // presentation time in seconds
  char picture_type = '?';                  // 'I', 'P', 'B', ...
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray8), 3 (rgb24, yuv420p)
  std::vector<std::uint8_t> pixels;         // row-major, tightly packed: height x width x channels,
                                            // or yuv420p's three planes one after the other
  FrameMotion motion;                       // filled when options.motion_vectors is set
};

// Computes the output size for a native (upright) size under the options' short-side rules.
void output_size(int native_width, int native_height, const VideoReaderOptions& options, int& width, int& height);

class VideoReader {
 public:
  // Opens the file and its best video stream; throws FileError.
  explicit VideoReader(const std::filesystem::path& path, VideoReaderOptions options = {});
  ~VideoReader();
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;

  const VideoInfo& info() const;
  const VideoReaderOptions& options() const;

  // Decodes the next frame into `frame` (buffers are reused). Returns false at the end of the
  // stream. A read or decode error ends the stream with a warning, it does not throw.
  bool read(Frame& frame);

  // Reads every remaining frame. Throws FileError when the video yields no frame at all.
  std::vector<Frame> read_all();

  // Problems met while decoding (truncation, corrupt packets), in order, each naming the frame.
  const std::vector<std::string>& warnings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Routes FFmpeg's own log (normally printed to stderr) to our log at debug level, so that a batch
// over thousands of videos does not flood the terminal; the reader's warnings() carry the gist.
void quiet_ffmpeg_log();

}  // namespace mme
