#include <flowgen/flow_backend.h>
#include <flowgen/settings.h>
#include <mme/error.h>
#include <mme/part_store.h>

#include <fmt/format.h>

namespace flowgen {

nlohmann::json FlowSettings::to_json() const {
  return {{"algo", algo},
          {"short_side", short_side},
          {"max_short_side", max_short_side},
          {"quant_step", quant_step},
          {"frames", frames},
          {"jpeg_quality", jpeg_quality},
          {"mv", mv},
          {"mv_cell", mv_cell},
          {"flow_codec", flow_codec}};
}

FlowSettings FlowSettings::from_json(const nlohmann::json& j) {
  FlowSettings s;
  s.algo = j.at("algo").get<std::string>();
  s.short_side = j.at("short_side").get<int>();
  s.max_short_side = j.at("max_short_side").get<int>();
  s.quant_step = j.at("quant_step").get<double>();
  s.frames = j.at("frames").get<std::string>();
  s.jpeg_quality = j.at("jpeg_quality").get<int>();
  s.mv = j.at("mv").get<bool>();
  s.mv_cell = j.at("mv_cell").get<int>();
  s.flow_codec = j.at("flow_codec").get<std::string>();
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
  if (flow_codec != "loco") throw std::invalid_argument("flow codec '" + flow_codec + "' is not known (loco)");
}

void claim_output_dir(const std::filesystem::path& out_dir, const FlowSettings& settings) {
  mme::claim_output_dir(out_dir, "flowgen.json", settings.to_json());
}

}  // namespace flowgen
