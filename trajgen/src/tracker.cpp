#include <mme/isa.h>
#include <trajgen/tracker.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace trajgen {

Lookup parse_lookup(const std::string& name) {
  if (name == "bilinear") return Lookup::bilinear;
  if (name == "nearest") return Lookup::nearest;
  throw std::invalid_argument("lookup '" + name + "' must be bilinear or nearest");
}

std::string to_string(Lookup l) {
  return l == Lookup::bilinear ? "bilinear" : "nearest";
}

namespace {

// One field as the lookups see it: T is float (pixels) or int16 (quantised: the caller scales the
// result), so trajgen tracks on the decoded fields without a float copy.
template <typename T>
struct View {
  const T* data;
  std::size_t stride;  // elements per row
  int rows, cols;
  explicit View(const cv::Mat& m) : data(m.ptr<T>(0)), stride(m.step1()), rows(m.rows), cols(m.cols) {}
};

// Four seeds at a time: GCC's vector extensions (SSE2 on x86-64, NEON on arm64) for the
// arithmetic, lane by lane for the loads. The scalar lookups serve the seeds left over and
// sample_flow; both compute the same expressions in the same order.
using f4 = float __attribute__((vector_size(16)));
using i4 = std::int32_t __attribute__((vector_size(16)));

// The (u, v) at four element offsets of a field, as floats.
inline void gather(const std::int16_t* data, i4 offset, f4& u, f4& v) {
  i4 pair;  // u and v of a point are adjacent: one 32-bit load each
  for (int j = 0; j < 4; ++j) std::memcpy(&pair[j], data + offset[j], 4);
  const i4 low = (pair << 16) >> 16, high = pair >> 16;  // sign-extended halves
  u = __builtin_convertvector(std::endian::native == std::endian::little ? low : high, f4);
  v = __builtin_convertvector(std::endian::native == std::endian::little ? high : low, f4);
}
inline void gather(const float* data, i4 offset, f4& u, f4& v) {
  for (int j = 0; j < 4; ++j) {
    u[j] = data[offset[j]];
    v[j] = data[offset[j] + 1];
  }
}

// The lookups, inlined into the tracking loop (a call per lookup cost about as much as the
// interpolation itself). The point lies inside the field, so truncation is the floor.
struct Nearest {
  template <typename T>
  static void sample(const View<T>& f, float x, float y, float& u, float& v) {
    const T* p = f.data + static_cast<std::size_t>(static_cast<int>(y)) * f.stride + 2 * static_cast<int>(x);
    u = static_cast<float>(p[0]);
    v = static_cast<float>(p[1]);
  }
  template <typename T>
  static void sample4(const View<T>& f, f4 x, f4 y, f4& u, f4& v) {
    const i4 x0 = __builtin_convertvector(x, i4), y0 = __builtin_convertvector(y, i4);
    gather(f.data, y0 * static_cast<std::int32_t>(f.stride) + 2 * x0, u, v);
  }
};

struct Bilinear {
  template <typename T>
  static void sample(const View<T>& f, float x, float y, float& u, float& v) {
    const int x0 = std::min(static_cast<int>(x), f.cols - 1), y0 = std::min(static_cast<int>(y), f.rows - 1);
    const std::size_t dx = x0 + 1 < f.cols ? 2 : 0, dy = y0 + 1 < f.rows ? f.stride : 0;
    const float fx = x - static_cast<float>(x0), fy = y - static_cast<float>(y0);
    const T* p = f.data + static_cast<std::size_t>(y0) * f.stride + 2 * static_cast<std::size_t>(x0);
    // The two channels written out (a loop over them into a small array made GCC store the
    // channels apart and load them back as one vector: a store-forwarding stall per lookup).
    const auto lerp = [&](std::size_t c) {
      const float top = static_cast<float>(p[c]) * (1.0f - fx) + static_cast<float>(p[c + dx]) * fx;
      const float bottom = static_cast<float>(p[dy + c]) * (1.0f - fx) + static_cast<float>(p[dy + c + dx]) * fx;
      return top * (1.0f - fy) + bottom * fy;
    };
    u = lerp(0);
    v = lerp(1);
  }
  template <typename T>
  static void sample4(const View<T>& f, f4 x, f4 y, f4& u, f4& v) {
    i4 x0 = __builtin_convertvector(x, i4), y0 = __builtin_convertvector(y, i4);
    x0 = x0 < f.cols - 1 ? x0 : f.cols - 1;
    y0 = y0 < f.rows - 1 ? y0 : f.rows - 1;
    const i4 dx = x0 < f.cols - 1 ? 2 : 0, dy = y0 < f.rows - 1 ? static_cast<std::int32_t>(f.stride) : 0;
    const f4 fx = x - __builtin_convertvector(x0, f4), fy = y - __builtin_convertvector(y0, f4);
    const i4 at = y0 * static_cast<std::int32_t>(f.stride) + 2 * x0;
    f4 u00, v00, u01, v01, u10, v10, u11, v11;
    gather(f.data, at, u00, v00);
    gather(f.data, at + dx, u01, v01);
    gather(f.data, at + dy, u10, v10);
    gather(f.data, at + dy + dx, u11, v11);
    const f4 top_u = u00 * (1.0f - fx) + u01 * fx, bottom_u = u10 * (1.0f - fx) + u11 * fx;
    const f4 top_v = v00 * (1.0f - fx) + v01 * fx, bottom_v = v10 * (1.0f - fx) + v11 * fx;
    u = top_u * (1.0f - fy) + bottom_u * fy;
    v = top_v * (1.0f - fy) + bottom_v * fy;
  }
};

// Field by field, each field advancing every start that uses it, seed after seed:
// - a seed's next lookup depends on its last one, so tracking seed by seed over all steps made
//   every cache miss wait for the one before (memory latency was most of the tracker's time);
//   the seeds of one step are independent and in raster order, so their misses overlap;
// - the L starts that use a field read it one after the other, while it is in the cache.
constexpr std::size_t kAhead = 16;  // seeds between a prefetch and its use

// A coordinate of a point that left the frame, clamped to [0, max] (a non-finite one to 0) and
// tracked on from there, as the public MME code does.
inline float back_inside(float v, float max) {
  return std::isfinite(v) ? std::clamp(v, 0.0f, max) : 0.0f;
}

// One field advancing `count` starts: the seeds at (x_of, y_of) of start i are at step k0 - i, and
// their displacements go to out + i * (seeds * L * 2) at that step.
template <typename Lookup, typename T>
void advance_starts(const View<T>& field, std::size_t seeds, int L, float scale, float* xs, float* ys,
                    std::uint8_t* valid, float* out, int count, int k0) {
  const float max_x = static_cast<float>(field.cols - 1), max_y = static_cast<float>(field.rows - 1);
  for (int i = 0; i < count; ++i) {
    float* x_of = xs + i * seeds;
    float* y_of = ys + i * seeds;
    std::uint8_t* valid_of = valid + i * seeds;
    float* d = out + (i * seeds * L + (k0 - i)) * 2;
    std::size_t n = 0;
    for (; n + 4 <= seeds; n += 4) {
      // The field is in L2 at best (trajgen tracks a field just after decoding it; the fields a
      // run keeps for the run before come from further away), and the hardware prefetcher does
      // not follow 2 of every C rows: ask for later seeds' rows.
      if (n + kAhead + 3 < seeds) {
        for (const std::size_t m : {n + kAhead, n + kAhead + 3}) {
          const T* ahead =
              field.data + static_cast<std::size_t>(y_of[m]) * field.stride + 2 * static_cast<std::size_t>(x_of[m]);
          __builtin_prefetch(ahead);
          __builtin_prefetch(ahead + field.stride);
        }
      }
      f4 x, y, u, v;
      std::memcpy(&x, x_of + n, sizeof x);
      std::memcpy(&y, y_of + n, sizeof y);
      Lookup::sample4(field, x, y, u, v);
      u *= scale;
      v *= scale;
      for (int j = 0; j < 4; ++j) {
        d[(n + j) * 2 * L] = u[j];
        d[(n + j) * 2 * L + 1] = v[j];
      }
      x += u;
      y += v;
      const i4 inside = (x >= 0.0f && x <= max_x) && (y >= 0.0f && y <= max_y);
      for (int j = 0; j < 4; ++j)
        if (!inside[j]) {
          valid_of[n + j] = 0;
          x[j] = back_inside(x[j], max_x);
          y[j] = back_inside(y[j], max_y);
        }
      std::memcpy(x_of + n, &x, sizeof x);
      std::memcpy(y_of + n, &y, sizeof y);
    }
    for (; n < seeds; ++n) {  // the seeds left over, one by one
      float x = x_of[n], y = y_of[n], u, v;
      Lookup::sample(field, x, y, u, v);
      d[n * 2 * L] = u * scale;
      d[n * 2 * L + 1] = v * scale;
      x += d[n * 2 * L];
      y += d[n * 2 * L + 1];
      if (!(x >= 0 && x <= max_x && y >= 0 && y <= max_y)) {
        valid_of[n] = 0;
        x = back_inside(x, max_x);
        y = back_inside(y, max_y);
      }
      x_of[n] = x;
      y_of[n] = y;
    }
  }
}

// One field (CV_32FC2 or CV_16SC2) advancing `count` starts under the lookup rule, as advance_starts.
void advance_field(const cv::Mat& field, Lookup lookup, std::size_t seeds, int L, float scale, float* xs, float* ys,
                   std::uint8_t* valid, float* out, int count, int k0) {
  const auto run = [&]<typename T>(const View<T>& v) {
    if (lookup == Lookup::nearest)
      advance_starts<Nearest>(v, seeds, L, scale, xs, ys, valid, out, count, k0);
    else
      advance_starts<Bilinear>(v, seeds, L, scale, xs, ys, valid, out, count, k0);
  };
  if (field.type() == CV_16SC2)
    run(View<std::int16_t>(field));
  else
    run(View<float>(field));
}

#if MME_HAVE_X86_64_V3
MME_X86_64_V3 void advance_field_v3(const cv::Mat& field, Lookup lookup, std::size_t seeds, int L, float scale,
                                    float* xs, float* ys, std::uint8_t* valid, float* out, int count, int k0) {
  advance_field(field, lookup, seeds, L, scale, xs, ys, valid, out, count, k0);
}
#endif

}  // namespace

cv::Vec2f sample_flow(const cv::Mat& flow, float x, float y, Lookup lookup) {
  if (flow.type() != CV_32FC2) throw std::invalid_argument("sample_flow: the field must be CV_32FC2");
  const View<float> field(flow);
  cv::Vec2f out;
  if (lookup == Lookup::nearest)
    Nearest::sample(field, x, y, out[0], out[1]);
  else
    Bilinear::sample(field, x, y, out[0], out[1]);
  return out;
}

Tracker::Tracker(int rows, int cols, int starts, int steps, const TrackParams& params, float* displacements,
                 std::uint8_t* valid, float scale)
    : rows_(rows),
      cols_(cols),
      starts_(starts),
      L_(steps),
      params_(params),
      out_(displacements),
      valid_(valid),
      scale_(scale) {
  if (starts < 1 || steps < 1 || params.cell < 1 || rows < params.cell || cols < params.cell)
    throw std::invalid_argument("Tracker: needs a start, a step and a field of at least one cell");
  const int gh = rows / params.cell, gw = cols / params.cell;
  seeds_ = static_cast<std::size_t>(gh) * gw;
  xs_.resize(seeds_ * starts);
  ys_.resize(seeds_ * starts);
  for (int s = 0; s < starts; ++s)
    for (int i = 0; i < gh; ++i)
      for (int j = 0; j < gw; ++j) {
        const std::size_t n = s * seeds_ + static_cast<std::size_t>(i) * gw + j;
        xs_[n] = static_cast<float>(params.cell) / 2.0f + static_cast<float>(params.cell * j);
        ys_[n] = static_cast<float>(params.cell) / 2.0f + static_cast<float>(params.cell * i);
      }
  std::fill(valid, valid + seeds_ * starts, std::uint8_t{1});
}

void Tracker::advance(const cv::Mat& field) {
  if (fields_ >= fields_needed()) throw std::logic_error("Tracker: every start has all its steps");
  if ((field.type() != CV_32FC2 && field.type() != CV_16SC2) || field.rows != rows_ || field.cols != cols_ ||
      (fields_ > 0 && field.type() != type_))
    throw std::invalid_argument("Tracker: the fields must be all CV_32FC2 or all CV_16SC2, of one size");
  // The four-seed path computes element offsets in 32 bits.
  if (static_cast<std::int64_t>(field.step1()) * field.rows > std::numeric_limits<std::int32_t>::max())
    throw std::invalid_argument("Tracker: fields of over 2^31 values are not supported");
  type_ = field.type();
  // The starts s with s <= f < s + L, the first of them at step f - s.
  const int f = fields_++, first = std::max(0, f - L_ + 1), count = std::min(starts_ - 1, f) - first + 1;
  const std::size_t at = static_cast<std::size_t>(first) * seeds_;
  float* out = out_ + at * L_ * 2;
#if MME_HAVE_X86_64_V3
  if (mme::isa::active() == mme::isa::Level::x86_64_v3)
    return advance_field_v3(field, params_.lookup, seeds_, L_, scale_, xs_.data() + at, ys_.data() + at, valid_ + at,
                            out, count, f - first);
#endif
  advance_field(field, params_.lookup, seeds_, L_, scale_, xs_.data() + at, ys_.data() + at, valid_ + at, out, count,
                f - first);
}

void track(const std::vector<const cv::Mat*>& flows, int starts, const TrackParams& p, float* out, std::uint8_t* valid,
           float scale) {
  if (starts < 1 || flows.size() < static_cast<std::size_t>(starts))
    throw std::invalid_argument("track: needs at least one start and a field per start");
  Tracker tracker(flows[0]->rows, flows[0]->cols, starts, static_cast<int>(flows.size()) - starts + 1, p, out, valid,
                  scale);
  for (const auto* f : flows) tracker.advance(*f);
}

}  // namespace trajgen
