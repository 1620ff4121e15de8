#pragma once
// MOFO's motion box (Ahmadian et al. 2023), the paper's rule:
//   motion map of frame t = sum over the window of flows centred on t, t-window/2 .. t+window/2-1
//   (shifted to fit the video), of
//   the motion-boundary magnitude sqrt(ux^2 + uy^2 + vx^2 + vy^2) (3x3 Sobel derivatives);
//   Gaussian blur (sigma 1); zero where below 0.4 x max or below 1.5 x std; Gaussian blur
//   (sigma 30); regions where the blurred map exceeds half its maximum (the paper does not say
//   where it cuts the blurred map; half maximum keeps the box at the moving region's extent);
//   keep the largest region, and the second largest when at least half its area; the bounding
//   box of the thresholded motion inside them (the wide blur groups motion into regions; boxing
//   the blurred map itself would inflate the box by about sigma on each side). No region: the
//   central half box (a fallback).
//   Temporal clean-up: a running median (5 frames) of each coordinate over the frames.
//   Union box of the video: the union of the cleaned boxes of frames that were not fallbacks
//   (the central half box if every frame was one).
#include <opencv2/core.hpp>

#include <array>
#include <vector>

namespace trajgen {

using Box = std::array<float, 4>;  // x0, y0, x1, y1 in pixels

struct MotionBoxParams {
  int window = 8;  // flows summed per frame (the paper: 8; 4 on Kinetics)
  double sigma_small = 1, sigma_large = 30, max_fraction = 0.4, std_factor = 1.5;
  double region_level = 0.5;  // regions: blurred map above this fraction of its maximum
  int median = 5;             // temporal clean-up window (frames)
  // The map is reduced by this factor (the mean of each whole f x f block; a last partial row or
  // column of blocks is dropped) before the rule runs, with both sigmas divided by it: a sigma-30
  // blur at full size costs ~20 ms a frame, at 1/4 size ~1 ms, and the box it gives differs by
  // about the reduction factor in pixels. The sigma-30 blur that only groups motion into regions
  // runs at half that size again, its regions brought back by nearest neighbour.
  int downscale = 4;
};

// Motion-boundary magnitude (CV_32FC1) of one flow field reduced by `downscale` (block means) for
// the box rule. The field is CV_32FC2 in pixels, or CV_16SC2 quantised (pixels = value x `scale`).
cv::Mat motion_boundary(const cv::Mat& flow, int downscale = 1, float scale = 1.0f);

// cv::GaussianBlur(src, dst, cv::Size(), sigma) of a CV_32FC1 map, bit for bit (tested), with its
// kernel made once per thread and sigma instead of at every call.
void gaussian_blur(const cv::Mat& src, cv::Mat& dst, double sigma);

// The element-wise sum of `count` >= 1 CV_32FC1 maps of one size, added in order (as cv::add map
// after map, without a call and an allocation per map): a frame's window of motion boundaries.
cv::Mat sum_maps(const cv::Mat* maps, std::size_t count);

// The box of one frame (width x height pixels) from its summed motion-boundary map, reduced by
// params.downscale;
// `fallback` tells if the central half box was used.
Box box_from_map(const cv::Mat& summed, int width, int height, const MotionBoxParams& params, bool& fallback);

// Temporal clean-up and the union box (see above).
std::vector<Box> clean_boxes(const std::vector<Box>& boxes, int median);
Box union_box(const std::vector<Box>& boxes, const std::vector<bool>& fallback, int width, int height);

}  // namespace trajgen
