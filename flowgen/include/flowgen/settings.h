#pragma once
// Every setting that decides what flowgen writes. They are stored in OUTDIR/flowgen.json by the
// first run; a later run into the same OUTDIR must ask for the same ones (else it is refused), so
// resumed and sharded runs can never mix flows made differently.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace flowgen {

struct FlowSettings {
  std::string algo = "dis-fast";
  int short_side = 0;           // 0: native size, capped by max_short_side
  int max_short_side = 320;     // VideoMAE prepares Kinetics at a short side of 320
  double quant_step = 0.125;    // stored int16 = round(flow / quant_step)
  std::string frames = "jpeg";  // "jpeg" or "none"
  int jpeg_quality = 90;
  bool mv = false;  // also store codec motion vectors made dense at 1/4 resolution
  int mv_cell = 4;  // resolution divisor of the mv dataset

  nlohmann::json to_json() const;
  static FlowSettings from_json(const nlohmann::json& j);
  // Throws std::invalid_argument naming a setting that is out of range.
  void validate() const;
};

// Creates OUTDIR/flowgen.json, or checks an existing one. Throws mme::FileError naming every
// setting that differs (old value, new value) and what to do about it.
void claim_output_dir(const std::filesystem::path& out_dir, const FlowSettings& settings);

}  // namespace flowgen
