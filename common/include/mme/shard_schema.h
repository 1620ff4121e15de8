#pragma once
// Every name stored in the shards and in the settings files beside them, with its type: the one
// place flowgen, trajgen, mme-probe and the trainer take them from (the contract with users'
// scripts is docs/formats.md, whose "Field reference" is generated from this file by
// `mme-schema --update docs/formats.md`; test_shard_schema fails when it is out of date).
//
// Attributes are typed (Attribute<T>): AttributeWriter::set and AttributeReader::get take them and
// refuse another type at compile time. Datasets name their element type; GroupWriter refuses to
// create one of another type. Settings files are JSON; their keys are ConfigKey.
#include <mme/chunk_codec.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mme::schema {

template <typename T>
struct Attribute {
  const char* name;
};
struct Dataset {
  const char* name;
  DType dtype;
};
struct ConfigKey {
  const char* name;
};

using Int = std::int64_t;
using Ints = std::vector<std::int64_t>;
using Doubles = std::vector<double>;

// Files of an output directory.
inline constexpr const char* kFlowSettingsFile = "flowgen.json";   // flowgen's settings (FlowSettings)
inline constexpr const char* kTargetSettingsFile = "config.json";  // trajgen's settings + the flow set's identity
inline constexpr const char* kManifestFile = "manifest.jsonl";     // one line per video of a shard
inline constexpr const char* kIndexFile = "index.json";            // `merge`: id -> part

// The root of every shard.
namespace root {
inline constexpr Attribute<std::string> format{"format"};  // kFormatName
inline constexpr Attribute<Int> format_version{"format_version"};
inline constexpr Attribute<std::string> tool{"tool"};
inline constexpr Attribute<std::string> tool_version{"tool_version"};
inline constexpr Attribute<std::string> git_commit{"git_commit"};
inline constexpr Attribute<std::string> settings{"settings"};  // JSON object
inline constexpr Attribute<std::string> created{"created"};
inline constexpr Attribute<std::string> host{"host"};
inline constexpr const char* kFormatName = "mme-shard";
inline constexpr const char* kVideosGroup = "videos";
// Parts of flowgen and trajgen only: the videos that failed while the part was open (JSON list).
inline constexpr Attribute<std::string> failures{"failures"};
}  // namespace root

// Attributes of a video's group that several tools write.
namespace video {
inline constexpr Attribute<std::string> id{"id"};
inline constexpr Attribute<Int> source_size{"source_size"};
inline constexpr Attribute<Int> source_mtime_ns{"source_mtime_ns"};
inline constexpr Attribute<Int> label{"label"};
inline constexpr Attribute<double> fps{"fps"};
inline constexpr Attribute<Int> native_width{"native_width"};
inline constexpr Attribute<Int> native_height{"native_height"};
inline constexpr Attribute<Int> rotation{"rotation"};
inline constexpr Attribute<std::string> codec{"codec"};
inline constexpr Attribute<Int> width{"width"};
inline constexpr Attribute<Int> height{"height"};
inline constexpr Attribute<Int> frames{"frames"};
inline constexpr Attribute<Int> warnings{"warnings"};
inline constexpr Attribute<std::string> stats{"stats"};  // JSON: the manifest's numbers
}  // namespace video

// Attributes of datasets: value = stored x scale; the cell of a reduced grid.
namespace dataset {
inline constexpr Attribute<double> scale{"scale"};
inline constexpr Attribute<Int> cell{"cell"};
inline constexpr Attribute<std::string> source{"source"};
}  // namespace dataset

// A video's group in a flow shard (flowgen).
namespace flow {
inline constexpr Attribute<Int> pairs{"pairs"};
inline constexpr Attribute<Int> saturated{"saturated"};
inline constexpr Attribute<std::string> warning_text{"warning_text"};
inline constexpr Dataset flow{"flow", DType::i16};
inline constexpr Dataset flow_present{"flow_present", DType::u8};
inline constexpr Dataset frames{"frames", DType::u8};
inline constexpr Dataset frame_offsets{"frame_offsets", DType::i64};
inline constexpr Dataset timestamps{"timestamps", DType::f64};
inline constexpr Dataset mv{"mv", DType::i16};
inline constexpr Dataset mv_present{"mv_present", DType::u8};
}  // namespace flow

// A video's group in a target shard (trajgen).
namespace target {
inline constexpr Attribute<Int> cell{"cell"};
inline constexpr Attribute<Int> traj_len{"traj_len"};
inline constexpr Attribute<Doubles> motion_box_union{"motion_box_union"};
inline constexpr Dataset traj{"traj", DType::i16};
inline constexpr Dataset valid{"valid", DType::u8};
inline constexpr Dataset motion{"motion", DType::f16};
inline constexpr Dataset motion_box{"motion_box", DType::f32};
inline constexpr Dataset motion_box_fallback{"motion_box_fallback", DType::u8};
// Values of `motion`'s `source` attribute.
inline constexpr const char* kMotionFromVectors = "mv";
inline constexpr const char* kMotionFromFlow = "flow";
}  // namespace target

// A video's group in a probe shard (mme-probe).
namespace probe {
inline constexpr Attribute<std::string> container{"container"};
inline constexpr Attribute<std::string> pixel_format{"pixel_format"};
inline constexpr Dataset timestamps{"timestamps", DType::f64};
inline constexpr Dataset picture_type{"picture_type", DType::u8};
inline constexpr Dataset has_motion_vectors{"has_motion_vectors", DType::u8};
inline constexpr Dataset thumbnail{"thumbnail", DType::u8};
}  // namespace probe

// flowgen.json (and the `settings` attribute of flowgen's parts, which adds "shard").
namespace flow_settings {
inline constexpr ConfigKey algo{"algo"};
inline constexpr ConfigKey short_side{"short_side"};
inline constexpr ConfigKey max_short_side{"max_short_side"};
inline constexpr ConfigKey quant_step{"quant_step"};
inline constexpr ConfigKey frames{"frames"};
inline constexpr ConfigKey jpeg_quality{"jpeg_quality"};
inline constexpr ConfigKey mv{"mv"};
inline constexpr ConfigKey mv_cell{"mv_cell"};
inline constexpr ConfigKey flow_codec{"flow_codec"};
inline constexpr const char* kFlowCodec = "loco";  // the only one: the LOCO-I filter
}  // namespace flow_settings

// trajgen's config.json (and the `settings` attribute of its parts).
namespace target_settings {
inline constexpr ConfigKey traj_len{"traj_len"};
inline constexpr ConfigKey cell{"cell"};
inline constexpr ConfigKey lookup{"lookup"};
inline constexpr ConfigKey traj_scale{"traj_scale"};
inline constexpr ConfigKey mofo_window{"mofo_window"};
inline constexpr ConfigKey motion_source{"motion_source"};
inline constexpr ConfigKey flow{"flow"};  // the flow set's identity: settings, videos, hash
}  // namespace target_settings

// The shard's "settings" root attribute adds this key to the tool's settings.
inline constexpr ConfigKey kShardKey{"shard"};

// The field reference of docs/formats.md, generated from the table in shard_schema.cpp (which
// lists every name above once, with where it lives and what it means).
std::string markdown_reference();
// How many names the table holds (a test compares it with the declarations in this header).
std::size_t reference_size();
// `text` (docs/formats.md) with the block between kReferenceBegin and kReferenceEnd replaced by
// markdown_reference(). Throws std::invalid_argument when the markers are missing.
std::string with_current_reference(const std::string& text);
inline constexpr const char* kReferenceBegin = "<!-- field reference: generated by mme-schema --update -->";
inline constexpr const char* kReferenceEnd = "<!-- end of field reference -->";

}  // namespace mme::schema
