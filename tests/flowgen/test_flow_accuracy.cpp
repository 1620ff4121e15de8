// Flow against known motion: a real frame warped by known smooth flows, per algorithm.
#include <flowgen/flow_backend.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include <algorithm>

#include "known_motion.h"

namespace {

using mme::test::Field;

double epe_of(const std::string& algo, const Field& field) {
  const cv::Mat frame0 = mme::test::real_frame();
  cv::Mat frame1, truth;
  mme::test::warp(frame0, field, frame1, truth);
  auto backend = flowgen::flow_backend(algo).make();
  mme::FrameMotion none;
  cv::Mat flow;
  REQUIRE(backend->compute({frame0, frame1, none, 1}, flow));
  REQUIRE(flow.type() == CV_32FC2);
  REQUIRE(flow.size() == truth.size());
  return mme::test::mean_epe(flow, truth);
}

}  // namespace

// Thresholds: the EPE measured here (340x256, the cockatoo frame) times about 1.5.
TEST_CASE("flow algorithms recover known motion of a real frame", "[flow][accuracy][samples]") {
  struct Case {
    std::string algo;
    double translation, rotation, smooth;
  };
  // Measured (translation, rotation, smooth): dis-ultrafast 0.37/0.60/0.53, dis-fast 0.21/0.38/0.41,
  // dis-medium 0.13/0.15/0.17, farneback 0.85/1.58/0.79 (library defaults, as MME's public code),
  // tvl1 0.085/0.055/0.20, tvl1-gpu (LibTorch, here on the CPU) 0.082/0.056/0.19.
  const std::vector<Case> thresholds{{"dis-ultrafast", 0.55, 0.90, 0.80}, {"dis-fast", 0.35, 0.60, 0.60},
                                     {"dis-medium", 0.20, 0.25, 0.25},    {"farneback", 1.30, 2.40, 1.20},
                                     {"tvl1", 0.15, 0.10, 0.30},          {"tvl1-gpu", 0.15, 0.10, 0.30}};
  // Every dense backend of the registry is measured: a new one fails here until it has thresholds.
  const auto algo = GENERATE(from_range(flowgen::dense_flow_backends()));
  INFO(algo);
#ifndef MME_HAVE_TVL1_GPU
  if (algo == "tvl1-gpu") SKIP("built without LibTorch: no tvl1-gpu module");
#endif
  const auto found = std::find_if(thresholds.begin(), thresholds.end(), [&](const Case& t) { return t.algo == algo; });
  REQUIRE(found != thresholds.end());
  const Case& c = *found;
  const double et = epe_of(c.algo, mme::test::translation), er = epe_of(c.algo, mme::test::rotation),
               es = epe_of(c.algo, mme::test::smooth);
  WARN(c.algo << " EPE: translation " << et << ", rotation " << er << ", smooth " << es);
  CHECK(et < c.translation);
  CHECK(er < c.rotation);
  CHECK(es < c.smooth);
}
