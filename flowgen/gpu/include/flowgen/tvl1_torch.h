#pragma once
// Dual TV-L1 optical flow (Zach, Pock, Bischof 2007; Sanchez, Meinhardt-Llopis, Facciolo 2013) in
// LibTorch tensor operations: the same code runs on the CPU and on CUDA, on a batch of frame pairs
// at once. It follows OpenCV contrib's cv::optflow::DualTVL1OpticalFlow step by step (pyramid,
// warps, thresholding, primal-dual iterations, median filtering, convergence test) so that its flow
// can stand in for the flow flowgen --algo tvl1 stores.
#include <torch/types.h>

namespace flowgen {

// OpenCV's defaults (createOptFlow_DualTVL1). The illumination term (OpenCV's gamma, 0 by
// default) is not implemented.
struct Tvl1Params {
  float tau = 0.25f;      // time step of the dual update (Chambolle: stable up to 1/8 proven, 1/4 in practice)
  float lambda = 0.15f;   // weight of the data term: smaller gives smoother flow
  float theta = 0.3f;     // coupling of the flow u and its auxiliary v
  int scales = 5;         // pyramid levels (fewer when a level would be under 16 px)
  int warps = 5;          // linearisations of the data term per level
  float epsilon = 0.01f;  // stop when the mean squared update of u falls under epsilon^2
  int inner_iterations = 30;
  int outer_iterations = 10;  // median filtering happens before each group of inner iterations
  float scale_step = 0.8f;    // size ratio between pyramid levels
  int median_filtering = 5;   // median window of the flow between outer iterations (<= 1: none)
  // How many inner iterations pass between the host's looks at the convergence flags (a device
  // sync). Every pair stops exactly where OpenCV's would whatever this is: converged pairs are
  // masked, so it only trades wasted iterations against syncs. 0: every iteration on the CPU
  // (a sync costs nothing there), every 10 on CUDA.
  int check_every = 0;
};

// Forward flow prev -> next of every pair: prev and next are [N, H, W] float grey levels in
// 0..255 on any device; returns [N, H, W, 2] float32 on that device (x then y displacement in
// pixels: what is at (x, y) in prev is at (x + u, y + v) in next).
torch::Tensor tvl1_flow(const torch::Tensor& prev, const torch::Tensor& next, const Tvl1Params& params = {});

}  // namespace flowgen
