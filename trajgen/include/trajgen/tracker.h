#pragma once
// MME's trajectories: seeds at the centres of C x C cells (x = C/2 + C j, y = C/2 + C i; 2x2 per
// 16x16 patch for C = 8) tracked through L consecutive flow fields at the native frame rate.
// At step k the flow(s+k -> s+k+1) is read at the current point, stored as that step's
// displacement, and the point moves. A point that leaves the frame is clamped to the border,
// tracked on, and marked invalid (as the public MME code does).
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace trajgen {

enum class Lookup {
  bilinear,  // default: interpolates the flow at the sub-pixel point
  nearest,   // the public MME code: flow at (int(y), int(x)), truncated
};
Lookup parse_lookup(const std::string& name);  // throws std::invalid_argument
std::string to_string(Lookup l);

struct TrackParams {
  int cell = 8;
  Lookup lookup = Lookup::bilinear;
};

// The flow value at a point (x, y) under the lookup rule; the point must lie inside the field.
cv::Vec2f sample_flow(const cv::Mat& flow, float x, float y, Lookup lookup);

// Tracks the seeds of `starts` consecutive start frames through fields fed one by one, in order:
// start s (0-based) takes its steps from fields s .. s+L-1, so after field f every start with
// s + L - 1 <= f is complete. Lets a caller decode a field, advance every start that uses it
// while the field is in the core's cache, and drop it. Output and fields as for track().
class Tracker {
 public:
  Tracker(int rows, int cols, int starts, int L, const TrackParams& params, float* displacements, std::uint8_t* valid,
          float scale = 1.0f);
  void advance(const cv::Mat& field);
  int fields_seen() const { return fields_; }
  int fields_needed() const { return starts_ + L_ - 1; }

 private:
  int rows_, cols_, starts_, L_;
  TrackParams params_;
  float* out_;
  std::uint8_t* valid_;
  float scale_;
  std::size_t seeds_ = 0;
  std::vector<float> xs_, ys_;  // each start's seeds, where they are now
  int fields_ = 0, type_ = 0;
};

// Tracks every seed of a (rows x cols) flow for `starts` consecutive start frames: start s goes
// through flows[s .. s+L-1] (L = flows.size() - starts + 1; the fields of one size, all CV_32FC2
// in pixels, or all CV_16SC2 quantised: pixels = value x `scale`). Each field is read once, for
// every start that uses it, while it is in the cache. `displacements` receives
// [starts][H/C][W/C][L][2] floats, `valid` [starts][H/C][W/C] (1 = stayed inside); a start's
// values do not depend on the others.
void track(const std::vector<const cv::Mat*>& flows, int starts, const TrackParams& params, float* displacements,
           std::uint8_t* valid, float scale = 1.0f);

}  // namespace trajgen
