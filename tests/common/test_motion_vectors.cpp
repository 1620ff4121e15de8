// Codec motion vectors against known motion: ffmpeg-made pans of a real frame.
#include <mme/video_reader.h>

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>

#include "test_support.h"

namespace fs = std::filesystem;

namespace {

double median(std::vector<float> v) {
  REQUIRE_FALSE(v.empty());
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// A still real picture (the first cockatoo frame) panned by `crop`: x='2*n' moves the window
// right by 2 px a frame, so the content moves LEFT: forward motion (-2, 0).
fs::path make_pan(const mme::test::TempDir& dir, const std::string& name, const std::string& codec_args,
                  const std::string& crop_x, const std::string& crop_y, int rotate = 0) {
  const auto still = dir / "still.png";
  if (!fs::exists(still))
    mme::test::run_checked("ffmpeg -v error -y -i '" + mme::test::sample("python3-imageio/cockatoo.mp4").string() +
                           "' -frames:v 1 '" + still.string() + "'");
  const auto out = dir / name;
  mme::test::run_checked("ffmpeg -v error -y -loop 1 -framerate 25 -i '" + still.string() + "' -vf \"crop=480:272:x='" +
                         crop_x + "':y='" + crop_y + "'\" -frames:v 40 -pix_fmt yuv420p " + codec_args + " '" +
                         out.string() + "'");
  if (rotate == 0) return out;
  const auto rotated = dir / ("rotated-" + name);
  mme::test::set_rotation(out, rotated, rotate);
  return rotated;
}

struct Collected {
  std::vector<float> dx_past, dy_past, dx_future;
  int frames = 0, frames_with_vectors = 0;
  bool first_has_vectors = true;
};

Collected collect(const fs::path& video, int short_side = 0) {
  mme::VideoReaderOptions o;
  o.format = mme::PixelFormat::gray8;
  o.motion_vectors = true;
  o.short_side = short_side;
  mme::VideoReader reader(video, o);
  Collected c;
  mme::Frame f;
  while (reader.read(f)) {
    if (c.frames == 0) c.first_has_vectors = f.motion.has_vectors;
    ++c.frames;
    c.frames_with_vectors += f.motion.has_vectors ? 1 : 0;
    for (const auto& v : f.motion.vectors) {
      if (v.reference < 0) {
        c.dx_past.push_back(v.dx);
        c.dy_past.push_back(v.dy);
      } else {
        c.dx_future.push_back(v.dx);
      }
    }
  }
  return c;
}

}  // namespace

TEST_CASE("x264 P-frame vectors of a pan have the pan's direction and size", "[mv][samples]") {
  mme::test::TempDir dir;
  const auto pan = make_pan(dir, "pan.mp4", "-c:v libx264 -bf 0 -g 1000", "40+2*n", "20");
  const auto c = collect(pan);
  CHECK(c.frames == 40);
  CHECK_FALSE(c.first_has_vectors);  // the I-frame carries none
  CHECK(c.frames_with_vectors == 39);
  CHECK(c.dx_future.empty());
  CHECK(std::abs(median(c.dx_past) - (-2.0)) < 0.26);
  CHECK(std::abs(median(c.dy_past)) < 0.26);

  // At half the size the vectors are in output pixels: one pixel per frame.
  const auto half = collect(pan, 136);
  CHECK(std::abs(median(half.dx_past) - (-1.0)) < 0.2);
}

TEST_CASE("vertical pans and B-frames: forward motion whatever the reference direction", "[mv][samples]") {
  mme::test::TempDir dir;
  // y='n': content moves up one pixel per frame. With B-frames, P-frames reference a frame several
  // frames back and B-frames reference both sides; FFmpeg does not say how far, so the checks are
  // on signs and on whole multiples of the per-frame motion.
  const auto pan = make_pan(dir, "vpan.mp4", "-c:v libx264 -bf 3 -g 1000", "20", "10+n");
  mme::VideoReaderOptions o;
  o.format = mme::PixelFormat::gray8;
  o.motion_vectors = true;
  mme::VideoReader reader(pan, o);
  mme::Frame f;
  int p_frames = 0;
  std::vector<float> past_moving, future_moving;
  while (reader.read(f)) {
    std::vector<float> dy, dx;
    for (const auto& v : f.motion.vectors) {
      if (f.picture_type == 'P') {
        dy.push_back(v.dy);
        dx.push_back(v.dx);
      }
      // Skipped and direct blocks export zero vectors: judge the sign on the moving ones.
      if (v.dy != 0) (v.reference < 0 ? past_moving : future_moving).push_back(v.dy);
    }
    if (f.picture_type != 'P') continue;
    ++p_frames;
    const double m = median(dy);
    INFO("P-frame " << f.index << " median dy " << m);
    CHECK(m <= -0.75);
    CHECK(m >= -4.25);
    CHECK(std::abs(m - std::round(m)) < 0.26);  // n frames back: n pixels
    CHECK(std::abs(median(dx)) < 0.26);
  }
  CHECK(p_frames >= 5);
  CHECK(median(past_moving) < -0.5);    // past reference: content came from below
  CHECK(median(future_moving) < -0.5);  // future reference: content goes on upwards
}

TEST_CASE("MPEG-4 part 2 vectors follow the same convention", "[mv][samples]") {
  mme::test::TempDir dir;
  const auto pan = make_pan(dir, "pan.avi", "-c:v mpeg4 -bf 0 -g 1000 -q:v 3", "40+2*n", "20");
  const auto c = collect(pan);
  CHECK(c.frames_with_vectors >= 38);
  CHECK(std::abs(median(c.dx_past) - (-2.0)) < 0.26);
}

TEST_CASE("rotated videos rotate their vectors with the frames", "[mv][samples]") {
  mme::test::TempDir dir;
  // `rotate=90` asks for a quarter turn counter-clockwise on display (the reader's frames match the
  // ffmpeg CLI's, see test_video_reader). Stored content moving left then moves DOWN on screen.
  const auto pan = make_pan(dir, "rot.mp4", "-c:v libx264 -bf 0 -g 1000", "40+2*n", "20", 90);
  const auto c = collect(pan);
  CHECK(std::abs(median(c.dy_past) - 2.0) < 0.26);
  CHECK(std::abs(median(c.dx_past)) < 0.26);
}

TEST_CASE("VP9 carries no motion vectors, and says so", "[mv][samples]") {
  mme::VideoReaderOptions o;
  o.motion_vectors = true;
  mme::VideoReader reader(mme::test::sample("python3-mecavideo/balle1-vp9.avi"), o);
  CHECK(reader.info().codec == "vp9");
  CHECK_FALSE(reader.info().codec_exports_mvs);
  mme::Frame f;
  int frames = 0;
  while (reader.read(f)) {
    CHECK_FALSE(f.motion.has_vectors);
    CHECK(f.motion.vectors.empty());
    ++frames;
  }
  CHECK(frames > 200);
}
