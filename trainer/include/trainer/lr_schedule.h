#pragma once
// VideoMAE's per-step schedule: linear warm-up from 0 to the peak lr, then a half cosine down to
// min_lr at the last step.
#include <cmath>

namespace trainer {

struct LrSchedule {
  double peak = 0, min = 0;
  long warmup_steps = 0, total_steps = 1;

  double at(long step) const {
    if (step < warmup_steps) return peak * static_cast<double>(step) / static_cast<double>(warmup_steps);
    const long cosine_steps = total_steps - warmup_steps;
    if (cosine_steps <= 0) return peak;
    const double progress = static_cast<double>(step - warmup_steps) / static_cast<double>(cosine_steps);
    return min + 0.5 * (peak - min) * (1.0 + std::cos(M_PI * progress));
  }
};

}  // namespace trainer
