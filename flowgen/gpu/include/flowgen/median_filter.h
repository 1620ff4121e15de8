#pragma once
// The median of every size x size window, borders replicated (OpenCV's medianBlur), in tensor
// operations: a selection network of element-wise minima and maxima, which runs on any device.
// torch's median over unfolded windows costs ~10x more on the CPU (a sort per pixel).
#include <torch/types.h>

namespace flowgen {

// x: [..., H, W] float; size odd. Returns a tensor of x's shape.
torch::Tensor median_filter(const torch::Tensor& x, int size);

}  // namespace flowgen
