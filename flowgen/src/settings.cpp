#include <flowgen/flow_backend.h>
#include <flowgen/settings.h>
#include <mme/error.h>
#include <mme/part_store.h>
#include <mme/shard_schema.h>

#include <fmt/format.h>

namespace flowgen {

namespace key = mme::schema::flow_settings;

nlohmann::json FlowSettings::to_json() const {
  return {{key::algo.name, algo},
          {key::short_side.name, short_side},
          {key::max_short_side.name, max_short_side},
          {key::quant_step.name, quant_step},
          {key::frames.name, frames},
          {key::jpeg_quality.name, jpeg_quality},
          {key::mv.name, mv},
          {key::mv_cell.name, mv_cell},
          {key::flow_codec.name, key::kFlowCodec}};
}

FlowSettings FlowSettings::from_json(const nlohmann::json& j) {
  FlowSettings s;
  s.algo = j.at(key::algo.name).get<std::string>();
  s.short_side = j.at(key::short_side.name).get<int>();
  s.max_short_side = j.at(key::max_short_side.name).get<int>();
  s.quant_step = j.at(key::quant_step.name).get<double>();
  s.frames = j.at(key::frames.name).get<std::string>();
  s.jpeg_quality = j.at(key::jpeg_quality.name).get<int>();
  s.mv = j.at(key::mv.name).get<bool>();
  s.mv_cell = j.at(key::mv_cell.name).get<int>();
  const auto codec = j.at(key::flow_codec.name).get<std::string>();
  if (codec != key::kFlowCodec)
    throw std::invalid_argument(fmt::format("flow codec '{}' is not known (only {})", codec, key::kFlowCodec));
  return s;
}

void FlowSettings::validate() const {
  flow_backend(algo);  // throws for unknown names
  if (short_side < 0 || short_side == 1 || short_side > 8192)
    throw std::invalid_argument(fmt::format("--short-side {} must be 0 (native) or 2..8192", short_side));
  if (max_short_side < 0) throw std::invalid_argument("--max-short-side must be >= 0");
  if (!(quant_step > 0 && quant_step <= 1))
    throw std::invalid_argument(fmt::format("--quant-step {} must be in (0, 1] pixels", quant_step));
  if (frames != "jpeg" && frames != "none")
    throw std::invalid_argument(fmt::format("--frames '{}' must be jpeg or none", frames));
  if (jpeg_quality < 1 || jpeg_quality > 100) throw std::invalid_argument("--jpeg-quality must be in 1..100");
  if (mv_cell < 1 || mv_cell > 64) throw std::invalid_argument("mv cell must be in 1..64");
}

void claim_output_dir(const std::filesystem::path& out_dir, const FlowSettings& settings) {
  mme::claim_output_dir(out_dir, mme::schema::kFlowSettingsFile, settings.to_json());
}

}  // namespace flowgen
