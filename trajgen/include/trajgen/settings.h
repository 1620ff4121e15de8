#pragma once
// trajgen's settings, and the identity of the flow set they apply to. Both go into
// TARGETDIR/config.json: a re-run with the same ones reuses the targets, other ones are refused,
// and the trainer checks the file before it trains on the targets. The flow set's identity is
// mme::output_identity(FLOWDIR, "flowgen.json", ...).
#include <trajgen/motion_box.h>
#include <trajgen/tracker.h>

#include <nlohmann/json.hpp>

#include <string>

namespace trajgen {

struct TrajSettings {
  int traj_len = 4;  // L: native steps tracked from each start frame (MME: 4 = the tube's stride)
  TrackParams track;
  double traj_scale = 1.0 / 16;  // stored int16 displacement = round(pixels / traj_scale)
  MotionBoxParams box;
  std::string motion_source = "auto";  // "auto" (codec vectors when flowgen stored them), "flow"

  nlohmann::json to_json() const;
  void validate() const;  // throws std::invalid_argument
};

}  // namespace trajgen
