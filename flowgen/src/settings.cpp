#include <flowgen/flow_backend.h>
#include <flowgen/settings.h>
#include <mme/error.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

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
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw mme::FileError(out_dir, "cannot create the output directory: " + ec.message());
  const auto path = out_dir / "flowgen.json";
  const nlohmann::json mine = settings.to_json();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (std::filesystem::exists(path)) {
      nlohmann::json theirs;
      try {
        std::ifstream in(path);
        theirs = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        throw mme::FileError(path, std::string("unreadable settings file: ") + e.what());
      }
      std::string diffs;
      for (const auto& [key, value] : mine.items()) {
        const auto it = theirs.find(key);
        if (it == theirs.end() || *it != value)
          diffs += fmt::format("\n  {}: this directory has {}, this run asks for {}", key,
                               it == theirs.end() ? "nothing" : it->dump(), value.dump());
      }
      if (!diffs.empty())
        throw mme::FileError(out_dir, "holds flow made with other settings:" + diffs +
                                          "\nUse another --out, or the settings above to resume.");
      return;
    }
    // First run: publish the settings atomically; link() fails if a concurrent task (another
    // array job) was first, and then we compare with what it wrote.
    const auto tmp = out_dir / fmt::format(".flowgen.json.{}", ::getpid());
    {
      std::ofstream out(tmp);
      out << mine.dump(2) << "\n";
      if (!out) throw mme::FileError(tmp, "cannot write the settings file");
    }
    const int rc = ::link(tmp.c_str(), path.c_str());
    std::filesystem::remove(tmp, ec);
    if (rc == 0) return;
  }
  throw mme::FileError(path, "cannot create the settings file");
}

}  // namespace flowgen
