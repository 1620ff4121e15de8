#include <mme/shard_schema.h>

#include <fmt/format.h>

#include <stdexcept>
#include <type_traits>

namespace mme::schema {
namespace {

// One row of the field reference.
struct Field {
  const char* place;
  const char* name;
  std::string type;
  const char* meaning;
};

template <typename T>
std::string attribute_type() {
  if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, Int>)
    return "int64";
  else if constexpr (std::is_same_v<T, double>)
    return "float64";
  else if constexpr (std::is_same_v<T, Ints>)
    return "int64 list";
  else
    return "float64 list";
}

std::string dataset_type(const Dataset& d, const char* shape) {
  return fmt::format("{} {}", dtype_name(d.dtype), shape);
}

template <typename T>
Field row(const char* place, const Attribute<T>& a, const char* meaning) {
  return {place, a.name, "attribute, " + attribute_type<T>(), meaning};
}
Field row(const char* place, const Dataset& d, const char* shape, const char* meaning) {
  return {place, d.name, dataset_type(d, shape), meaning};
}
Field row(const char* place, const ConfigKey& k, const char* type, const char* meaning) {
  return {place, k.name, type, meaning};
}

// Every name of shard_schema.h once, in the order of the header.
const std::vector<Field>& table() {
  static const std::vector<Field> t = [] {
    constexpr const char* kRoot = "`/` of every shard";
    constexpr const char* kPart = "`/` of a part";
    constexpr const char* kVideo = "`/videos/<key>`, every tool";
    constexpr const char* kDataset = "a dataset";
    constexpr const char* kFlow = "`/videos/<key>`, flowgen";
    constexpr const char* kTarget = "`/videos/<key>`, trajgen";
    constexpr const char* kProbe = "`/videos/<key>`, mme-probe";
    constexpr const char* kFlowJson = "`flowgen.json`";
    constexpr const char* kTargetJson = "`config.json`, trajgen";
    constexpr const char* kSettings = "`settings` attribute of a part";
    return std::vector<Field>{
        row(kRoot, root::format, "\"mme-shard\""),
        row(kRoot, root::format_version, "1; a change of meaning bumps it"),
        row(kRoot, root::tool, "\"flowgen\", \"trajgen\" or \"mme-probe\""),
        row(kRoot, root::tool_version, "version of the writer, e.g. \"0.1.0\""),
        row(kRoot, root::git_commit, "commit of the build (\"-dirty\" with local changes)"),
        row(kRoot, root::settings, "JSON object: every setting that affects the content"),
        row(kRoot, root::created, "UTC time of writing (ISO 8601)"),
        row(kRoot, root::host, "host name of the writer"),
        row(kPart, root::failures, "JSON list of the videos that failed while the part was open"),
        row(kVideo, video::id, "the video's path as written in the dataset list (the key everywhere)"),
        row(kVideo, video::source_size, "bytes of the source file when it was read"),
        row(kVideo, video::source_mtime_ns, "its modification time, ns since the Unix epoch"),
        row(kVideo, video::label, "class index from the dataset list (when it has one)"),
        row(kVideo, video::fps, "average frame rate of the stream"),
        row(kVideo, video::native_width, "stream width before resizing and rotation"),
        row(kVideo, video::native_height, "stream height before resizing and rotation"),
        row(kVideo, video::rotation, "display rotation applied, degrees"),
        row(kVideo, video::codec, "FFmpeg's codec name"),
        row(kVideo, video::width, "working width of frames and flow (trajgen: of the flow)"),
        row(kVideo, video::height, "working height"),
        row(kVideo, video::frames, "decoded frames"),
        row(kVideo, video::warnings, "number of decoder warnings (damaged streams)"),
        row(kVideo, video::stats, "JSON: the manifest's numbers, run timings included"),
        row(kDataset, dataset::scale, "value = stored x scale (flow, mv: 1/8 px; traj: 1/16 px)"),
        row(kDataset, dataset::cell, "`mv`: pixels per motion-vector cell"),
        row(kDataset, dataset::source, "`motion`: \"mv\" (codec motion vectors) or \"flow\""),
        row(kFlow, flow::pairs, "flow fields: frames - 1"),
        row(kFlow, flow::saturated, "flow values clipped to the int16 range"),
        row(kFlow, flow::warning_text, "the decoder warnings, one per line"),
        row(kFlow, flow::flow, "[frames-1, H, W, 2]", "forward flow t -> t+1 (x, y), one chunk per field, LOCO-I"),
        row(kFlow, flow::flow_present, "[frames-1]", "1 where the algorithm produced flow for the pair"),
        row(kFlow, flow::frames, "[JPEG bytes]", "every frame at H x W as JPEG, concatenated (not with --frames none)"),
        row(kFlow, flow::frame_offsets, "[frames+1]", "frame i is frames[offsets[i]:offsets[i+1]]"),
        row(kFlow, flow::timestamps, "[frames]", "presentation time of each frame, seconds"),
        row(kFlow, flow::mv, "[frames, H/4, W/4, 2]", "(--mv) codec motion into frame t per frame step, LOCO-I"),
        row(kFlow, flow::mv_present, "[frames]", "(--mv) 1 where frame t carried motion vectors"),
        row(kTarget, target::cell, "seed spacing C, pixels"),
        row(kTarget, target::traj_len, "trajectory length L, flow steps"),
        row(kTarget, target::motion_box_union, "x0, y0, x1, y1: union of the non-fallback MOFO boxes"),
        row(kTarget, target::traj, "[starts, H/C, W/C, L, 2]", "per-step displacement of each seed, LOCO-I + Rice"),
        row(kTarget, target::valid, "[starts, H/C, W/C]", "0 once the point left the frame"),
        row(kTarget, target::motion, "[frames, H/C, W/C]", "mean motion magnitude per cell (MGM's map), px/frame"),
        row(kTarget, target::motion_box, "[frames, 4]", "MOFO box per frame (x0, y0, x1, y1), flow pixels"),
        row(kTarget, target::motion_box_fallback, "[frames]", "1 where no motion region was found"),
        row(kProbe, probe::container, "FFmpeg's container name"),
        row(kProbe, probe::pixel_format, "the stream's pixel format"),
        row(kProbe, probe::timestamps, "[frames]", "presentation time of each frame, seconds"),
        row(kProbe, probe::picture_type, "[frames]", "ASCII 'I', 'P', 'B', ..."),
        row(kProbe, probe::has_motion_vectors, "[frames]", "(--mv) 1 where the frame carried vectors"),
        row(kProbe, probe::thumbnail, "[h, w, 3]", "the middle frame, RGB"),
        row(kFlowJson, flow_settings::algo, "string", "flow backend (dis, farneback, tvl1, mv, ...)"),
        row(kFlowJson, flow_settings::short_side, "int", "resize to this short side (0: native)"),
        row(kFlowJson, flow_settings::max_short_side, "int", "downscale larger videos to this (0: never)"),
        row(kFlowJson, flow_settings::quant_step, "float", "flow quantisation step, pixels (the `scale`)"),
        row(kFlowJson, flow_settings::frames, "string", "\"jpeg\" or \"none\""),
        row(kFlowJson, flow_settings::jpeg_quality, "int", "JPEG quality of the frames"),
        row(kFlowJson, flow_settings::mv, "bool", "codec motion vectors stored"),
        row(kFlowJson, flow_settings::mv_cell, "int", "their cell, pixels"),
        row(kFlowJson, flow_settings::flow_codec, "string", "\"loco\": the LOCO-I filter"),
        row(kTargetJson, target_settings::traj_len, "int", "L"),
        row(kTargetJson, target_settings::cell, "int", "C"),
        row(kTargetJson, target_settings::lookup, "string", "flow lookup: \"bilinear\" or \"nearest\""),
        row(kTargetJson, target_settings::traj_scale, "float", "quantisation step of `traj`, pixels"),
        row(kTargetJson, target_settings::mofo_window, "int", "flows summed per MOFO box"),
        row(kTargetJson, target_settings::motion_source, "string", "\"auto\" (codec vectors when stored) or \"flow\""),
        row(kTargetJson, target_settings::flow, "object", "the flow set's identity: flowgen.json, videos, hash"),
        row(kSettings, kShardKey, "string", "flowgen's parts: the part's shard, \"I/N\""),
    };
  }();
  return t;
}

}  // namespace

std::string markdown_reference() {
  std::string out = "| where | name | type | meaning |\n|---|---|---|---|\n";
  for (const auto& f : table()) out += fmt::format("| {} | `{}` | {} | {} |\n", f.place, f.name, f.type, f.meaning);
  return out;
}

std::size_t reference_size() {
  return table().size();
}

std::string with_current_reference(const std::string& text) {
  const auto begin = text.find(kReferenceBegin);
  const auto end = text.find(kReferenceEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin)
    throw std::invalid_argument(fmt::format("the markers '{}' and '{}' are missing", kReferenceBegin, kReferenceEnd));
  const auto body = begin + std::string(kReferenceBegin).size();
  return text.substr(0, body) + "\n" + markdown_reference() + text.substr(end);
}

}  // namespace mme::schema
