// Dual TV-L1 in tensor operations. Names follow Zach et al. 2007 and OpenCV's tvl1flow.cpp: u is
// the flow, v its auxiliary variable (the thresholding step TH), p the dual variable of the total
// variation, rho the linearised data term, l_t = lambda * theta, taut = tau / theta.
//
// Every tensor carries the batch: a pair's data never mixes with another's, and each pair stops
// iterating where OpenCV's would on that pair alone (see solve_level).
#include <flowgen/median_filter.h>
#include <flowgen/tvl1_torch.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowgen {
namespace {

using at::Tensor;

// OpenCV's centeredGradient: half the central difference, one-sided at the borders, which is the
// central difference of the image with its border replicated. [N,1,H,W] -> [N,2,H,W] (x, y).
Tensor centered_gradient(const Tensor& image) {
  const auto h = image.size(2), w = image.size(3);
  const auto padded = at::replication_pad2d(image, {1, 1, 1, 1});
  const auto rows = padded.narrow(2, 1, h), cols = padded.narrow(3, 1, w);
  const auto dx = (rows.narrow(3, 2, w) - rows.narrow(3, 0, w)).mul_(0.5);
  const auto dy = (cols.narrow(2, 2, h) - cols.narrow(2, 0, h)).mul_(0.5);
  return at::cat({dx, dy}, 1);
}

// The sampling positions x + u as grid_sample wants them: normalised so that -1 and 1 are the
// outer edges of the border pixels (align_corners = false).
class WarpGrid {
 public:
  WarpGrid(std::int64_t h, std::int64_t w, const at::TensorOptions& options) {
    const auto xs = at::arange(w, options).mul_(2.0 / w).add_(1.0 / w - 1);
    const auto ys = at::arange(h, options).mul_(2.0 / h).add_(1.0 / h - 1);
    base_ = at::stack({xs.view({1, w}).expand({h, w}), ys.view({h, 1}).expand({h, w})}, -1).unsqueeze(0);
    per_pixel_ = at::tensor({2.0f / w, 2.0f / h}, options);
  }
  // The image channels (I1 and its gradient) sampled at x + u, as OpenCV's remap with INTER_CUBIC
  // and its default BORDER_CONSTANT: taps outside the picture read 0.
  Tensor sample(const Tensor& images, const Tensor& u) const {
    const auto grid = at::addcmul(base_, u.permute({0, 2, 3, 1}), per_pixel_);
    return at::grid_sampler(images, grid, /*bicubic*/ 2, /*zeros*/ 0, /*align_corners=*/false);
  }

 private:
  Tensor base_;       // [1,H,W,2] normalised pixel centres
  Tensor per_pixel_;  // [2] normalised size of a pixel's displacement
};

struct Level {
  Tensor i0, i1;  // [N,1,H,W]
};

// The pyramid as OpenCV builds it: each level resized from the one above by scale_step with
// bilinear interpolation (its size rounded, the coordinate map from the exact step), until a side
// would fall under 16 pixels.
std::vector<Level> build_pyramid(Tensor i0, Tensor i1, const Tvl1Params& p) {
  std::vector<Level> levels{{std::move(i0), std::move(i1)}};
  const double step = p.scale_step;
  for (int s = 1; s < p.scales; ++s) {
    const auto& above = levels.back();
    const auto h = static_cast<std::int64_t>(std::lround(above.i0.size(2) * step));
    const auto w = static_cast<std::int64_t>(std::lround(above.i0.size(3) * step));
    if (h < 16 || w < 16) break;
    auto down = [&](const Tensor& image) { return at::upsample_bilinear2d(image, {h, w}, false, step, step); };
    levels.push_back({down(above.i0), down(above.i1)});
  }
  return levels;
}

// The warps, outer and inner iterations of one pyramid level (OpenCV's procOneScale), updating u.
//
// OpenCV stops a warp's iterations once the squared update of u summed over the picture falls to
// epsilon^2 x area. Here each pair keeps that test for itself: `active` holds whose test has not
// yet passed, and a pair that passed is masked (its u and p no longer change), so every pair gets
// exactly OpenCV's iteration count whatever the batch. Reading the flags is a device sync: the
// host looks every check_every iterations and the loop ends when none is left; in between,
// finished pairs cost masked work but never change, so check_every has no effect on the flow.
void solve_level(const Level& level, Tensor& u, const Tvl1Params& p, int check_every) {
  const auto n = u.size(0), h = u.size(2), w = u.size(3);
  const float scaled_epsilon = p.epsilon * p.epsilon * static_cast<float>(h * w);
  const double l_t = static_cast<double>(p.lambda) * p.theta, taut = static_cast<double>(p.tau) / p.theta;

  const WarpGrid grid(h, w, u.options());
  const auto i1_and_gradient = at::cat({level.i1, centered_gradient(level.i1)}, 1);
  auto p_x = at::zeros_like(u), p_y = at::zeros_like(u);  // the duals of both components' x and y
  // Forward differences of u; the last column of u_x and the last row of u_y stay 0 (Neumann).
  const auto u_x = at::zeros_like(u), u_y = at::zeros_like(u);
  auto u_x_body = u_x.narrow(3, 0, w - 1), u_y_body = u_y.narrow(2, 0, h - 1);  // written in place

  for (int warp = 0; warp < p.warps; ++warp) {
    const auto warped = grid.sample(i1_and_gradient, u);
    const auto i1w = warped.narrow(1, 0, 1);
    const auto g = warped.narrow(1, 1, 2).contiguous();  // grad I1 at x + u0
    const auto g_x = g.narrow(1, 0, 1), g_y = g.narrow(1, 1, 1);
    const auto grad = g_x * g_x + g_y * g_y;  // |grad I1|^2
    // rho(u) = rho_c + grad I1 . u, the data term linearised around this warp's u0.
    const auto rho_c = i1w - g_x * u.narrow(1, 0, 1) - g_y * u.narrow(1, 1, 1) - level.i0;
    // TH: v = u - clamp(rho / |grad I1|^2, -l_t, l_t) grad I1, OpenCV's three cases in one. Where
    // |grad I1|^2 <= FLT_EPSILON OpenCV leaves v = u inside the band; here the step is then at most
    // l_t |grad I1| < 2e-5 px.
    const auto neg_inv_grad = grad.clamp_min(FLT_EPSILON).reciprocal_().neg_();

    auto active = at::ones({n}, u.options().dtype(at::kBool));
    bool all_active = true;  // known on the host: no masking needed
    int since_check = 0;
    bool converged = false;
    for (int outer = 0; outer < p.outer_iterations && !converged; ++outer) {
      if (p.median_filtering > 1) {
        // OpenCV's medianBlur of each flow component.
        auto filtered = median_filter(u, p.median_filtering);
        u = all_active ? filtered : at::where(active.view({n, 1, 1, 1}), filtered, u);
      }
      for (int inner = 0; inner < p.inner_iterations && !converged; ++inner) {
        auto rho = at::addcmul(rho_c, g_x, u.narrow(1, 0, 1));
        rho.addcmul_(g_y, u.narrow(1, 1, 1));
        const auto v = at::addcmul(u, rho.mul_(neg_inv_grad).clamp_(-l_t, l_t), g);

        // u = v + theta div p, with OpenCV's backward differences (p taken as 0 outside).
        auto u_new = p_x + p_y;
        u_new.narrow(3, 1, w - 1).sub_(p_x.narrow(3, 0, w - 1));
        u_new.narrow(2, 1, h - 1).sub_(p_y.narrow(2, 0, h - 1));
        u_new.mul_(p.theta).add_(v);
        const auto error = (u_new - u).square_().sum({1, 2, 3});
        const auto mask = active.view({n, 1, 1, 1});
        u = all_active ? u_new : at::where(mask, u_new, u);

        // p = (p + taut grad u) / (1 + taut |grad u|), per component.
        at::sub_out(u_x_body, u.narrow(3, 1, w - 1), u.narrow(3, 0, w - 1));
        at::sub_out(u_y_body, u.narrow(2, 1, h - 1), u.narrow(2, 0, h - 1));
        const auto norm = at::hypot(u_x, u_y).mul_(taut).add_(1.0);
        auto p_x_new = at::add(p_x, u_x, taut).div_(norm), p_y_new = at::add(p_y, u_y, taut).div_(norm);
        p_x = all_active ? p_x_new : at::where(mask, p_x_new, p_x);
        p_y = all_active ? p_y_new : at::where(mask, p_y_new, p_y);

        active.logical_and_(error > scaled_epsilon);
        if (++since_check >= check_every) {
          since_check = 0;
          const auto left = active.sum().item<std::int64_t>();
          converged = left == 0;
          all_active = left == n && check_every == 1;
        } else {
          all_active = false;
        }
      }
    }
  }
}

}  // namespace

torch::Tensor tvl1_flow(const torch::Tensor& prev, const torch::Tensor& next, const Tvl1Params& params) {
  if (prev.dim() != 3 || prev.sizes() != next.sizes())
    throw std::invalid_argument("tvl1_flow: prev and next must be [N, H, W] of the same size, got " +
                                std::to_string(prev.dim()) + "-d and " + std::to_string(next.dim()) + "-d");
  if (prev.device() != next.device()) throw std::invalid_argument("tvl1_flow: prev and next are on different devices");
  if (prev.size(1) < 2 || prev.size(2) < 2) throw std::invalid_argument("tvl1_flow: frames must be at least 2x2");
  if (params.scales < 1 || params.warps < 1 || params.scale_step <= 0 || params.scale_step >= 1)
    throw std::invalid_argument("tvl1_flow: need scales >= 1, warps >= 1 and 0 < scale_step < 1");
  if (params.median_filtering > 1 && params.median_filtering % 2 == 0)
    throw std::invalid_argument("tvl1_flow: median_filtering must be odd");
  at::NoGradGuard no_grad;
  const int check_every = params.check_every > 0 ? params.check_every : prev.is_cuda() ? 10 : 1;

  const auto as_images = [](const Tensor& t) { return t.to(at::kFloat).unsqueeze(1).contiguous(); };
  const auto levels = build_pyramid(as_images(prev), as_images(next), params);
  const auto& coarsest = levels.back().i0;
  auto u = at::zeros({coarsest.size(0), 2, coarsest.size(2), coarsest.size(3)}, coarsest.options());
  for (auto s = static_cast<int>(levels.size()) - 1;; --s) {
    solve_level(levels[s], u, params, check_every);
    if (s == 0) break;
    // To the next finer level: bilinear, coordinates mapped by the ratio of the sizes (OpenCV's
    // resize to a given size), displacements in the finer level's pixels.
    const auto& finer = levels[s - 1].i0;
    u = at::upsample_bilinear2d(u, {finer.size(2), finer.size(3)}, false, std::nullopt, std::nullopt)
            .mul_(1.0 / params.scale_step);
  }
  return u.permute({0, 2, 3, 1}).contiguous();
}

}  // namespace flowgen
