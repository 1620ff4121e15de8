// Median filtering by a pruned sorting network over shifted views of the picture.
//
// Sorting the size values of every column of a window and then, rank by rank, the size columns
// (both shared between neighbouring windows: each is one element-wise network over the whole
// picture) leaves every row and column of the window sorted. Element (i, j) of that matrix is
// then at least as large as the (i+1)(j+1) elements above-left of it and at most as large as the
// (size-i)(size-j) below-right of it, which rules out all but a diagonal band as the median; the
// band's own median, at a known rank, is selected by a third network. Each network is Batcher's
// odd-even merge sort, padded to a power of two with +infinity and pruned back from the outputs
// that are used, so only the minima and maxima that matter are computed.
#include <flowgen/median_filter.h>

#include <ATen/ATen.h>

#include <optional>
#include <stdexcept>
#include <vector>

namespace flowgen {
namespace {

using at::Tensor;

struct Comparator {
  int low, high;  // wires that receive the minimum and the maximum
};

int power_of_two_at_least(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

// Batcher's odd-even merge sort of n = 2^k wires.
std::vector<Comparator> odd_even_merge_sort(int n) {
  std::vector<Comparator> network;
  for (int p = 1; p < n; p *= 2)
    for (int k = p; k >= 1; k /= 2)
      for (int j = k % p; j + k < n; j += 2 * k)
        for (int i = 0; i < k && i + j + k < n; ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) network.push_back({i + j, i + j + k});
  return network;
}

struct Step {
  Comparator c;
  bool min_used, max_used;
};

// The comparators whose outputs reach `wanted`, and which of their two outputs do.
std::vector<Step> prune(const std::vector<Comparator>& network, const std::vector<int>& wanted, int wires) {
  std::vector<bool> used(wires, false);
  for (int w : wanted) used[w] = true;
  std::vector<Step> steps;
  for (auto c = network.rbegin(); c != network.rend(); ++c) {
    const bool min_used = used[c->low], max_used = used[c->high];
    if (!min_used && !max_used) continue;
    steps.push_back({*c, min_used, max_used});
    used[c->low] = used[c->high] = true;
  }
  return {steps.rbegin(), steps.rend()};
}

// Sorts `values` (missing ones stand for +infinity) far enough that the wanted ranks are right,
// and returns those ranks.
std::vector<Tensor> select_ranks(std::vector<Tensor> values, const std::vector<int>& wanted) {
  const int n = static_cast<int>(values.size()), wires = power_of_two_at_least(n);
  std::vector<std::optional<Tensor>> w(values.begin(), values.end());
  w.resize(wires);  // +infinity
  for (const auto& [c, min_used, max_used] : prune(odd_even_merge_sort(wires), wanted, wires)) {
    auto& a = w[c.low];
    auto& b = w[c.high];
    if (!b) continue;  // min(a, inf) = a stays, max = inf stays
    if (!a) {
      a.swap(b);
      continue;
    }
    if (min_used && max_used) {
      auto low = at::minimum(*a, *b);
      b = at::maximum(*a, *b);
      a = std::move(low);
    } else if (min_used) {
      a = at::minimum(*a, *b);
    } else {
      b = at::maximum(*a, *b);
    }
  }
  std::vector<Tensor> out;
  for (int r : wanted) out.push_back(*w[r]);
  return out;
}

}  // namespace

torch::Tensor median_filter(const torch::Tensor& x, int size) {
  if (size < 1 || size % 2 == 0) throw std::invalid_argument("median_filter: the size must be odd");
  if (size == 1) return x;
  const int r = size / 2, rank = (size * size - 1) / 2;
  const auto h = x.size(-2), w = x.size(-1);
  const auto flat = x.reshape({-1, 1, h, w});
  const auto padded = at::replication_pad2d(flat, {r, r, r, r});

  std::vector<int> all(size);
  for (int i = 0; i < size; ++i) all[i] = i;
  std::vector<Tensor> rows;
  for (int i = 0; i < size; ++i) rows.push_back(padded.narrow(2, i, h));
  const auto columns_sorted = select_ranks(rows, all);  // [.., H, W + 2r] each

  std::vector<Tensor> band;
  int below = 0;  // elements ruled out as smaller than the median
  for (int i = 0; i < size; ++i) {
    std::vector<int> wanted;
    for (int j = 0; j < size; ++j) {
      if ((i + 1) * (j + 1) <= rank + 1 && (size - i) * (size - j) <= rank + 1) wanted.push_back(j);
      if ((size - i) * (size - j) >= rank + 2) ++below;
    }
    std::vector<Tensor> shifted;
    for (int j = 0; j < size; ++j) shifted.push_back(columns_sorted[i].narrow(3, j, w));
    for (auto& t : select_ranks(shifted, wanted)) band.push_back(std::move(t));
  }
  return select_ranks(band, {rank - below})[0].reshape(x.sizes());
}

}  // namespace flowgen
